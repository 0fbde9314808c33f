import FlotillaAgent
import FlotillaCore
import FlotillaEngine
import Foundation
import Logging
import Testing

/// The daemon reuses what it observed (a list, or its own last change) instead of listing for
/// every step; a CLI command that held the project meanwhile may have changed anything, and no
/// engine event tells of a creation: the daemon's next step observes afresh.
@Suite("The daemon's observations and CLI commands", .enabled(if: TestEngine.available, "needs FLOTILLA_TEST_ENGINE (run scripts/test)"), .serialized)
struct ObservationCacheTests {
    @Test func aServiceACommandStartedWhileTheDaemonWaitedIsNotStartedTwice() async throws {
        let s = try await Scenario("afresh", ports: 22900...22949)
        defer { Task { await s.cleanup() } }
        let (reconciler, daemon, running) = try await startDaemon(s)

        // A command (say `flotilla apply`) holds the project, and in the meantime the daemon
        // loads a new service, whose step finds the project locked; the command starts it.
        try s.write("b.yaml", Scenario.httpService("b"))
        try await reconciler.lock.withLock(logger: Logger(label: "test")) {
            await daemon.setDesired(try reconciler.loadDesired(), .manifestsChanged)
            try await Task.sleep(for: .seconds(1))
            let command = reconciler.makeController(mode: .once, routes: nil)  // the lock is held here already
            try await command.resync(.startup)
            await command.setDesired(try reconciler.loadDesired(), .manifestsChanged, only: ["b"])
            let report = await command.run()
            #expect(report.created == 1, "\(report)")
        }
        // The daemon's step, once the project is free, sees the command's replica: it creates
        // none of its own (a second replica, removed later as surplus, is what it did before).
        try await Task.sleep(for: .seconds(3))
        let created = daemon.actions.events.filter { $0.action == "created" && $0.service == "b" }
        #expect(created.isEmpty, "the daemon created \(created.compactMap(\.container))")
        let b = try await s.containers("b")
        #expect(b.count == 1, "\(b.map(\.name))")
        await daemon.shutDown()
        _ = await running.value
        await s.cleanup()
    }

    /// A watchdog pass over a service at rest whose containers are as they were is answered
    /// without planning; one whose replica died (no event stream here) is stepped, and the
    /// replica replaced.
    @Test func aWatchdogPassOverAnUnchangedServiceIsCheapAndADeathIsStillSeen() async throws {
        let s = try await Scenario("idle", ports: 22950...22999)
        defer { Task { await s.cleanup() } }
        let (_, daemon, running) = try await startDaemon(s)
        try await Task.sleep(for: .seconds(3))  // probes settled: the service is at rest
        try await daemon.resync(.watchdog)
        #expect(await eventually { await daemon.idleWatchdogSteps >= 1 }, "a watchdog pass over a service at rest is answered idle")
        let before = await daemon.idleWatchdogSteps

        let victim = try #require(try await s.containers("a").first)
        _ = try await s.engine.transport.send(.POST, "/v\(s.engine.apiVersion)/containers/\(victim.id)/kill?signal=KILL")
        #expect(await eventually { (try? await s.containers("a").first { $0.id == victim.id }?.state) != .running })
        try await daemon.resync(.watchdog)
        #expect(await eventually {
            let live = (try? await s.containers("a")) ?? []
            return live.count == 1 && live[0].id != victim.id && live[0].state == .running
        }, "the dead replica is replaced")
        #expect(await daemon.idleWatchdogSteps == before)
        await daemon.shutDown()
        _ = await running.value
        await s.cleanup()
    }

    /// A daemon-mode controller in this process (no event stream) on a service `a` of one
    /// replica, started and running.
    func startDaemon(_ s: Scenario) async throws -> (Reconciler, Controller, Task<ApplyReport, Never>) {
        try s.write("a.yaml", Scenario.httpService("a"))
        let reconciler = s.reconciler
        let daemon = reconciler.makeController(mode: .daemon, routes: nil)
        let running = Task { await daemon.run() }
        try await daemon.resync(.startup)
        await daemon.setDesired(try reconciler.loadDesired(), .startup)
        #expect(await eventually { (try? await s.containers("a").filter { $0.state == .running }.count) == 1 })
        return (reconciler, daemon, running)
    }

    func eventually(timeout: Duration = .seconds(30), _ condition: () async -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return false
    }
}
