/// What the reverse proxy should serve: for every `host` + `path` of every service, the
/// loopback addresses of that service's ready replicas.
///
/// Pure: built from specs, observed containers and the set of ready container ids. A route
/// whose service has no ready replica stays in the table with zero targets (every renderer turns
/// that into a 503, never an invalid config and never traffic to a dead port). Entries are
/// sorted (exact hosts before wildcards, then host, then longest path first), so the same inputs always render byte-identical files.
public struct RouteTable: Sendable, Hashable, Codable {
    public struct Target: Sendable, Hashable, Codable, Comparable {
        public var address: String
        public var port: Int
        public var container: String

        public init(address: String = "127.0.0.1", port: Int, container: String) {
            self.address = address
            self.port = port
            self.container = container
        }

        public static func < (a: Target, b: Target) -> Bool { (a.port, a.container) < (b.port, b.container) }
    }

    public struct Entry: Sendable, Hashable, Codable {
        public var host: String
        public var path: String
        public var service: String
        public var targets: [Target]
    }

    public var entries: [Entry]

    public init(entries: [Entry]) {
        self.entries = entries.sorted { a, b in
            // Exact hosts before wildcards (an exact server name wins, as in nginx), then by host.
            let aw = a.host.hasPrefix("*."), bw = b.host.hasPrefix("*.")
            if aw != bw { return !aw }
            if a.host != b.host { return a.host < b.host }
            if a.path.count != b.path.count { return a.path.count > b.path.count }  // longest prefix first
            return a.path < b.path
        }
    }

    /// - Parameter ready: ids of containers that are running and healthy (or, without a health
    ///   check, running past the settle time).
    public static func build(services: [ServiceSpec], observed: [ObservedContainer], ready: Set<String>) -> RouteTable {
        var entries: [Entry] = []
        for spec in services where !spec.routes.isEmpty {
            let targets = observed
                .filter { $0.service == spec.name && $0.state.isLive && ready.contains($0.id) && $0.hostPort != nil }
                .map { Target(port: $0.hostPort!, container: $0.name) }
                .sorted()
            for route in spec.routes {
                // Re-checked here so that no renderer ever sees a value outside the manifest rules.
                guard ManifestRules.isHostname(route.host), ManifestRules.isSafePath(route.path) else { continue }
                entries.append(Entry(host: route.host, path: route.path, service: spec.name, targets: targets))
            }
        }
        return RouteTable(entries: entries)
    }

    /// Entries grouped by host, in table order.
    public var hosts: [(host: String, entries: [Entry])] {
        var result: [(String, [Entry])] = []
        for entry in entries {
            if let last = result.last, last.0 == entry.host { result[result.count - 1].1.append(entry) } else { result.append((entry.host, [entry])) }
        }
        return result
    }

    /// The services that appear in the table, sorted, with their targets.
    public var upstreams: [(service: String, targets: [Target])] {
        var seen: [String: [Target]] = [:]
        for entry in entries { seen[entry.service] = entry.targets }
        return seen.keys.sorted().map { ($0, seen[$0]!) }
    }
}
