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
        /// Relative share of requests (1 unless a canary release splits the traffic).
        public var weight: Int
        /// A canary of a release in progress.
        public var canary: Bool

        public init(address: String = "127.0.0.1", port: Int, container: String, weight: Int = 1, canary: Bool = false) {
            self.address = address
            self.port = port
            self.container = container
            self.weight = weight
            self.canary = canary
        }

        public static func < (a: Target, b: Target) -> Bool { (a.canary ? 1 : 0, a.port, a.container) < (b.canary ? 1 : 0, b.port, b.container) }
    }

    public struct Entry: Sendable, Hashable, Codable {
        public var host: String
        public var path: String
        public var service: String
        public var targets: [Target]
        /// The proxy removes `path` from the request before forwarding.
        public var stripPrefix: Bool
        /// During a canary release with ready canaries and ready old replicas: the percent of
        /// requests the canaries get together (the targets' weights implement it).
        public var canaryPercent: Int?

        public init(host: String, path: String, service: String, targets: [Target], stripPrefix: Bool = false, canaryPercent: Int? = nil) {
            self.host = host
            self.path = path
            self.service = service
            self.targets = targets
            self.stripPrefix = stripPrefix
            self.canaryPercent = canaryPercent
        }

        public var isWeighted: Bool { canaryPercent != nil }
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
            let live = observed.filter { $0.service == spec.name && $0.state.isLive }
            let serving = live.filter { ready.contains($0.id) && $0.hostPort != nil }
            var targets = serving.map { Target(port: $0.hostPort!, container: $0.name) }
            var percent: Int?
            if Rollout.phase(of: spec, live: live, rolledBackHash: nil) == .canary {
                // Canaries (the manifest's spec) take `weight` percent, the old replicas the rest.
                let hash = spec.specHash
                let canaries = Set(serving.filter { $0.specHash == hash }.map(\.name))
                let c = canaries.count, s = serving.count - canaries.count
                if c > 0 && s > 0 {
                    let w = Rollout.weights(stable: s, canary: c, percent: spec.update.canary.weight)
                    percent = spec.update.canary.weight
                    targets = targets.map { t in
                        let isCanary = canaries.contains(t.container)
                        return Target(address: t.address, port: t.port, container: t.container, weight: isCanary ? w.canary : w.stable, canary: isCanary)
                    }
                }
            }
            targets.sort()
            for route in spec.routes {
                // Re-checked here so that no renderer ever sees a value outside the manifest rules.
                guard ManifestRules.isHostname(route.host), ManifestRules.isRoutePath(route.path) else { continue }
                let strip = route.stripPrefix && route.path != "/" && ManifestRules.isStrippablePath(route.path)
                entries.append(Entry(host: route.host, path: route.path, service: spec.name, targets: targets, stripPrefix: strip, canaryPercent: percent))
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

    /// The canary percent of each service that is splitting traffic.
    public var canaryPercents: [String: Int] {
        var result: [String: Int] = [:]
        for entry in entries { if let p = entry.canaryPercent { result[entry.service] = p } }
        return result
    }
}
