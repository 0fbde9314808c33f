@testable import FlotillaCore
import Foundation
import Testing

@Suite("Route table and renderers")
struct RouteTableTests {
    static let web = ServiceSpec(name: "web", image: "x", replicas: 2, port: 80, network: .host,
                                 routes: [Route(host: "web.example.test", path: "/"), Route(host: "*.example.test", path: "/static")])
    static let api = ServiceSpec(name: "api", image: "x", port: 80, network: .host, routes: [Route(host: "web.example.test", path: "/api")])
    static let down = ServiceSpec(name: "down", image: "x", port: 80, network: .host, routes: [Route(host: "down.example.test")])

    static func c(_ service: String, _ n: Int, port: Int?, state: ContainerState = .running, hash: String = "h") -> ObservedContainer {
        ObservedContainer(id: "\(service)\(n)", name: "p-\(service)-\(n)", service: service, specHash: hash, state: state, created: Int64(n), hostPort: port)
    }

    static let observed = [c("web", 2, port: 20002), c("web", 1, port: 20001), c("web", 3, port: 20003, state: .exited), c("web", 4, port: 20004),
                           c("api", 1, port: 20010), c("down", 1, port: 20020)]
    /// web4 is running but not ready (still starting); down1 is not ready either.
    static let ready: Set<String> = ["web1", "web2", "web3", "api1"]
    static var table: RouteTable {
        RouteTable.build(services: [web, api, down, CanaryRoutingTests.shop], observed: observed + CanaryRoutingTests.observed, ready: ready.union(["s1", "s2", "s3"]))
    }

    @Test func onlyRunningReadyReplicasAreTargets() {
        let entries = Self.table.entries
        #expect(entries.map { "\($0.host)\($0.path)" } == ["down.example.test/", "shop.test/api", "web.example.test/api", "web.example.test/", "*.example.test/static"])
        let web = entries.first { $0.host == "web.example.test" && $0.path == "/" }!
        #expect(entries.first { $0.host == "web.example.test" && $0.path == "/api" }?.service == "api")
        #expect(web.targets.map(\.port) == [20001, 20002])  // not the exited one, not the unready one
        #expect(entries.first { $0.service == "down" }?.targets.isEmpty == true)  // kept, zero targets
    }

    @Test func longestPrefixFirstWithinAHost() {
        let spec = ServiceSpec(name: "s", image: "x", port: 1, routes: [Route(host: "a.test", path: "/"), Route(host: "a.test", path: "/api/v2"), Route(host: "a.test", path: "/api")])
        #expect(RouteTable.build(services: [spec], observed: [], ready: []).entries.map(\.path) == ["/api/v2", "/api", "/"])
    }

    @Test func rollingUpdateOverlap() {
        // During start-first, the new replica is ready before the old one leaves: both are targets.
        let observed = [Self.c("web", 1, port: 20001, hash: "old"), Self.c("web", 5, port: 20005, hash: "new")]
        let table = RouteTable.build(services: [Self.web], observed: observed, ready: ["web1", "web5"])
        #expect(table.entries[0].targets.map(\.port) == [20001, 20005])
    }

    @Test(arguments: RouteFormat.allCases)
    func renderingIsDeterministic(format: RouteFormat) {
        let shuffled = RouteTable.build(services: [CanaryRoutingTests.shop, Self.down, Self.api, Self.web], observed: (Self.observed + CanaryRoutingTests.observed).reversed(),
                                        ready: Self.ready.union(["s1", "s2", "s3"]))
        #expect(format.render(Self.table, listen: "8080", project: "p") == format.render(shuffled, listen: "8080", project: "p"))
    }

    @Test(arguments: RouteFormat.allCases)
    func goldenFiles(format: RouteFormat) throws {
        let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/routes.\(format.rawValue)")
        let rendered = format.render(Self.table, listen: "127.0.0.1:8080", project: "p")
        if ProcessInfo.processInfo.environment["FLOTILLA_UPDATE_GOLDEN"] == "1" {
            try rendered.write(to: golden, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOf: golden, encoding: .utf8)
        #expect(rendered == expected, "regenerate with FLOTILLA_UPDATE_GOLDEN=1 after checking the diff")
    }

    /// The names a route file declares at the proxy's level (where another project's file in
    /// the same proxy declares its own): nginx upstreams, HAProxy backends, Traefik routers,
    /// services and middlewares. Caddy declares none (its matchers are local to a site block).
    static func declaredNames(_ text: String, _ format: RouteFormat) -> [String] {
        text.split(separator: "\n").compactMap { line -> String? in
            switch format {
            case .nginx: return line.hasPrefix("upstream ") ? String(line.dropFirst("upstream ".count).dropLast(2)) : nil
            case .haproxy: return line.hasPrefix("backend ") ? String(line.dropFirst("backend ".count)) : nil
            case .traefik, .traefikV2:
                return line.hasPrefix("    ") && !line.hasPrefix("     ") && line.hasSuffix(":") ? String(line.dropFirst(4).dropLast()) : nil
            case .caddy, .json: return nil
            }
        }
    }

    /// Issue 26: two projects each with a service `web` (and `api`, a canary, a stripped prefix)
    /// feed one proxy. Their files once both declared `flotilla_web` (nginx: duplicate upstream,
    /// the second file never loads; Traefik: the first file keeps the name). Every name now
    /// carries the project, so none is declared by both; and `a-b` + `c` never meets `a` + `b-c`.
    @Test(arguments: [RouteFormat.nginx, .haproxy, .traefik, .traefikV2])
    func twoProjectsFilesDeclareNoNameInCommon(format: RouteFormat) {
        let one = Self.declaredNames(format.render(Self.table, listen: "80", project: "shop"), format)
        let two = Self.declaredNames(format.render(Self.table, listen: "80", project: "blog"), format)
        #expect(one.count >= 3 && two.count == one.count && Set(one).count == one.count, "\(one)")
        #expect(Set(one).isDisjoint(with: two), "\(Set(one).intersection(two).sorted())")
        #expect(one.contains { $0.hasPrefix("flotilla_shop_web") } && two.contains { $0.hasPrefix("flotilla_blog_web") }, "\(one) \(two)")
        // Project and service names both hold `-`, never `_`: the split between them stays known.
        let c = RouteTable(entries: [RouteTable.Entry(host: "x.test", path: "/", service: "c", targets: [RouteTable.Target(port: 1, container: "x")])])
        let bc = RouteTable(entries: [RouteTable.Entry(host: "x.test", path: "/", service: "b-c", targets: [RouteTable.Target(port: 1, container: "x")])])
        let ab = Self.declaredNames(format.render(c, listen: "80", project: "a-b"), format)
        let a = Self.declaredNames(format.render(bc, listen: "80", project: "a"), format)
        #expect(!ab.isEmpty && Set(ab).isDisjoint(with: a), "\(ab) \(a)")
    }

    /// HAProxy's frontend is the one name every project's file shares, on purpose: it holds the
    /// bind, and two frontends on one address would both bind it (connections dealt between them
    /// at random); declared twice, HAProxy refuses the configuration instead.
    @Test func haproxyFrontendIsTheSameInEveryProjectsFile() {
        for project in ["shop", "blog"] {
            let lines = RouteFormat.haproxy.render(Self.table, listen: "80", project: project).split(separator: "\n")
            #expect(lines.filter { $0.hasPrefix("frontend ") } == ["frontend flotilla"])
        }
    }

    @Test func jsonNamesTheProjectOfEveryRoute() throws {
        let out = RouteFormat.json.render(Self.table, listen: "80", project: "shop")
        let routes = try #require((try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])?["routes"] as? [[String: Any]])
        #expect(routes.count == Self.table.entries.count && routes.allSatisfy { $0["project"] as? String == "shop" })
    }

    /// The whole file for an empty table: nothing routed, and what each proxy needs to load it.
    @Test(arguments: RouteFormat.allCases)
    func emptyTableRendersAValidSkeleton(format: RouteFormat) {
        let header = "# \(RouteFormat.header)\n"
        let expected: String
        switch format {
        case .nginx:
            expected = header + "map $http_upgrade $flotilla_connection_upgrade {\n    default upgrade;\n    ''      close;\n}\n"
        case .caddy:
            expected = header
        case .haproxy:
            expected = header + """

                # One HAProxy per project: a second project's file in this HAProxy would declare this frontend again.
                frontend flotilla
                    bind :80
                    mode http
                    http-request set-var(txn.flotilla_host) req.hdr(host),field(1,:),lower
                    http-request deny deny_status 404 unless { var(txn.flotilla_route) -m found }

                """
        case .traefik, .traefikV2:
            expected = header + "http:\n  routers: {}\n  services: {}\n"
        case .json:
            expected = "{\n  \"generated_by\": \"flotilla\",\n  \"routes\": [\n  ]\n}\n"
        }
        #expect(format.render(RouteTable(entries: []), listen: "80", project: "p") == expected)
    }

    @Test func pathsMatchWholeSegments() {
        let api = PathMatch(path: "/api")
        #expect(api.exact == "/api" && api.prefix == "/api/" && api.strippedPrefix == "/api")
        for (path, served) in [("/api", true), ("/api/", true), ("/api/users", true), ("/api/v2/x", true), ("/apiary", false), ("/ap", false), ("/", false), ("/x/api", false)] {
            #expect(api.matches(path) == served, "\(path)")
        }
        #expect(api.stripped("/api/users") == "/users" && api.stripped("/api") == "/" && api.stripped("/api/") == "/")
        // A trailing slash: only what is under it.
        let dir = PathMatch(path: "/api/")
        #expect(dir.exact == nil && dir.prefix == "/api/" && dir.strippedPrefix == "/api")
        #expect(dir.matches("/api/x") && dir.matches("/api/") && !dir.matches("/api") && !dir.matches("/apiary"))
        #expect(dir.stripped("/api/users") == "/users")
        // `/` matches everything.
        let root = PathMatch(path: "/")
        #expect(root.exact == nil && root.prefix == "/")
        #expect(["/", "/x", "/apiary", "/api/x"].allSatisfy(root.matches))
    }

    /// `path: /api` in each format: `/api` and `/api/…`, never `/apiary`; the stripped prefix has no
    /// trailing slash, so `/api/users` is forwarded as `/users` and `/api` as `/`.
    static let segmentTable = RouteTable.build(
        services: [ServiceSpec(name: "api", image: "x", port: 80, network: .host, routes: [Route(host: "a.test", path: "/api", stripPrefix: true), Route(host: "a.test", path: "/docs/")]),
                   ServiceSpec(name: "web", image: "x", port: 80, network: .host, routes: [Route(host: "a.test")])],
        observed: [c("api", 1, port: 20001), c("web", 1, port: 20002)], ready: ["api1", "web1"])

    @Test func nginxMatchesWholeSegments() {
        let out = RouteFormat.nginx.render(Self.segmentTable, listen: "80", project: "p")
        let locations = out.split(separator: "\n").filter { $0.hasPrefix("    location ") && !$0.contains("@flotilla") }
        #expect(locations == ["    location \"/docs/\" {", "    location = \"/api\" {", "    location \"/api/\" {", "    location \"/\" {"])
        // Both /api locations strip the same prefix and proxy to the same service.
        #expect(out.components(separatedBy: "rewrite ^/api/?(.*)$ /$1 break;\n        proxy_pass http://flotilla_p_api;").count == 3)
        #expect(out.components(separatedBy: "proxy_pass http://flotilla_p_api;").count == 4)  // /api twice and /docs/
    }

    @Test func nginxGivesAPathAndItsSlashedTwinOneLocationEach() {
        // `/api` and `/api/` on one host: `/api/` owns `location /api/` (nginx rejects a duplicate).
        let spec = ServiceSpec(name: "s", image: "x", port: 1, routes: [Route(host: "a.test", path: "/api"), Route(host: "a.test", path: "/api/")])
        let out = RouteFormat.nginx.render(RouteTable.build(services: [spec], observed: [], ready: []), listen: "80", project: "p")
        #expect(out.components(separatedBy: "location \"/api/\" {").count == 2)
        #expect(out.components(separatedBy: "location = \"/api\" {").count == 2)
    }

    @Test func caddyMatchesWholeSegments() {
        let out = RouteFormat.caddy.render(Self.segmentTable, listen: "80", project: "p")
        #expect(out.contains("""
            \t@flotilla_1 path_regexp ^/api(/|$)
            \thandle @flotilla_1 {
            \t\turi strip_prefix /api
            \t\treverse_proxy 127.0.0.1:20001 {
            """))
        #expect(out.contains("\t@flotilla_0 path_regexp ^/docs/\n\thandle @flotilla_0 {\n\t\treverse_proxy 127.0.0.1:20001 {"))
        #expect(out.contains("\thandle {\n\t\treverse_proxy 127.0.0.1:20002 {"))
        #expect(!out.contains("/api*") && !out.contains("handle_path"))
    }

    @Test func caddyBindsTheListenAddress() {
        #expect(RouteFormat.caddy.render(Self.segmentTable, listen: "127.0.0.1:8080", project: "p").contains("http://a.test:8080 {\n\tbind 127.0.0.1\n"))
        #expect(RouteFormat.caddy.render(Self.segmentTable, listen: "[::1]:8080", project: "p").contains("http://a.test:8080 {\n\tbind ::1\n"))
        #expect(!RouteFormat.caddy.render(Self.segmentTable, listen: "8080", project: "p").contains("bind"))
    }

    @Test func haproxyMatchesWholeSegments() {
        let out = RouteFormat.haproxy.render(Self.segmentTable, listen: "80", project: "p")
        let paths = out.split(separator: "\n").filter { $0.contains("acl flotilla_path_") }
        #expect(paths == ["    acl flotilla_path_0 path_beg '/docs/'", "    acl flotilla_path_1 path '/api'", "    acl flotilla_path_1 path_beg '/api/'", "    acl flotilla_path_2 path_beg '/'"])
        #expect(out.contains("    http-request replace-path ^/api/?(.*) /\\1 if { var(txn.flotilla_route) -m int 1 }\n"))
    }

    @Test(arguments: [RouteFormat.traefik, .traefikV2])
    func traefikMatchesWholeSegments(format: RouteFormat) {
        let out = format.render(Self.segmentTable, listen: "80", project: "p")
        let rules = out.split(separator: "\n").filter { $0.hasPrefix("      rule: ") }
        #expect(rules == ["      rule: \"Host(`a.test`) && PathPrefix(`/docs/`)\"",
                          "      rule: \"Host(`a.test`) && (Path(`/api`) || PathPrefix(`/api/`))\"",
                          "      rule: \"Host(`a.test`) && PathPrefix(`/`)\""])
        #expect(out.contains("    flotilla_p_strip_1:\n      stripPrefix:\n        prefixes:\n          - \"/api\"\n"))
    }

    @Test func jsonSpellsOutTheMatch() {
        let out = RouteFormat.json.render(Self.segmentTable, listen: "80", project: "p")
        #expect(out.contains("{\"host\":\"a.test\",\"path\":\"/api\",\"match\":{\"exact\":\"/api\",\"prefix\":\"/api/\"},\"project\":\"p\",\"service\":\"api\",\"strip_prefix\":true,"))
        #expect(out.contains("\"path\":\"/docs/\",\"match\":{\"exact\":null,\"prefix\":\"/docs/\"},"))
        #expect(out.contains("\"path\":\"/\",\"match\":{\"exact\":null,\"prefix\":\"/\"},"))
    }

    @Test func traefikRulesUseTheVersionsOwnSyntax() {
        let spec = ServiceSpec(name: "w", image: "x", port: 1, routes: [Route(host: "*.example.test", path: "/static")])
        let table = RouteTable.build(services: [spec], observed: [], ready: [])
        // v3: HostRegexp is a Go regexp (anchored, dots escaped; doubled inside the YAML string).
        #expect(RouteFormat.traefik.render(table, listen: "80", project: "p").contains(#"rule: "HostRegexp(`^[a-z0-9-]+\\.example\\.test$`) && (Path(`/static`) || PathPrefix(`/static/`))""#))
        // v2: a `{name:regexp}` template, whose literal part v2 quotes itself.
        #expect(RouteFormat.traefikV2.render(table, listen: "80", project: "p").contains(#"rule: "HostRegexp(`{subdomain:[a-z0-9-]+}.example.test`) && (Path(`/static`) || PathPrefix(`/static/`))""#))
        #expect(RouteFormat(rawValue: "traefik-v2") == .traefikV2)
    }

    @Test func zeroTargetsBecome503Everywhere() {
        let table = RouteTable.build(services: [Self.down], observed: [], ready: [])
        #expect(RouteFormat.nginx.render(table, listen: "80", project: "p").contains("return 503"))
        #expect(!RouteFormat.nginx.render(table, listen: "80", project: "p").contains("upstream flotilla_p_down"))
        #expect(RouteFormat.caddy.render(table, listen: "80", project: "p").contains("respond \"no ready replica\" 503"))
        #expect(RouteFormat.haproxy.render(table, listen: "80", project: "p").contains("backend flotilla_p_down\n    mode http"))
        #expect(!RouteFormat.haproxy.render(table, listen: "80", project: "p").contains(" server "))
        #expect(RouteFormat.traefik.render(table, listen: "80", project: "p").contains("servers: []"))
        #expect(RouteFormat.json.render(table, listen: "80", project: "p").contains("\"targets\":[]"))
    }

    /// Hostile hosts and paths: none may reach a renderer (the table re-checks the manifest rules).
    @Test func injectionCorpusNeverReachesAnyRenderer() {
        let hostile = [
            ("evil.test; }\nserver { listen 80; location / { return 200", "/"),
            ("evil.test", "/x; proxy_pass http://attacker"),
            ("evil.test", "/\"}\nlocation /"),
            ("evil.test", "/a{b}"),
            ("evil.test", "/$host"),
            ("evil.test", "/a#b"),
            ("evil.test", "/a b"),
            ("evil.test", "/a\nb"),
            ("evil.test", "/a\\b"),
            ("evil.test", "/a'b"),
            ("evil.test", "/a`b"),
            ("`whoami`.test", "/"),
            ("evil.test\n", "/"),
            ("evil test", "/"),
            ("evil.test:80", "/"),
            ("{{ .Host }}", "/"),
            ("evil.test\u{0}", "/"),
            ("evil.test", "/\u{7f}"),
            ("évil.test", "/"),
            ("evil.test", "/é"),
            ("evil.test", "relative"),
            // Safe to quote, but globs or escapes in some proxy: only route-path characters pass.
            ("evil.test", "/admin*"),
            ("evil.test", "/a?b"),
            ("evil.test", "/a[b]"),
            ("evil.test", "/a%41"),
            ("evil.test", "/a|b^c"),
        ]
        for (host, path) in hostile {
            let spec = ServiceSpec(name: "evil", image: "x", port: 1, routes: [Route(host: host, path: path)])
            let table = RouteTable.build(services: [spec], observed: [Self.c("evil", 1, port: 1)], ready: ["evil1"])
            #expect(table.entries.isEmpty, "\(host) \(path)")
            for format in RouteFormat.allCases {
                let out = format.render(table, listen: "80", project: "p")
                #expect(!out.contains("attacker") && !out.contains("evil"), "\(format) \(host) \(path)")
            }
        }
        // And the listen address is sanitised too.
        #expect(RouteFormat.nginx.render(Self.table, listen: "80; include /etc/passwd", project: "p").contains("listen 80;"))
    }

    @Test func safeButUnusualValuesAreQuotedOrHarmless() {
        let spec = ServiceSpec(name: "odd", image: "x", port: 1, routes: [Route(host: "*.x-1.test", path: "/a(b)c~+.=&,!@:")])
        let table = RouteTable.build(services: [spec], observed: [Self.c("odd", 1, port: 5)], ready: ["odd1"])
        #expect(table.entries.count == 1)
        #expect(RouteFormat.nginx.render(table, listen: "80", project: "p").contains("location = \"/a(b)c~+.=&,!@:\" {"))
        #expect(RouteFormat.nginx.render(table, listen: "80", project: "p").contains("location \"/a(b)c~+.=&,!@:/\" {"))
        #expect(RouteFormat.caddy.render(table, listen: "80", project: "p").contains("path_regexp ^/a[(]b[)]c[~][+][.][=][&][,][!][@][:](/|$)\n"))
        #expect(RouteFormat.haproxy.render(table, listen: "80", project: "p").contains("path '/a(b)c~+.=&,!@:'\n"))
        #expect(RouteFormat.traefik.render(table, listen: "80", project: "p").contains("HostRegexp(`^[a-z0-9-]+\\\\.x-1\\\\.test$`)"))
    }
}
