import Testing
@testable import FlotillaCore

/// Which stopped replicas are the engine's to restart. Regression: Podman re-initialises a
/// `restart_policy: always` container (state `created`) between its cleanup and the new start; a
/// reconcile in that instant took it for a failed start and pruned it.
@Suite("Engine restarts") struct EngineRestartTests {
    let now: Int64 = 1_000_000

    func status(restarting: Bool = false, count: Int = 1, exit: Int = 1, stoppedAgo: Int64? = 500) -> EngineRestart {
        EngineRestart(restarting: restarting, restartCount: count, exitCode: exit, finishedAt: stoppedAgo.map { now - $0 })
    }

    @Test func podmansReinitialisedContainerIsBeingRestarted() {
        #expect(status().willRestart(state: .created, policy: .always, maxRetries: nil, now: now))
        #expect(status(count: 0).willRestart(state: .created, policy: .unlessStopped, maxRetries: nil, now: now))
        #expect(status().willRestart(state: .exited, policy: .always, maxRetries: nil, now: now))
    }

    @Test func aCreatedContainerThatNeverRanIsAFailedStart() {
        #expect(!status(count: 0, stoppedAgo: nil).willRestart(state: .created, policy: .always, maxRetries: nil, now: now))
    }

    @Test func theEngineGivingUpMakesItDead() {
        #expect(!status().willRestart(state: .exited, policy: .no, maxRetries: nil, now: now))
        #expect(!status(exit: 0).willRestart(state: .exited, policy: .onFailure, maxRetries: nil, now: now))
        #expect(!status(count: 3).willRestart(state: .exited, policy: .onFailure, maxRetries: 3, now: now))
        #expect(status(count: 2).willRestart(state: .exited, policy: .onFailure, maxRetries: 3, now: now))
        #expect(!status(stoppedAgo: EngineRestart.window + 1).willRestart(state: .exited, policy: .always, maxRetries: nil, now: now))
        #expect(!status().willRestart(state: .dead, policy: .always, maxRetries: nil, now: now))
    }

    @Test func dockersBackOffIsARestartWhateverTheAge() {
        #expect(status(restarting: true, stoppedAgo: 60_000).willRestart(state: .exited, policy: .always, maxRetries: nil, now: now))
        #expect(status().willRestart(state: .restarting, policy: .always, maxRetries: nil, now: now))
    }

    /// Podman's `stopping` (normalised to `removing`) is a step of a restart, not a death: a
    /// `restart_policy: always` replica was pruned mid-restart on a loaded CI host.
    @Test func podmansStoppingStateOfARestartIsTheEnginesBusiness() {
        #expect(status().willRestart(state: .removing, policy: .always, maxRetries: nil, now: now))
        #expect(!status().willRestart(state: .removing, policy: .no, maxRetries: nil, now: now))
        #expect(!status(stoppedAgo: EngineRestart.window + 1).willRestart(state: .removing, policy: .always, maxRetries: nil, now: now))
    }
}
