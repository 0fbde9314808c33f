/// A node of a Compose file after YAML loading: merge keys (`<<: *defaults`) applied, scalars
/// interpolated, and the file it came from remembered, so that positions stay right when several
/// files are merged (`-f compose.yml -f compose.override.yml`).
public struct ComposeNode: Sendable {
    public enum Kind: Sendable {
        case scalar(YAMLScalar)
        case sequence([ComposeNode])
        case mapping([ComposeEntry])
    }

    public var kind: Kind
    public var mark: SourceMark
    public var file: String

    public init(_ kind: Kind, at mark: SourceMark, in file: String) {
        self.kind = kind
        self.mark = mark
        self.file = file
    }

    public var scalar: YAMLScalar? {
        if case .scalar(let s) = kind { return s }
        return nil
    }

    public var isNull: Bool { scalar?.isNull == true }

    /// The scalar's text, whatever its YAML type (`8080`, `true` and `"x"` alike); nil for null and collections.
    public var text: String? {
        guard let s = scalar, !s.isNull else { return nil }
        return s.value
    }

    public var entries: [ComposeEntry]? {
        if case .mapping(let e) = kind { return e }
        return nil
    }

    public var items: [ComposeNode]? {
        if case .sequence(let i) = kind { return i }
        return nil
    }

    public subscript(key: String) -> ComposeNode? {
        entries?.last(where: { $0.key == key })?.value
    }

    public var typeName: String {
        switch kind {
        case .scalar(let s): return s.isNull ? "null" : "a scalar"
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        }
    }
}

/// A key of a Compose mapping, with its own position.
public struct ComposeEntry: Sendable {
    public var key: String
    public var keyMark: SourceMark
    public var value: ComposeNode

    public init(key: String, keyMark: SourceMark, value: ComposeNode) {
        self.key = key
        self.keyMark = keyMark
        self.value = value
    }
}

extension ComposeNode {
    /// Loads a YAML tree: merge keys applied (explicit keys win, earlier merged maps win over
    /// later ones, as YAML specifies), every scalar interpolated except under `x-` extension keys
    /// at the top level. Problems (non-string keys, interpolation errors, unset variables once per
    /// name) are appended to `findings`.
    public static func load(_ node: YAMLNode, file: String, interpolation: ComposeInterpolation,
                            findings: inout [ImportFinding], unsetSeen: inout Set<String>) -> ComposeNode {
        var loader = Loader(file: file, interpolation: interpolation, findings: findings, unsetSeen: unsetSeen)
        let result = loader.convert(node, interpolate: true, topLevel: true)
        findings = loader.findings
        unsetSeen = loader.unsetSeen
        return result
    }

    private struct Loader {
        let file: String
        let interpolation: ComposeInterpolation
        var findings: [ImportFinding]
        var unsetSeen: Set<String>
        /// Bytes interpolation may produce in all: a large variable used in many places is an
        /// error, never gigabytes of output.
        var budget = ComposeNode.interpolationBudget

        mutating func convert(_ node: YAMLNode, interpolate: Bool, topLevel: Bool = false) -> ComposeNode {
            switch node.kind {
            case .scalar(var s):
                if interpolate, !s.isNull, s.value.contains("$") {
                    guard budget > 0 else {
                        findings.append(ImportFinding(.error, file: file, at: node.mark, "interpolated values exceed \(ComposeNode.interpolationBudget) bytes in all; use shorter variables"))
                        return ComposeNode(.scalar(s), at: node.mark, in: file)
                    }
                    let outcome = interpolation.interpolate(s.value)
                    budget -= outcome.value.utf8.count
                    if let error = outcome.error { findings.append(ImportFinding(.error, file: file, at: node.mark, error)) }
                    for name in outcome.unset where unsetSeen.insert(name).inserted {
                        findings.append(ImportFinding(.warning, file: file, at: node.mark,
                            "variable \(name) is not set (neither in the environment nor in .env); an empty string is used, as Compose does"))
                    }
                    if outcome.value != s.value { s = YAMLScalar(outcome.value, plain: false) }
                }
                return ComposeNode(.scalar(s), at: node.mark, in: file)
            case .sequence(let items):
                return ComposeNode(.sequence(items.map { convert($0, interpolate: interpolate) }), at: node.mark, in: file)
            case .mapping(let pairs):
                var explicit: [ComposeEntry] = []
                var merged: [ComposeEntry] = []
                var mergedKeys = Set<String>()
                var explicitKeys = Set<String>()
                for pair in pairs {
                    guard let key = pair.key.scalar, !key.isNull else {
                        findings.append(ImportFinding(.error, file: file, at: pair.key.mark, "mapping keys must be strings, found \(pair.key.typeName)"))
                        continue
                    }
                    if key.value == "<<", key.isPlain {
                        // A merge key: its mapping (or list of mappings) supplies defaults.
                        let sources = pair.value.sequenceItems ?? [pair.value]
                        for source in sources {
                            guard case .mapping = source.kind else {
                                findings.append(ImportFinding(.error, file: file, at: source.mark, "a merge key (<<) takes a mapping or a list of mappings, found \(source.typeName)"))
                                continue
                            }
                            for entry in convert(source, interpolate: interpolate).entries ?? [] where mergedKeys.insert(entry.key).inserted {
                                merged.append(entry)
                            }
                        }
                        continue
                    }
                    let extensionField = topLevel && key.value.hasPrefix("x-")
                    if !explicitKeys.insert(key.value).inserted {
                        findings.append(ImportFinding(.error, file: file, at: pair.key.mark, "duplicate key \"\(key.value)\" (Compose rejects it too); keep one"))
                        continue
                    }
                    explicit.append(ComposeEntry(key: key.value, keyMark: pair.key.mark,
                                                 value: convert(pair.value, interpolate: interpolate && !extensionField)))
                }
                let keys = Set(explicit.map(\.key))
                return ComposeNode(.mapping(merged.filter { !keys.contains($0.key) } + explicit), at: node.mark, in: file)
            }
        }
    }

    /// Compose's multi-file merge (`-f a.yml -f b.yml`): mappings merge key by key; the lists
    /// Compose accumulates (`ports`, `volumes`, `expose`, …) are joined without duplicates; any
    /// other value of the later file replaces the earlier one.
    public static func merge(_ base: ComposeNode, _ override: ComposeNode, key: String? = nil) -> ComposeNode {
        switch (base.kind, override.kind) {
        case (.mapping(var entries), .mapping(let more)):
            var index: [String: Int] = [:]
            for (i, entry) in entries.enumerated() { index[entry.key] = i }
            for entry in more {
                if entry.value.isReset, let i = index[entry.key] {
                    // `key: !reset null` removes what earlier files set.
                    entries[i] = entry
                } else if let i = index[entry.key] {
                    entries[i].value = merge(entries[i].value, entry.value, key: entry.key)
                } else {
                    index[entry.key] = entries.count
                    entries.append(entry)
                }
            }
            return ComposeNode(.mapping(entries), at: base.mark, in: base.file)
        case (.sequence(let a), .sequence(let b)) where key == "volumes":
            // One mount per target: the later file's wins, as in Compose.
            let replaced = Set(b.compactMap(\.mountTarget))
            return ComposeNode(.sequence(a.filter { $0.mountTarget.map { !replaced.contains($0) } ?? true } + b), at: base.mark, in: base.file)
        case (.sequence(let a), .sequence(let b)) where appendedLists.contains(key ?? ""):
            var seen = Set(a.compactMap(\.text))
            return ComposeNode(.sequence(a + b.filter { $0.text.map { seen.insert($0).inserted } ?? true }), at: base.mark, in: base.file)
        default:
            return override
        }
    }

    static let interpolationBudget = 16 << 20

    static let appendedLists: Set<String> = [
        "ports", "expose", "volumes", "env_file", "secrets", "configs", "dns", "dns_search", "extra_hosts",
        "cap_add", "cap_drop", "devices", "depends_on", "networks", "tmpfs", "security_opt",
    ]

    /// A scalar tagged `!reset` (Compose's way for a later file to remove a value).
    var isReset: Bool { scalar?.tag == "!reset" }

    /// The tree without the `!reset` entries (after the files are merged).
    func withoutResets() -> ComposeNode {
        var copy = self
        switch kind {
        case .mapping(let entries):
            copy.kind = .mapping(entries.filter { !$0.value.isReset }.map { ComposeEntry(key: $0.key, keyMark: $0.keyMark, value: $0.value.withoutResets()) })
        case .sequence(let items):
            copy.kind = .sequence(items.filter { !$0.isReset }.map { $0.withoutResets() })
        case .scalar:
            break
        }
        return copy
    }

    /// The container path a `volumes` item mounts at.
    var mountTarget: String? {
        if let text {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            return String(parts.count >= 2 ? parts[1] : parts[0])
        }
        return self["target"]?.text
    }

    /// `KEY=VALUE` lists (environment, labels) as mappings, so that files merge them key by key
    /// whichever form each file used.
    func keyValueListAsMapping() -> ComposeNode {
        guard let items else { return self }
        var entries: [ComposeEntry] = []
        for item in items {
            guard let text = item.text else { return self }
            let key = String(text.prefix { $0 != "=" })
            var value = item
            value.kind = .scalar(key.count == text.count ? YAMLScalar("", plain: true) : YAMLScalar(String(text.dropFirst(key.count + 1)), plain: false))
            entries.append(ComposeEntry(key: key, keyMark: item.mark, value: value))
        }
        return ComposeNode(.mapping(entries), at: mark, in: file)
    }
}

extension YAMLNode {
    var sequenceItems: [YAMLNode]? {
        if case .sequence(let items) = kind { return items }
        return nil
    }
}
