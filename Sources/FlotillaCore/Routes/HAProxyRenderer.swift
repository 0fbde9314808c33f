/// An HAProxy fragment: one `frontend` routing on host and path (whole segments, see
/// ``PathMatch``; longest first) to one `backend` per service (`flotilla_<project>_<service>`,
/// servers weighted during a canary release). A backend without servers answers 503; a request
/// no route takes, 404. Load it after a file with the `global` and `defaults` sections (see
/// examples/haproxy/).
///
/// One HAProxy per project: the frontend holds every routing rule and binds the listen address,
/// and HAProxy can neither add rules to a frontend from another file nor tell two frontends on
/// one address apart (both bind it, and the kernel deals connections between them at random).
/// So the frontend's name is the same in every project's file, on purpose: a second project's
/// file in the same HAProxy fails its check ("frontend 'flotilla' has the same name as …"),
/// rather than going live to take half the other project's requests.
enum HAProxyRenderer {
    static func render(_ table: RouteTable, listen: String, project: String) -> String {
        var out = "# \(RouteFormat.header)\n\n"
        out += "# One HAProxy per project: a second project's file in this HAProxy would declare this frontend again.\nfrontend flotilla\n"
        let bind = RouteFormat.safeListen(listen)
        out += "    bind \(bind.contains(":") ? bind : ":" + bind)\n    mode http\n"
        out += "    http-request set-var(txn.flotilla_host) req.hdr(host),field(1,:),lower\n"
        for (i, entry) in table.entries.enumerated() {
            let hostACL: String
            if entry.host.hasPrefix("*.") {
                hostACL = "var(txn.flotilla_host) -m end \(entry.host.dropFirst())"
            } else {
                hostACL = "var(txn.flotilla_host) -m str \(entry.host)"
            }
            out += "    acl flotilla_host_\(i) \(hostACL)\n"
            // Two lines of one name are or'ed: `path /api` or `path_beg /api/` (see PathMatch).
            // Single-quoted: HAProxy reads everything up to the next `'` as it is (no escapes, no
            // variables, no comment), and a route path holds no `'`.
            let match = entry.match
            if let exact = match.exact { out += "    acl flotilla_path_\(i) path '\(exact)'\n" }
            out += "    acl flotilla_path_\(i) path_beg '\(match.prefix)'\n"
        }
        // The first matching route (the table is ordered) is remembered before any rewrite,
        // so that stripping a prefix cannot change which backend is chosen.
        for i in table.entries.indices {
            out += "    http-request set-var(txn.flotilla_route) int(\(i)) if flotilla_host_\(i) flotilla_path_\(i) !{ var(txn.flotilla_route) -m found }\n"
        }
        for (i, entry) in table.entries.enumerated() where entry.stripPrefix {
            out += "    http-request replace-path ^\(ManifestRules.literalRegex(entry.match.strippedPrefix))/?(.*) /\\1 if { var(txn.flotilla_route) -m int \(i) }\n"
        }
        // No backend of its own for "no route" (any name could be a service's).
        out += "    http-request deny deny_status 404 unless { var(txn.flotilla_route) -m found }\n"
        for (i, entry) in table.entries.enumerated() {
            out += "    use_backend \(RouteFormat.name(project, entry.service)) if { var(txn.flotilla_route) -m int \(i) }\n"
        }
        for (service, targets) in table.upstreams {
            out += "\nbackend \(RouteFormat.name(project, service))\n    mode http\n    balance roundrobin\n    retries 2\n    option redispatch\n"
            for target in targets {
                let weight = target.weight == 1 ? "" : " weight \(target.weight)"
                out += "    server \(RouteFormat.identifier(target.container)) \(target.address):\(target.port)\(weight)\n"
            }
        }
        return out
    }
}
