import FlotillaAgent
import FlotillaCore
import FlotillaEngine
import Foundation
import Logging
import Testing

/// The daemon reuses what it observed (a list, or its own last change) instead of listing for
/// every step. (A CLI command changing the project between the daemon's steps is the
/// simulator's: commands run beside the daemon in every seed, seed 139 among them. The cache's
/// freshness rules have unit tests, FlotillaCoreTests' ObservationCacheTests.)
@Suite("The daemon's observations and CLI commands", .enabled(if: TestEngine.available, "needs FLOTILLA_TEST_ENGINE (run scripts/test)"), .serialized)
struct ObservationCacheTests {
    /// A watchdog pass over a service at rest whose containers are as they were is answered
    /// without planning; one whose replica died (no event stream here) is stepped, and the
    /// replica replaced.
    @Test func aWatchdogPassOverAnUnchangedServiceIsCheapAndADeathIsStillSeen() async throws {
        let s = try await Scenario("idle", ports: 22950...22999)
        defer { Task { await s.cleanup() } }
        let (_, daemon, running) = try await startDaemon(s)
        // Watchdog passes until the service is at rest (its probes settled: on loaded cores that
        // took longer than the fixed 3 s this test once waited, and its one pass found the
        // service still settling); then one is answered idle.
        #expect(await eventually {
            try? await daemon.resync(.watchdog)
            try? await Task.sleep(for: .milliseconds(500))
            return await daemon.idleWatchdogSteps >= 1
        }, "a watchdog pass over a service at rest is answered idle")
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
