import FlotillaAgent
import FlotillaCore
import FlotillaEngine
import Foundation
import Testing

extension EndToEndSuites {
    /// Continuous health and canary releases, end to end: the real engine, `flotilla run`, and a
    /// real nginx serving the routes it writes.
    @Suite("Serving end to end through a real nginx",
           .enabled(if: TestEngine.available && FileManager.default.isExecutableFile(atPath: "/usr/sbin/nginx"), "needs the engine and nginx (run scripts/test)"),
           .serialized)
    struct ServingEndToEndTests {
        /// Each replica answers `MARK-PORT`, so replies tell versions and replicas apart.
        static func service(mark: String, extra: String = "") -> String {
            """
            name: web
            image: \(TestEngine.image)
            command: ["/bin/sh", "-c", "mkdir -p /w && echo ${MARK}-${PORT} > /w/index.html && echo ok > /w/healthz && exec /bin/httpd -f -p ${PORT} -h /w"]
            replicas: 2
            port: 8080
            network: host
            routes:
              - hosts: [web.example.test, www.example.test]
              - { host: web.example.test, path: /app, strip_prefix: true }
            health: { http: /healthz, interval: 1s, timeout: 1s, retries: 2 }
            stop_timeout: 1s
            env: { MARK: \(mark) }
            \(extra)
            """
        }

        static let host = "web.example.test"

        func replies(_ stack: NginxStack, _ n: Int) async -> [String] { await stack.replies(Self.host, n) }

        @Test func aReplicaWhoseHealthFailsLeavesTheUpstreamAndIsReplaced() async throws {
            let s = try await Scenario("health", ports: 24300...24399)
            let stack = try await NginxStack(s)
            defer { Task { await stack.stop(); await s.cleanup() } }
            try stack.write("web.yaml", Self.service(mark: "v1"))
            try stack.start()
            let running = { try await s.containers("web").filter { $0.state == .running } }
            let serving = await stack.daemon.waitUntil(timeout: .seconds(30)) {
                let count = (try? await running().count) ?? 0
                let seen = Set(await replies(stack, 6))
                return count == 2 && seen.count == 2
            }
            if !serving { Issue.record("two replicas should run and answer through nginx\n\(await stack.diagnosis())\n\(stack.daemon.log)") }
            // Both hosts, and a prefix the proxy strips (/app/healthz reaches the replica as /healthz).
            let www = await stack.get("www.example.test")
            #expect(www?.1.hasPrefix("v1-") == true, "\(String(describing: www)) \(stack.routes) \(stack.daemon.log)")
            let stripped = await stack.get(Self.host, "/app/healthz"), app = await stack.get(Self.host, "/app"), healthz = await stack.get(Self.host, "/healthz")
            #expect(stripped?.1 == "ok\n", "\(String(describing: stripped))")
            #expect(app?.1.hasPrefix("v1-") == true, "\(String(describing: app))")
            #expect(healthz?.1 == "ok\n", "\(String(describing: healthz))\n\(stack.routes)")

            let victim = try #require(try await running().first)
            let port = try #require(victim.hostPort)
            #expect(stack.routes.contains("127.0.0.1:\(port) "))

            // Its health endpoint starts failing (the process keeps running and serving /).
            try await s.exec(victim.id, ["/bin/busybox", "rm", "/w/healthz"])
            let clock = ContinuousClock(), start = clock.now
            let left = await stack.daemon.waitUntil(timeout: .seconds(30)) { !stack.routes.contains("127.0.0.1:\(port) ") }
            let leftAfter = clock.now - start
            #expect(left, "\(stack.daemon.log)")
            // "Within a couple of intervals": 2 failures at a 1 s interval. Measured, and bounded loosely
            // (the bound catches a watchdog-paced regression, 10 minutes here, not noise).
            print("replica left the nginx upstream \(leftAfter) after its health endpoint started failing (interval 1s, retries 2)")
            #expect(leftAfter < .seconds(15))

            // Replaced: a new replica takes its place, and nginx never sends traffic to the victim again.
            #expect(await stack.daemon.waitUntil(timeout: .seconds(30)) {
                let now = (try? await running()) ?? []
                return now.count == 2 && !now.contains { $0.id == victim.id }
            }, "\(stack.daemon.log)")
            #expect(stack.daemon.log.contains("liveness failing"))
            #expect(await stack.daemon.waitUntil { Set(await replies(stack, 6)).count == 2 })
            #expect(!(await replies(stack, 20)).contains("v1-\(port)"))
            #expect(await stack.stop() == 0)
            await s.cleanup()
        }

        @Test func canaryGetsItsShareSurvivesARestartAndIsPromotedOrRolledBack() async throws {
            let s = try await Scenario("canary-e2e", ports: 24400...24499)
            let stack = try await NginxStack(s)
            defer { Task { await stack.stop(); await s.cleanup() } }
            let canary = "update: { strategy: canary, canary: { replicas: 1, weight: 20 } }"
            try stack.write("web.yaml", Self.service(mark: "v1", extra: canary))
            try stack.start()
            let web = { try await s.containers("web").filter { $0.state == .running } }
            let serving = await stack.daemon.waitUntil(timeout: .seconds(30)) { Set(await replies(stack, 6)).count == 2 }
            if !serving { Issue.record("both replicas should answer through nginx\n\(await stack.diagnosis())\n\(stack.daemon.log)") }

            // v2 starts as one canary beside the two v1 replicas, weighted 20 %.
            try stack.write("web.yaml", Self.service(mark: "v2", extra: canary))
            #expect(await stack.daemon.waitUntil(timeout: .seconds(30)) {
                let count = (try? await web().count) ?? 0
                return count == 3 && stack.routes.contains("weight=") && stack.routes.contains(" canary\n")
            }, "\(stack.daemon.log)")
            #expect(await stack.daemon.waitUntil { Set(await replies(stack, 10).map { $0.prefix(2) }) == ["v1", "v2"] })

            // 500 requests: nginx's smooth weighted round robin gives the canary exactly 1 in 5 when
            // every replica answers (100); ±25 allows for retries to another replica and a reload.
            let sample = await replies(stack, 500)
            let toCanary = sample.filter { $0.hasPrefix("v2") }.count
            print("canary at weight 20 received \(toCanary) of \(sample.count) requests")
            #expect(sample.count == 500)
            #expect((75...125).contains(toCanary), "canary got \(toCanary) of \(sample.count)")

            // A restart mid-canary keeps it: same containers, still weighted, nothing to do.
            let before = Set(try await web().map(\.id))
            #expect(await stack.daemon.stop() == 0)
            try stack.startDaemon()
            #expect(await stack.daemon.waitUntil(timeout: .seconds(20)) { stack.daemon.log.contains("in sync") }, "\(stack.daemon.log)")
            #expect(Set(try await web().map(\.id)) == before)
            #expect(!stack.daemon.log.contains("reconcile step"), "\(stack.daemon.log)")
            #expect(stack.routes.contains("weight="))
            #expect(try await web().filter { $0.role == .canary }.count == 1)

            // promote: only new replicas are left, and nginx serves only v2.
            let (code, out, err) = try s.cli("promote", ["web"], manifests: stack.manifests)
            #expect(code == 0, "\(out) \(err)")
            #expect(await stack.daemon.waitUntil(timeout: .seconds(30)) {
                let now = (try? await web()) ?? []
                return now.count == 2 && now.allSatisfy { $0.canonicalSpec?.contains("env.MARK=\"v2\"") == true }
            }, "\(stack.daemon.log)")
            #expect(await stack.daemon.waitUntil(timeout: .seconds(20)) {
                let sample = await replies(stack, 10)
                return sample.allSatisfy { $0.hasPrefix("v2") } && !stack.routes.contains("weight=")
            })

            // v3 as a canary, rolled back: only the v2 replicas are left, and they stay so.
            try stack.write("web.yaml", Self.service(mark: "v3", extra: canary))
            #expect(await stack.daemon.waitUntil(timeout: .seconds(30)) {
                let count = (try? await web().count) ?? 0
                return count == 3 && stack.routes.contains(" canary\n")
            }, "\(stack.daemon.log)")
            let rolled = try s.cli("rollback", ["web"], manifests: stack.manifests)
            #expect(rolled.0 == 0, "\(rolled.1) \(rolled.2)")
            let onlyV2 = {
                let now = (try? await web()) ?? []
                return now.count == 2 && now.allSatisfy { $0.canonicalSpec?.contains("env.MARK=\"v2\"") == true }
            }
            #expect(await stack.daemon.waitUntil(timeout: .seconds(30)) { await onlyV2() })
            #expect(await stack.daemon.waitUntil(timeout: .seconds(20)) { await replies(stack, 10).allSatisfy { $0.hasPrefix("v2") } })
            try await Task.sleep(for: .seconds(3))  // the daemon saw the removal; it must not start the canary again
            #expect(await onlyV2(), "\(stack.daemon.log)")

            // v4's canary starts failing its readiness check: the daemon rolls it back by itself.
            try stack.write("web.yaml", Self.service(mark: "v4", extra: canary))
            #expect(await stack.daemon.waitUntil(timeout: .seconds(30)) { (try? await web().count) == 3 }, "\(stack.daemon.log)")
            let v4 = try #require(try await web().first { $0.role == .canary && $0.canonicalSpec?.contains("env.MARK=\"v4\"") == true })
            try await s.exec(v4.id, ["/bin/busybox", "rm", "/w/healthz"])
            #expect(await stack.daemon.waitUntil(timeout: .seconds(30)) {
                let marked = (try? await s.engine.rollbackMarkers(project: s.project))?["web"] != nil
                return marked && stack.daemon.log.contains("canary rolled back")
            }, "\(stack.daemon.log)")
            #expect(await stack.daemon.waitUntil(timeout: .seconds(30)) { await onlyV2() }, "\(stack.daemon.log)")
            #expect(await stack.stop() == 0)
            await s.cleanup()
        }
    }
}
