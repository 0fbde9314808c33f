import FlotillaAgent
import FlotillaCore
import FlotillaEngine
import Foundation
import Testing

extension EndToEndSuites {
    /// Flotilla's routes served by a real nginx on loopback, started and stopped by PID here.
    @Suite("Routes end to end through a real nginx",
           .enabled(if: TestEngine.available && FileManager.default.isExecutableFile(atPath: "/usr/sbin/nginx"), "needs the engine and nginx (run scripts/test)"),
           .serialized)
    struct NginxEndToEndTests {
        /// A replica answers with its own port, so replies tell replicas apart. It takes a second to
        /// start listening, which keeps a visible "no ready replica" window after a crash.
        static func service(_ name: String, replicas: Int, host: String, path: String = "/", mark: String = "1") -> String {
            let dir = path == "/" ? "/w" : "/w" + path
            return """
            name: \(name)
            image: \(TestEngine.image)
            command: ["/bin/sh", "-c", "mkdir -p \(dir) && echo \(name)-${PORT} > \(dir)/index.html && echo ok > /w/healthz && sleep 1 && exec /bin/httpd -f -p ${PORT} -h /w"]
            replicas: \(replicas)
            port: 8080
            network: host
            routes: [{ host: \(host), path: \(path) }]
            health: { http: /healthz, interval: 1s, timeout: 1s, retries: 10 }
            stop_timeout: 1s
            env: { MARK: "\(mark)" }
            """
        }

        @Test func nginxServesEveryReplicaFollowsScalingAnswers503AndLosesNothingInARollingUpdate() async throws {
            let s = try await Scenario("nginx", ports: 24100...24199)
            let stack = try await NginxStack(s)
            defer { Task { await stack.stop(); await s.cleanup() } }
            let manifests = stack.manifests
            try Self.service("web", replicas: 2, host: "web.example.test").write(toFile: manifests + "/web.yaml", atomically: true, encoding: .utf8)
            try Self.service("api", replicas: 1, host: "api.example.test", path: "/api").write(toFile: manifests + "/api.yaml", atomically: true, encoding: .utf8)
            try stack.start()
            let daemon: DaemonProcess = stack.daemon

            func get(_ host: String, _ path: String = "/") async -> (Int, String)? { await stack.get(host, path) }
            func webPorts() async throws -> Set<String> {
                Set(try await s.containers("web").filter { $0.state == .running }.compactMap { $0.hostPort.map { "web-\($0)" } })
            }
            func replies(_ n: Int) async -> Set<String> { Set(await stack.replies("web.example.test", n)) }

            // Both services reachable through nginx; the replies cover every replica.
            #expect(await daemon.waitUntil(timeout: .seconds(30)) {
                let web = await get("web.example.test")?.0
                let api = await get("api.example.test", "/api/")?.0
                return web == 200 && api == 200
            }, "\(daemon.log)")
            // The api's own reply (its port in the body). One request may meet nginx's 2 s
            // fail_timeout after a refused connection on loaded cores (seen once: 503 right after
            // a 200), so the reply is awaited briefly rather than taken from a single request.
            var apiReply: (Int, String)?
            #expect(await daemon.waitUntil(timeout: .seconds(10)) {
                apiReply = await get("api.example.test", "/api/")
                return apiReply?.1.hasPrefix("api-") == true
            }, "\(String(describing: apiReply)) \(stack.routes) \(daemon.log)")
            #expect(await get("unknown.example.test")?.0 != 200)
            let two = try await webPorts()
            #expect(two.count == 2)
            #expect(await daemon.waitUntil { await replies(20) == two }, "replies should cover \(two)")

            // Scale up: the new replica receives traffic after the route refresh.
            try Self.service("web", replicas: 3, host: "web.example.test").write(toFile: manifests + "/web.yaml", atomically: true, encoding: .utf8)
            #expect(try await daemon.waitUntil { try await webPorts().count == 3 })
            let three = try await webPorts()
            #expect(await daemon.waitUntil { await replies(30) == three }, "replies should cover \(three)")

            // Kill every replica: nginx answers 503 (never 502 or a hang) until a replacement is ready.
            let victims = try await s.containers("web").map(\.id)
            for id in victims {
                let kill = try await s.engine.transport.send(.POST, "/v\(s.engine.apiVersion)/containers/\(id)/kill?signal=KILL")
                #expect((200..<300).contains(kill.status), "kill: \(kill.status) \(String(decoding: kill.body, as: UTF8.self))")
            }
            var statuses: [Int] = []
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline {
                let status = await get("web.example.test")?.0 ?? -1
                statuses.append(status)
                if status == 200 && statuses.contains(503) { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            let survivors = try await s.containers("web").filter { victims.contains($0.id) && $0.state == .running }.map(\.name)
            #expect(statuses.contains(503), "statuses seen: \(Set(statuses)); killed replicas still running: \(survivors) \(daemon.log)")
            #expect(statuses.last == 200)
            #expect(Set(statuses).isSubset(of: [200, 503]), "statuses seen: \(Set(statuses))")
            #expect(await daemon.waitUntil { (try? await webPorts().count) == 3 })

            // A rolling update under a steady, bounded request loop loses no request.
            try await Task.sleep(for: .seconds(1))
            let loop = Task { () -> [Int] in
                var results: [Int] = []
                for _ in 0..<400 {
                    if Task.isCancelled { break }
                    results.append(await proxied(port: stack.port, host: "web.example.test", path: "/", timeout: .seconds(10))?.0 ?? -1)
                    try? await Task.sleep(for: .milliseconds(15))
                }
                return results
            }
            try Self.service("web", replicas: 3, host: "web.example.test", mark: "2").write(toFile: manifests + "/web.yaml", atomically: true, encoding: .utf8)
            let rolled = await daemon.waitUntil(timeout: .seconds(60)) {
                let web = (try? await s.containers("web")) ?? []
                return web.count == 3 && web.allSatisfy { $0.canonicalSpec?.contains("env.MARK=\"2\"") == true }
            }
            let results = await loop.value
            #expect(rolled, "\(daemon.log)")
            #expect(results.count > 50)
            #expect(results.allSatisfy { $0 == 200 }, "non-200 during the rollout: \(results.filter { $0 != 200 })")

            // A route file that nginx rejects is never left live: the live file keeps its bytes,
            // and nginx (never reloaded with it) keeps serving the routes it had. The host is
            // valid, but too long for nginx's default server_names_hash_bucket_size.
            #expect(daemon.log.contains("routes updated"))
            let live = stack.proxyDir + "/routes.conf"
            let before = try #require(FileManager.default.contents(atPath: live))
            let longHost = Array(repeating: String(repeating: "a", count: 60), count: 3).joined(separator: ".") + ".example.test"
            try Self.service("long", replicas: 1, host: longHost).write(toFile: manifests + "/long.yaml", atomically: true, encoding: .utf8)
            #expect(await daemon.waitUntil(timeout: .seconds(30)) { daemon.log.contains("failed the proxy's check") }, "\(daemon.log)")
            let rejection = daemon.lines.first { $0.contains("failed the proxy's check") } ?? ""
            #expect(rejection.contains("server_names_hash"), "the checker's output is logged: \(rejection)")
            try await Task.sleep(for: .seconds(1))  // the long service's replica joins: another rejected pass
            #expect(FileManager.default.contents(atPath: live) == before, "\(stack.routes)")
            #expect(!stack.routes.contains(longHost))
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: stack.proxyDir).filter { $0.hasSuffix(".tmp") }
            #expect(leftovers.isEmpty, "\(leftovers)")
            let current = try await webPorts()
            #expect(await daemon.waitUntil { await replies(30) == current }, "nginx should still serve \(current)")
            #expect(await stack.stop() == 0)
            await s.cleanup()
        }
    }
}

/// GET through the proxy with a Host header, on loopback.
/// `timeout` bounds a reply; where a test asserts that nothing is lost (not how fast), it is long.
func proxied(port: Int, host: String, path: String, timeout: Duration = .seconds(3)) async -> (Int, String)? {
    let client = HTTP1Client(target: .tcp(host: "127.0.0.1", port: port), host: host)
    guard let response = try? await client.send(.GET, path, timeout: timeout) else { return nil }
    return (response.status, String(decoding: response.body, as: UTF8.self))
}
