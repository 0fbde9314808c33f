/// Typed readers: each reads one kind of value and reports its own error at the node's position.
extension ServiceDecoder {
    /// Reads a mapping with string keys. `allowed` nil accepts any key. Unknown and duplicate
    /// keys are reported; the result maps each first occurrence.
    mutating func mapping(_ node: YAMLNode, of what: String, allowed: [String]?) -> [String: YAMLNode]? {
        guard case .mapping(let pairs) = node.kind else {
            error(node, "\(what) must be a mapping, found \(node.typeName)")
            return nil
        }
        var fields: [String: YAMLNode] = [:]
        for pair in pairs {
            guard let key = pair.key.scalar, !key.isNull else {
                error(pair.key, "keys in \(what) must be plain strings, found \(pair.key.typeName)")
                continue
            }
            if fields[key.value] != nil {
                error(pair.key, "duplicate key \"\(Self.excerpt(key.value))\" in \(what); each key may appear once")
                continue
            }
            if key.value == "<<" && key.isPlain {
                error(pair.key, "YAML merge keys (<<) are not supported in \(what); write the keys out (anchors and aliases of whole values work)")
                continue
            }
            if let allowed, !allowed.contains(key.value) {
                // Past the cap the message is never shown: do not spend the "did you mean" on it.
                guard diagnostics.count < Self.maxDiagnostics else { suppressed += 1; lastSuppressed = pair.key.mark; continue }
                error(pair.key, "unknown key \"\(Self.excerpt(key.value))\" in \(what)" + EditDistance.hint(for: key.value, in: allowed))
                continue
            }
            fields[key.value] = pair.value
        }
        return fields
    }

    mutating func required(_ key: String, in fields: [String: YAMLNode], at mark: SourceMark) -> YAMLNode? {
        if let n = fields[key] { return n }
        diagnostics.append(Diagnostic(file: file, at: mark, "missing required key \"\(key)\""))
        return nil
    }

    mutating func string(_ node: YAMLNode, _ key: String) -> String? {
        guard let s = node.scalar, !s.isNull else {
            error(node, "\(key) must be a string, found \(node.typeName)")
            return nil
        }
        guard !s.value.isEmpty else { error(node, "\(key) must not be empty"); return nil }
        return s.value
    }

    mutating func stringList(_ node: YAMLNode, _ key: String, hint: String) -> [String]? {
        guard case .sequence(let items) = node.kind else {
            if node.scalar?.isNull == true { return [] }
            error(node, "\(key) must be a list of strings, found \(node.typeName); \(hint)")
            return nil
        }
        var result: [String] = []
        var ok = true
        for item in items {
            guard let s = item.scalar, !s.isNull else {
                error(item, "\(key) entries must be strings, found \(item.typeName)")
                ok = false
                continue
            }
            // A process's arguments end at a NUL: what ran would not be what the manifest says.
            guard !s.value.utf8.contains(0) else {
                error(item, "\(key) entries must not contain a NUL byte (\\0)")
                ok = false
                continue
            }
            result.append(s.value)
        }
        return ok ? result : nil
    }

    mutating func integer(_ node: YAMLNode, _ key: String, in range: ClosedRange<Int>) -> Int? {
        guard let s = node.scalar, let v = s.int else {
            let found = node.scalar.map { $0.isPlain ? "\"\($0.value)\"" : "the quoted string \"\($0.value)\"" } ?? node.typeName
            error(node, "\(key) must be a whole number, found \(found)")
            return nil
        }
        guard range.contains(v) else {
            error(node, "\(key) must be between \(range.lowerBound) and \(range.upperBound), found \(v)")
            return nil
        }
        return v
    }

    mutating func boolean(_ node: YAMLNode, _ key: String) -> Bool? {
        guard let v = node.scalar?.bool else {
            error(node, "\(key) must be true or false, found \(node.scalar.map { "\"\($0.value)\"" } ?? node.typeName)")
            return nil
        }
        return v
    }

    mutating func duration(_ node: YAMLNode, _ key: String, minimum: Int = 0) -> TimeSpan? {
        guard let s = node.scalar, !s.isNull, let v = TimeSpan(parsing: s.value) else {
            let found = node.scalar.map { "\"\($0.value)\"" } ?? node.typeName
            error(node, "\(key) must be a duration such as 500ms, 5s, 2m or 1h, found \(found)")
            return nil
        }
        guard v.milliseconds >= minimum else {
            error(node, "\(key) must be at least \(TimeSpan(milliseconds: minimum)), found \(v)")
            return nil
        }
        return v
    }

    mutating func oneOf<T: RawRepresentable & CaseIterable>(_ node: YAMLNode, _ key: String, _: T.Type) -> T? where T.RawValue == String {
        let all = T.allCases.map(\.rawValue)
        guard let s = node.scalar, !s.isNull else {
            error(node, "\(key) must be one of \(all.joined(separator: ", ")), found \(node.typeName)")
            return nil
        }
        guard let v = T(rawValue: s.value) else {
            error(node, "\(key) \"\(s.value)\" is not valid" + EditDistance.hint(for: s.value, in: all))
            return nil
        }
        return v
    }

    // MARK: - Helpers

    func keyNode(of key: String, in mapping: YAMLNode) -> YAMLNode? {
        guard case .mapping(let pairs) = mapping.kind else { return nil }
        return pairs.first { $0.key.scalar?.value == key }?.key
    }

    func listItem(_ list: YAMLNode, _ index: Int) -> YAMLNode {
        if case .sequence(let items) = list.kind, items.indices.contains(index) { return items[index] }
        return list
    }

    /// Records an error; past ``maxDiagnostics`` per document only counts it (a file of 40,000
    /// bad keys gets 100 messages and a count, not 40,000 lines).
    mutating func error(_ node: YAMLNode, _ message: @autoclosure () -> String) {
        guard diagnostics.count < Self.maxDiagnostics else { suppressed += 1; lastSuppressed = node.mark; return }
        diagnostics.append(Diagnostic(file: file, at: node.mark, message()))
    }

    /// A key as a diagnostic may show it: at most 24 characters (a file that is not a manifest
    /// at all, or secret text mistaken for one, is never echoed whole into logs and the status API).
    static func excerpt(_ key: String) -> String {
        key.count <= 24 ? key : String(key.prefix(24)) + "…"
    }
}
