/// A value of a manifest being written: the YAML shapes Flotilla manifests use, in order.
public indirect enum ManifestValue: Sendable, Hashable {
    case string(String)
    case int(Int)
    case bool(Bool)
    /// A number written as it is (`0.5`).
    case number(String)
    case list([ManifestValue])
    case map([ManifestField])

    var isScalar: Bool {
        switch self {
        case .string, .int, .bool, .number: return true
        case .list, .map: return false
        }
    }
}

/// One key of a manifest mapping, with comment lines written above it.
public struct ManifestField: Sendable, Hashable {
    public var key: String
    public var value: ManifestValue
    public var comments: [String]

    public init(_ key: String, _ value: ManifestValue, comments: [String] = []) {
        self.key = key
        self.value = value
        self.comments = comments
    }
}

/// Writes manifest documents as YAML text that reads as if written by hand: block mappings,
/// short scalar lists in flow style, strings quoted only when YAML would read them as something
/// else. Pure; what it writes is parsed back and validated before it is saved.
public enum ManifestWriter {
    public static func document(header: [String], fields: [ManifestField]) -> String {
        var out = ""
        for line in header { out += comment(line, indent: "") }
        write(fields, indent: "", into: &out)
        return out
    }

    static func comment(_ text: String, indent: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            indent + "#" + (line.isEmpty ? "" : " " + Diagnostic.escaped(String(line))) + "\n"
        }.joined()
    }

    static func write(_ fields: [ManifestField], indent: String, into out: inout String) {
        for field in fields {
            for line in field.comments { out += comment(line, indent: indent) }
            out += indent + key(field.key) + ":"
            write(field.value, indent: indent, into: &out)
        }
    }

    /// Writes what follows `key:` (a space and a scalar or flow list, or a newline and a block).
    static func write(_ value: ManifestValue, indent: String, into out: inout String) {
        switch value {
        case .string, .int, .bool, .number:
            out += " " + scalar(value) + "\n"
        case .list(let items):
            if items.isEmpty { out += " []\n"; return }
            if items.allSatisfy(\.isScalar) {
                // In flow context a ":" is quoted too (libyaml reads "[a:b]" as a mapping in some versions).
                let flow = "[" + items.map { item in
                    if case .string(let s) = item, s.contains(":") { return quoted(s, ifNeeded: false) }
                    return scalar(item)
                }.joined(separator: ", ") + "]"
                if flow.count + indent.count <= 100 { out += " " + flow + "\n"; return }
            }
            out += "\n"
            for item in items {
                switch item {
                case .map(let fields) where !fields.isEmpty:
                    // "- key: value" then the other keys aligned under the first.
                    var block = ""
                    write(fields, indent: indent + "    ", into: &block)
                    out += indent + "  - " + block.dropFirst(indent.count + 4)
                default:
                    out += indent + "  -"
                    write(item, indent: indent + "    ", into: &out)
                }
            }
        case .map(let fields):
            if fields.isEmpty { out += " {}\n"; return }
            out += "\n"
            write(fields, indent: indent + "  ", into: &out)
        }
    }

    static func key(_ text: String) -> String { quoted(text, ifNeeded: true) }

    static func scalar(_ value: ManifestValue) -> String {
        switch value {
        case .string(let s): return quoted(s, ifNeeded: true)
        case .int(let i): return String(i)
        case .bool(let b): return b ? "true" : "false"
        case .number(let n): return n
        default: return ""
        }
    }

    /// Plain when the text reads back as the same string in YAML 1.1 and 1.2 alike; otherwise
    /// double-quoted with escapes.
    static func quoted(_ s: String, ifNeeded: Bool) -> String {
        if ifNeeded, isPlainSafe(s) { return s }
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case _ where Diagnostic.needsEscape(scalar): out += "\\u" + String(repeating: "0", count: 4 - min(4, String(scalar.value, radix: 16).count)) + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    static let reserved: Set<String> = ["true", "false", "yes", "no", "on", "off", "y", "n", "null", "~"]

    static func isPlainSafe(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, let last = s.unicodeScalars.last else { return false }
        let allowed = s.unicodeScalars.allSatisfy { c in
            (c.properties.isAlphabetic && c.isASCII) || ("0"..."9").contains(c) || "_./:=@+-$()*".unicodeScalars.contains(c)
        }
        guard allowed, first != "-" || s.count > 1 && !s.hasPrefix("- "), !"{}[],:*&!|>%@`'\"#?=".unicodeScalars.contains(first),
              last != ":" else { return false }
        if reserved.contains(s.lowercased()) { return false }
        // Anything that looks like a number (ints, floats, 0x, 1e3, .inf, 1_000, 12:30 sexagesimal) stays a string only when quoted.
        let startsLikeNumber = first.properties.numericType != nil || ("+-.".unicodeScalars.contains(first) && s.unicodeScalars.dropFirst().first.map { ("0"..."9").contains($0) } == true)
        let numeric = (startsLikeNumber && s.unicodeScalars.allSatisfy { ("0"..."9").contains($0) || "abcdefABCDEF+-._:xXoO".unicodeScalars.contains($0) })
            || s.lowercased().hasSuffix("inf") || s.lowercased() == ".nan"
        return !numeric
    }
}
