/// A Caddyfile snippet: a site block per host (plain HTTP on the listen port, bound to the listen
/// address when it names one), per path a named
/// matcher `path /api /api/*` (segment boundaries, see ``PathMatch``) and a `handle` on it,
/// `reverse_proxy` over the ready replicas, and `uri strip_prefix` where the route strips its
/// prefix. The `handle` blocks come in table order (longest path first) and Caddy keeps that
/// order: it sorts handles by a single path only, and every one here has a named matcher (the
/// `/` route's plain `handle` goes last either way).
enum CaddyRenderer {
    static func render(_ table: RouteTable, listen: String) -> String {
        var out = "# \(RouteFormat.header)\n"
        let port = RouteFormat.port(of: listen)
        for (host, entries) in table.hosts {
            out += "\nhttp://\(host):\(port) {\n"
            // `--proxy-listen 127.0.0.1:8080` binds that address only, as in nginx and HAProxy.
            if let address = RouteFormat.address(of: listen) { out += "\tbind \(address)\n" }
            for (i, entry) in entries.enumerated() {
                let match = entry.match
                if entry.path == "/" {
                    out += "\thandle {\n"
                } else {
                    let paths = (match.exact.map { [$0] } ?? []) + [match.prefix + "*"]
                    out += "\t@flotilla_\(i) path \(paths.joined(separator: " "))\n\thandle @flotilla_\(i) {\n"
                }
                if entry.targets.isEmpty {
                    out += "\t\trespond \"no ready replica\" 503\n"
                } else {
                    // `/api` and `/api/` are forwarded as `/` (Caddy sends an emptied path as `/`).
                    if entry.stripPrefix { out += "\t\turi strip_prefix \(match.strippedPrefix)\n" }
                    out += "\t\treverse_proxy " + upstreams(entry).joined(separator: " ") + " {\n"
                    if entry.isWeighted { out += "\t\t\tlb_policy round_robin\n" }
                    out += "\t\t\tlb_try_duration 2s\n\t\t}\n"
                }
                out += "\t}\n"
            }
            if !entries.contains(where: { $0.path == "/" }) {
                out += "\thandle {\n\t\trespond \"no route\" 404\n\t}\n"
            }
            out += "}\n"
        }
        return out
    }

    /// Caddy 2.6 (Debian 12) has no weighted balancing (`weighted_round_robin` came in 2.8), so
    /// a canary split lists each replica as many times as its weight, under round robin; the
    /// weights are recomputed small (at most 16 entries a replica) to keep the line short.
    static func upstreams(_ entry: RouteTable.Entry) -> [String] {
        guard let percent = entry.canaryPercent else { return entry.targets.map { "\($0.address):\($0.port)" } }
        let canaries = entry.targets.filter(\.canary).count
        let w = Rollout.weights(stable: entry.targets.count - canaries, canary: canaries, percent: percent, maxWeight: 16)
        return entry.targets.flatMap { t in Array(repeating: "\(t.address):\(t.port)", count: t.canary ? w.canary : w.stable) }
    }
}
