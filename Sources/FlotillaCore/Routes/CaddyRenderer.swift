/// A Caddyfile snippet: a site block per host (plain HTTP on the listen port, bound to the listen
/// address when it names one), per path a named
/// matcher `path_regexp ^/api(/|$)` (segment boundaries, see ``PathMatch``) and a `handle` on it,
/// `reverse_proxy` over the ready replicas, and `uri strip_prefix` where the route strips its
/// prefix. The `handle` blocks come in table order (longest path first) and Caddy keeps that
/// order: it sorts handles by a single path only, and every one here has a named matcher (the
/// `/` route's plain `handle` goes last either way).
///
/// A site block is the whole of a host: Caddy refuses two with one address ("ambiguous site
/// definition"), even in two projects' files, so behind Caddy a host belongs to one project (see
/// ``RouteFormat/readsEachHostFromOneFile``). The matcher names are local to their block.
///
/// Not Caddy's `path` matcher: it ignores case (`/Admin` served `/admin`'s route, unlike nginx and
/// HAProxy) and reads `*` as a wildcard. A regular expression of the path's literal characters
/// matches exactly what the other proxies match (Caddy's decoded, cleaned path).
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
                    out += "\t@flotilla_\(i) path_regexp \(pathRegex(match))\n\thandle @flotilla_\(i) {\n"
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

    /// `^/api(/|$)` for `/api` (the path itself or below it), `^/api/` for `/api/`.
    static func pathRegex(_ match: PathMatch) -> String {
        guard let exact = match.exact else { return "^" + literalRegex(match.prefix) }
        return "^" + literalRegex(exact) + "(/|$)"
    }

    /// `text` as a Go regular expression matching itself, case and all, and one Caddyfile token:
    /// letters, digits and `/` as they are, a route path's other characters in a class of their
    /// own (`[.]`), anything else (never in a valid route path) as `\x{2A}`, so that no character
    /// can be a wildcard, a Caddyfile quote or placeholder, or end the token.
    static func literalRegex(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            let c = Character(scalar)
            if scalar.isASCII && (c.isLetter || c.isNumber || c == "/") {
                out.append(c)
            } else if "-._~!&()+,=:@".unicodeScalars.contains(scalar) {
                out += "[\(c)]"
            } else {
                out += "\\x{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            }
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
