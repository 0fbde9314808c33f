/// A position in a source file, 1-based (libyaml's marks are 0-based; the parser adds one).
public struct SourceMark: Sendable, Hashable, Codable, CustomStringConvertible {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public var description: String { "\(line):\(column)" }
}

/// A YAML node as the manifest decoder sees it: a value tree where every node remembers
/// where it came from, so every validation error can name `file:line:column`.
///
/// The tree is produced by an adapter (the libyaml loader) and consumed by the pure
/// ``ServiceDecoder``; nothing here parses text.
public struct YAMLNode: Sendable {
    public enum Kind: Sendable {
        case scalar(YAMLScalar)
        case sequence([YAMLNode])
        case mapping([YAMLPair])
    }

    public var kind: Kind
    public var mark: SourceMark

    public init(_ kind: Kind, at mark: SourceMark) {
        self.kind = kind
        self.mark = mark
    }

    /// A short name for the node's type, used in "expected X, found Y" errors.
    public var typeName: String {
        switch kind {
        case .scalar(let s): return s.isNull ? "null" : "a scalar"
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        }
    }

    public var scalar: YAMLScalar? {
        if case .scalar(let s) = kind { return s }
        return nil
    }

    /// Number of nodes in this subtree (used to bound alias expansion).
    public var nodeCount: Int {
        switch kind {
        case .scalar: return 1
        case .sequence(let items): return items.reduce(1) { $0 + $1.nodeCount }
        case .mapping(let pairs): return pairs.reduce(1) { $0 + $1.key.nodeCount + $1.value.nodeCount }
        }
    }
}

/// A key/value pair of a mapping, in document order.
public struct YAMLPair: Sendable {
    public var key: YAMLNode
    public var value: YAMLNode

    public init(key: YAMLNode, value: YAMLNode) {
        self.key = key
        self.value = value
    }
}

/// A scalar with the facts needed to type it the YAML 1.2 core-schema way:
/// a plain `2` is a number, a quoted `"2"` is a string.
public struct YAMLScalar: Sendable, Hashable {
    public var value: String
    /// True for plain (unquoted, non-block) scalars: only those are resolved to null/bool/int.
    public var isPlain: Bool
    /// An explicit tag such as `!!str`, when the document gave one.
    public var tag: String?

    public init(_ value: String, plain: Bool = true, tag: String? = nil) {
        self.value = value
        self.isPlain = plain
        self.tag = tag
    }

    /// Plain and untagged: the only scalars whose type is inferred from their text. (`!`, the
    /// non-specific tag, makes a scalar a string in YAML: `! 5` is the text "5".)
    var isUntypedPlain: Bool { isPlain && tag == nil }

    public var isNull: Bool {
        guard isUntypedPlain else { return tag == "tag:yaml.org,2002:null" }
        return value.isEmpty || value == "~" || value == "null" || value == "Null" || value == "NULL"
    }

    public var bool: Bool? {
        guard isUntypedPlain || tag == "tag:yaml.org,2002:bool" else { return nil }
        switch value {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default: return nil
        }
    }

    public var int: Int? {
        guard isUntypedPlain || tag == "tag:yaml.org,2002:int" else { return nil }
        var digits = Substring(value)
        if digits.hasPrefix("+") { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "-") }) else { return nil }
        return Int(digits)
    }

    /// A number as YAML 1.2's core schema reads one: a whole number, or a float such as `0.5`,
    /// `.5`, `1e3`, `.inf` or `.nan` (not Swift's wider `Double(_:)` forms: `0x1p3`, `nan`, `infinity`).
    public var number: Double? {
        guard isUntypedPlain || tag == "tag:yaml.org,2002:float" || tag == "tag:yaml.org,2002:int" else { return nil }
        if let i = int { return Double(i) }
        var text = Substring(value)
        let sign: Double = text.hasPrefix("-") ? -1 : 1
        if text.hasPrefix("-") || text.hasPrefix("+") { text = text.dropFirst() }
        if [".inf", ".Inf", ".INF"].contains(text) { return sign * .infinity }
        if [".nan", ".NaN", ".NAN"].contains(value) { return .nan }
        // [0-9]+(.[0-9]*)? or .[0-9]+, then an optional exponent [eE][-+]?[0-9]+.
        let mantissa = text.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        guard mantissa.filter({ $0 == "." }).count <= 1, mantissa.contains(where: \.isNumber) else { return nil }
        let exponent = text.dropFirst(mantissa.count)
        if !exponent.isEmpty {
            var digits = exponent.dropFirst()
            guard exponent.first == "e" || exponent.first == "E" else { return nil }
            if digits.hasPrefix("-") || digits.hasPrefix("+") { digits = digits.dropFirst() }
            guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        }
        return Double(text).map { sign * $0 }
    }

    /// True when a plain scalar would resolve to something other than a string.
    public var isNonStringPlain: Bool {
        isUntypedPlain && (isNull || bool != nil || int != nil || Double(value) != nil)
    }
}
