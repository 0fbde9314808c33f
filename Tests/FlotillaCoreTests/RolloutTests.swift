@testable import FlotillaCore
import Testing

/// Canary releases: the phase from labels, the weights, and the planner's decisions.
@Suite("Canary releases: phases, weights, plans")
struct RolloutTests {
    static let v1 = ServiceSpec(name: "web", image: "img:1", replicas: 2, port: 80, env: ["V": "1"],
                                update: UpdatePolicy(strategy: .canary, canary: CanaryPolicy(replicas: 1, weight: 20)))
    static var v2: ServiceSpec { var s = v1; s.env = ["V": "2"]; return s }
    static var v3: ServiceSpec { var s = v1; s.env = ["V": "3"]; return s }

    static func replica(_ spec: ServiceSpec, _ n: Int, role: ReplicaRole = .regular, state: ContainerState = .running) -> ObservedContainer {
        ObservedContainer(id: "c\(n)", name: "p-web-\(n)", service: "web", specHash: spec.specHash, state: state, created: Int64(n) * 1000,
                          hostPort: 20000 + n, canonicalSpec: spec.canonicalContainerForm, role: role)
    }

    static let stable = [replica(v1, 1), replica(v1, 2)]

    func plan(_ spec: ServiceSpec, _ observed: [ObservedContainer], _ options: Planner.Options = Planner.Options()) -> ServicePlan {
        Planner.plan(desired: state([spec]), observed: observed, options: options).services[0]
    }

    @Test func phaseComesFromLabelsOnly() {
        #expect(Rollout.phase(of: Self.v1, live: Self.stable, rolledBackHash: nil) == .steady)
        #expect(Rollout.phase(of: Self.v2, live: Self.stable, rolledBackHash: nil) == .canary)
        #expect(Rollout.phase(of: Self.v2, live: Self.stable + [Self.replica(Self.v2, 3, role: .canary)], rolledBackHash: nil) == .canary)
        #expect(Rollout.phase(of: Self.v2, live: Self.stable + [Self.replica(Self.v2, 3)], rolledBackHash: nil) == .promoting)
        #expect(Rollout.phase(of: Self.v2, live: Self.stable, rolledBackHash: Self.v2.specHash) == .rolledBack)
        #expect(Rollout.phase(of: Self.v2, live: Self.stable, rolledBackHash: Self.v3.specHash) == .canary)
        var rolling = Self.v2
        rolling.update.strategy = .rolling
        #expect(Rollout.phase(of: rolling, live: Self.stable, rolledBackHash: nil) == .rolling)
    }

    @Test func aSpecChangeStartsCanariesBesideTheOldReplicas() {
        let p = plan(Self.v2, Self.stable)
        #expect(p.phase == .canary && p.create == 1 && p.createRole == .canary)
        #expect(p.replace.isEmpty && p.removeSurplus.isEmpty)
        #expect(p.keep.map(\.id) == ["c1", "c2"])
        #expect(p.changes.map(\.field) == ["env.V"])
        #expect(Planner.plan(desired: state([Self.v2]), observed: Self.stable).actions == [.createCanary(service: "web", count: 1)])
    }

    @Test func aRunningCanaryIsLeftAloneUntilADecision() {
        let observed = Self.stable + [Self.replica(Self.v2, 3, role: .canary)]
        let waiting = Planner.plan(desired: state([Self.v2]), observed: observed)
        #expect(!waiting.hasChanges)
        #expect(waiting.notes.contains { $0.contains("flotilla promote web") })
    }

    @Test func promotionReplacesTheOldReplicasWithRegularOnes() {
        let observed = Self.stable + [Self.replica(Self.v2, 3, role: .canary)]
        let p = plan(Self.v2, observed, .init(promote: ["web"]))
        #expect(p.phase == .promoting && p.createRole == .regular)
        #expect(p.keep.map(\.id) == ["c3"])
        #expect(p.replace.map(\.id) == ["c1"])  // one new regular replica, start-first
        #expect(p.removeSurplus.map(\.id) == ["c2"])
        // Once a regular replica of the new spec exists, the promotion goes on by itself (a restart keeps it).
        let midway = plan(Self.v2, [Self.replica(Self.v1, 2), Self.replica(Self.v2, 3, role: .canary), Self.replica(Self.v2, 4)])
        #expect(midway.phase == .promoting && midway.removeSurplus.map(\.id) == ["c2"])
    }

    @Test func rollbackRemovesTheCanariesAndIsRecorded() {
        let observed = Self.stable + [Self.replica(Self.v2, 3, role: .canary)]
        let p = plan(Self.v2, observed, .init(rollback: ["web": "flotilla rollback"]))
        #expect(p.phase == .rolledBack && p.markRolledBack == Self.v2.specHash)
        #expect(p.removeSurplus.map(\.id) == ["c3"] && p.create == 0)
        #expect(Planner.plan(desired: state([Self.v2]), observed: observed, options: .init(rollback: ["web": "x"])).actions
            == [.rollback(service: "web"), .remove(service: "web", container: "p-web-3", reason: .rolledBack)])
        // The marker keeps it rolled back: nothing is created again, now or after a restart.
        let after = plan(Self.v2, Self.stable, .init(rolledBack: ["web": Self.v2.specHash]))
        #expect(after.phase == .rolledBack && !after.hasChanges)
        // A new manifest edit clears the marker and starts a new canary.
        let next = Planner.plan(desired: state([Self.v3]), observed: Self.stable, options: .init(rolledBack: ["web": Self.v2.specHash]))
        #expect(next.services[0].create == 1 && next.services[0].createRole == .canary && next.staleMarkers == ["web"])
        // So does going back to the old spec.
        #expect(Planner.plan(desired: state([Self.v1]), observed: Self.stable, options: .init(rolledBack: ["web": Self.v2.specHash])).staleMarkers == ["web"])
    }

    @Test func aCanaryThatDiesOrFailsLivenessRollsBackAutomatically() {
        let dead = plan(Self.v2, Self.stable + [Self.replica(Self.v2, 3, role: .canary, state: .exited)])
        #expect(dead.phase == .rolledBack && dead.markRolledBack == Self.v2.specHash && dead.create == 0)
        let interrupted = plan(Self.v2, Self.stable + [Self.replica(Self.v2, 3, role: .canary, state: .created)])
        #expect(interrupted.phase == .canary && interrupted.prune.map(\.id) == ["c3"] && interrupted.create == 1)
        let failing = plan(Self.v2, Self.stable + [Self.replica(Self.v2, 3, role: .canary)], .init(unhealthy: ["c3"]))
        #expect(failing.phase == .rolledBack && failing.unhealthy.map(\.id) == ["c3"] && failing.create == 0)
    }

    @Test func aNewEditSupersedesAnUnpromotedCanaryButNotAPromotedOne() {
        // v2's canary was never promoted: a v3 canary replaces it, the v1 replicas stay.
        let p = plan(Self.v3, Self.stable + [Self.replica(Self.v2, 3, role: .canary)])
        #expect(p.phase == .canary && p.create == 1 && p.removeSurplus.map(\.id) == ["c3"])
        #expect(Planner.plan(desired: state([Self.v3]), observed: Self.stable + [Self.replica(Self.v2, 3, role: .canary)]).actions.contains(
            .remove(service: "web", container: "p-web-3", reason: .superseded)))
        // A promoted canary keeps its label for life, but it is the stable set now.
        var single = Self.v3
        single.replicas = 1
        let promoted = plan(single, [Self.replica(Self.v2, 3, role: .canary)])
        #expect(promoted.phase == .canary && promoted.removeSurplus.isEmpty && promoted.keep.map(\.id) == ["c3"])
    }

    @Test func unhealthyReplicasAreReplacedAndCountAsCrashes() {
        let p = plan(Self.v1, Self.stable, .init(unhealthy: ["c2"]))
        #expect(p.unhealthy.map(\.id) == ["c2"] && p.create == 1)
        #expect(Planner.plan(desired: state([Self.v1]), observed: Self.stable, options: .init(unhealthy: ["c2"])).actions
            == [.remove(service: "web", container: "p-web-2", reason: .unhealthy), .create(service: "web", count: 1)])
    }

    @Test func weightArithmetic() {
        // Each stable replica (100−p)·C, each canary p·S, reduced.
        #expect(Rollout.weights(stable: 2, canary: 1, percent: 20) == (2, 1))    // 4 : 1 → 20 %
        #expect(Rollout.weights(stable: 1, canary: 1, percent: 10) == (9, 1))
        #expect(Rollout.weights(stable: 3, canary: 2, percent: 25) == (2, 1))    // 6 : 2 → 25 %
        #expect(Rollout.weights(stable: 0, canary: 2, percent: 20) == (1, 1))
        // Every combination stays within HAProxy's 1...256 and keeps the canary share within a
        // point of the asked percent, unless the range itself forbids it (then one weight is at
        // its bound and the share errs toward the asked percent as far as whole numbers allow).
        for s in 1...20 {
            for c in 1...5 {
                for p in [1, 5, 10, 20, 33, 50, 90, 99] {
                    let w = Rollout.weights(stable: s, canary: c, percent: p)
                    #expect(w.stable >= 1 && w.canary >= 1 && max(w.stable, w.canary) <= 256)
                    let share = Double(w.canary * c) / Double(w.canary * c + w.stable * s) * 100
                    let bounded = min(w.stable, w.canary) == 1 && max(w.stable, w.canary) == 256
                    if bounded {
                        let extreme = w.canary == 256 ? Double(256 * c) / Double(256 * c + s) * 100 : Double(c) / Double(c + 256 * s) * 100
                        #expect(abs(share - extreme) < 0.001, "s=\(s) c=\(c) p=\(p) → \(w)")
                    } else {
                        #expect(abs(share - Double(p)) < 1.0, "s=\(s) c=\(c) p=\(p) → \(w) = \(share)%")
                    }
                }
            }
        }
    }

    @Test func autoPromotionWaitsForEveryCanaryToBeReadyLongEnough() {
        var spec = Self.v2
        spec.update.canary.autoPromoteAfter = .seconds(60)
        let canary = Self.replica(spec, 3, role: .canary)  // created at 3000 ms
        #expect(Rollout.autoPromoteAt(spec, canaries: [canary], ready: ["c3"]) == 63_000)
        #expect(Rollout.autoPromoteAt(spec, canaries: [canary], ready: []) == nil)
        #expect(Rollout.autoPromoteAt(Self.v2, canaries: [canary], ready: ["c3"]) == nil)  // no auto_promote_after
        spec.update.canary.replicas = 2
        #expect(Rollout.autoPromoteAt(spec, canaries: [canary], ready: ["c3"]) == nil)  // one canary still missing
    }
}
