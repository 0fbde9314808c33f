import FlotillaAgent
import FlotillaCore
import FlotillaEngine
import Foundation
import Testing

/// Rollouts under the faults operators meet: the daemon SIGTERMed during a rollout, a reboot
/// (every container stopped), and prunes, on the real engine the suite runs against (Podman,
/// then Docker Engine). (A SIGKILL at any moment of a rollout is the simulator's: it kills the
/// daemon at thousands of moments, where this suite could try a handful.)
@Suite("Rollouts survive kills, reboots and prunes", .enabled(if: TestEngine.available, "needs FLOTILLA_TEST_ENGINE (run scripts/test)"), .serialized)
struct RolloutFaultTests {
    func start(_ s: Scenario) throws -> DaemonProcess {
        try DaemonProcess([s.directory, "--engine", TestEngine.endpoint!, "--project", s.project, "--state-dir", s.stateDirectory,
                           "--port-range", "\(s.portRange.lowerBound)-\(s.portRange.upperBound)", "--resync-interval", "10m"])
    }

    /// A busybox HTTP service whose /healthz exists only `readyAfter` seconds after start.
    static func service(_ name: String, mark: String, replicas: Int, readyAfter: Int = 0, extra: String = "") -> String {
        """
        name: \(name)
        image: \(TestEngine.image)
        command: ["/bin/sh", "-c", "mkdir -p /w; echo \(mark) > /w/index.html; (sleep \(readyAfter); echo ok > /w/healthz) & exec /bin/httpd -f -p ${PORT} -h /w"]
        replicas: \(replicas)
        port: 8080
        network: host
        health: { readiness: { http: /healthz, interval: 200ms, timeout: 500ms, retries: 100 } }
        update: { order: start-first, parallelism: 1 }
        stop_timeout: 1s
        env: { MARK: \(mark) }
        \(extra)
        """
    }

    /// Running replicas of `service` and how many of them answer their health check now.
    func census(_ s: Scenario, _ service: String) async throws -> (running: [ObservedContainer], ready: Int) {
        let running = try await s.containers(service).filter { $0.state == .running }
        var ready = 0
        for c in running {
            if let port = c.hostPort, let (status, _) = await httpGet(port: port, path: "/healthz"), status == 200 { ready += 1 }
        }
        return (running, ready)
    }

    func marks(_ containers: [ObservedContainer]) -> [String] {
        containers.map { $0.canonicalSpec?.split(separator: "\n").first { $0.hasPrefix("env.MARK=") }.map(String.init) ?? "?" }.sorted()
    }

    @Test func sigtermDuringARolloutThatNeverBecomesReadyLeavesTheOldReplicasServing() async throws {
        let s = try await Scenario("fault-term", ports: 27100...27199)
        defer { Task { await s.cleanup() } }
        try s.write("web.yaml", Self.service("web", mark: "v1", replicas: 2))
        var daemon = try start(s)
        #expect(try await daemon.waitUntil(timeout: .seconds(30)) { try await census(s, "web").ready == 2 })
        let old = Set(try await s.containers("web").map(\.id))

        // v2 never becomes ready (its health file comes after 10 minutes).
        try s.write("web.yaml", Self.service("web", mark: "v2", replicas: 2, readyAfter: 600))
        #expect(try await daemon.waitUntil { try await s.containers("web").count == 3 })
        try await Task.sleep(for: .seconds(1))
        let clock = ContinuousClock(), began = clock.now
        let code = await daemon.stop()
        let took = clock.now - began
        print("SIGTERM during a rollout waiting for readiness (\(TestEngine.kind)): exit \(code) in \(took)")
        #expect(code == 0)
        // The contract: no new step starts, steps in flight finish (their engine calls bounded),
        // and after 10 s they are cancelled. The new version is ready only after 10 minutes, so
        // an exit within 15 s proves SIGTERM does not wait for it (typically 0.05 s; a loaded
        // CI machine once took 5 s). A slow exit prints its timeline.
        if took > .seconds(1) { print("slow exit; the daemon's last lines:\n\(daemon.log.split(separator: "\n").suffix(15).joined(separator: "\n"))") }
        #expect(took < .seconds(15), "SIGTERM took \(took)\n\(daemon.log)")
        var (running, ready) = try await census(s, "web")
        #expect(old.isSubset(of: Set(running.map(\.id))) && ready == 2, "old replicas after SIGTERM")

        // After a restart the unready replica is still not trusted: the old ones keep serving.
        daemon = try start(s)
        try await Task.sleep(for: .seconds(4))
        (running, ready) = try await census(s, "web")
        #expect(old.isSubset(of: Set(running.map(\.id))) && ready == 2 && running.count <= 3, "\(daemon.log)")
        for c in running where old.contains(c.id) {
            #expect(await httpGet(port: c.hostPort!)?.1 == "v1\n")
        }
        #expect(await daemon.stop() == 0)
        await s.cleanup()
    }

    @Test func aRebootAndPrunesKeepAWaitingCanaryAndARollback() async throws {
        let s = try await Scenario("fault-reboot", ports: 27200...27299)
        defer { Task { await s.cleanup() } }
        let canary = "update: { strategy: canary, canary: { replicas: 1, weight: 20 } }"
        func spec(_ name: String, _ mark: String) -> String {
            Self.service(name, mark: mark, replicas: 2, extra: "").replacingOccurrences(of: "update: { order: start-first, parallelism: 1 }", with: canary)
        }
        try s.write("web.yaml", spec("web", "v1"))
        try s.write("api.yaml", spec("api", "v1"))
        var daemon = try start(s)
        #expect(try await daemon.waitUntil(timeout: .seconds(30)) {
            let web = try await census(s, "web").ready, api = try await census(s, "api").ready
            return web == 2 && api == 2
        })

        // web: a canary waits; api: its canary was rolled back.
        try s.write("web.yaml", spec("web", "v2"))
        try s.write("api.yaml", spec("api", "v2"))
        #expect(try await daemon.waitUntil(timeout: .seconds(30)) {
            let web = try await s.containers("web").count, api = try await s.containers("api").count
            return web == 3 && api == 3
        })
        let rolled = try s.cli("rollback", ["api"])
        #expect(rolled.0 == 0, "\(rolled.1) \(rolled.2)")
        func settled() async throws -> Bool {
            let web = try await s.containers("web"), api = try await s.containers("api")
            return web.count == 3 && web.filter { $0.role == .canary }.count == 1 && web.allSatisfy { $0.state == .running }
                && api.count == 2 && marks(api) == ["env.MARK=\"v1\"", "env.MARK=\"v1\""] && api.allSatisfy { $0.state == .running }
        }
        #expect(try await daemon.waitUntil(timeout: .seconds(30)) { try await settled() }, "\(daemon.log)")
        #expect(await daemon.stop() == 0)

        // A reboot: every container stops; `docker volume prune` removes the engine's markers.
        for c in try await s.containers() {
            _ = try await s.engine.transport.send(.POST, "/v\(s.engine.apiVersion)/containers/\(c.id)/stop?t=1", timeout: .seconds(30))
        }
        for name in try await s.engine.rollbackMarkers(project: s.project).keys {
            try await s.engine.clearRollbackMarker(project: s.project, service: name)
        }
        daemon = try start(s)
        #expect(try await daemon.waitUntil(timeout: .seconds(30)) { try await settled() }, "after a reboot and a volume prune: \(daemon.log)")
        let webMarks = marks(try await s.containers("web"))
        #expect(webMarks == ["env.MARK=\"v1\"", "env.MARK=\"v1\"", "env.MARK=\"v2\""])
        try await Task.sleep(for: .seconds(2))
        #expect(try await settled(), "the canary must not ship, the rollback must hold: \(daemon.log)")
        #expect(await daemon.stop() == 0)

        // Another reboot, then `docker container prune`: every container is gone. The canary
        // still does not ship at full scale, and the rolled-back version does not come back.
        for c in try await s.containers() {
            _ = try await s.engine.transport.send(.POST, "/v\(s.engine.apiVersion)/containers/\(c.id)/stop?t=1", timeout: .seconds(30))
            _ = try await s.engine.transport.send(.DELETE, "/v\(s.engine.apiVersion)/containers/\(c.id)", timeout: .seconds(30))
        }
        daemon = try start(s)
        #expect(try await daemon.waitUntil(timeout: .seconds(30)) { try await s.containers("web").count == 1 }, "\(daemon.log)")
        try await Task.sleep(for: .seconds(3))
        let web = try await s.containers("web"), api = try await s.containers("api")
        #expect(web.count == 1 && web.allSatisfy { $0.role == .canary }, "only the canary runs: \(marks(web))")
        #expect(api.isEmpty, "the rolled-back version came back: \(marks(api))")
        #expect(daemon.log.contains("old replicas are gone"))
        #expect(await daemon.stop() == 0)
        await s.cleanup()
    }
}
