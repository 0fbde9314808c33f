/// An include-able nginx file (inside `http { }`): one `upstream` per service with ready
/// replicas (`flotilla_<project>_<service>`: another project's file in the same nginx may have a
/// `web` too), one `server` per host; per path an exact `location = /api` and a prefix `location /api/`
/// (segment boundaries, see ``PathMatch``; nginx prefers an exact match, then the longest prefix).
/// During a canary release the servers carry weights (nginx's weighted round robin).
/// A route without ready replicas answers 503; so does one whose replicas all refuse.
enum NginxRenderer {
    static func render(_ table: RouteTable, listen: String, project: String) -> String {
        var out = "# \(RouteFormat.header)\n"
        out += "map $http_upgrade $flotilla_connection_upgrade {\n    default upgrade;\n    ''      close;\n}\n"
        for (service, targets) in table.upstreams where !targets.isEmpty {
            out += "\nupstream \(RouteFormat.name(project, service)) {\n"
            for target in targets {
                let weight = target.weight == 1 ? "" : " weight=\(target.weight)"
                let role = target.canary ? " canary" : ""
                out += "    server \(target.address):\(target.port)\(weight) max_fails=1 fail_timeout=2s;  # \(RouteFormat.identifier(target.container))\(role)\n"
            }
            out += "}\n"
        }
        for (host, entries) in table.hosts {
            out += "\nserver {\n    listen \(RouteFormat.safeListen(listen));\n    server_name \(host);\n"
            out += "    error_page 502 504 =503 @flotilla_unavailable;\n"
            out += "    location @flotilla_unavailable {\n        return 503 \"no ready replica\\n\";\n    }\n"
            let paths = Set(entries.map(\.path))
            for entry in entries {
                // `= /api` and `/api/`: whole segments only, never `/apiary` (see PathMatch). A
                // route on `/api/` itself already owns that location (and is the longer match).
                let match = entry.match
                if let exact = match.exact { out += location("= \"\(exact)\"", entry, project) }
                if match.exact == nil || !paths.contains(match.prefix) { out += location("\"\(match.prefix)\"", entry, project) }
            }
            out += "}\n"
        }
        return out
    }

    static func location(_ matcher: String, _ entry: RouteTable.Entry, _ project: String) -> String {
        var out = "    location \(matcher) {\n"
        if entry.targets.isEmpty {
            out += "        return 503 \"no ready replica\\n\";\n"
        } else {
            if entry.stripPrefix {
                // `/api`, `/api/` and `/api/x` reach the service as `/`, `/` and `/x`.
                out += "        rewrite ^\(ManifestRules.literalRegex(entry.match.strippedPrefix))/?(.*)$ /$1 break;\n"
            }
            out += """
                    proxy_pass http://\(RouteFormat.name(project, entry.service));
                    proxy_http_version 1.1;
                    proxy_set_header Host $host;
                    proxy_set_header X-Real-IP $remote_addr;
                    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
                    proxy_set_header X-Forwarded-Proto $scheme;
                    proxy_set_header Upgrade $http_upgrade;
                    proxy_set_header Connection $flotilla_connection_upgrade;
                    proxy_next_upstream error timeout http_502 http_503;

            """
        }
        return out + "    }\n"
    }
}
