/// Traefik's file-provider dynamic configuration (YAML): a router per host+path (priority: exact
/// hosts over wildcards, then the longest prefix) and a load-balanced service per Flotilla service. A
/// service with no servers makes Traefik answer 503.
enum TraefikRenderer {
    static func render(_ table: RouteTable) -> String {
        var out = "# \(RouteFormat.header)\nhttp:\n"
        if table.entries.isEmpty { return out + "  routers: {}\n  services: {}\n" }
        out += "  routers:\n"
        for (i, entry) in table.entries.enumerated() {
            let host: String
            if entry.host.hasPrefix("*.") {
                let domain = entry.host.dropFirst(2).replacingDots()
                host = "HostRegexp(`{subdomain:[a-z0-9-]+}.\(domain)`)"
            } else {
                host = "Host(`\(entry.host)`)"
            }
            out += "    flotilla-\(i)-\(RouteFormat.identifier(entry.service)):\n"
            out += "      rule: \"\(host) && PathPrefix(`\(entry.path)`)\"\n"
            out += "      service: flotilla-\(RouteFormat.identifier(entry.service))\n"
            // Exact hosts outrank wildcards; within a host, the longest path wins.
            out += "      priority: \((entry.host.hasPrefix("*.") ? 0 : 10_000) + entry.path.count)\n"
        }
        out += "  services:\n"
        for (service, targets) in table.upstreams {
            out += "    flotilla-\(RouteFormat.identifier(service)):\n      loadBalancer:\n"
            out += targets.isEmpty ? "        servers: []\n" : "        servers:\n" + targets.map { "          - url: \"http://\($0.address):\($0.port)\"\n" }.joined()
        }
        return out
    }
}

extension Substring {
    /// Dots escaped for a regular expression.
    fileprivate func replacingDots() -> String { String(flatMap { $0 == "." ? ["\\", "\\", "."] : [$0] }) }
}
