import FlotillaCore
import Foundation
import Testing

extension EndToEndSuites {
    /// Issue 26: a route path is matched as the text it is, through each real proxy. A path with
    /// every character a route path may have is routed to one service (`lit`) and `/` to another
    /// (`other`), so that every request gets a positive answer naming who served it: the path
    /// itself and what is below it reach `lit`; a path one character off (changed, dropped, case),
    /// a prefix without the segment boundary, or the parent reach `other`. Requests go out as raw
    /// bytes (HTTP1Client writes the path as given: no percent-encoding of `(`, `!`, `@`, `:`).
    /// Ports 28600–28679.
    @Suite("Route paths are literal through real nginx, Caddy and HAProxy",
           .enabled(if: TestEngine.available && FileManager.default.isExecutableFile(atPath: "/usr/sbin/nginx")
                        && ProxyStack.Proxy.installed(.caddy) && ProxyStack.Proxy.installed(.haproxy),
                    "needs the engine, nginx, caddy and haproxy (run scripts/test)"),
           .serialized)
    struct RoutePathLiteralTests {
        static let host = "lit.test"
        static let path = "/a-b.c_d~e!f&g(h)i+j,k=l:m@n/Z9"

        /// `lit` serves `lit-exact` at ``path`` (a file) and `lit-PORT` for anything else (its 404
        /// page); `other` serves `other-PORT` for everything. busybox httpd decodes the path it
        /// gets, so a percent-encoded variant that reaches `lit` finds the file too.
        static func service(_ name: String, route: String, exactFile: Bool) -> String {
            let parent = String(path[..<path.lastIndex(of: "/")!])
            let file = exactFile ? "mkdir -p '/w\(parent)' && echo \(name)-exact > '/w\(path)' && " : ""
            return """
            name: \(name)
            image: \(TestEngine.image)
            command: ["/bin/sh", "-c", "mkdir -p /w && \(file)echo \(name)-${PORT} > /w/any.html && cp /w/any.html /w/index.html && echo E404:/w/any.html > /w/httpd.conf && echo ok > /w/healthz && exec /bin/httpd -f -p ${PORT} -h /w -c /w/httpd.conf"]
            replicas: 1
            port: 8080
            network: host
            routes: [\(route)]
            health: { http: /healthz, interval: 1s, timeout: 1s, retries: 30 }
            stop_timeout: 1s
            """
        }

        static let lit = service("lit", route: "{ host: \(host), path: \"\(path)\" }", exactFile: true)
        static let other = service("other", route: "{ host: \(host), path: / }", exactFile: false)

        /// Who answered: `exact` (lit's file at the path), `lit`, `other`, or the raw reply.
        static func who(_ reply: (Int, String)?) -> String {
            guard let (status, body) = reply else { return "no answer" }
            let text = body.trimmingCharacters(in: .whitespacesAndNewlines)
            if text == "lit-exact" { return "exact" }
            if text.hasPrefix("lit-") { return "lit" }
            if text.hasPrefix("other-") { return "other" }
            return "\(status) \(text.prefix(80))"
        }

        /// Every request and who must answer it. `decodes`: the proxy matches the percent-decoded
        /// path (nginx, Caddy) rather than the bytes sent (HAProxy).
        static func expectations(decodes: Bool) -> [(request: String, answer: String)] {
            var cases: [(String, String)] = [
                (path, "exact"),
                (path + "?q=(1)&r=@", "exact"),  // the query is not part of the path
                (path + "/", "lit"),
                (path + "/sub/x", "lit"),
                (path + "Z", "other"),  // no segment boundary
                (String(path.dropLast()), "other"),  // a prefix of the last segment
                (String(path[..<path.lastIndex(of: "/")!]), "other"),  // the parent
                (path.replacingOccurrences(of: "Z9", with: "z9"), "other"),  // case
                (path.uppercased(), "other"),
                (path.replacingOccurrences(of: "g(h)i", with: "ghi"), "other"),  // parentheses are no regex group
                (path.replacingOccurrences(of: "i+j", with: "iij"), "other"),  // `+` is no repetition
            ]
            // One character changed or dropped, at every position but the leading `/`: `.` is
            // no wildcard, `-` no range, and so on.
            let chars = Array(path)
            for i in chars.indices.dropFirst() {
                var changed = chars, dropped = chars
                changed[i] = chars[i] == "x" ? "y" : "x"
                dropped.remove(at: i)
                cases.append((String(changed), "other"))
                cases.append((String(dropped), "other"))
            }
            // Percent-encoded characters (`~`, `!`, `Z`): the same path once decoded. nginx and
            // Caddy match the decoded path; HAProxy's `path` fetch is the bytes sent.
            for (plain, encoded) in [("~", "%7E"), ("!", "%21"), ("Z", "%5A")] {
                cases.append((path.replacingOccurrences(of: plain, with: encoded), decodes ? "exact" : "other"))
            }
            return cases
        }

        /// Waits until both services answer through the proxy with the file that routes both (and,
        /// `settled`, no worker of an earlier file is left to take a request), then checks every
        /// expectation.
        static func check(_ proxy: String, decodes: Bool, daemon: DaemonProcess, routes: @escaping () -> String,
                          settled: () -> Bool = { true }, diagnosis: () async -> String, get: @escaping (String) async -> (Int, String)?) async {
            let serving = await daemon.waitUntil(timeout: .seconds(60)) {
                let a = await get(path), b = await get(path + "/sub"), c = await get("/")
                return who(a) == "exact" && who(b) == "lit" && who(c) == "other" && settled()
            }
            let servingDiagnosis = serving ? "" : await diagnosis()
            #expect(serving, "\(proxy): \(daemon.log)\n\(servingDiagnosis)")
            guard serving else { return }
            var wrong: [String] = []
            for (request, answer) in expectations(decodes: decodes) {
                let got = who(await get(request))
                if got != answer { wrong.append("\(request) -> \(got), expected \(answer)") }
            }
            let wrongDiagnosis = wrong.isEmpty ? "" : await diagnosis()
            #expect(wrong.isEmpty, "\(proxy):\n\(wrong.joined(separator: "\n"))\n\(wrongDiagnosis)\n\(daemon.log)")
        }

        @Test func nginxMatchesEveryAllowedCharacterLiterally() async throws {
            let s = try await Scenario("lit-nginx", ports: 28600...28609)
            let stack = try await NginxStack(s)
            var finished = false
            defer { if !finished { Task { await stack.stop(); await s.cleanup() } } }
            try stack.write("lit.yaml", Self.lit)
            try stack.write("other.yaml", Self.other)
            try stack.start()
            // A worker of the file before the last reload (one service not ready yet: 503) takes
            // connections until it has handled its signal, which can take a while on loaded cores.
            await Self.check("nginx", decodes: true, daemon: stack.daemon, routes: { stack.routes }, settled: { stack.reloadSettled },
                             diagnosis: { await stack.diagnosis() }, get: { await stack.get(Self.host, $0) })
            #expect(stack.routes.contains("location = \"\(Self.path)\" {"), "\(stack.routes)")
            finished = true
            #expect(await stack.stop() == 0)
            await s.cleanup()
        }

        @Test func caddyMatchesEveryAllowedCharacterLiterallyAndByCase() async throws {
            let s = try await Scenario("lit-caddy", ports: 28620...28629)
            let stack = try ProxyStack(.caddy, s, port: 28630, adminPort: 28631)
            var finished = false
            defer { if !finished { Task { await stack.stop(); await s.cleanup() } } }
            try stack.write("lit.yaml", Self.lit)
            try stack.write("other.yaml", Self.other)
            try await stack.start()
            await Self.check("caddy", decodes: true, daemon: stack.daemon, routes: { stack.routes }, diagnosis: { await stack.diagnosis() },
                             get: { await stack.get(Self.host, $0) })
            finished = true
            #expect(await stack.stop() == 0)
            await s.cleanup()
        }

        @Test func haproxyMatchesEveryAllowedCharacterLiterally() async throws {
            let s = try await Scenario("lit-haproxy", ports: 28640...28649)
            let stack = try ProxyStack(.haproxy, s, port: 28650, adminPort: 28651)
            var finished = false
            defer { if !finished { Task { await stack.stop(); await s.cleanup() } } }
            try stack.write("lit.yaml", Self.lit)
            try stack.write("other.yaml", Self.other)
            try await stack.start()
            await Self.check("haproxy", decodes: false, daemon: stack.daemon, routes: { stack.routes }, diagnosis: { await stack.diagnosis() },
                             get: { await stack.get(Self.host, $0) })
            finished = true
            #expect(await stack.stop() == 0)
            await s.cleanup()
        }

        /// Issue 26, "done when": `/admin*` through real Caddy. Service `admin` serves `/admin`;
        /// service `b` then asks for `/admin*`, which Caddy's `path` matcher would read as a prefix
        /// wildcard (sorted first, it took `/admin`'s traffic). `flotilla validate` and the daemon
        /// refuse it at its place in b.yaml; Caddy keeps sending `/admin` to `admin`; b gets
        /// nothing: no replica, no route.
        @Test func adminStarIsRefusedAndAdminKeepsItsTrafficThroughCaddy() async throws {
            let s = try await Scenario("lit-adminstar", ports: 28660...28669)
            let stack = try ProxyStack(.caddy, s, port: 28670, adminPort: 28671)
            var finished = false
            defer { if !finished { Task { await stack.stop(); await s.cleanup() } } }
            try stack.write("admin.yaml", ProxyRoutingScenario.service("admin", replicas: 1, route: "{ host: \(Self.host), path: /admin, strip_prefix: true }",
                                                                       files: ["index.html": "admin-${PORT}", "x": "admin-x"]))
            try await stack.start()
            let daemon: DaemonProcess = stack.daemon
            func reply(_ path: String) async -> String {
                guard let (status, body) = await stack.get(Self.host, path) else { return "no answer" }
                return "\(status) \(body.prefix(40))"
            }
            let serving = await daemon.waitUntil(timeout: .seconds(60)) { await reply("/admin/").hasPrefix("200 admin-") }
            let servingDiagnosis = serving ? "" : await stack.diagnosis()
            #expect(serving, "\(daemon.log)\n\(servingDiagnosis)")

            // b asks for `/admin*` (and would answer everything it got with its own name).
            let b = ProxyRoutingScenario.service("b", replicas: 1, route: "{ host: \(Self.host), path: \"/admin*\" }",
                                                 files: ["index.html": "b-${PORT}", "admin": "b-admin"])
            try stack.write("b.yaml", b)
            let lines = b.split(separator: "\n", omittingEmptySubsequences: false)
            let line = try #require(lines.firstIndex { $0.hasPrefix("routes:") }) + 1
            let column = try #require(lines[line - 1].range(of: "\"/admin*\"")).lowerBound.utf16Offset(in: lines[line - 1]) + 1
            let place = "b.yaml:\(line):\(column)"

            let (code, _, err) = try runFlotilla(["validate", stack.manifests])
            #expect(code == 1 && err.contains("\(place): error: path \"/admin*\""), "expected \(place)\n\(err)")
            // The daemon's log line: `error invalid manifest at=b.yaml:7:34 error="path \"/admin*\" …"`.
            let refused = await daemon.waitUntil(timeout: .seconds(30)) {
                daemon.lines.contains { $0.contains("invalid manifest") && $0.contains("at=\(place) ") && $0.contains("/admin*") }
            }
            #expect(refused, "expected \(place)\n\(daemon.log)")
            // A watchdog pass or two later: nothing of b runs or is routed, and /admin is still admin's.
            try await Task.sleep(for: .seconds(2))
            #expect(try await s.containers("b").isEmpty)
            #expect(!stack.routes.contains("admin*") && !stack.routes.contains("\\x{2A}"), "\(stack.routes)")
            for path in ["/admin", "/admin/", "/admin/x"] {
                for _ in 0..<5 {
                    let answer = await reply(path)
                    #expect(answer.hasPrefix("200 admin-"), "\(path) -> \(answer)\n\(stack.routes)")
                }
            }
            // And nothing else on the host became admin's: the match is whole segments.
            #expect(await reply("/adminx").hasPrefix("404"), "\(stack.routes)")
            #expect(await reply("/admin*").hasPrefix("404"), "\(stack.routes)")
            finished = true
            #expect(await stack.stop() == 0)
            await s.cleanup()
        }
    }
}
