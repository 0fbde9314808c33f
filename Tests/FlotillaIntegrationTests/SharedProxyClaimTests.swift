import FlotillaCore
import Foundation
import Testing

extension EndToEndSuites {
    /// Issue 26, "done when": a route host claimed twice, across two projects that feed ONE real
    /// nginx (each daemon writes its own route file, both included by the one nginx, one claim
    /// folder). The second project's claim is refused at load, naming the first; the first keeps
    /// serving through the proxy; the second project's route file never holds the route, while
    /// the rest of the second project is served. nginx includes the second project's file first,
    /// so a route that leaked into it would win the host (nginx takes the first of two servers
    /// with one name): the test sees the leak. Ports 28680–28695.
    @Suite("Route claims: two projects, one real nginx",
           .enabled(if: TestEngine.available && FileManager.default.isExecutableFile(atPath: "/usr/sbin/nginx"), "needs the engine and nginx (run scripts/test)"),
           .serialized)
    struct SharedProxyClaimTests {
        static let port = 28695

        /// A busybox replica answering `BODY-PORT` at `/` and for any path (its 404 page).
        static func service(_ name: String, body: String, host: String) -> String {
            """
            name: \(name)
            image: \(TestEngine.image)
            command: ["/bin/sh", "-c", "mkdir -p /w && echo \(body)-${PORT} > /w/index.html && echo E404:/w/index.html > /w/httpd.conf && echo ok > /w/healthz && exec /bin/httpd -f -p ${PORT} -h /w -c /w/httpd.conf"]
            replicas: 1
            port: 8080
            network: host
            routes: [{ host: \(host) }]
            health: { http: /healthz, interval: 1s, timeout: 1s, retries: 30 }
            stop_timeout: 1s
            """
        }

        @Test func theSecondProjectsClaimIsRefusedAndTheFirstKeepsServingThroughTheSameNginx() async throws {
            let first = try await Scenario("claim-one", ports: 28680...28684)
            let second = try await Scenario("claim-two", ports: 28685...28689)
            let proxy = NSTemporaryDirectory() + first.project + "-nginx"
            let claims = proxy + "/claims"
            try FileManager.default.createDirectory(atPath: proxy, withIntermediateDirectories: true)
            let routeFile = { (s: Scenario) in proxy + "/" + s.project + ".conf" }
            for s in [first, second] { try "".write(toFile: routeFile(s), atomically: true, encoding: .utf8) }
            // The second project's file first: see the suite's comment.
            let config = NginxHarness.mainConfig(dir: proxy)
                .replacingOccurrences(of: "include \(proxy)/routes.conf;", with: "include \(routeFile(second));\n    include \(routeFile(first));")
            try config.write(toFile: proxy + "/nginx.conf", atomically: true, encoding: .utf8)
            let nginxArgs = "-p \(proxy) -c \(proxy)/nginx.conf"
            let nginx = try spawn(["/usr/sbin/nginx", "-p", proxy, "-c", proxy + "/nginx.conf", "-g", "daemon off;"])
            func daemon(_ s: Scenario) throws -> DaemonProcess {
                try DaemonProcess([s.directory, "--engine", TestEngine.endpoint!, "--project", s.project, "--state-dir", s.stateDirectory,
                                   "--port-range", "\(s.portRange.lowerBound)-\(s.portRange.upperBound)", "--resync-interval", "10m",
                                   "--routes", routeFile(s), "--routes-format", "nginx", "--proxy-listen", "127.0.0.1:\(Self.port)",
                                   "--route-claims-dir", claims, "--routes-check", "nginx -t -q \(nginxArgs)", "--routes-reload", "nginx -s reload \(nginxArgs)"])
            }
            var daemons: [DaemonProcess] = []
            @Sendable func stopAll(_ daemons: [DaemonProcess]) async {
                for d in daemons { _ = await d.stop() }
                kill(nginx, SIGTERM)
                var status: Int32 = 0
                waitpid(nginx, &status, 0)
                await second.cleanup()
                await first.cleanup()
                try? FileManager.default.removeItem(atPath: proxy)
            }
            var finished = false
            defer { if !finished { let running = daemons; Task { await stopAll(running) } } }
            func get(_ host: String) async -> String {
                guard let (status, body) = await proxied(port: Self.port, host: host, path: "/") else { return "no answer" }
                return "\(status) \(body.trimmingCharacters(in: .whitespacesAndNewlines))"
            }
            var errorLog: String { "nginx error.log:\n" + ((try? String(contentsOfFile: proxy + "/error.log", encoding: .utf8)) ?? "") }

            // The first project serves shop.test through the proxy.
            try first.write("shop.yaml", Self.service("shop", body: "one-shop", host: "shop.test"))
            let one = try daemon(first)
            daemons.append(one)
            #expect(await one.waitUntil(timeout: .seconds(60)) { await get("shop.test").hasPrefix("200 one-shop-") }, "\(one.log)\n\(errorLog)")
            let shop = try #require(try await first.containers("shop").first)

            // The second project wants shop.test too, and serves two.test as well.
            let thief = Self.service("thief", body: "two-thief", host: "shop.test")
            try second.write("thief.yaml", thief)
            try second.write("extra.yaml", Self.service("extra", body: "two-extra", host: "two.test"))
            let two = try daemon(second)
            daemons.append(two)
            // Refused at the route, naming the first project (the log line:
            // `error invalid manifest at=thief.yaml:8:11 error="route shop.test/ is already served by project \"…\" …"`).
            let line = try #require(thief.split(separator: "\n").firstIndex { $0.hasPrefix("routes:") }) + 1
            let refusal = "route shop.test/ is already served by project \\\"\(first.project)\\\""
            let refused = await two.waitUntil(timeout: .seconds(60)) {
                two.lines.contains { $0.contains("invalid manifest") && $0.contains("at=thief.yaml:\(line):") && $0.contains(refusal) }
            }
            #expect(refused, "expected thief.yaml:\(line): \(refusal)\n\(two.log)")
            // `flotilla plan` with the same route file and claim folder says so too, at the route.
            let plan = try second.cli("plan", ["--routes", routeFile(second), "--route-claims-dir", claims])
            #expect(plan.0 == 1 && plan.2.contains("thief.yaml:\(line):") && plan.2.contains("route shop.test/ is already served by project \"\(first.project)\""),
                    "\(plan.1)\n\(plan.2)")
            // The rest of the second project goes live through the same nginx: its file is read.
            #expect(await two.waitUntil(timeout: .seconds(60)) { await get("two.test").hasPrefix("200 two-extra-") }, "\(two.log)\n\(errorLog)")
            let secondRoutes = (try? String(contentsOfFile: routeFile(second), encoding: .utf8)) ?? ""
            #expect(secondRoutes.contains("server_name two.test;") && !secondRoutes.contains("shop.test"), "\(secondRoutes)")
            #expect(try await second.containers("thief").isEmpty)

            // The first keeps serving: every reply comes from its replica, which was not replaced.
            for _ in 0..<20 {
                let reply = await get("shop.test")
                #expect(reply == "200 one-shop-\(shop.hostPort ?? -1)", "\(reply)\n\(errorLog)")
            }
            #expect(try await first.containers("shop").map(\.id) == [shop.id])
            #expect(!one.log.contains("already served by project"), "\(one.log)")
            let firstRoutes = (try? String(contentsOfFile: routeFile(first), encoding: .utf8)) ?? ""
            #expect(firstRoutes.contains("server_name shop.test;"), "\(firstRoutes)")

            finished = true
            await stopAll(daemons)
        }
    }
}
