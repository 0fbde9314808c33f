@testable import FlotillaCore
import Testing

@Suite("Canary decisions and durable release records")
struct CanaryDecisionTests {
    static var v2: ServiceSpec {
        var s = RolloutTests.v2
        s.update.canary.autoPromoteAfter = TimeSpan(milliseconds: 10_000)
        return s
    }

    @Test func failingReadinessRollsBackAndReadyLongEnoughPromotes() {
        let canary = RolloutTests.replica(Self.v2, 3, role: .canary)  // created at 3000
        #expect(CanaryDecision.decide(Self.v2, canaries: [canary], readiness: { _ in .failing }, now: 5000) == .rollback("canary p-web-3 failing its readiness check"))
        #expect(CanaryDecision.decide(Self.v2, canaries: [canary], readiness: { _ in .ready }, now: 5000) == .wait(recheckAt: 13_000))
        #expect(CanaryDecision.decide(Self.v2, canaries: [canary], readiness: { _ in .ready }, now: 13_000) == .promote)
        #expect(CanaryDecision.decide(Self.v2, canaries: [canary], readiness: { _ in .unknown }, now: 13_000) == .wait(recheckAt: 14_000))
    }

    @Test func aWaitingCanaryStaysACanaryWhenEveryReplicaVanished() {
        // After a reboot and `docker container prune`: nothing left but the decision.
        let options = Planner.Options(releases: ["web": .init(hash: RolloutTests.v2.specHash, phase: .canary)])
        let plan = Planner.planService(RolloutTests.v2, observed: [], options: options)
        #expect(plan.phase == .canary && plan.create == 1 && plan.createRole == .canary)
        #expect(plan.note?.contains("old replicas are gone") == true)
        // Without the record the new spec would ship at full scale.
        #expect(Planner.planService(RolloutTests.v2, observed: [], options: Planner.Options()).create == 2)
    }

    @Test func exitedOldReplicasOfAWaitingCanaryAreStartedAgain() {
        let stopped = RolloutTests.stable.map { c -> ObservedContainer in var c = c; c.state = .exited; return c }
        var canary = RolloutTests.replica(RolloutTests.v2, 3, role: .canary)
        canary.state = .exited
        // A reboot: every replica exited while no Flotilla watched.
        let plan = Planner.planService(RolloutTests.v2, observed: stopped + [canary], options: Planner.Options(notCrashed: Set((stopped + [canary]).map(\.id))))
        #expect(plan.phase == .canary && plan.markRolledBack == nil)
        #expect(Set(plan.start.map(\.id)) == ["c1", "c2"] && plan.prune.map(\.id) == ["c3"] && plan.create == 1 && plan.createRole == .canary)
        #expect(plan.died.isEmpty)
        // The same canary seen dying while Flotilla watched is a failed canary: rolled back.
        let watched = Planner.planService(RolloutTests.v2, observed: stopped + [canary], options: Planner.Options())
        #expect(watched.phase == .rolledBack && watched.markRolledBack == RolloutTests.v2.specHash)
    }

    @Test func decisionsRecordWhereAReleaseStands() {
        var d = ReleaseDecisions()
        d.record(service: "web", hash: "h2", phase: .canary)
        #expect(d.releases["web"] == .init(hash: "h2", phase: .canary))
        d.record(service: "web", hash: "h2", phase: .promoting)
        #expect(d.releases["web"]?.phase == .promoting)
        d.record(service: "web", hash: "h2", phase: .steady)
        #expect(d.releases["web"] == nil)
    }
}
