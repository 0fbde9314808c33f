/// Turns one YAML document into a ``ServiceSpec``, strictly: unknown keys, wrong types and
/// out-of-range values are all reported (not just the first), each at its own position.
///
/// Pure: it reads a ``YAMLNode`` tree and returns values; cross-document rules (unique names,
/// route conflicts, `depends_on`) belong to ``DesiredState``.
public struct ServiceDecoder {
    public static let serviceKeys = [
        "name", "image", "command", "replicas", "port", "network", "env", "routes", "health",
        "update", "stop_timeout", "depends_on", "labels", "volumes", "pull",
    ]
    static let routeKeys = ["host", "path"]
    static let healthKeys = ["http", "tcp", "interval", "timeout", "retries", "start_period"]
    static let updateKeys = ["order", "parallelism"]

    /// The label prefix Flotilla keeps for its own bookkeeping.
    public static let reservedLabelPrefix = "io.flotilla."

    let file: String
    private(set) var diagnostics: [Diagnostic] = []

    init(file: String) { self.file = file }

    /// Decodes one document. A nil spec always comes with at least one diagnostic.
    public static func decode(_ node: YAMLNode, file: String) -> (spec: ServiceSpec?, diagnostics: [Diagnostic]) {
        var decoder = ServiceDecoder(file: file)
        let spec = decoder.service(node)
        return (decoder.diagnostics.isEmpty ? spec : nil, decoder.diagnostics)
    }

    // MARK: - The service document

    mutating func service(_ node: YAMLNode) -> ServiceSpec? {
        guard let fields = mapping(node, of: "a service", allowed: Self.serviceKeys) else { return nil }

        let name = required("name", in: fields, at: node.mark).flatMap { n -> String? in
            guard let s = string(n, "name") else { return nil }
            guard ManifestRules.isDNSLabel(s) else {
                error(n, "name \"\(s)\" is not a DNS label; use 1-63 lowercase letters, digits and \"-\", starting and ending with a letter or digit")
                return nil
            }
            return s
        }
        let image = required("image", in: fields, at: node.mark).flatMap { n -> String? in
            guard let s = string(n, "image") else { return nil }
            guard ManifestRules.isImageReference(s) else {
                error(n, "image \"\(s)\" is not an image reference; write it like registry/name:tag, without spaces")
                return nil
            }
            return s
        }
        var spec = ServiceSpec(name: name ?? "", image: image ?? "")

        if let n = fields["command"] { spec.command = stringList(n, "command", hint: "write it as a list, e.g. [\"/bin/sh\", \"-c\", \"exec my-server\"]") }
        if let n = fields["replicas"], let v = integer(n, "replicas", in: 0...ManifestRules.maxReplicas) { spec.replicas = v }
        if let n = fields["port"], let v = integer(n, "port", in: 1...65535) { spec.port = v }
        if let n = fields["network"], let v = oneOf(n, "network", NetworkMode.self) { spec.network = v }
        if let n = fields["pull"], let v = oneOf(n, "pull", PullPolicy.self) { spec.pull = v }
        if let n = fields["env"] { spec.env = env(n) }
        if let n = fields["labels"] { spec.labels = labels(n) }
        if let n = fields["volumes"] {
            spec.volumes = (stringList(n, "volumes", hint: "write it as a list of \"SOURCE:TARGET[:OPTIONS]\"") ?? []).enumerated().compactMap { i, v in
                guard ManifestRules.isVolume(v) else {
                    error(listItem(n, i), "volume \"\(v)\" must be \"SOURCE:TARGET[:OPTIONS]\" with an absolute TARGET")
                    return nil
                }
                return v
            }
        }
        if let n = fields["stop_timeout"], let v = duration(n, "stop_timeout") { spec.stopTimeout = v }
        if let n = fields["depends_on"] {
            let names = stringList(n, "depends_on", hint: "write it as a list of service names, e.g. [db]") ?? []
            var seen = Set<String>()
            for (i, d) in names.enumerated() {
                if !ManifestRules.isDNSLabel(d) { error(listItem(n, i), "depends_on entry \"\(d)\" is not a service name") }
                else if d == name { error(listItem(n, i), "service \"\(d)\" cannot depend on itself") }
                else if !seen.insert(d).inserted { error(listItem(n, i), "depends_on lists \"\(d)\" twice") }
            }
            spec.dependsOn = names.filter { ManifestRules.isDNSLabel($0) && $0 != name }.reduce(into: []) { if !$0.contains($1) { $0.append($1) } }
        }
        if let n = fields["routes"] { spec.routes = routes(n) }
        if let n = fields["health"] { spec.health = health(n) }
        if let n = fields["update"] { spec.update = update(n) }

        if fields["port"] == nil {
            if let n = fields["routes"], !spec.routes.isEmpty {
                error(n, "routes need a port: add \"port: <container port>\" so the proxy knows where to send traffic")
            }
            if let n = fields["health"], spec.health != nil {
                error(n, "health needs a port: add \"port: <container port>\" for the probe to connect to")
            }
        }
        return name == nil || image == nil ? nil : spec
    }

    // MARK: - Nested sections

    mutating func routes(_ node: YAMLNode) -> [Route] {
        guard case .sequence(let items) = node.kind else {
            if node.scalar?.isNull == true { return [] }
            error(node, "routes must be a list of {host, path}, found \(node.typeName)")
            return []
        }
        var result: [Route] = []
        var seen = Set<Route>()
        for item in items {
            guard let fields = mapping(item, of: "a route", allowed: Self.routeKeys) else { continue }
            var host: String?
            if let hostNode = required("host", in: fields, at: item.mark), let h = string(hostNode, "host") {
                if ManifestRules.isHostname(h) { host = h } else {
                    error(hostNode, "host \"\(h)\" is not a hostname; use letters, digits, \"-\" and \".\" (RFC 1123), optionally starting with \"*.\"")
                }
            }
            var path: String? = "/"
            if let p = fields["path"] {
                path = string(p, "path")
                if let s = path, !ManifestRules.isSafePath(s) {
                    error(p, "path \"\(s)\" must start with \"/\" and contain no spaces, quotes, ; { } # $ or \\")
                    path = nil
                }
            }
            guard let host, let path else { continue }
            let route = Route(host: host.lowercased(), path: path)
            if !seen.insert(route).inserted {
                error(item, "route \(route.host)\(route.path) is listed twice")
                continue
            }
            result.append(route)
        }
        return result
    }

    mutating func health(_ node: YAMLNode) -> HealthCheck? {
        guard let fields = mapping(node, of: "health", allowed: Self.healthKeys) else { return nil }
        var probe: HealthCheck.Probe?
        switch (fields["http"], fields["tcp"]) {
        case (.some, .some):
            error(node, "health takes either http or tcp, not both")
        case (.some(let h), nil):
            if let path = string(h, "http") {
                if ManifestRules.isSafePath(path) { probe = .http(path: path) }
                else { error(h, "health http path \"\(path)\" must start with \"/\" and contain no spaces, quotes, ; { } # $ or \\") }
            }
        case (nil, .some(let t)):
            if let on = boolean(t, "tcp") {
                if on { probe = .tcp } else { error(t, "tcp: false checks nothing; remove the health section or use \"tcp: true\"") }
            }
        case (nil, nil):
            error(node, "health needs a probe: add \"http: /path\" or \"tcp: true\"")
        }
        var check = HealthCheck(probe: probe ?? .tcp)
        if let n = fields["interval"], let v = duration(n, "interval", minimum: 100) { check.interval = v }
        if let n = fields["timeout"], let v = duration(n, "timeout", minimum: 100) { check.timeout = v }
        if let n = fields["retries"], let v = integer(n, "retries", in: 1...100) { check.retries = v }
        if let n = fields["start_period"], let v = duration(n, "start_period") { check.startPeriod = v }
        return probe == nil ? nil : check
    }

    mutating func update(_ node: YAMLNode) -> UpdatePolicy {
        var policy = UpdatePolicy()
        guard let fields = mapping(node, of: "update", allowed: Self.updateKeys) else { return policy }
        if let n = fields["order"], let v = oneOf(n, "order", UpdatePolicy.Order.self) { policy.order = v }
        if let n = fields["parallelism"], let v = integer(n, "parallelism", in: 1...ManifestRules.maxReplicas) { policy.parallelism = v }
        return policy
    }

    mutating func env(_ node: YAMLNode) -> [String: String] {
        guard let fields = mapping(node, of: "env", allowed: nil) else { return [:] }
        var result: [String: String] = [:]
        for (key, value) in fields {
            guard ManifestRules.isEnvName(key) else {
                error(keyNode(of: key, in: node) ?? value, "env name \"\(key)\" must match [A-Za-z_][A-Za-z0-9_]*")
                continue
            }
            guard let s = value.scalar, !s.isNull else {
                error(value, "env \(key) must be a scalar value, found \(value.typeName); write \"\" for an empty value")
                continue
            }
            result[key] = s.value
        }
        return result
    }

    mutating func labels(_ node: YAMLNode) -> [String: String] {
        guard let fields = mapping(node, of: "labels", allowed: nil) else { return [:] }
        var result: [String: String] = [:]
        for (key, value) in fields {
            let at = keyNode(of: key, in: node) ?? value
            guard ManifestRules.isLabelKey(key) else { error(at, "label key \"\(key)\" must be printable ASCII without spaces"); continue }
            guard !key.hasPrefix(Self.reservedLabelPrefix) else {
                error(at, "label key \"\(key)\" uses the prefix \"\(Self.reservedLabelPrefix)\", which Flotilla reserves for its own labels")
                continue
            }
            guard let s = value.scalar, !s.isNull else { error(value, "label \(key) must be a scalar value, found \(value.typeName)"); continue }
            result[key] = s.value
        }
        return result
    }

    // MARK: - Typed readers, each reporting its own error

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
                error(pair.key, "duplicate key \"\(key.value)\" in \(what); each key may appear once")
                continue
            }
            if let allowed, !allowed.contains(key.value) {
                error(pair.key, "unknown key \"\(key.value)\" in \(what)" + EditDistance.hint(for: key.value, in: allowed))
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

    mutating func error(_ node: YAMLNode, _ message: String) {
        diagnostics.append(Diagnostic(file: file, at: node.mark, message))
    }
}
