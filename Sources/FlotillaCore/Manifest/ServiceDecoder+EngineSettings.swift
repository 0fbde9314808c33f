/// What is passed to the engine as it is: resources, extra ports, named networks and aliases.
extension ServiceDecoder {
    mutating func resources(_ node: YAMLNode) -> Resources {
        var result = Resources()
        guard let fields = mapping(node, of: "resources", allowed: Self.resourceKeys) else { return result }
        if let n = fields["memory"] {
            if let s = n.scalar, !s.isNull, let bytes = Resources.parseMemory(s.value), bytes >= ManifestRules.minimumMemoryBytes {
                result.memoryBytes = bytes
            } else {
                error(n, "memory must be a size of at least 6Mi such as 256Mi, 1Gi or 512M, found \(n.scalar.map { "\"\($0.value)\"" } ?? n.typeName)")
            }
        }
        if let n = fields["cpus"] {
            // A number as YAML reads one (`!!str 0.5` is text; `0x1p3` is not a number).
            if let v = n.scalar?.number, ManifestRules.cpus.contains(v) {
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
        var seen = Set<String>(), hostPorts = Set<String>()
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
            // One host port bound twice fails at create, on the engine, after the plan said yes.
            if let host = mapping.host, !hostPorts.insert("\(host)/\(mapping.proto.rawValue)").inserted {
                error(item, "host port \(host)/\(mapping.proto.rawValue) is listed twice; each host port can be bound once")
                continue
            }
            result.append(mapping)
        }
        return result
    }

    /// `{container: 9090, host: 19090, address: 0.0.0.0, protocol: udp}` (only `container` required).
    mutating func portMapping(_ node: YAMLNode) -> PortMapping? {
        guard let fields = mapping(node, of: "a port", allowed: Self.portKeys) else { return nil }
        guard let c = required("container", in: fields, at: node.mark), let container = integer(c, "container", in: ManifestRules.port) else { return nil }
        var result = PortMapping(container: container)
        if let n = fields["host"] { guard let v = integer(n, "host", in: ManifestRules.port) else { return nil }; result.host = v }
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

    mutating func aliases(_ node: YAMLNode) -> [String] {
        var result: [String] = []
        for (i, alias) in (stringList(node, "aliases", hint: "write it as a list of DNS names") ?? []).enumerated() {
            if ManifestRules.isHostname(alias), !alias.hasPrefix("*.") { result.append(alias.lowercased()) }
            else { error(listItem(node, i), "alias \"\(alias)\" is not a DNS name") }
        }
        return result
    }
}
