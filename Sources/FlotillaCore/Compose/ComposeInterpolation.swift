/// Compose's variable interpolation, as Docker Compose v2 does it: `$VAR`, `${VAR}`,
/// `${VAR:-default}` / `${VAR-default}` (default when unset or empty / when unset),
/// `${VAR:?message}` / `${VAR?message}` (an error), `${VAR:+other}` / `${VAR+other}`, and `$$` for
/// a literal `$`. Defaults may themselves hold variables. Values come from the process
/// environment, which wins over the project's `.env` file (the caller merges them).
public struct ComposeInterpolation: Sendable {
    public var variables: [String: String]

    public init(variables: [String: String]) { self.variables = variables }

    public struct Outcome: Sendable, Hashable {
        public var value: String
        /// Variables that were used without a value or default; Compose substitutes "".
        public var unset: [String] = []
        /// Why the text cannot be interpolated (a `${VAR:?message}`, a malformed `${`).
        public var error: String?
    }

    /// Nesting limit for defaults inside defaults: deeper is an error, never a deep recursion.
    static let maxDepth = 10
    /// A result longer than this is an error (values that refer to one another cannot grow it).
    static let maxLength = 1 << 20

    public func interpolate(_ text: String) -> Outcome {
        guard text.contains("$") else { return Outcome(value: text) }
        var outcome = Outcome(value: "")
        var chars = Array(text)[...]
        outcome.value = expand(&chars, depth: 0, until: nil, outcome: &outcome)
        if outcome.error == nil, outcome.value.utf8.count > Self.maxLength { outcome.error = "the interpolated value is longer than \(Self.maxLength) bytes" }
        return outcome
    }

    private static func isNameStart(_ c: Character) -> Bool { c == "_" || (c.isASCII && c.isLetter) }
    private static func isName(_ c: Character) -> Bool { isNameStart(c) || (c.isASCII && c.isNumber) }

    /// Expands `chars` up to (not including) an unbalanced `terminator` at this level.
    private func expand(_ chars: inout ArraySlice<Character>, depth: Int, until terminator: Character?, outcome: inout Outcome) -> String {
        var out = ""
        var braces = 0
        while let c = chars.first {
            if c == terminator && braces == 0 { return out }
            chars = chars.dropFirst()
            guard c == "$" else {
                if terminator != nil { if c == "{" { braces += 1 } else if c == "}" { braces -= 1 } }
                out.append(c)
                continue
            }
            guard let next = chars.first else { outcome.error = outcome.error ?? "a lone \"$\" at the end; write \"$$\" for a literal dollar sign"; return out }
            if next == "$" { chars = chars.dropFirst(); out.append("$"); continue }
            if Self.isNameStart(next) {
                let name = String(chars.prefix(while: Self.isName))
                chars = chars.dropFirst(name.count)
                out += lookup(name, outcome: &outcome)
                continue
            }
            guard next == "{" else {
                outcome.error = outcome.error ?? "invalid interpolation \"$\(next)\"; write \"$$\" for a literal dollar sign"
                out.append(c)
                continue
            }
            chars = chars.dropFirst()
            let name = String(chars.prefix(while: Self.isName))
            chars = chars.dropFirst(name.count)
            guard !name.isEmpty, Self.isNameStart(name.first!) else {
                outcome.error = outcome.error ?? "invalid interpolation \"${\(String(chars.prefix(20)))\"; a variable name is [A-Za-z_][A-Za-z0-9_]*"
                return out
            }
            if chars.first == "}" { chars = chars.dropFirst(); out += lookup(name, outcome: &outcome); continue }
            var op = ""
            if chars.first == ":" { op = ":"; chars = chars.dropFirst() }
            guard let kind = chars.first, "-?+".contains(kind) else {
                outcome.error = outcome.error ?? "invalid interpolation \"${\(name)\(op)\(chars.first.map(String.init) ?? "")\"; use ${\(name)}, ${\(name):-default}, ${\(name):?message} or ${\(name):+value}"
                return out
            }
            op.append(kind)
            chars = chars.dropFirst()
            guard depth < Self.maxDepth else { outcome.error = outcome.error ?? "variables nested more than \(Self.maxDepth) deep"; return out }
            // The argument's unset variables count only when the argument is used.
            var inner = Outcome(value: "")
            let argument = expand(&chars, depth: depth + 1, until: "}", outcome: &inner)
            outcome.error = outcome.error ?? inner.error
            guard chars.first == "}" else { outcome.error = outcome.error ?? "\"${\(name)\" is not closed with \"}\""; return out }
            chars = chars.dropFirst()
            let value = variables[name]
            let emptyCounts = op.hasPrefix(":")
            let isSet = value != nil && !(emptyCounts && value!.isEmpty)
            let usesArgument = kind == "-" ? !isSet : kind == "+" ? isSet : false
            if usesArgument { for name in inner.unset where !outcome.unset.contains(name) { outcome.unset.append(name) } }
            switch kind {
            case "-": out += isSet ? value! : argument
            case "+": out += isSet ? argument : ""
            default:
                if isSet { out += value! } else {
                    outcome.error = outcome.error ?? "required variable \(name) is not set" + (argument.isEmpty ? "" : ": \(argument)")
                }
            }
            if out.utf8.count > Self.maxLength { outcome.error = outcome.error ?? "the interpolated value is longer than \(Self.maxLength) bytes"; return out }
        }
        return out
    }

    private func lookup(_ name: String, outcome: inout Outcome) -> String {
        if let value = variables[name] { return value }
        if !outcome.unset.contains(name) { outcome.unset.append(name) }
        return ""
    }
}
