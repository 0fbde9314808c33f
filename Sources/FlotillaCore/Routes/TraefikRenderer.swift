/// Traefik's file-provider dynamic configuration (YAML): a router per host+path (priority: exact
/// hosts over wildcards, then the longest prefix) and a load-balanced service per Flotilla service. A
/// service with no servers makes Traefik answer 503. During a canary release the service is a
/// `weighted` service over two load balancers (old replicas and canaries); a route that strips
/// its prefix gets a `stripPrefix` middleware.
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
            if entry.stripPrefix { out += "      middlewares:\n        - flotilla-strip-\(i)\n" }
        }
        let strips = table.entries.enumerated().filter { $0.element.stripPrefix }
        if !strips.isEmpty {
            out += "  middlewares:\n"
            for (i, entry) in strips {
                out += "    flotilla-strip-\(i):\n      stripPrefix:\n        prefixes:\n          - \"\(entry.path)\"\n"
            }
        }
        out += "  services:\n"
        let percents = table.canaryPercents
        for (service, targets) in table.upstreams {
            let name = "flotilla-\(RouteFormat.identifier(service))"
            if let percent = percents[service] {
                out += "    \(name):\n      weighted:\n        services:\n"
                out += "          - name: \(name)-stable\n            weight: \(100 - percent)\n"
                out += "          - name: \(name)-canary\n            weight: \(percent)\n"
                out += loadBalancer("\(name)-stable", targets.filter { !$0.canary })
                out += loadBalancer("\(name)-canary", targets.filter(\.canary))
            } else {
                out += loadBalancer(name, targets)
            }
        }
        return out
    }

    static func loadBalancer(_ name: String, _ targets: [RouteTable.Target]) -> String {
        "    \(name):\n      loadBalancer:\n"
            + (targets.isEmpty ? "        servers: []\n" : "        servers:\n" + targets.map { "          - url: \"http://\($0.address):\($0.port)\"\n" }.joined())
    }
}

extension Substring {
    /// Dots escaped for a regular expression.
    fileprivate func replacingDots() -> String { String(flatMap { $0 == "." ? ["\\", "\\", "."] : [$0] }) }
}
