@testable import FlotillaCore

/// A YAML document as JSON text, the way an editor's YAML language server hands it to the JSON
/// Schema: scalars typed by YAML 1.2's core schema (written out here from the spec, not taken from
/// the validator under test), tags resolved, a mapping's keys as their text (a later duplicate
/// wins). `.inf` and `.nan` are written `Infinity` and `NaN`, which Python's `json` reads.
enum YAMLCoreJSON {
    static func text(_ node: YAMLNode) -> String {
        switch node.kind {
        case .scalar(let s): return scalar(s)
        case .sequence(let items): return "[" + items.map(text).joined(separator: ",") + "]"
        case .mapping(let pairs):
            return "{" + pairs.map { JSONString.quote($0.key.scalar?.value ?? "") + ":" + text($0.value) }.joined(separator: ",") + "}"
        }
    }

    static func scalar(_ s: YAMLScalar) -> String {
        let core = "tag:yaml.org,2002:"
        switch s.tag {
        case nil where s.isPlain:
            return null(s.value) ?? bool(s.value) ?? int(s.value) ?? float(s.value) ?? JSONString.quote(s.value)
        case .some(core + "null"): return "null"
        case .some(core + "bool"): return bool(s.value) ?? JSONString.quote(s.value)
        case .some(core + "int"): return int(s.value) ?? JSONString.quote(s.value)
        case .some(core + "float"): return int(s.value).map { $0 + ".0" } ?? float(s.value) ?? JSONString.quote(s.value)
        default: return JSONString.quote(s.value)  // quoted, `!`, `!!str`, and tags JSON has no type for
        }
    }

    static func null(_ v: String) -> String? { ["", "~", "null", "Null", "NULL"].contains(v) ? "null" : nil }

    static func bool(_ v: String) -> String? {
        if ["true", "True", "TRUE"].contains(v) { return "true" }
        if ["false", "False", "FALSE"].contains(v) { return "false" }
        return nil
    }

    /// `[-+]?[0-9]+`, `0o[0-7]+`, `0x[0-9a-fA-F]+`, as a JSON integer of any size.
    static func int(_ v: String) -> String? {
        func all(_ s: Substring, in set: String) -> Bool { !s.isEmpty && s.allSatisfy { set.contains($0) } }
        if v.hasPrefix("0o"), all(v.dropFirst(2), in: "01234567") { return radix(v.dropFirst(2), 8) }
        if v.hasPrefix("0x"), all(v.dropFirst(2), in: "0123456789abcdefABCDEF") { return radix(v.dropFirst(2), 16) }
        var digits = Substring(v)
        let negative = digits.hasPrefix("-")
        if digits.hasPrefix("-") || digits.hasPrefix("+") { digits = digits.dropFirst() }
        guard all(digits, in: "0123456789") else { return nil }
        let trimmed = digits.drop { $0 == "0" }
        return trimmed.isEmpty ? "0" : (negative ? "-" : "") + trimmed
    }

    static func radix(_ digits: Substring, _ base: UInt64) -> String {
        if let n = UInt64(digits, radix: Int(base)) { return String(n) }
        return String(digits.reduce(0.0) { $0 * Double(base) + Double(Int(String($1), radix: Int(base))!) })
    }

    /// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, `[-+]?\.(inf|Inf|INF)`, `\.(nan|NaN|NAN)`.
    static func float(_ v: String) -> String? {
        if [".nan", ".NaN", ".NAN"].contains(v) { return "NaN" }
        var body = Substring(v)
        let negative = body.hasPrefix("-")
        if body.hasPrefix("-") || body.hasPrefix("+") { body = body.dropFirst() }
        if [".inf", ".Inf", ".INF"].contains(body) { return negative ? "-Infinity" : "Infinity" }
        let digits = Set("0123456789")
        var rest = body
        let whole = rest.prefix { digits.contains($0) }
        rest = rest.dropFirst(whole.count)
        var fraction: Substring = ""
        if rest.first == "." {
            rest = rest.dropFirst()
            fraction = rest.prefix { digits.contains($0) }
            rest = rest.dropFirst(fraction.count)
            guard !whole.isEmpty || !fraction.isEmpty else { return nil }
        } else if whole.isEmpty {
            return nil
        }
        if let e = rest.first, e == "e" || e == "E" {
            rest = rest.dropFirst()
            if rest.first == "-" || rest.first == "+" { rest = rest.dropFirst() }
            let exponent = rest.prefix { digits.contains($0) }
            guard !exponent.isEmpty else { return nil }
            rest = rest.dropFirst(exponent.count)
        }
        guard rest.isEmpty, let d = Double(String(body)) else { return nil }
        let value = negative ? -d : d
        if value.isInfinite { return value > 0 ? "Infinity" : "-Infinity" }
        return "\(value)"
    }
}
