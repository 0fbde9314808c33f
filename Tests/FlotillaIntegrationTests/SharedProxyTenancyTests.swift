import FlotillaCore
import Foundation
import Testing

extension EndToEndSuites {
    /// Issue 26, "tenancy": two projects, two `flotilla run` daemons, ONE real proxy that
    /// includes both projects' route files (each its own file, one claim folder beside them, as
    /// the README says to set it up). Both projects have a service named `web`. Each test says
    /// what broke before. Ports 28700–28759.
    @Suite("Several projects, one real proxy",
           .enabled(if: TestEngine.available && FileManager.default.isExecutableFile(atPath: "/usr/sbin/nginx")
                        && ProxyStack.Proxy.installed(.caddy) && ProxyStack.Proxy.installed(.haproxy),
                    "needs the engine, nginx, caddy and haproxy (run scripts/test)"),
           .serialized)
    struct SharedProxyTenancyTests {
        /// A busybox replica answering `BODY-PORT` at `/` and for any path (its 404 page).
        static func service(_ name: String, body: String, routes: String) -> String {
            """
            name: \(name)
            image: \(TestEngine.image)
            command: ["/bin/sh", "-c", "mkdir -p /w && echo \(body)-${PORT} > /w/index.html && echo E404:/w/index.html > /w/httpd.conf && echo ok > /w/healthz && exec /bin/httpd -f -p ${PORT} -h /w -c /w/httpd.conf"]
            replicas: 1
            port: 8080
            network: host
            routes: \(routes)
            health: { http: /healthz, interval: 1s, timeout: 1s, retries: 30 }
            stop_timeout: 1s
            """
        }

        /// The proxy's folder, its two projects, their daemons and the proxy process, and the
        /// cleanup that ends them all (by PID) and removes the projects' containers.
        final class Shared: @unchecked Sendable {
            let one: Scenario, two: Scenario
            let folder: String
            let port: Int
            var proxy: pid_t = 0
            var daemons: [DaemonProcess] = []

            init(_ name: String, one: ClosedRange<Int>, two: ClosedRange<Int>, port: Int) async throws {
                self.one = try await Scenario("\(name)-one", ports: one)
                self.two = try await Scenario("\(name)-two", ports: two)
                self.port = port
                folder = NSTemporaryDirectory() + self.one.project + "-proxy"
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            }

            /// `flotilla run` for `s`, writing `routes` in `format`, claims in the default folder
            /// beside it (where the other project's file is too).
            func daemon(_ s: Scenario, routes: String, format: RouteFormat, check: String, reload: String, environment: [String: String] = [:]) throws -> DaemonProcess {
                let daemon = try DaemonProcess([s.directory, "--engine", TestEngine.endpoint!, "--project", s.project, "--state-dir", s.stateDirectory,
                                                "--port-range", "\(s.portRange.lowerBound)-\(s.portRange.upperBound)", "--resync-interval", "10m",
                                                "--routes", routes, "--routes-format", format.rawValue, "--proxy-listen", "127.0.0.1:\(port)",
                                                "--routes-check", check, "--routes-reload", reload], environment: environment)
                daemons.append(daemon)
                return daemon
            }

            /// `200 BODY` through the proxy, or what came instead.
            func get(_ host: String, _ path: String = "/") async -> String {
                guard let (status, body) = await proxied(port: port, host: host, path: path) else { return "no answer" }
                return "\(status) \(body.trimmingCharacters(in: .whitespacesAndNewlines))"
            }

            /// Every one of 20 requests answered by the one replica of `s`'s `web` whose reply starts with `body`.
            func allAnsweredBy(_ s: Scenario, body: String, host: String, path: String = "/") async throws -> [String] {
                let web = try #require(try await s.containers("web").first)
                let expected = "200 \(body)-\(web.hostPort ?? -1)"
                var wrong: [String] = []
                for _ in 0..<20 {
                    let reply = await get(host, path)
                    if reply != expected { wrong.append("\(reply) (expected \(expected))") }
                }
                return wrong
            }

            func stop() async {
                for daemon in daemons { _ = await daemon.stop() }
                daemons = []
                if proxy > 0 {
                    kill(proxy, SIGTERM)
                    var status: Int32 = 0
                    waitpid(proxy, &status, 0)
                    proxy = 0
                }
                await two.cleanup()
                await one.cleanup()
                try? FileManager.default.removeItem(atPath: folder)
            }
        }

        /// Both projects have a service `web`; each routes its own host through one nginx.
        /// Before, both files declared `upstream flotilla_web`: `nginx -t` failed on the second
        /// project's file, which never went live, so its host was answered by nginx's default
        /// server (the first project's). Now each replica answers its own host and `nginx -t`
        /// passes. The second project's `side` asks for a path on the first one's host: nginx
        /// would ignore a second `server` for that name, so it is refused at the route, naming
        /// the first project (claims on nginx are per host).
        @Test func twoProjectsEachWithAServiceWebServeTheirOwnHostsThroughOneNginx() async throws {
            let shared = try await Shared("tenancy-nginx", one: 28700...28704, two: 28705...28709, port: 28710)
            var finished = false
            defer { if !finished { Task { await shared.stop() } } }
            let (one, two, folder) = (shared.one, shared.two, shared.folder)
            let file = { (s: Scenario) in folder + "/" + s.project + ".conf" }
            for s in [one, two] { try "".write(toFile: file(s), atomically: true, encoding: .utf8) }
            let config = NginxHarness.mainConfig(dir: folder)
                .replacingOccurrences(of: "include \(folder)/routes.conf;", with: "include \(file(one));\n    include \(file(two));")
            try #require(config.contains("include \(file(two));"))
            try config.write(toFile: folder + "/nginx.conf", atomically: true, encoding: .utf8)
            let nginxArgs = "-p \(folder) -c \(folder)/nginx.conf"
            shared.proxy = try spawn(["/usr/sbin/nginx", "-p", folder, "-c", folder + "/nginx.conf", "-g", "daemon off;"])
            var errorLog: String { "nginx error.log:\n" + ((try? String(contentsOfFile: folder + "/error.log", encoding: .utf8)) ?? "") }
            func daemon(_ s: Scenario) throws -> DaemonProcess {
                try shared.daemon(s, routes: file(s), format: .nginx, check: "nginx -t -q \(nginxArgs)", reload: "nginx -s reload \(nginxArgs)")
            }

            try one.write("web.yaml", Self.service("web", body: "one-web", routes: "[{ host: one.test }]"))
            let first = try daemon(one)
            #expect(await first.waitUntil(timeout: .seconds(60)) { await shared.get("one.test").hasPrefix("200 one-web-") }, "\(first.log)\n\(errorLog)")

            try two.write("web.yaml", Self.service("web", body: "two-web", routes: "[{ host: two.test }]"))
            let side = Self.service("side", body: "two-side", routes: "[{ host: one.test, path: /side }]")
            try two.write("side.yaml", side)
            let second = try daemon(two)
            // And no worker of the file before the last reload is left to take a request (nginx's
            // reload only signals the master; see NginxStack.reloadSettled).
            let serving = await second.waitUntil(timeout: .seconds(60)) {
                await shared.get("two.test").hasPrefix("200 two-web-")
                    && processTree(of: shared.proxy).dropFirst().filter { $0.commandLine == "nginx: worker process" }.count == 1
            }
            let answer = serving ? "" : await shared.get("two.test")
            #expect(serving, "two.test -> \(answer)\n\(second.log)\n\(errorLog)")

            // Each project's replica answers its own host, every time, and nginx takes both files.
            let wrongOne = try await shared.allAnsweredBy(one, body: "one-web", host: "one.test")
            let wrongTwo = try await shared.allAnsweredBy(two, body: "two-web", host: "two.test")
            #expect(wrongOne.isEmpty && wrongTwo.isEmpty, "\(wrongOne)\n\(wrongTwo)\n\(errorLog)")
            let check = try shell("nginx -t \(nginxArgs) 2>&1")
            #expect(check.0 == 0 && !check.1.contains("conflicting server name"), "\(check.1)")
            for (s, daemon) in [(one, first), (two, second)] {
                let routes = (try? String(contentsOfFile: file(s), encoding: .utf8)) ?? ""
                #expect(routes.contains("upstream flotilla_\(s.project)_web {") && routes.contains("proxy_pass http://flotilla_\(s.project)_web;"), "\(routes)")
                #expect(!daemon.log.contains("failed the proxy's check"), "\(daemon.log)")
            }

            // side: refused at its route, naming the first project; not run, not routed.
            let line = try #require(side.split(separator: "\n").firstIndex { $0.hasPrefix("routes:") }) + 1
            let refusal = "host one.test is already served by project \\\"\(one.project)\\\""
            let refused = await second.waitUntil(timeout: .seconds(30)) {
                second.lines.contains { $0.contains("invalid manifest") && $0.contains("at=side.yaml:\(line):") && $0.contains(refusal) }
            }
            #expect(refused, "expected side.yaml:\(line): \(refusal)\n\(second.log)")
            #expect(try await two.containers("side").isEmpty)
            #expect(!((try? String(contentsOfFile: file(two), encoding: .utf8)) ?? "").contains("one.test"))
            #expect(await shared.get("one.test", "/side").contains(" one-web-"))  // one.test/ is one's: its 404 page

            finished = true
            await shared.stop()
        }

        /// Project one serves shop.test/api behind one Caddy; project two asks for shop.test/web (a
        /// different path, which host+path claims allowed) and serves two.test. Before, two's file
        /// got a second `http://shop.test` site block: valid alone (its check passed), but the
        /// Caddyfile importing both was "ambiguous", so every reload failed from then on (two.test
        /// was never served, and one's later changes would not be either). Now a host is one
        /// project's behind Caddy: `side` is refused at its route, naming project one (`plan`
        /// says so too), two.test is served, and the whole Caddyfile is valid.
        @Test func behindOneCaddyAHostIsOneProjectsAndTheOtherProjectStillServes() async throws {
            let shared = try await Shared("tenancy-caddy", one: 28720...28724, two: 28725...28729, port: 28730)
            var finished = false
            defer { if !finished { Task { await shared.stop() } } }
            let (one, two, folder) = (shared.one, shared.two, shared.folder)
            let adminPort = 28731
            let environment = ["HOME": folder, "XDG_DATA_HOME": folder + "/data", "XDG_CONFIG_HOME": folder + "/config"]
            let file = { (s: Scenario) in folder + "/" + s.project + ".caddy" }
            for s in [one, two] {
                try RouteFormat.caddy.render(RouteTable(entries: []), listen: "127.0.0.1:\(shared.port)", project: s.project).write(toFile: file(s), atomically: true, encoding: .utf8)
            }
            let main = folder + "/Caddyfile"
            try "{\n\tadmin 127.0.0.1:\(adminPort)\n}\nimport \(file(one))\nimport \(file(two))\n".write(toFile: main, atomically: true, encoding: .utf8)
            shared.proxy = try spawn(["/usr/bin/caddy", "run", "--config", main, "--adapter", "caddyfile"], environment: environment, output: folder + "/caddy.log")
            let deadline = ContinuousClock.now + .seconds(20)
            while !tcpAccepts(port: adminPort), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
            try #require(tcpAccepts(port: adminPort), "caddy's admin API does not listen")
            var caddyLog: String { "caddy output:\n" + ((try? String(contentsOfFile: folder + "/caddy.log", encoding: .utf8)) ?? "").split(separator: "\n").suffix(20).joined(separator: "\n") }
            func daemon(_ s: Scenario) throws -> DaemonProcess {
                try shared.daemon(s, routes: file(s), format: .caddy, check: "caddy validate --config {file} --adapter caddyfile",
                                  reload: "caddy reload --config \(main) --adapter caddyfile --address 127.0.0.1:\(adminPort)", environment: environment)
            }

            try one.write("web.yaml", Self.service("web", body: "one-web", routes: "[{ host: shop.test, path: /api, strip_prefix: true }]"))
            let first = try daemon(one)
            #expect(await first.waitUntil(timeout: .seconds(60)) { await shared.get("shop.test", "/api").hasPrefix("200 one-web-") }, "\(first.log)\n\(caddyLog)")

            try two.write("web.yaml", Self.service("web", body: "two-web", routes: "[{ host: two.test }]"))
            let side = Self.service("side", body: "two-side", routes: "[{ host: shop.test, path: /web }]")
            try two.write("side.yaml", side)
            let line = try #require(side.split(separator: "\n").firstIndex { $0.hasPrefix("routes:") }) + 1
            let second = try daemon(two)

            // two.test goes live through the same Caddy, each host answered by its own project.
            let serving = await second.waitUntil(timeout: .seconds(60)) { await shared.get("two.test").hasPrefix("200 two-web-") }
            let answer = serving ? "" : await shared.get("two.test")
            #expect(serving, "two.test -> \(answer)\n\(second.log)\n\(caddyLog)")
            let refusal = "host shop.test is already served by project \\\"\(one.project)\\\""
            let refused = await second.waitUntil(timeout: .seconds(30)) {
                second.lines.contains { $0.contains("invalid manifest") && $0.contains("at=side.yaml:\(line):") && $0.contains(refusal) }
            }
            #expect(refused, "expected side.yaml:\(line): \(refusal)\n\(second.log)")
            let plan = try two.cli("plan", ["--routes", file(two), "--routes-format", "caddy"])
            #expect(plan.0 == 1 && plan.2.contains("side.yaml:\(line):") && plan.2.contains("host shop.test is already served by project \"\(one.project)\""),
                    "\(plan.1)\n\(plan.2)")
            let wrongOne = try await shared.allAnsweredBy(one, body: "one-web", host: "shop.test", path: "/api")
            let wrongTwo = try await shared.allAnsweredBy(two, body: "two-web", host: "two.test")
            #expect(wrongOne.isEmpty && wrongTwo.isEmpty, "\(wrongOne)\n\(wrongTwo)\n\(caddyLog)")
            // shop.test is one's site: a path it does not route is its 404, never two's.
            #expect(await shared.get("shop.test", "/web").hasPrefix("404 "))
            #expect(try await two.containers("side").isEmpty)
            #expect(!((try? String(contentsOfFile: file(two), encoding: .utf8)) ?? "").contains("shop.test"))
            let env = environment.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: " ")
            let whole = try shell("env \(env) caddy validate --config \(main) --adapter caddyfile 2>&1")
            #expect(whole.0 == 0, "\(whole.1)")
            for daemon in [first, second] {
                #expect(!daemon.log.contains("proxy reload failed") && !daemon.log.contains("failed the proxy's check"), "\(daemon.log)")
            }

            finished = true
            await shared.stop()
        }

        /// One HAProxy cannot serve two projects (README: one HAProxy per project): its single
        /// frontend holds every routing rule and the bind, and two frontends bound to one address
        /// would each get connections at random. Both files declare `frontend flotilla`, on
        /// purpose, so the mistake is loud and early: with HAProxy loading a folder of route
        /// files and the check reading it (no `{file}`), project two's file fails the check
        /// ("frontend 'flotilla' has the same name as …", logged), is never live, and project one
        /// keeps serving every request. (Names that differed per project would pass the check
        /// and split one.test's traffic between the two frontends.)
        @Test func aSecondProjectsFileInOneHAProxyFailsTheCheckAndTheFirstKeepsServing() async throws {
            let shared = try await Shared("tenancy-haproxy", one: 28740...28744, two: 28745...28749, port: 28750)
            var finished = false
            defer { if !finished { Task { await shared.stop() } } }
            let (one, two, folder) = (shared.one, shared.two, shared.folder)
            let routes = folder + "/routes.d", base = folder + "/base.cfg"
            try FileManager.default.createDirectory(atPath: routes, withIntermediateDirectories: true)
            let file = { (s: Scenario) in routes + "/" + s.project + ".cfg" }
            try "global\n    maxconn 256\n\ndefaults\n    mode http\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n"
                .write(toFile: base, atomically: true, encoding: .utf8)
            try RouteFormat.haproxy.render(RouteTable(entries: []), listen: "127.0.0.1:\(shared.port)", project: one.project).write(toFile: file(one), atomically: true, encoding: .utf8)
            shared.proxy = try spawn(["/usr/sbin/haproxy", "-W", "-f", base, "-f", routes], output: folder + "/haproxy.log")
            let deadline = ContinuousClock.now + .seconds(20)
            while !tcpAccepts(port: shared.port), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
            try #require(tcpAccepts(port: shared.port), "haproxy does not listen")
            var haproxyLog: String { "haproxy output:\n" + ((try? String(contentsOfFile: folder + "/haproxy.log", encoding: .utf8)) ?? "").split(separator: "\n").suffix(20).joined(separator: "\n") }
            // The check reads what the HAProxy loads (the folder): without -q, which hides the reasons too.
            func daemon(_ s: Scenario) throws -> DaemonProcess {
                try shared.daemon(s, routes: file(s), format: .haproxy, check: "haproxy -c -f \(base) -f \(routes)", reload: "kill -USR2 \(shared.proxy)")
            }

            try one.write("web.yaml", Self.service("web", body: "one-web", routes: "[{ host: one.test }]"))
            let first = try daemon(one)
            #expect(await first.waitUntil(timeout: .seconds(60)) { await shared.get("one.test").hasPrefix("200 one-web-") }, "\(first.log)\n\(haproxyLog)")

            try two.write("web.yaml", Self.service("web", body: "two-web", routes: "[{ host: two.test }]"))
            let second = try daemon(two)
            // Once two's replica is up its file is written, checked with one's, and refused.
            let rejected = await second.waitUntil(timeout: .seconds(60)) {
                second.lines.contains { $0.contains("route file failed the proxy's check") && $0.contains("frontend 'flotilla' has the same name as frontend 'flotilla'") }
            }
            #expect(rejected, "\(second.log)\n\(haproxyLog)")
            #expect(try await two.containers("web").count == 1)
            #expect(!FileManager.default.fileExists(atPath: file(two)))
            // One keeps every request of its host; two's host is no route of this HAProxy.
            let wrong = try await shared.allAnsweredBy(one, body: "one-web", host: "one.test")
            #expect(wrong.isEmpty, "\(wrong)\n\(haproxyLog)")
            #expect(await shared.get("two.test").hasPrefix("404 "))
            #expect(!first.log.contains("failed the proxy's check"), "\(first.log)")

            finished = true
            await shared.stop()
        }
    }
}
