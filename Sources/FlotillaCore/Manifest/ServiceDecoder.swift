/// Turns one YAML document into a ``ServiceSpec``, strictly: unknown keys, wrong types and
/// out-of-range values are all reported (not just the first), each at its own position.
///
/// Pure: it reads a ``YAMLNode`` tree and returns values; cross-document rules (unique names,
/// route conflicts, `depends_on`) belong to ``DesiredState``.
public struct ServiceDecoder {
    public static let serviceKeys = [
        "name", "image", "command", "replicas", "port", "network", "env", "routes", "health",
        "update", "stop_timeout", "depends_on", "labels", "volumes", "pull", "secrets", "env_file",
        "resources", "restart_policy", "ports", "networks",
    ]
    static let routeKeys = ["host", "hosts", "path", "paths", "strip_prefix"]
    static let probeKeys = ["http", "tcp", "interval", "timeout", "retries", "start_period"]
    static let healthRoleKeys = ["readiness", "liveness"]
    static let updateKeys = ["strategy", "order", "parallelism", "canary"]
    static let canaryKeys = ["replicas", "weight", "auto_promote_after"]
    static let resourceKeys = ["memory", "cpus"]
    static let networkKeys = ["name", "aliases"]

    /// The label prefix Flotilla keeps for its own bookkeeping.
    public static let reservedLabelPrefix = "io.flotilla."

    let file: String
    let secretReader: any SecretReader
    private(set) var diagnostics: [Diagnostic] = []

    init(file: String, secretReader: any SecretReader = NoSecretReader()) {
        self.file = file
        self.secretReader = secretReader
    }

    /// Decodes one document. A nil spec always comes with at least one diagnostic.
    /// `secrets` reads the files that `env_file` and `secrets` name.
    public static func decode(_ node: YAMLNode, file: String, secrets: any SecretReader = NoSecretReader()) -> (spec: ServiceSpec?, diagnostics: [Diagnostic]) {
        var decoder = ServiceDecoder(file: file, secretReader: secrets)
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
        if let n = fields["health"] { (spec.readiness, spec.liveness) = health(n) }
        if let n = fields["update"] { spec.update = update(n) }
        if let n = fields["env_file"] { envFiles(n, into: &spec.secrets) }
        if let n = fields["secrets"] { secrets(n, into: &spec.secrets) }
        for key in spec.secrets.keys where spec.env[key] != nil {
            error(fields["env"].flatMap { keyNode(of: key, in: $0) } ?? node, "\(key) is set both in env and from a file (env_file or secrets); keep one")
        }
        if let n = fields["resources"] { spec.resources = resources(n) }
        if let n = fields["restart_policy"] {
            // Docker's `on-failure:N` limits the engine's retries.
            if let s = n.scalar?.value, s.hasPrefix("on-failure:") {
                if let count = Int(s.dropFirst("on-failure:".count)), (1...1000).contains(count) {
                    spec.restartPolicy = .onFailure
                    spec.restartMaxRetries = count
                } else {
                    error(n, "restart_policy \"\(s)\" needs a retry count between 1 and 1000 after \"on-failure:\"")
                }
            } else if let v = oneOf(n, "restart_policy", RestartPolicy.self) {
                spec.restartPolicy = v
            }
        }
        if let n = fields["ports"] { spec.ports = ports(n, replicas: spec.replicas, network: spec.network) }
        if let n = fields["networks"] {
            spec.networks = networks(n)
            if spec.network == .host, !spec.networks.isEmpty { error(n, "networks cannot be joined with \"network: host\"; remove one of them") }
        }
        if spec.update.strategy == .canary, spec.replicas > 0, spec.update.canary.replicas > spec.replicas {
            // A canary larger than the service would be the whole service: say so rather than surprise.
            error(fields["update"] ?? node, "update.canary.replicas (\(spec.update.canary.replicas)) cannot exceed replicas (\(spec.replicas))")
        }

        if fields["port"] == nil {
            if let n = fields["routes"], !spec.routes.isEmpty {
                error(n, "routes need a port: add \"port: <container port>\" so the proxy knows where to send traffic")
            }
            if let n = fields["health"], spec.readiness != nil || spec.liveness != nil {
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
        var seen = Set<String>()
        for item in items {
            guard let fields = mapping(item, of: "a route", allowed: Self.routeKeys) else { continue }
            let hosts = oneOrMany(fields, single: "host", plural: "hosts", at: item, required: true) { value in
                ManifestRules.isHostname(value) ? nil
                    : "host \"\(value)\" is not a hostname; use letters, digits, \"-\" and \".\" (RFC 1123), optionally starting with \"*.\""
            }.map { $0.lowercased() }
            var paths = oneOrMany(fields, single: "path", plural: "paths", at: item, required: false) { value in
                ManifestRules.isSafePath(value) ? nil : "path \"\(value)\" must start with \"/\" and contain no spaces, quotes, ; { } # $ or \\"
            }
            if fields["path"] == nil && fields["paths"] == nil { paths = ["/"] }
            var strip = false
            if let n = fields["strip_prefix"], let v = boolean(n, "strip_prefix") {
                strip = v
                if v, let bad = paths.first(where: { !ManifestRules.isStrippablePath($0) }) {
                    error(n, "strip_prefix needs paths of letters, digits and / . _ ~ - only; \"\(bad)\" has other characters")
                }
            }
            for host in hosts {
                for path in paths {
                    let route = Route(host: host, path: path, stripPrefix: strip)
                    if !seen.insert(route.key).inserted {
                        error(item, "route \(route.host)\(route.path) is listed twice")
                        continue
                    }
                    result.append(route)
                }
            }
        }
        return result
    }

    /// `key: value` or `keys: [values]` (not both); `problem` says what is wrong with a value.
    mutating func oneOrMany(_ fields: [String: YAMLNode], single: String, plural: String, at item: YAMLNode, required: Bool,
                            problem: (String) -> String?) -> [String] {
        func check(_ node: YAMLNode, _ value: String) -> String? {
            if let message = problem(value) { error(node, message); return nil }
            return value
        }
        switch (fields[single], fields[plural]) {
        case (.some, .some):
            error(fields[plural]!, "a route takes \(single) or \(plural), not both")
            return []
        case (.some(let n), nil):
            return string(n, single).flatMap { check(n, $0) }.map { [$0] } ?? []
        case (nil, .some(let n)):
            guard let values = stringList(n, plural, hint: "write it as a list, e.g. [a.example.com, b.example.com]") else { return [] }
            if values.isEmpty { error(n, "\(plural) must not be empty") }
            return values.enumerated().compactMap { i, v in check(listItem(n, i), v) }
        case (nil, nil):
            if required { diagnostics.append(Diagnostic(file: file, at: item.mark, "missing required key \"\(single)\" (or \"\(plural)\")")) }
            return []
        }
    }

    /// Either one check (`http`/`tcp` …: readiness and liveness together, the original form) or
    /// `readiness:` and/or `liveness:`, each a check of its own.
    mutating func health(_ node: YAMLNode) -> (readiness: HealthCheck?, liveness: HealthCheck?) {
        guard case .mapping(let pairs) = node.kind else {
            error(node, "health must be a mapping, found \(node.typeName)")
            return (nil, nil)
        }
        let keys = pairs.compactMap { $0.key.scalar?.value }
        let roles = keys.filter { Self.healthRoleKeys.contains($0) }
        let misspeltRole = keys.contains { !Self.probeKeys.contains($0) && EditDistance.suggestion(for: $0, in: Self.healthRoleKeys) != nil }
        if roles.isEmpty && !misspeltRole {
            let check = probe(node, of: "health")
            return (check, check)
        }
        guard let fields = mapping(node, of: "health (with readiness/liveness)", allowed: Self.healthRoleKeys) else { return (nil, nil) }
        return (fields["readiness"].flatMap { probe($0, of: "readiness") }, fields["liveness"].flatMap { probe($0, of: "liveness") })
    }

    mutating func probe(_ node: YAMLNode, of what: String) -> HealthCheck? {
        guard let fields = mapping(node, of: what, allowed: Self.probeKeys) else { return nil }
        var probe: HealthCheck.Probe?
        switch (fields["http"], fields["tcp"]) {
        case (.some, .some):
            error(node, "\(what) takes either http or tcp, not both")
        case (.some(let h), nil):
            if let path = string(h, "http") {
                if ManifestRules.isSafePath(path) { probe = .http(path: path) }
                else { error(h, "\(what) http path \"\(path)\" must start with \"/\" and contain no spaces, quotes, ; { } # $ or \\") }
            }
        case (nil, .some(let t)):
            if let on = boolean(t, "tcp") {
                if on { probe = .tcp } else { error(t, "tcp: false checks nothing; remove the \(what) section or use \"tcp: true\"") }
            }
        case (nil, nil):
            error(node, "\(what) needs a probe: add \"http: /path\" or \"tcp: true\"")
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
        if let n = fields["strategy"], let v = oneOf(n, "strategy", UpdatePolicy.Strategy.self) { policy.strategy = v }
        if let n = fields["order"], let v = oneOf(n, "order", UpdatePolicy.Order.self) { policy.order = v }
        if let n = fields["parallelism"], let v = integer(n, "parallelism", in: 1...ManifestRules.maxReplicas) { policy.parallelism = v }
        if let n = fields["canary"] {
            if policy.strategy != .canary {
                error(n, "canary settings need \"strategy: canary\" in update")
            }
            if let canary = mapping(n, of: "update.canary", allowed: Self.canaryKeys) {
                if let c = canary["replicas"], let v = integer(c, "canary replicas", in: 1...ManifestRules.maxReplicas) { policy.canary.replicas = v }
                if let c = canary["weight"], let v = integer(c, "canary weight", in: 1...99) { policy.canary.weight = v }
                if let c = canary["auto_promote_after"], let v = duration(c, "auto_promote_after", minimum: 1000) { policy.canary.autoPromoteAfter = v }
            }
        }
        return policy
    }

    // MARK: - Values from files

    mutating func envFiles(_ node: YAMLNode, into secrets: inout [String: SecretValue]) {
        let paths: [(YAMLNode, String)]
        if let s = node.scalar, !s.isNull { paths = [(node, s.value)] }
        else {
            guard let list = stringList(node, "env_file", hint: "write a path or a list of paths") else { return }
            paths = list.enumerated().map { (listItem(node, $0.offset), $0.element) }
        }
        for (at, path) in paths {
            switch secretReader.read(path, from: file) {
            case .failure(let problem):
                error(at, "env_file \"\(path)\": \(problem.message)")
            case .success(let text):
                switch EnvFile.parse(text) {
                case .failure(let problem):
                    error(at, "env_file \"\(path)\" line \(problem.line): \(problem.message)")
                case .success(let pairs):
                    // Later files and later lines win, as in docker compose.
                    for (key, value) in pairs { secrets[key] = SecretValue(value: value, source: path) }
                }
            }
        }
    }

    mutating func secrets(_ node: YAMLNode, into secrets: inout [String: SecretValue]) {
        guard let fields = mapping(node, of: "secrets", allowed: nil) else { return }
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
            let at = keyNode(of: key, in: node) ?? value
            guard ManifestRules.isEnvName(key) else { error(at, "secret name \"\(key)\" must match [A-Za-z_][A-Za-z0-9_]* (it becomes an environment variable)"); continue }
            guard let entry = mapping(value, of: "secret \(key)", allowed: ["file"]) else { continue }
            guard let fileNode = entry["file"] else { error(value, "secret \(key) needs a file: write { file: path/to/file }"); continue }
            guard let path = string(fileNode, "file") else { continue }
            switch secretReader.read(path, from: file) {
            case .failure(let problem):
                error(fileNode, "secret \(key) file \"\(path)\": \(problem.message)")
            case .success(var text):
                // A trailing newline is what editors add, not part of the secret.
                if text.hasSuffix("\r\n") { text.removeLast(2) } else if text.hasSuffix("\n") { text.removeLast() }
                secrets[key] = SecretValue(value: text, source: path)
            }
        }
    }

    // MARK: - Engine settings

    mutating func resources(_ node: YAMLNode) -> Resources {
        var result = Resources()
        guard let fields = mapping(node, of: "resources", allowed: Self.resourceKeys) else { return result }
        if let n = fields["memory"] {
            if let s = n.scalar, !s.isNull, let bytes = Resources.parseMemory(s.value), bytes >= 6 << 20 {
                result.memoryBytes = bytes
            } else {
                error(n, "memory must be a size of at least 6Mi such as 256Mi, 1Gi or 512M, found \(n.scalar.map { "\"\($0.value)\"" } ?? n.typeName)")
            }
        }
        if let n = fields["cpus"] {
            if let s = n.scalar, s.isPlain, let v = Double(s.value), v >= 0.01, v <= 1024 {
                result.nanoCPUs = Int64((v * 1e9).rounded())
            } else {
                error(n, "cpus must be a number of cores between 0.01 and 1024 such as 0.5 or 2, found \(n.scalar.map { "\"\($0.value)\"" } ?? n.typeName)")
            }
        }
        return result
    }

    mutating func ports(_ node: YAMLNode, replicas: Int, network: NetworkMode) -> [PortMapping] {
        guard case .sequence(let items) = node.kind else {
            if node.scalar?.isNull == true { return [] }
            error(node, "ports must be a list such as [\"9090\", \"127.0.0.1:9443:443\", \"0.0.0.0:5353:53/udp\"], found \(node.typeName)")
            return []
        }
        if network == .host, !items.isEmpty { error(node, "ports are not published with \"network: host\"; the container uses the host's ports directly") }
        var result: [PortMapping] = []
        var seen = Set<String>()
        for item in items {
            let parsed: PortMapping?
            if case .mapping = item.kind {
                parsed = portMapping(item)
                if parsed == nil { continue }
            } else if let s = item.scalar, !s.isNull {
                parsed = PortMapping(parsing: s.value)
            } else {
                parsed = nil
            }
            guard let mapping = parsed else {
                error(item, "port \(item.scalar.map { "\"\($0.value)\"" } ?? item.typeName) must be \"CONTAINER\", \"HOST:CONTAINER\" or \"ADDRESS:HOST:CONTAINER\", optionally with /tcp or /udp, or {container, host, address, protocol}")
                continue
            }
            if mapping.host != nil, replicas > 1 {
                error(item, "host port \(mapping.host!) can be bound by one replica only, and replicas is \(replicas); omit the host port to let the engine pick one per replica")
                continue
            }
            guard seen.insert("\(mapping.container)/\(mapping.proto.rawValue)").inserted else {
                error(item, "container port \(mapping.container)/\(mapping.proto.rawValue) is listed twice")
                continue
            }
            result.append(mapping)
        }
        return result
    }

    /// `{container: 9090, host: 19090, address: 0.0.0.0, protocol: udp}` (only `container` required).
    mutating func portMapping(_ node: YAMLNode) -> PortMapping? {
        guard let fields = mapping(node, of: "a port", allowed: ["container", "host", "address", "protocol"]) else { return nil }
        guard let c = required("container", in: fields, at: node.mark), let container = integer(c, "container", in: 1...65535) else { return nil }
        var result = PortMapping(container: container)
        if let n = fields["host"] { guard let v = integer(n, "host", in: 1...65535) else { return nil }; result.host = v }
        if let n = fields["address"] {
            guard let v = string(n, "address"), ManifestRules.isIPv4(v) else { error(n, "address must be an IPv4 address such as 127.0.0.1 or 0.0.0.0"); return nil }
            result.address = v
        }
        if let n = fields["protocol"] { guard let v = oneOf(n, "protocol", PortMapping.Proto.self) else { return nil }; result.proto = v }
        return result
    }

    /// `[backend, {name: frontend, aliases: [api]}]`, or compose's mapping form
    /// `{backend: {aliases: [api]}, frontend: null}`.
    mutating func networks(_ node: YAMLNode) -> [NetworkAttachment] {
        if case .mapping(let pairs) = node.kind {
            var result: [NetworkAttachment] = []
            for pair in pairs {
                guard let name = pair.key.scalar?.value else { error(pair.key, "network names must be strings"); continue }
                var aliases: [String] = []
                if pair.value.scalar?.isNull != true {
                    guard let fields = mapping(pair.value, of: "network \(name)", allowed: ["aliases"]) else { continue }
                    if let a = fields["aliases"] { aliases = self.aliases(a) }
                }
                guard ManifestRules.isNetworkName(name), !["host", "none", "bridge", "default"].contains(name) else {
                    error(pair.key, "network name \"\(name)\" must match [a-zA-Z0-9][a-zA-Z0-9_.-]* and not be host, none, bridge or default")
                    continue
                }
                if result.contains(where: { $0.name == name }) { error(pair.key, "network \(name) is listed twice"); continue }
                result.append(NetworkAttachment(name: name, aliases: aliases))
            }
            return result
        }
        guard case .sequence(let items) = node.kind else {
            if node.scalar?.isNull == true { return [] }
            error(node, "networks must be a list of names or {name, aliases}, found \(node.typeName)")
            return []
        }
        var result: [NetworkAttachment] = []
        for item in items {
            var attachment: NetworkAttachment?
            var nameNode = item
            if let s = item.scalar, !s.isNull {
                attachment = NetworkAttachment(name: s.value)
            } else if let fields = mapping(item, of: "a network", allowed: Self.networkKeys) {
                if let n = required("name", in: fields, at: item.mark), let name = string(n, "name") {
                    nameNode = n
                    attachment = NetworkAttachment(name: name, aliases: fields["aliases"].map { aliases($0) } ?? [])
                }
            }
            guard let attachment else { continue }
            guard ManifestRules.isNetworkName(attachment.name), !["host", "none", "bridge", "default"].contains(attachment.name) else {
                error(nameNode, "network name \"\(attachment.name)\" must match [a-zA-Z0-9][a-zA-Z0-9_.-]* and not be host, none, bridge or default")
                continue
            }
            guard !result.contains(where: { $0.name == attachment.name }) else { error(nameNode, "network \(attachment.name) is listed twice"); continue }
            result.append(attachment)
        }
        return result
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

    mutating func aliases(_ node: YAMLNode) -> [String] {
        var result: [String] = []
        for (i, alias) in (stringList(node, "aliases", hint: "write it as a list of DNS names") ?? []).enumerated() {
            if ManifestRules.isHostname(alias), !alias.hasPrefix("*.") { result.append(alias.lowercased()) }
            else { error(listItem(node, i), "alias \"\(alias)\" is not a DNS name") }
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
