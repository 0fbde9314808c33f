/// Routes, health, environment, secrets and deployment settings of one service.
extension ComposeConverter {
    struct ImportedHealth {
        var port: Int
        var http: String?
        var timing: [ManifestField]
        var comments: [String]
    }

    struct ImportedSecret {
        var field: ManifestField
        var comments: [String]
    }

    /// `KEY: value` mappings and `KEY=value` lists alike (environment, labels); a nil value is
    /// a bare `KEY` (or `KEY:` with no value).
    mutating func keyValues(_ node: ComposeNode?, _ what: String) -> [(key: String, value: String?, node: ComposeNode)] {
        guard let node, !node.isNull else { return [] }
        if let entries = node.entries {
            return entries.map { entry in
                if !entry.value.isNull, entry.value.text == nil { fail(entry.value, "\(what) values must be scalars, found \(entry.value.typeName)") }
                return (entry.key, entry.value.text ?? (entry.value.isNull ? nil : ""), entry.value)
            }
        }
        guard let items = node.items else { fail(node, "\(what) must be a mapping or a list of KEY=VALUE, found \(node.typeName)"); return [] }
        return items.compactMap { item in
            guard let text = item.text else { fail(item, "\(what) items must be KEY=VALUE strings, found \(item.typeName)"); return nil }
            guard let eq = text.firstIndex(of: "=") else { return (text, nil, item) }
            return (String(text[..<eq]), String(text[text.index(after: eq)...]), item)
        }
    }

    /// A path as the manifest should name it: relative inside the output folder, absolute
    /// elsewhere (and then the folder is remembered: the daemon needs `--secrets-dir` for it).
    mutating func manifestPath(_ path: String) -> String {
        let out = options.outputDirectory.hasSuffix("/") ? options.outputDirectory : options.outputDirectory + "/"
        if path.hasPrefix(out) { return String(path.dropFirst(out.count)) }
        let folder = "/" + path.split(separator: "/").dropLast().joined(separator: "/")
        if !secretFolders.contains(folder) { secretFolders.append(folder) }
        return path
    }

    // MARK: - Traefik labels → routes

    mutating func traefikRoutes(_ node: ComposeNode, port: inout Int?) -> [ManifestValue] {
        let deployLabels = keyValues(node["deploy"]?["labels"], "deploy.labels")
        for label in deployLabels where !label.key.hasPrefix("traefik.") {
            warn(label.node, "deploy.labels are Swarm service labels, not container labels; \(label.key) is not imported (only Traefik routes are read from them)")
        }
        let labels = keyValues(node["labels"], "labels") + deployLabels
        let traefik = labels.filter { $0.key.hasPrefix("traefik.") }
        for label in traefik where label.key.hasPrefix("traefik.frontend.") || label.key == "traefik.port" || label.key.hasPrefix("traefik.backend") {
            warn(label.node, "Traefik v1 label \(label.key) is not imported: write the route as routes: in the manifest (v2/v3 router labels are converted)")
        }
        var byKey: [String: (value: String?, node: ComposeNode)] = [:]
        for label in traefik { byKey[label.key] = (label.value, label.node) }
        guard !traefik.isEmpty, byKey["traefik.enable"]?.value != "false" else { return [] }
        func value(_ key: String) -> (value: String, node: ComposeNode)? {
            byKey[key].flatMap { l in l.value.map { ($0, l.node) } }
        }
        // Ports of Traefik services: the container port the routes target.
        var servicePorts: [String: (Int, ComposeNode)] = [:]
        for label in traefik {
            let parts = label.key.split(separator: ".").map(String.init)
            if parts.count == 7, parts[1] == "http", parts[2] == "services", parts[4...] == ["loadbalancer", "server", "port"] {
                guard let text = label.value, let p = Int(text), (1...65535).contains(p) else { fail(label.node, "\(label.key) must be a port number"); continue }
                servicePorts[parts[3]] = (p, label.node)
            } else if parts.count == 7, parts[1] == "http", parts[2] == "services", parts[4...] == ["loadbalancer", "server", "scheme"], label.value != "http" {
                warn(label.node, "the service speaks \(label.value ?? "?") to Traefik; Flotilla's proxies speak plain HTTP to replicas, so its routes are not imported")
                return []
            } else if parts.count > 2, parts[1] == "tcp" || parts[1] == "udp" {
                if parts[2] == "routers", parts.last == "rule" || parts.last == "entrypoints" {
                    warn(label.node, "Traefik \(parts[1].uppercased()) routers are not imported: Flotilla routes HTTP by host and path; publish the port with ports: instead")
                }
            } else if parts.count > 4, parts[1] == "http", parts[2] == "routers", parts[4].hasPrefix("tls") {
                if parts.count == 5 || parts[5] == "certresolver" {
                    warn(label.node, "\(label.key) is not imported: TLS is configured in the reverse proxy Flotilla writes routes for (see examples/nginx)")
                }
            }
        }
        // Routers in order of appearance, and the first label of each router and middleware.
        var routerOrder: [String] = []
        var firstLabel: [String: ComposeNode] = [:]
        for label in traefik {
            let parts = label.key.split(separator: ".")
            guard parts.count >= 5, parts[1] == "http", parts[2] == "routers" || parts[2] == "middlewares" else { continue }
            let key = "\(parts[2]).\(parts[3])"
            if firstLabel[key] == nil {
                firstLabel[key] = label.node
                if parts[2] == "routers" { routerOrder.append(String(parts[3])) }
            }
        }
        var routes: [ManifestValue] = []
        for router in routerOrder {
            let prefix = "traefik.http.routers.\(router)."
            guard let (rule, ruleNode) = value(prefix + "rule") else {
                if let node = firstLabel["routers.\(router)"] {
                    warn(node, "Traefik router \"\(router)\" has no rule label; Traefik's default rule is not imported, write routes: yourself")
                }
                continue
            }
            let parsed: TraefikRule
            do { parsed = try TraefikRule(parsing: rule) } catch {
                warn(ruleNode, "Traefik rule of router \"\(router)\" is not imported: \(error)")
                continue
            }
            // strip_prefix from a stripprefix middleware whose prefixes are the router's paths.
            var strip = false
            for name in (value(prefix + "middlewares")?.value ?? "").split(separator: ",").map({ String($0.split(separator: "@").first ?? "").trimmingCharacters(in: " ") }) where !name.isEmpty {
                let middleware = "traefik.http.middlewares.\(name)."
                if let (prefixes, prefixNode) = value(middleware + "stripprefix.prefixes") {
                    let stripped = Set(prefixes.split(separator: ",").map { String($0).trimmingCharacters(in: " ") })
                    if parsed.alternatives.allSatisfy({ Set($0.paths).isSubset(of: stripped) }) { strip = true }
                    else { warn(prefixNode, "middleware \"\(name)\" strips prefixes other than the router's paths; Flotilla strips exactly the matched path, so it is not imported") }
                } else if let node = firstLabel["middlewares.\(name)"] {
                    warn(node, "Traefik middleware \"\(name)\" is not imported: Flotilla routes only strip prefixes; configure it in the proxy")
                } else {
                    warn(value(prefix + "middlewares")!.node, "Traefik middleware \"\(name)\" is defined elsewhere and is not imported")
                }
            }
            let target = value(prefix + "service")?.value
            if let (p, _) = target.flatMap({ servicePorts[$0] }) ?? (servicePorts.count == 1 ? servicePorts.values.first : nil) {
                if let existing = port, existing != p {
                    warn(ruleNode, "router \"\(router)\" targets port \(p) but another router targets \(existing); Flotilla routes a service to one port, so this router is not imported")
                    continue
                }
                port = p
            }
            for alternative in parsed.alternatives {
                if let bad = alternative.hosts.first(where: { !ManifestRules.isHostname($0) }) {
                    warn(ruleNode, "host \"\(bad)\" in router \"\(router)\" is not a hostname Flotilla can route; this alternative is not imported")
                    continue
                }
                if alternative.hasExactPath {
                    warn(ruleNode, "Path(...) in router \"\(router)\" matches one path exactly in Traefik; Flotilla routes that path and everything below it")
                }
                var fields: [ManifestField] = []
                fields.append(alternative.hosts.count == 1 ? ManifestField("host", .string(alternative.hosts[0])) : ManifestField("hosts", .list(alternative.hosts.map(ManifestValue.string))))
                if alternative.paths != ["/"] {
                    fields.append(alternative.paths.count == 1 ? ManifestField("path", .string(alternative.paths[0])) : ManifestField("paths", .list(alternative.paths.map(ManifestValue.string))))
                }
                if strip { fields.append(ManifestField("strip_prefix", .bool(true))) }
                routes.append(.map(fields))
            }
        }
        if routes.isEmpty, port == nil, servicePorts.count == 1 { port = servicePorts.values.first!.0 }
        return routes
    }

    /// One container port the service plainly serves (its only `expose`d or published port).
    mutating func soleContainerPort(_ node: ComposeNode) -> Int? {
        var found = Set<Int>()
        for item in node["expose"]?.items ?? [] {
            if let text = item.text, let p = Int(text.split(separator: "/").first ?? "") { found.insert(p) }
        }
        for item in node["ports"]?.items ?? [] {
            if let text = item.text, let last = text.split(separator: ":").last, let p = Int(last.split(separator: "/").first ?? "") { found.insert(p) }
            else if let target = item["target"]?.text, let p = Int(target) { found.insert(p) }
        }
        return found.count == 1 ? found.first : nil
    }

    // MARK: - Health check

    mutating func healthcheck(_ node: ComposeNode, routed: Bool, port: inout Int?) -> ImportedHealth? {
        guard let check = node["healthcheck"], !check.isNull else { return nil }
        guard check.entries != nil else { fail(check, "healthcheck must be a mapping, found \(check.typeName)"); return nil }
        if check["disable"]?.text == "true" { return nil }
        guard let test = check["test"] else {
            warn(check, "the health check has no test (the image's HEALTHCHECK runs in Compose); Flotilla cannot see it, so none is imported; add health: yourself")
            return nil
        }
        var words: [String]
        if let text = test.text { words = ["CMD-SHELL", text] }
        else if let items = test.items { words = items.compactMap(\.text) }
        else { fail(test, "healthcheck.test must be a string or a list, found \(test.typeName)"); return nil }
        var comments: [String] = []
        var health: ImportedHealth
        switch ComposeHealthTest.recognise(words) {
        case .disabled: return nil
        case .unrecognised(let why):
            warn(test, "the health check is not imported: \(why); add health: { http: /path } or { tcp: true } yourself if the service serves one")
            return nil
        case .http(let path, let p):
            health = ImportedHealth(port: p, http: path, timing: [], comments: [])
        case .tcp(let p, let note):
            if let note { warn(test, note) }
            health = ImportedHealth(port: p, http: nil, timing: [], comments: [])
        }
        comments.append("From the Compose healthcheck; Flotilla probes it from the host through the published port.")
        for key in ["interval", "timeout", "start_period"] {
            guard let n = check[key], let ms = duration(n, "healthcheck.\(key)"), ms > 0 else { continue }  // 0: Compose's default
            health.timing.append(ManifestField(key, .string(TimeSpan(milliseconds: ms).description)))
        }
        if let n = check["retries"], let r = integer(n, "healthcheck.retries"), r > 0 {
            guard ManifestRules.probeRetries.contains(r) else { fail(n, "healthcheck.retries must be at most \(ManifestRules.probeRetries.upperBound) for Flotilla"); return nil }
            health.timing.append(ManifestField("retries", .int(r)))
        }
        if let n = check["start_interval"] { warn(n, "healthcheck.start_interval is not imported: Flotilla probes at one interval") }
        health.comments = comments
        if port == nil { port = health.port }
        return health
    }

    // MARK: - Environment and secrets

    mutating func environmentAndSecrets(_ node: ComposeNode) -> (env: [ManifestField], secrets: [ImportedSecret]) {
        var env = keyValues(node["environment"], "environment")
        var secrets: [ImportedSecret] = []
        var secretNames = Set<String>()
        for item in node["secrets"]?.items ?? (node["secrets"].map { n in n.isNull ? [] : { fail(n, "secrets must be a list, found \(n.typeName)"); return [] }() } ?? []) {
            guard let source = item.text ?? item["source"]?.text else { fail(item, "a secret is a name or {source, target}, found \(item.typeName)"); continue }
            var target = item["target"]?.text ?? source
            if target.hasPrefix("/") { target = String(target.split(separator: "/").last ?? Substring(source)) }
            guard let definition = defined("secrets", source) else { fail(item, "secret \"\(source)\" is not defined under the top-level secrets:"); continue }
            guard let file = definition["file"]?.text else {
                warn(item, definition["environment"] != nil
                     ? "secret \"\(source)\" comes from an environment variable; it is not imported (a manifest must not hold its value): write it to a file in the secrets folder and list it under secrets: { NAME: { file: PATH } }"
                     : "secret \"\(source)\" is external (a Swarm secret); it is not imported: write it to a file in the secrets folder and list it under secrets:")
                continue
            }
            // Images that read FOO_FILE=/run/secrets/x also read FOO from the environment.
            var name: String
            var comment: String
            if let i = env.firstIndex(where: { $0.key.hasSuffix("_FILE") && ($0.value == "/run/secrets/\(target)" || $0.value == target) }) {
                name = String(env[i].key.dropLast("_FILE".count))
                comment = "Compose mounted secret \"\(source)\" at /run/secrets/\(target) and set \(env[i].key); Flotilla passes its content as \(name)."
                env.remove(at: i)
            } else {
                name = Self.envName(target)
                comment = "Compose mounted secret \"\(source)\" as the file /run/secrets/\(target); Flotilla passes its content as the environment variable \(name)."
                warn(item, "secret \"\(source)\" becomes the environment variable \(name), not the file /run/secrets/\(target): the program must read it from the environment")
            }
            guard secretNames.insert(name).inserted else { fail(item, "two secrets would both be passed as \(name)"); continue }
            if let clash = env.first(where: { $0.key == name }) {
                fail(item, "secret \"\(source)\" would be passed as \(name), which environment: also sets (\(clash.node.file):\(clash.node.mark)); rename the variable or the secret's target")
                continue
            }
            secrets.append(ImportedSecret(field: ManifestField(name, .map([ManifestField("file", .string(manifestPath(file)))])), comments: [comment]))
        }
        var fields: [ManifestField] = []
        var position: [String: Int] = [:]
        func set(_ key: String, _ value: String) {
            if let i = position[key] { fields[i].value = .string(value) } else { position[key] = fields.count; fields.append(ManifestField(key, .string(value))) }
        }
        for item in env {
            guard ManifestRules.isEnvName(item.key) else { warn(item.node, "environment variable \"\(item.key)\" is not a name Flotilla accepts ([A-Za-z_][A-Za-z0-9_]*); it is not imported"); continue }
            guard !secretNames.contains(item.key) else { continue }
            if let value = item.value {
                set(item.key, value)
            } else if let value = options.variables[item.key] {
                warn(item.node, "\(item.key) takes its value from the environment of the import (as Compose does at start); the value is written into the manifest")
                set(item.key, value)
            } else {
                warn(item.node, "\(item.key) has no value and is not set here; Compose leaves it out, and so does the import")
            }
        }
        return (fields, secrets)
    }

    static func envName(_ text: String) -> String {
        var name = String(text.uppercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" })
        if name.first?.isNumber ?? true { name = "_" + name }
        return name
    }

    mutating func envFiles(_ node: ComposeNode) -> [ManifestValue]? {
        guard let n = node["env_file"], !n.isNull else { return nil }
        let items = n.items ?? [n]
        var paths: [ManifestValue] = []
        for item in items {
            guard let path = item.text ?? item["path"]?.text else { fail(item, "env_file is a path or {path, required}, found \(item.typeName)"); continue }
            if item["required"]?.text == "false" {
                guard options.fileExists(path) else { warn(item, "env_file \(path) (required: false) does not exist; left out, as Compose does"); continue }
                warn(item, "env_file \(path) is optional in Compose; Flotilla requires it to exist")
            } else if !options.fileExists(path) {
                // Required (Compose's default), and missing: Compose refuses it, and so would
                // `validate` the manifest written from it (before: exit 0 and such a manifest).
                fail(item, "env_file \(path) does not exist; create it, or mark it `required: false`")
                continue
            }
            paths.append(.string(manifestPath(path)))
        }
        return paths.isEmpty ? nil : paths
    }

    // MARK: - Deployment

    mutating func updatePolicy(_ node: ComposeNode, replicas: Int) -> [ManifestField]? {
        if let rollback = node["deploy"]?["rollback_config"] { warn(rollback, "deploy.rollback_config is not imported: Flotilla rolls back with flotilla rollback") }
        guard let config = node["deploy"]?["update_config"], !config.isNull else { return nil }
        var fields: [ManifestField] = []
        if let n = config["parallelism"], let p = integer(n, "update_config.parallelism") {
            // Swarm's 0 means all at once.
            let value = p == 0 ? max(replicas, 1) : p
            if value != 1 { fields.append(ManifestField("parallelism", .int(value))) }
        }
        let order = config["order"]?.text ?? "stop-first"
        guard order == "start-first" || order == "stop-first" else { fail(config["order"]!, "update_config.order must be start-first or stop-first, found \"\(order)\""); return nil }
        fields.insert(ManifestField("order", .string(order), comments: config["order"] == nil ? ["Swarm's default when update_config gives no order (Flotilla's own default is start-first)."] : []), at: 0)
        for entry in config.entries ?? [] where !["parallelism", "order"].contains(entry.key) {
            warn(entry, "update_config.\(entry.key) is not imported: Flotilla waits for each new replica to be ready and stops a failing rollout itself")
        }
        return fields
    }

    mutating func resources(_ node: ComposeNode) -> [ManifestField]? {
        var memory: Int64?
        var cpus: String?
        if let n = node["mem_limit"] { memory = n.text.flatMap(ComposeUnits.bytes); if memory == nil { fail(n, "mem_limit must be a size such as 512m") } }
        if let n = node["cpus"] { cpus = n.text }
        if let resources = node["deploy"]?["resources"] {
            if let limits = resources["limits"] {
                if let n = limits["memory"] { memory = n.text.flatMap(ComposeUnits.bytes); if memory == nil { fail(n, "deploy.resources.limits.memory must be a size such as 512M") } }
                if let n = limits["cpus"] { cpus = n.text }
                for entry in limits.entries ?? [] where !["memory", "cpus"].contains(entry.key) { warn(entry, "resource limit \(entry.key) is not imported: Flotilla limits memory and cpus") }
            }
            if let reservations = resources["reservations"] { warn(reservations, "deploy.resources.reservations are not imported: Flotilla sets limits only") }
        }
        var fields: [ManifestField] = []
        if let memory { fields.append(ManifestField("memory", .string(ComposeUnits.memoryText(memory)))) }
        if let cpus {
            guard let value = Double(cpus), value > 0 else { fail(node["cpus"] ?? node, "cpus must be a number of cores such as 0.5, found \"\(cpus)\""); return nil }
            fields.append(ManifestField("cpus", .number(String(value))))
        }
        return fields.isEmpty ? nil : fields
    }

    mutating func restartPolicy(_ node: ComposeNode) -> String? {
        if let n = node["restart"], let text = n.text {
            if ["no", "always", "unless-stopped", "on-failure"].contains(text) || text.hasPrefix("on-failure:") { return text }
            fail(n, "restart must be no, always, on-failure[:N] or unless-stopped, found \"\(text)\"")
            return nil
        }
        guard let policy = node["deploy"]?["restart_policy"], !policy.isNull else { return nil }
        for entry in policy.entries ?? [] where ["delay", "window"].contains(entry.key) {
            warn(entry, "deploy.restart_policy.\(entry.key) is not imported: the engine restarts at once; Flotilla backs off crash loops itself")
        }
        if let attempts = policy["max_attempts"], (policy["condition"]?.text ?? "any") != "on-failure" {
            warn(attempts, "max_attempts is not imported: the engine's restart count is limited only with condition: on-failure")
        }
        switch policy["condition"]?.text ?? "any" {
        case "none": return "no"
        case "on-failure": return policy["max_attempts"]?.text.map { "on-failure:\($0)" } ?? "on-failure"
        case "any": return "always"
        case let other: fail(policy["condition"]!, "deploy.restart_policy.condition must be none, on-failure or any, found \"\(other)\""); return nil
        }
    }

    mutating func pullPolicy(_ node: ComposeNode) -> String? {
        guard let n = node["pull_policy"], let text = n.text else { return nil }
        switch text {
        case "always", "never", "missing": return text
        case "if_not_present": return "missing"
        case "build": return nil
        default: warn(n, "pull_policy \"\(text)\" is imported as missing (pull when the image is not on the host)"); return "missing"
        }
    }

    mutating func dependsOn(_ node: ComposeNode, service: String) -> [String]? {
        guard let n = node["depends_on"], !n.isNull else { return nil }
        var result: [String] = []
        func add(_ name: String, at place: ComposeNode, mark: SourceMark? = nil, required: Bool = true) {
            guard let mapped = names[name] else {
                if defined("services", name) == nil {
                    let finding = required ? "depends_on names \"\(name)\", which is not a service in these files" : "depends_on \"\(name)\" (required: false) is not a service in these files; left out, as Compose does"
                    findings.append(ImportFinding(required ? .error : .warning, file: place.file, at: mark ?? place.mark, finding))
                }
                return
            }
            if !result.contains(mapped) { result.append(mapped) }
        }
        if let entries = n.entries {
            for entry in entries {
                if let condition = entry.value["condition"]?.text, condition == "service_completed_successfully" {
                    warn(entry, "condition service_completed_successfully is not imported: Flotilla runs long-lived services, not one-off jobs; \(service) waits for \(entry.key) to be ready instead")
                }
                let required = entry.value["required"]?.text != "false"
                if !required, names[entry.key] != nil { warn(entry, "required: false is not imported: \(service) waits for \(entry.key)") }
                if entry.value["restart"]?.text == "true" { warn(entry, "restart: true is not imported: \(service) is not restarted when \(entry.key) is") }
                if entry.value["condition"]?.text == "service_completed_successfully" { oneShotJobs.insert(entry.key) }
                add(entry.key, at: entry.value, mark: entry.keyMark, required: required)
            }
        } else if let items = n.items {
            for item in items {
                guard let name = item.text else { fail(item, "depends_on items are service names, found \(item.typeName)"); continue }
                add(name, at: item)
            }
        } else {
            fail(n, "depends_on must be a list or a mapping, found \(n.typeName)")
        }
        return result
    }

    mutating func labels(_ node: ComposeNode) -> [ManifestField]? {
        var fields: [ManifestField] = []
        var position: [String: Int] = [:]
        for item in keyValues(node["labels"], "labels") {
            if item.key.hasPrefix(ServiceDecoder.reservedLabelPrefix) || item.key.hasPrefix("com.docker.compose.") {
                warn(item.node, "label \(item.key) is reserved (Flotilla's or Compose's own bookkeeping) and is not imported")
                continue
            }
            if let i = position[item.key] { fields[i].value = .string(item.value ?? "") }
            else { position[item.key] = fields.count; fields.append(ManifestField(item.key, .string(item.value ?? ""))) }
        }
        return fields
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
