/// Turns one YAML document into a ``ServiceSpec``, strictly: unknown keys, wrong types and
/// out-of-range values are all reported (not just the first), each at its own position.
///
/// Pure: it reads a ``YAMLNode`` tree and returns values; cross-document rules (unique names,
/// route conflicts, `depends_on`) belong to ``DesiredState``.
public struct ServiceDecoder {
    public static let serviceKeys = [
        "name", "image", "command", "replicas", "port", "network", "env", "routes", "health",
        "update", "stop_timeout", "depends_on", "labels", "volumes", "pull", "secrets", "env_file",
        "resources", "restart_policy", "ports", "networks", "entrypoint", "placement",
    ]
    static let routeKeys = ["host", "hosts", "path", "paths", "strip_prefix"]
    static let probeKeys = ["http", "tcp", "interval", "timeout", "retries", "start_period"]
    static let healthRoleKeys = ["readiness", "liveness"]
    static let updateKeys = ["strategy", "order", "parallelism", "canary"]
    static let canaryKeys = ["replicas", "weight", "auto_promote_after"]
    static let resourceKeys = ["memory", "cpus"]
    static let networkKeys = ["name", "aliases"]
    static let portKeys = ["container", "host", "address", "protocol"]
    static let secretKeys = ["file"]
    static let placementKeys = ["constraints", "max_per_node", "mode"]

    /// The label prefix Flotilla keeps for its own bookkeeping.
    public static let reservedLabelPrefix = "io.flotilla."

    let file: String
    let secretReader: any SecretReader
    let mountPolicy: MountPolicy
    let digestKey: SecretDigestKey
    var diagnostics: [Diagnostic] = []
    /// Errors past ``maxDiagnostics``, counted only.
    var suppressed = 0
    /// Where the last of them is (the count is reported there, after the ones shown).
    var lastSuppressed: SourceMark?
    /// Errors reported per document; the rest are counted in one last message.
    static let maxDiagnostics = 100

    init(file: String, secretReader: any SecretReader = NoSecretReader(), mountPolicy: MountPolicy = .refuseHostPaths,
         digestKey: SecretDigestKey = .ephemeral) {
        self.file = file
        self.secretReader = secretReader
        self.mountPolicy = mountPolicy
        self.digestKey = digestKey
    }

    /// Decodes one document. A nil spec always comes with at least one diagnostic.
    /// `secrets` reads the files that `env_file` and `secrets` name; `mounts` says which host
    /// paths `volumes` may bind-mount; `digestKey` keys the digests that stand for secret values.
    public static func decode(_ node: YAMLNode, file: String, secrets: any SecretReader = NoSecretReader(),
                              mounts: MountPolicy = .refuseHostPaths, digestKey: SecretDigestKey = .ephemeral) -> (spec: ServiceSpec?, diagnostics: [Diagnostic]) {
        var decoder = ServiceDecoder(file: file, secretReader: secrets, mountPolicy: mounts, digestKey: digestKey)
        let spec = decoder.service(node)
        if decoder.suppressed > 0 {
            decoder.diagnostics.append(Diagnostic(file: file, at: decoder.lastSuppressed ?? node.mark,
                "\(decoder.suppressed) more errors in this service are not shown; fix the ones above first"))
        }
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
                error(n, "image \"\(ServiceDecoder.excerpt(s))\" is not an image reference; write it like registry.example.com/team/name:tag (path in lowercase, no spaces, not starting with -)")
                return nil
            }
            return s
        }
        var spec = ServiceSpec(name: name ?? "", image: image ?? "")

        if let n = fields["command"] { spec.command = stringList(n, "command", hint: "write it as a list, e.g. [\"/bin/sh\", \"-c\", \"exec my-server\"]") }
        if let n = fields["entrypoint"] { spec.entrypoint = stringList(n, "entrypoint", hint: "write it as a list, e.g. [\"/docker-entrypoint.sh\"]") }
        if let n = fields["placement"], let fields = mapping(n, of: "placement", allowed: Self.placementKeys) {
            var placement = Placement()
            if let c = fields["constraints"] {
                let list = stringList(c, "placement.constraints", hint: "write it as a list, e.g. [\"node.role==manager\"]") ?? []
                for (i, constraint) in list.enumerated() where !ManifestRules.isConstraint(constraint) {
                    error(listItem(c, i), "constraint \"\(constraint)\" must be ATTRIBUTE==VALUE or ATTRIBUTE!=VALUE, e.g. node.role==manager or node.labels.zone!=b")
                }
                placement.constraints = list.filter(ManifestRules.isConstraint)
            }
            if let m = fields["max_per_node"], let v = integer(m, "placement.max_per_node", in: ManifestRules.maxPerNode) { placement.maxPerNode = v }
            if let m = fields["mode"], let v = oneOf(m, "placement.mode", Placement.Mode.self) { placement.mode = v }
            spec.placement = placement
        }
        if let n = fields["replicas"], let v = integer(n, "replicas", in: ManifestRules.replicas) { spec.replicas = v }
        if let n = fields["port"], let v = integer(n, "port", in: ManifestRules.port) { spec.port = v }
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
                let parts = v.split(separator: ":", omittingEmptySubsequences: false)
                let source = String(parts[0]), target = parts[1]
                if target.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }) {
                    error(listItem(n, i), "volume target \"\(target)\" contains \".\" or \"..\"; write the path inside the container without them")
                    return nil
                }
                // Not a host path, so a named volume: a name, never a path (the engine would take
                // `var/run/docker.sock` for something else than a volume called that).
                if !source.hasPrefix("/"), !source.hasPrefix("."), !source.hasPrefix("~"), !ManifestRules.isNetworkName(source) {
                    error(listItem(n, i), "named volume \"\(ServiceDecoder.excerpt(source))\" must be a name of letters, digits, \"_\", \".\" and \"-\" (a host path starts with /)")
                    return nil
                }
                if let problem = mountPolicy.problem(source: String(v.prefix { $0 != ":" })) {
                    error(listItem(n, i), problem)
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
                if let count = Int(s.dropFirst("on-failure:".count)), ManifestRules.restartRetries.contains(count) {
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
        if spec.update.strategy == .canary, spec.replicas == 0 {
            error(fields["update"] ?? node, "a canary release needs replicas of at least 1 (replicas: 0 stops the service; use strategy: rolling, or scale up first)")
        } else if spec.update.strategy == .canary, spec.update.canary.replicas > spec.replicas {
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
}
