/// A Caddyfile snippet: a site block per host (plain HTTP on the listen port), a `handle` per
/// path (Caddy orders path matchers by specificity), `reverse_proxy` over the ready replicas.
enum CaddyRenderer {
    static func render(_ table: RouteTable, listen: String) -> String {
        var out = "# \(RouteFormat.header)\n"
        let port = RouteFormat.port(of: listen)
        for (host, entries) in table.hosts {
            out += "\nhttp://\(host):\(port) {\n"
            for entry in entries {
                let matcher = entry.path == "/" ? "" : " \(entry.path)*"
                out += "\thandle\(matcher) {\n"
                if entry.targets.isEmpty {
                    out += "\t\trespond \"no ready replica\" 503\n"
                } else {
                    out += "\t\treverse_proxy " + entry.targets.map { "\($0.address):\($0.port)" }.joined(separator: " ") + " {\n"
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
}
