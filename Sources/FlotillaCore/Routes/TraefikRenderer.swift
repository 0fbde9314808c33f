/// Traefik's file-provider dynamic configuration (YAML): a router per host+path (priority: exact
/// hosts over wildcards, then the longest path) and a load-balanced service per Flotilla service. A
/// service with no servers makes Traefik answer 503. Every name carries the project
/// (`flotilla_<project>_<service>`, see ``RouteFormat/name(_:_:)``): the file provider merges a
/// folder of files and keeps only the first definition of a name, so another project's `web`
/// (or its router `0`) once silently took this one's. During a canary release the service is a
/// `weighted` service over two load balancers (old replicas and canaries); a route that strips
/// its prefix gets a `stripPrefix` middleware.
///
/// Rules use Traefik v3's syntax by default (`HostRegexp` takes a Go regular expression,
/// `PathPrefix` a literal prefix); `version: .v2` writes v2's (`HostRegexp` with a `{name:regexp}`
/// template), which v3 also reads under `ruleSyntax: v2`. Paths match on segment boundaries in
/// both: `Path(`/api`) || PathPrefix(`/api/`)` (see ``PathMatch``).
enum TraefikRenderer {
    enum Version: Sendable { case v2, v3 }

    static func render(_ table: RouteTable, version: Version = .v3, project: String) -> String {
        var out = "# \(RouteFormat.header)\nhttp:\n"
        if table.entries.isEmpty { return out + "  routers: {}\n  services: {}\n" }
        out += "  routers:\n"
        for (i, entry) in table.entries.enumerated() {
            out += "    \(RouteFormat.name(project, entry.service, String(i))):\n"
            out += "      rule: \"\(hostRule(entry.host, version)) && \(pathRule(entry.match))\"\n"
            out += "      service: \(RouteFormat.name(project, entry.service))\n"
            // Exact hosts outrank wildcards; within a host, the longest path wins.
            out += "      priority: \((entry.host.hasPrefix("*.") ? 0 : 10_000) + entry.path.count)\n"
            if entry.stripPrefix { out += "      middlewares:\n        - \(RouteFormat.name(project, "strip", String(i)))\n" }
        }
        let strips = table.entries.enumerated().filter { $0.element.stripPrefix }
        if !strips.isEmpty {
            out += "  middlewares:\n"
            for (i, entry) in strips {
                // `/api` (not `/api/`): `/api/x` becomes `/x`, and `/api` becomes `/` (Traefik adds the slash).
                out += "    \(RouteFormat.name(project, "strip", String(i))):\n      stripPrefix:\n        prefixes:\n          - \"\(entry.match.strippedPrefix)\"\n"
            }
        }
        out += "  services:\n"
        let percents = table.canaryPercents
        for (service, targets) in table.upstreams {
            let name = RouteFormat.name(project, service)
            if let percent = percents[service] {
                // `_stable`: no service name holds `_`, so this is no other service's name.
                let stable = RouteFormat.name(project, service, "stable"), canary = RouteFormat.name(project, service, "canary")
                out += "    \(name):\n      weighted:\n        services:\n"
                out += "          - name: \(stable)\n            weight: \(100 - percent)\n"
                out += "          - name: \(canary)\n            weight: \(percent)\n"
                out += loadBalancer(stable, targets.filter { !$0.canary })
                out += loadBalancer(canary, targets.filter(\.canary))
            } else {
                out += loadBalancer(name, targets)
            }
        }
        return out
    }

    /// The host matcher; a `*.` wildcard stands for one DNS label.
    static func hostRule(_ host: String, _ version: Version) -> String {
        guard host.hasPrefix("*.") else { return "Host(`\(host)`)" }
        let domain = host.dropFirst(2)
        switch version {
        // A whole-host Go regexp; its backslashes doubled for the YAML double-quoted string.
        case .v3: return "HostRegexp(`^[a-z0-9-]+\\\\.\(domain.replacingDots())$`)"
        // A template: v2 quotes everything outside `{name:regexp}` itself, so dots stay plain.
        case .v2: return "HostRegexp(`{subdomain:[a-z0-9-]+}.\(domain)`)"
        }
    }

    /// The path matcher: the same in v2 and v3 (`Path` and `PathPrefix` of one literal value).
    static func pathRule(_ match: PathMatch) -> String {
        guard let exact = match.exact else { return "PathPrefix(`\(match.prefix)`)" }
        return "(Path(`\(exact)`) || PathPrefix(`\(match.prefix)`))"
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
