/// Turns Compose files into Flotilla manifests, one per service (`flotilla import compose`).
///
/// Pure: it reads parsed YAML and returns manifest texts and findings. Everything with a Flotilla
/// meaning is mapped (see the README's "Coming from Compose" table); everything else is a
/// positioned warning, or an error where the result would not run. Nothing is dropped silently.
public struct ComposeConverter {
    let options: ComposeImportOptions
    var findings: [ImportFinding] = []
    var projectName = "default"
    /// Compose service name → Flotilla service name.
    var names: [String: String] = [:]
    var root: ComposeNode
    var secretFolders: [String] = []
    var usesHostMounts = false
    /// The top-level sections by name (`services`, `networks`, `volumes`, `secrets`): looked up
    /// once per reference, so a file with thousands of entries converts in linear time.
    var definitions: [String: [String: ComposeNode]] = [:]
    /// Where each file defines each service (by line), to put a warning in the right header.
    var serviceStarts: [String: [(line: Int, service: String)]] = [:]
    /// Services others wait for with `service_completed_successfully`: one-off jobs in Compose.
    var oneShotJobs = Set<String>()

    /// The top-level definition `name` in `section`.
    func defined(_ section: String, _ name: String) -> ComposeNode? { definitions[section]?[name] }

    /// Service keys read by the converter; any other key is reported.
    static let handledServiceKeys: Set<String> = [
        "image", "build", "command", "entrypoint", "environment", "env_file", "ports", "expose", "volumes",
        "networks", "network_mode", "depends_on", "healthcheck", "deploy", "restart", "stop_grace_period",
        "labels", "secrets", "scale", "pull_policy", "mem_limit", "cpus", "container_name", "links",
    ]
    /// Keys whose absence from the result changes nothing a Flotilla user would notice.
    static let silentServiceKeys: Set<String> = ["stdin_open", "tty"]

    public static func convert(_ sources: [ComposeSource], options: ComposeImportOptions) -> ComposeImport {
        var findings: [ImportFinding] = []
        var unset = Set<String>()
        let interpolation = ComposeInterpolation(variables: options.variables)
        var merged: ComposeNode?
        var serviceStarts: [String: [(line: Int, service: String)]] = [:]
        for source in sources {
            let documents = source.documents.filter { $0.scalar?.isNull != true }
            if documents.isEmpty {
                findings.append(ImportFinding(.error, file: source.file, at: SourceMark(line: 1, column: 1), "the file is empty; a Compose file needs a services: mapping"))
            }
            // Several documents in one file merge in order, as Compose merges them.
            for document in documents {
                var node = ComposeNode.load(document, file: source.file, interpolation: interpolation, findings: &findings, unsetSeen: &unset)
                node = resolveRelativePaths(node, directory: source.directory)
                guard case .mapping = node.kind else {
                    findings.append(ImportFinding(.error, file: source.file, at: node.mark, "a Compose file is a mapping with services:, found \(node.typeName)"))
                    continue
                }
                for entry in node["services"]?.entries ?? [] { serviceStarts[source.file, default: []].append((entry.keyMark.line, entry.key)) }
                merged = merged.map { ComposeNode.merge($0, node) } ?? node
            }
        }
        guard let merged else {
            return ComposeImport(projectName: options.projectName ?? "default", manifests: [], findings: findings, secretFolders: [], usesHostMounts: false)
        }
        var converter = ComposeConverter(options: options, findings: findings, root: merged.withoutResets())
        converter.serviceStarts = serviceStarts.mapValues { $0.sorted { $0.line < $1.line } }
        let manifests = converter.run(defaultProject: sources.first.map { Self.lastComponent($0.directory) } ?? "default")
        return ComposeImport(projectName: converter.projectName, manifests: manifests, findings: converter.findings,
                             secretFolders: converter.secretFolders, usesHostMounts: converter.usesHostMounts)
    }

    mutating func warn(_ node: ComposeNode, _ message: String) { findings.append(ImportFinding(.warning, file: node.file, at: node.mark, message)) }
    mutating func fail(_ node: ComposeNode, _ message: String) { findings.append(ImportFinding(.error, file: node.file, at: node.mark, message)) }
    mutating func warn(_ entry: ComposeEntry, _ message: String) { findings.append(ImportFinding(.warning, file: entry.value.file, at: entry.keyMark, message)) }
    mutating func fail(_ entry: ComposeEntry, _ message: String) { findings.append(ImportFinding(.error, file: entry.value.file, at: entry.keyMark, message)) }

    // MARK: - The file

    mutating func run(defaultProject: String) -> [ImportedManifest] {
        for entry in root.entries ?? [] {
            switch entry.key {
            case "services", "networks", "volumes", "secrets", "name", "version": continue
            case "configs": warn(entry, "configs are not imported: Flotilla has no config objects; mount the file as a volume or pass it through env")
            case "include": warn(entry, "include is not followed: give the included files to flotilla import compose as well")
            case let key where key.hasPrefix("x-"): continue
            default: warn(entry, "top-level key \"\(entry.key)\" is not part of the Compose format and is ignored")
            }
        }
        projectName = Self.normalizedProject(options.projectName ?? root["name"]?.text ?? defaultProject)
        for section in ["services", "networks", "volumes", "secrets"] {
            var byName: [String: ComposeNode] = [:]
            for entry in root[section]?.entries ?? [] { byName[entry.key] = entry.value }
            definitions[section] = byName
        }

        guard let servicesEntry = root.entries?.last(where: { $0.key == "services" }), let services = servicesEntry.value.entries, !services.isEmpty else {
            fail(root, "no services to import: a Compose file lists them under services:")
            return []
        }
        // Names first: depends_on, links and aliases refer to services by their Compose names.
        var taken: [String: String] = [:]
        for entry in services {
            let name = Self.dnsLabel(entry.key)
            if name.isEmpty {
                fail(entry, "service name \"\(entry.key)\" has no letters or digits to make a Flotilla name from")
                continue
            }
            if let other = taken[name] {
                fail(entry, "services \"\(other)\" and \"\(entry.key)\" would both be named \"\(name)\"; rename one of them")
                continue
            }
            if name != entry.key {
                warn(entry, Self.isAlias(entry.key)
                     ? "service \"\(entry.key)\" is named \"\(name)\" (Flotilla names are DNS labels); it keeps \"\(entry.key)\" as a network alias"
                     : "service \"\(entry.key)\" is named \"\(name)\" (Flotilla names are DNS labels); other services must reach it as \"\(name)\" (\"\(entry.key)\" is not a DNS name, so it cannot stay an alias)")
            }
            taken[name] = entry.key
            names[entry.key] = name
        }
        var converted: [(entry: ComposeEntry, name: String, fields: [ManifestField])] = []
        for entry in services {
            guard let name = names[entry.key] else { continue }
            guard let fields = service(entry, name: name) else { continue }
            converted.append((entry, name, fields))
        }
        // A warning met once per use (an anchor merged into several services, a shared network) is said once.
        var seen = Set<ImportFinding>()
        findings = findings.filter { seen.insert($0).inserted }
        for entry in services where oneShotJobs.contains(entry.key) && names[entry.key] != nil {
            warn(entry, "\"\(entry.key)\" is a one-off job in Compose (others wait for it to complete); Flotilla keeps services running and replaces one that exits: run it as a job outside Flotilla, or make it a long-running service")
        }
        let notesByService = warningsByService()
        var manifests: [ImportedManifest] = []
        for (entry, name, fields) in converted {
            var header = ["Imported by `flotilla import compose` from \(entry.value.file), service \"\(entry.key)\" (line \(entry.keyMark.line)), project \"\(projectName)\"."]
            let notes = notesByService[entry.key] ?? []
            if !notes.isEmpty {
                header.append("Not carried over exactly (see the import's warnings):")
                header += notes.map { "  line \($0.mark.line): \($0.message)" }
            }
            manifests.append(ImportedManifest(service: name, fileName: name + ".yaml", text: ManifestWriter.document(header: header, fields: fields),
                                              sourceFile: entry.value.file, sourceMark: entry.keyMark))
        }
        return manifests
    }

    /// Each service's warnings: those between its key and the next service's key in its file
    /// (one pass over the findings, a binary search each).
    func warningsByService() -> [String: [ImportFinding]] {
        let starts = serviceStarts
        var result: [String: [ImportFinding]] = [:]
        for finding in findings where finding.severity == .warning {
            guard let lines = starts[finding.file] else { continue }
            var low = 0, high = lines.count
            while low < high {
                let mid = (low + high) / 2
                if lines[mid].line <= finding.mark.line { low = mid + 1 } else { high = mid }
            }
            if low > 0 { result[lines[low - 1].service, default: []].append(finding) }
        }
        return result.mapValues { $0.sorted { ($0.mark.line, $0.mark.column) < ($1.mark.line, $1.mark.column) } }
    }

    // MARK: - One service

    mutating func service(_ entry: ComposeEntry, name: String) -> [ManifestField]? {
        let node = entry.value
        guard let keys = node.entries else {
            if node.isNull { fail(entry, "service \"\(entry.key)\" is empty; it needs at least an image") }
            else { fail(node, "a service is a mapping, found \(node.typeName)") }
            return nil
        }
        for key in keys where !Self.handledServiceKeys.contains(key.key) && !key.key.hasPrefix("x-") && !Self.silentServiceKeys.contains(key.key) {
            warn(key, Self.unsupportedReason(key.key))
        }
        var fields = [ManifestField("name", .string(name))]

        // The image; `build` can only be carried over as "run the image CI built".
        let image = node["image"]?.text
        if let build = keys.last(where: { $0.key == "build" }) {
            if let image {
                warn(build, "build is not imported: Flotilla runs the image \"\(image)\" as it is; build and push it (e.g. in CI) so the engine can pull it")
            } else {
                fail(build, "build without image cannot be imported: Flotilla does not build images; build and push one, then add image: registry/name:tag")
            }
        }
        if let image {
            fields.append(ManifestField("image", .string(image)))
        } else if keys.contains(where: { $0.key == "build" }) == false {
            fail(entry, "service \"\(entry.key)\" has no image; add image: registry/name:tag")
        }
        if let n = node["entrypoint"], let words = commandWords(n, "entrypoint") { fields.append(ManifestField("entrypoint", .list(words.map(ManifestValue.string)))) }
        if let n = node["command"], let words = commandWords(n, "command") {
            let comment = words.contains { $0.contains("${PORT}") } ? ["Flotilla replaces ${PORT} in command with the service's port."] : []
            fields.append(ManifestField("command", .list(words.map(ManifestValue.string)), comments: comment))
        }

        let replicas = replicaCount(node)
        if replicas != 1 { fields.append(ManifestField("replicas", .int(replicas))) }
        if let placement = placement(node) {
            fields.append(ManifestField("placement", .map(placement), comments: ["Used in Swarm mode (--orchestrator swarm); no effect on one host."]))
        }

        // Routes and health decide the routed port; published ports are separate.
        var port: Int?
        let routes = traefikRoutes(node, port: &port)
        var health = healthcheck(node, routed: !routes.isEmpty, port: &port)
        if routes.isEmpty, health == nil { port = nil }
        if !routes.isEmpty, port == nil {
            if let p = soleContainerPort(node) { port = p }
            else {
                fail(node["labels"] ?? node, "service \"\(entry.key)\" has Traefik routes but no way to tell which container port they target; add the label traefik.http.services.\(entry.key).loadbalancer.server.port=PORT")
            }
        }
        if let p = port, let h = health, h.port != p {
            warn(node["healthcheck"] ?? node, "the health check targets port \(h.port) but routes go to port \(p); Flotilla probes the routed port, so the check is not imported")
            health = nil
        }
        if let port { fields.append(ManifestField("port", .int(port))) }

        var network: String?
        if let mode = node["network_mode"]?.text {
            switch mode {
            case "host": network = "host"
            case "bridge": network = "bridge"
            default:
                warn(node["network_mode"]!, mode.hasPrefix("service:") || mode.hasPrefix("container:")
                     ? "network_mode \"\(mode)\" (sharing another container's network) cannot be honoured: Flotilla replaces containers independently; the service joins the project's network instead"
                     : "network_mode \"\(mode)\" is not imported; the service joins the project's network")
            }
        }
        // A stack file's way to host networking: the one network it joins is the external `host`.
        let swarmHost = network == nil && joinsOnlySwarmHostNetwork(node)
        if swarmHost { network = "host" }
        if network == "host" {
            fields.append(ManifestField("network", .string("host")))
            let place = node["network_mode"] ?? node["networks"] ?? node
            if let port {
                warn(place, "with host networking Flotilla gives each replica its own host port (in $PORT and ${PORT} in command) and routes and probes that port; the program listens on \(port) here: make it listen on $PORT, or replicas never become ready")
            }
            for key in ["networks", "links"] where node[key] != nil && !(swarmHost && key == "networks") {
                warn(node[key]!, "\(key) are ignored with network_mode: host (as in Compose)")
            }
        }

        let (env, secrets) = environmentAndSecrets(node)
        if !env.isEmpty { fields.append(ManifestField("env", .map(env))) }
        if let files = envFiles(node) { fields.append(ManifestField("env_file", files.count == 1 ? files[0] : .list(files))) }
        if !secrets.isEmpty { fields.append(ManifestField("secrets", .map(secrets.map(\.field)), comments: secrets.flatMap(\.comments))) }

        if !routes.isEmpty { fields.append(ManifestField("routes", .list(routes))) }
        if let health {
            var check: [ManifestField] = [ManifestField(health.http == nil ? "tcp" : "http", health.http.map(ManifestValue.string) ?? .bool(true))]
            check += health.timing
            fields.append(ManifestField("health", .map(check), comments: health.comments))
        }
        if let update = updatePolicy(node, replicas: replicas) { fields.append(ManifestField("update", .map(update))) }
        if let resources = resources(node) { fields.append(ManifestField("resources", .map(resources))) }
        if let policy = restartPolicy(node) { fields.append(ManifestField("restart_policy", .string(policy))) }
        if let n = node["stop_grace_period"], let ms = duration(n, "stop_grace_period") {
            fields.append(ManifestField("stop_timeout", .string(TimeSpan(milliseconds: ms).description)))
        }

        let published = ports(node, replicas: replicas, hostNetwork: network == "host")
        if !published.values.isEmpty { fields.append(ManifestField("ports", .list(published.values), comments: published.comments)) }
        if network == nil, let joined = networks(node, service: entry.key, flotillaName: name) {
            fields.append(ManifestField("networks", .list(joined.values), comments: joined.comments))
        }
        if let deps = dependsOn(node, service: entry.key), !deps.isEmpty { fields.append(ManifestField("depends_on", .list(deps.map(ManifestValue.string)))) }
        if let labels = labels(node) , !labels.isEmpty { fields.append(ManifestField("labels", .map(labels))) }
        let mounts = volumes(node)
        if !mounts.values.isEmpty { fields.append(ManifestField("volumes", .list(mounts.values), comments: mounts.comments)) }
        if let pull = pullPolicy(node) { fields.append(ManifestField("pull", .string(pull))) }
        return fields
    }

    /// A name the engine's DNS can answer to (and Flotilla accepts as a network alias).
    static func isAlias(_ name: String) -> Bool { ManifestRules.isHostname(name) && !name.hasPrefix("*.") }

    static func unsupportedReason(_ key: String) -> String {
        switch key {
        case "profiles": return "profiles are not imported: every Flotilla manifest in the directory runs; leave the service out of the directory instead"
        case "extends": return "extends is not followed: copy the settings of the extended service into this one"
        case "privileged": return "privileged is not imported: Flotilla does not run privileged containers"
        case "devices": return "devices are not imported: Flotilla does not pass host devices into containers"
        case "cap_add", "cap_drop": return "\(key) is not imported: containers get the engine's default capabilities"
        case "user": return "user is not imported: the container runs as the image's user; set USER in the image"
        case "working_dir": return "working_dir is not imported: set WORKDIR in the image, or cd in the command"
        case "hostname", "domainname": return "\(key) is not imported: replicas are named by Flotilla and reachable by the service name"
        case "extra_hosts", "dns", "dns_search", "dns_opt": return "\(key) is not imported: containers use the engine's resolver"
        case "logging": return "logging is not imported: containers log with the engine's default driver"
        case "init": return "init is not imported: the image's entrypoint runs as PID 1 (it must forward signals and reap children itself)"
        default: return "\(key) is not imported: Flotilla manifests have no equivalent"
        }
    }

    // MARK: - Small readers

    /// `command`/`entrypoint`: a list as it is, a string split as Compose splits it.
    mutating func commandWords(_ node: ComposeNode, _ key: String) -> [String]? {
        if node.isNull { return nil }
        if let text = node.text {
            guard let words = ShellWords.split(text) else { fail(node, "\(key) has an unclosed quote"); return nil }
            return words
        }
        guard let items = node.items else { fail(node, "\(key) must be a string or a list, found \(node.typeName)"); return nil }
        var words: [String] = []
        for item in items {
            guard let word = item.text else { fail(item, "\(key) items must be strings, found \(item.typeName)"); return nil }
            words.append(word)
        }
        return words
    }

    mutating func duration(_ node: ComposeNode, _ key: String) -> Int? {
        guard let text = node.text, let ms = ComposeUnits.milliseconds(text) else {
            fail(node, "\(key) must be a duration such as 10s or 1m30s, found \(node.text.map { "\"\($0)\"" } ?? node.typeName)")
            return nil
        }
        return ms
    }

    mutating func integer(_ node: ComposeNode, _ key: String) -> Int? {
        guard let text = node.text, let value = Int(text) else { fail(node, "\(key) must be a whole number, found \(node.text.map { "\"\($0)\"" } ?? node.typeName)"); return nil }
        return value
    }

    mutating func replicaCount(_ node: ComposeNode) -> Int {
        var replicas = 1
        if let n = node["scale"], let v = integer(n, "scale") { replicas = v }
        if let deploy = node["deploy"] {
            for entry in deploy.entries ?? [] where !["replicas", "mode", "resources", "update_config", "rollback_config", "restart_policy", "labels", "placement"].contains(entry.key) {
                warn(entry, "deploy.\(entry.key) is not imported: Flotilla has no equivalent")
            }
            if let n = deploy["replicas"], let v = integer(n, "deploy.replicas") { replicas = v }
        }
        guard (0...ManifestRules.maxReplicas).contains(replicas) else {
            fail(node["deploy"]?["replicas"] ?? node["scale"] ?? node, "replicas must be between 0 and \(ManifestRules.maxReplicas), found \(replicas)")
            return 1
        }
        return replicas
    }

    /// `deploy.placement` and `deploy.mode: global` as Flotilla's `placement` (Swarm mode).
    mutating func placement(_ node: ComposeNode) -> [ManifestField]? {
        guard let deploy = node["deploy"] else { return nil }
        var fields: [ManifestField] = []
        if let placement = deploy["placement"] {
            var constraints: [String] = []
            for item in placement["constraints"]?.items ?? [] {
                guard let text = item.text else { continue }
                if ManifestRules.isConstraint(text) { constraints.append(text) }
                else { warn(item, "placement constraint \"\(text)\" is not ATTRIBUTE==VALUE or ATTRIBUTE!=VALUE; it is not imported") }
            }
            if !constraints.isEmpty { fields.append(ManifestField("constraints", .list(constraints.map(ManifestValue.string)))) }
            if let n = placement["max_replicas_per_node"], let v = integer(n, "max_replicas_per_node"), ManifestRules.maxPerNode.contains(v) {
                fields.append(ManifestField("max_per_node", .int(v)))
            }
            for entry in placement.entries ?? [] where !["constraints", "max_replicas_per_node"].contains(entry.key) {
                warn(entry, "deploy.placement.\(entry.key) is not imported: Flotilla's placement has constraints, max_per_node and mode")
            }
        }
        if let mode = deploy["mode"], mode.text == "global" {
            fields.append(ManifestField("mode", .string("global")))
            warn(mode, "deploy.mode global is placement.mode: global (one replica per node in Swarm mode); on one host it runs replicas: 1")
        }
        return fields.isEmpty ? nil : fields
    }

    /// `[a-z0-9-]`, 1–63 characters, as Flotilla names services.
    static func dnsLabel(_ name: String) -> String {
        var out = ""
        for c in name.lowercased() {
            if c.isASCII && (c.isLetter || c.isNumber) { out.append(c) }
            else if !out.isEmpty, out.last != "-" { out.append("-") }
        }
        while out.hasSuffix("-") { out.removeLast() }
        return String(out.prefix(63)).trimmingSuffix("-")
    }

    /// Compose's project name rule: lowercase letters, digits, `_` and `-`, starting with a letter or digit.
    public static func normalizedProject(_ name: String) -> String {
        let kept = String(name.lowercased().filter { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }.drop { !$0.isLetter && !$0.isNumber })
        return kept.isEmpty ? "default" : String(kept.prefix(40))
    }

    static func lastComponent(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? "default"
    }

    /// Relative host paths (`./data`, `env_file: .env.web`, secret files) made absolute against
    /// the folder of the file that wrote them, as Compose resolves them, before files are merged.
    static func resolveRelativePaths(_ node: ComposeNode, directory: String) -> ComposeNode {
        guard var top = node.entries else { return node }
        func absolute(_ path: String) -> String {
            if path.hasPrefix("/") || path.hasPrefix("~") { return path }
            var parts = directory.split(separator: "/").map(String.init)
            for part in path.split(separator: "/") {
                if part == "." || part.isEmpty { continue }
                if part == ".." { if !parts.isEmpty { parts.removeLast() } } else { parts.append(String(part)) }
            }
            return "/" + parts.joined(separator: "/")
        }
        func rewrite(_ value: ComposeNode, _ transform: (String) -> String?) -> ComposeNode {
            guard let text = value.text, let new = transform(text) else { return value }
            var copy = value
            copy.kind = .scalar(YAMLScalar(new, plain: false))
            return copy
        }
        for i in top.indices {
            if top[i].key == "secrets", var secrets = top[i].value.entries {
                for j in secrets.indices {
                    guard var fields = secrets[j].value.entries, let k = fields.lastIndex(where: { $0.key == "file" }) else { continue }
                    fields[k].value = rewrite(fields[k].value, absolute)
                    secrets[j].value.kind = .mapping(fields)
                }
                top[i].value.kind = .mapping(secrets)
            }
            guard top[i].key == "services", var services = top[i].value.entries else { continue }
            for j in services.indices {
                guard var fields = services[j].value.entries else { continue }
                for k in fields.indices {
                    switch fields[k].key {
                    case "environment", "labels":
                        fields[k].value = fields[k].value.keyValueListAsMapping()
                    case "deploy":
                        if var deploy = fields[k].value.entries, let l = deploy.lastIndex(where: { $0.key == "labels" }) {
                            deploy[l].value = deploy[l].value.keyValueListAsMapping()
                            fields[k].value.kind = .mapping(deploy)
                        }
                    case "env_file":
                        if fields[k].value.text != nil { fields[k].value = rewrite(fields[k].value, absolute) }
                        else if var items = fields[k].value.items {
                            for m in items.indices {
                                if items[m].text != nil { items[m] = rewrite(items[m], absolute) }
                                else if var long = items[m].entries, let p = long.lastIndex(where: { $0.key == "path" }) {
                                    long[p].value = rewrite(long[p].value, absolute)
                                    items[m].kind = .mapping(long)
                                }
                            }
                            fields[k].value.kind = .sequence(items)
                        }
                    case "volumes":
                        guard var items = fields[k].value.items else { continue }
                        for m in items.indices {
                            if items[m].text != nil {
                                items[m] = rewrite(items[m]) { text in
                                    guard text.hasPrefix("."), let colon = text.firstIndex(of: ":") else { return nil }
                                    return absolute(String(text[..<colon])) + text[colon...]
                                }
                            } else if var long = items[m].entries, long.contains(where: { $0.key == "type" && $0.value.text == "bind" }),
                                      let s = long.lastIndex(where: { $0.key == "source" }) {
                                long[s].value = rewrite(long[s].value) { $0.hasPrefix("/") || $0.hasPrefix("~") ? nil : absolute($0) }
                                items[m].kind = .mapping(long)
                            }
                        }
                        fields[k].value.kind = .sequence(items)
                    default: continue
                    }
                }
                services[j].value.kind = .mapping(fields)
            }
            top[i].value.kind = .mapping(services)
        }
        var copy = node
        copy.kind = .mapping(top)
        return copy
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        var s = self
        while s.hasSuffix(suffix) { s.removeLast(suffix.count) }
        return s
    }
}
