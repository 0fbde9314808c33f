/// Published ports, networks and volumes of one service.
extension ComposeConverter {
    struct ImportedList {
        var values: [ManifestValue] = []
        var comments: [String] = []
    }

    /// Expanding `8000-8099:8000-8099` stops here: a manifest lists ports one by one.
    static let maxPortRange = 100

    mutating func ports(_ node: ComposeNode, replicas: Int, hostNetwork: Bool) -> ImportedList {
        guard let n = node["ports"], !n.isNull else { return ImportedList() }
        guard let items = n.items else { fail(n, "ports must be a list, found \(n.typeName)"); return ImportedList() }
        if hostNetwork {
            if !items.isEmpty { warn(n, "ports are not published with network_mode: host (Compose ignores them too)") }
            return ImportedList()
        }
        var result = ImportedList()
        var everyInterface = false
        var published = Set<String>()
        for item in items {
            var address: String?, hosts: [Int?] = [], containers: [Int] = [], proto = "tcp"
            if let text = item.text {
                var body = Substring(text)
                if let slash = body.lastIndex(of: "/") { proto = String(body[body.index(after: slash)...]); body = body[..<slash] }
                if body.hasPrefix("[") || body.filter({ $0 == ":" }).count > 2 {
                    warn(item, "port \"\(text)\" binds an IPv6 address; Flotilla publishes on IPv4 addresses only, so it is not imported")
                    continue
                }
                let parts = body.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
                let containerText = parts.last!
                let hostText = parts.count >= 2 ? parts[parts.count - 2] : ""
                if parts.count == 3 { address = parts[0] }
                guard let c = Self.portRange(containerText) else { fail(item, "port \"\(text)\" is not [ADDRESS:][HOST:]CONTAINER[/PROTOCOL]"); continue }
                containers = c
                if hostText.isEmpty { hosts = Array(repeating: nil, count: c.count) }
                else {
                    guard let h = Self.portRange(hostText), h.count == c.count || c.count == 1 else { fail(item, "port \"\(text)\": the host and container ranges differ in length"); continue }
                    if c.count == 1, h.count > 1 {
                        warn(item, "port \"\(text)\" lets the engine pick one of \(h.count) host ports; Flotilla publishes it on \(h[0])")
                    }
                    hosts = h.count == c.count ? h : [h[0]]
                }
            } else if item.entries != nil {
                guard let target = item["target"]?.text, let c = Int(target), (1...65535).contains(c) else { fail(item, "a port needs target: CONTAINER_PORT"); continue }
                containers = [c]
                if let published = item["published"]?.text {
                    guard let h = Self.portRange(published) else { fail(item["published"]!, "published must be a port, found \"\(published)\""); continue }
                    if h.count > 1 { warn(item, "published range \(published) is imported as its first port, \(h[0])") }
                    hosts = [h[0]]
                } else { hosts = [nil] }
                address = item["host_ip"]?.text
                proto = item["protocol"]?.text ?? "tcp"
                if let mode = item["mode"], mode.text == "ingress" { warn(mode, "mode: ingress (Swarm's routing mesh) is published on this host only") }
            } else {
                fail(item, "a port is a string or {target, published, host_ip, protocol}, found \(item.typeName)")
                continue
            }
            guard proto == "tcp" || proto == "udp" else { warn(item, "protocol \(proto) is not imported: Flotilla publishes tcp and udp"); continue }
            guard containers.count <= Self.maxPortRange else { fail(item, "a port range of \(containers.count) ports is too large to list; publish at most \(Self.maxPortRange)"); continue }
            if let address, !ManifestRules.isIPv4(address) { warn(item, "address \(address) is not an IPv4 address; the port is not imported"); continue }
            if address == nil { everyInterface = true }
            for (c, h) in zip(containers, hosts) {
                guard published.insert("\(c)/\(proto)").inserted else {
                    fail(item, "container port \(c)/\(proto) is published twice; Flotilla publishes a container port once: keep one of the mappings")
                    continue
                }
                if h != nil, replicas > 1 {
                    fail(item, "host port \(h!) can be bound by one replica only, and this service runs \(replicas); drop the host port (\"\(c)\") or run one replica")
                    continue
                }
                let a = address ?? "0.0.0.0"
                if let h {
                    result.values.append(.string("\(a):\(h):\(c)" + (proto == "udp" ? "/udp" : "")))
                } else {
                    var fields = [ManifestField("container", .int(c)), ManifestField("address", .string(a))]
                    if proto == "udp" { fields.append(ManifestField("protocol", .string("udp"))) }
                    result.values.append(.map(fields))
                }
            }
        }
        if everyInterface {
            result.comments.append("Published on every interface (0.0.0.0), as Compose does. Flotilla's own default is 127.0.0.1 only:")
            result.comments.append("drop \"0.0.0.0:\" to keep a port local, or leave it to the reverse proxy (routes).")
        }
        return result
    }

    /// `8080` or `8000-8010`.
    static func portRange(_ text: String) -> [Int]? {
        let bounds = text.split(separator: "-", omittingEmptySubsequences: false)
        guard (1...2).contains(bounds.count), let low = Int(bounds[0]), let high = Int(bounds.last!), (1...65535).contains(low), (low...65535).contains(high) else { return nil }
        guard high - low < 65535 else { return nil }
        return high - low >= maxPortRange ? Array(low...(low + maxPortRange)) : Array(low...high)
    }

    /// Whether the service joins one network, and it is the engine's `host` network (a stack
    /// file's `networks: { hostnet: { external: true, name: host } }`): host networking.
    func joinsOnlySwarmHostNetwork(_ node: ComposeNode) -> Bool {
        guard let n = node["networks"] else { return false }
        let keys = n.entries?.map(\.key) ?? n.items?.compactMap(\.text) ?? []
        guard keys.count == 1, let definition = defined("networks", keys[0]) else { return false }
        let name = definition["name"]?.text ?? definition["external"]?["name"]?.text ?? (definition["external"]?.text == "true" ? keys[0] : nil)
        return name == "host" && (definition["external"]?.text == "true" || definition["external"]?["name"] != nil)
    }

    /// The engine name of a Compose network key: `<project>_<key>` unless it is external or named.
    mutating func networkName(_ key: String, at place: ComposeNode) -> String? {
        let definition = defined("networks", key)
        if definition == nil, key != "default" {
            fail(place, "network \"\(key)\" is not defined under the top-level networks:")
            return nil
        }
        var name = "\(projectName)_\(key)"
        if let definition {
            if let explicit = definition["name"]?.text { name = explicit }
            else if let external = definition["external"] {
                if let legacy = external["name"]?.text { name = legacy } else if external.text == "true" { name = key }
            }
            if let driver = definition["driver"]?.text, driver != "bridge" {
                warn(definition["driver"]!, "network driver \(driver) is not imported: Flotilla creates bridge networks (an existing network is used as it is)")
            }
            for entry in definition.entries ?? [] where ["ipam", "driver_opts", "internal", "attachable", "enable_ipv6"].contains(entry.key) {
                warn(entry, "network setting \(entry.key) is not imported: Flotilla creates plain bridge networks (create the network yourself and mark it external to keep it)")
            }
        }
        guard ManifestRules.isNetworkName(name), !["host", "none", "bridge", "default"].contains(name) else {
            fail(place, "network name \"\(name)\" is not one Flotilla can use ([a-zA-Z0-9][a-zA-Z0-9_.-]*, not host, none, bridge or default)")
            return nil
        }
        return name
    }

    /// The service's networks (Compose's project network when it names none), with the
    /// Compose service name as an alias when Flotilla had to rename the service.
    mutating func networks(_ node: ComposeNode, service: String, flotillaName: String) -> ImportedList? {
        if let mode = node["network_mode"]?.text, mode == "bridge" { return nil }
        var joined: [(key: String, aliases: [String], place: ComposeNode)] = []
        if let n = node["networks"], !n.isNull {
            if let entries = n.entries {
                for entry in entries {
                    var aliases: [String] = []
                    for item in entry.value["aliases"]?.items ?? [] { if let a = item.text { aliases.append(a) } }
                    for setting in entry.value.entries ?? [] where setting.key != "aliases" {
                        warn(setting, "network setting \(setting.key) is not imported: addresses are the engine's to assign")
                    }
                    joined.append((entry.key, aliases, entry.value))
                }
            } else if let items = n.items {
                for item in items { if let key = item.text { joined.append((key, [], item)) } else { fail(item, "networks items are names, found \(item.typeName)") } }
            } else { fail(n, "networks must be a list or a mapping, found \(n.typeName)") }
        } else {
            joined = [("default", [], node)]
        }
        var containerAlias: String?
        if let n = node["container_name"], let name = n.text {
            if Self.isAlias(name), name != flotillaName, name != service {
                containerAlias = name
                warn(n, "container_name \"\(name)\" is not kept (Flotilla names each replica); it stays a network alias, so other services still reach the service by it")
            } else if name != flotillaName, name != service {
                warn(n, "container_name \"\(name)\" is not kept (Flotilla names each replica) and is not a DNS name, so it cannot stay an alias; other services must use \"\(flotillaName)\"")
            }
        }
        for link in node["links"]?.items ?? [] {
            warn(link, "links are not needed: services on one network reach each other by service name (a link alias is not imported)")
        }
        var result = ImportedList()
        for item in joined {
            guard let name = networkName(item.key, at: item.place) else { continue }
            var aliases = item.aliases
            if flotillaName != service, Self.isAlias(service), !aliases.contains(service) { aliases.insert(service, at: 0) }
            if let containerAlias, !aliases.contains(containerAlias) { aliases.append(containerAlias) }
            for alias in aliases where !Self.isAlias(alias) { warn(item.place, "alias \"\(alias)\" is not a DNS name; it is not imported") }
            aliases = aliases.filter(Self.isAlias)
            aliases = aliases.filter { $0 != flotillaName }
            result.values.append(aliases.isEmpty ? .string(name) : .map([ManifestField("name", .string(name)), ManifestField("aliases", .list(aliases.map(ManifestValue.string)))]))
        }
        if node["networks"] == nil {
            result.comments.append("Compose's project network: services reach each other by service name on it.")
        }
        return result.values.isEmpty ? nil : result
    }

    mutating func volumes(_ node: ComposeNode) -> ImportedList {
        guard let n = node["volumes"], !n.isNull else { return ImportedList() }
        guard let items = n.items else { fail(n, "volumes must be a list, found \(n.typeName)"); return ImportedList() }
        var result = ImportedList()
        var bind = false, named = false
        for item in items {
            var source: String?, target: String?, options: [String] = []
            var type = "volume"
            if let text = item.text {
                let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
                if parts.count == 1 { target = parts[0] }
                else { source = parts[0]; target = parts[1]; options = parts.count > 2 ? parts[2].split(separator: ",").map(String.init) : [] }
                if let s = source, s.hasPrefix("/") || s.hasPrefix("~") || s.hasPrefix(".") { type = "bind" }
            } else if item.entries != nil {
                type = item["type"]?.text ?? "volume"
                source = item["source"]?.text
                target = item["target"]?.text
                if item["read_only"]?.text == "true" { options.append("ro") }
                for entry in item.entries ?? [] where !["type", "source", "target", "read_only"].contains(entry.key) {
                    warn(entry, "volume setting \(entry.key) is not imported")
                }
            } else {
                fail(item, "a volume is \"SOURCE:TARGET[:MODE]\" or {type, source, target}, found \(item.typeName)")
                continue
            }
            guard type == "volume" || type == "bind" else { warn(item, "a \(type) mount is not imported: Flotilla mounts named volumes and host paths"); continue }
            guard let target, target.hasPrefix("/") else { fail(item, "a volume needs an absolute target path in the container"); continue }
            guard var source, !source.isEmpty else {
                warn(item, "anonymous volume \(target) is not imported: its data would not outlive a replacement; name it (data:\(target)) to keep the data")
                continue
            }
            let kept = options.filter { ["ro", "rw", "z", "Z"].contains($0) }
            if kept.count != options.count { warn(item, "volume options \(options.filter { !kept.contains($0) }.joined(separator: ",")) are not imported") }
            if type == "bind" {
                if source.hasPrefix("~") {
                    guard let home = homeDirectory else { warn(item, "\(source) starts with ~ and HOME is not set; the volume is not imported"); continue }
                    source = home + source.dropFirst()
                }
                bind = true
                usesHostMounts = true
            } else {
                named = true
                let definition = defined("volumes", source)
                if definition == nil {
                    warn(item, "named volume \"\(source)\" is not declared under the top-level volumes: (Compose would refuse it); it is imported as \(projectName)_\(source)")
                }
                if let explicit = definition?["name"]?.text { source = explicit }
                else if let external = definition?["external"], external.text == "true" || external["name"] != nil { source = external["name"]?.text ?? source }
                else { source = "\(projectName)_\(source)" }
                if let driver = definition?["driver"]?.text, driver != "local" { warn(definition!["driver"]!, "volume driver \(driver) is not imported: the engine's default driver is used") }
            }
            result.values.append(.string(([source, target] + (kept.isEmpty ? [] : [kept.joined(separator: ",")])).joined(separator: ":")))
        }
        if named { result.comments.append("Named volumes keep Compose's names (<project>_<volume>), so data from a Compose deployment carries over.") }
        if bind { result.comments.append("Host paths need the operator's --allow-host-mounts (for example --allow-host-mounts=/srv).") }
        return result
    }

    var homeDirectory: String? { options.variables["HOME"] }
}
