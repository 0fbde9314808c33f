@testable import FlotillaCore
import Testing

/// The rollout state machine: every step is safe from whatever state it starts in.
@Suite("Rollout steps: the next safe step from observed state")
struct RolloutStepTests {
    static let old = ServiceSpec(name: "web", image: "img:1", replicas: 2, port: 80, env: ["V": "1"])

    static func spec(replicas: Int, parallelism: Int, order: UpdatePolicy.Order) -> ServiceSpec {
        var s = old
        s.env = ["V": "2"]
        s.replicas = replicas
        s.update.parallelism = parallelism
        s.update.order = order
        return s
    }

    /// A replica with its readiness.
    struct Replica {
        var container: ObservedContainer
        var readiness: Readiness
    }

    static func replica(_ n: Int, _ spec: ServiceSpec, _ readiness: Readiness, state: ContainerState = .running) -> Replica {
        Replica(container: ObservedContainer(id: "c\(n)", name: "web-\(n)", service: "web", specHash: spec.specHash, state: state,
                                             created: Int64(n) * 1000, hostPort: 20000 + n, canonicalSpec: spec.canonicalContainerForm),
                readiness: readiness)
    }

    static func step(_ spec: ServiceSpec, _ replicas: [Replica], dependencies: [String] = []) -> ServiceStep {
        let plan = Planner.planService(spec, observed: replicas.map(\.container), options: Planner.Options())
        let readiness = Dictionary(uniqueKeysWithValues: replicas.map { ($0.container.id, $0.readiness) })
        return RolloutStep.next(plan, readiness: { readiness[$0.id] ?? .unknown }, unreadyDependencies: dependencies)
    }

    @Test func startFirstNeverRemovesAnOldReplicaBeforeANewOneIsReady() {
        // The bug this replaces: {old1, old2, new-unready} planned "replace old1" and "remove old2".
        let spec = Self.spec(replicas: 2, parallelism: 1, order: .startFirst)
        let s = Self.step(spec, [Self.replica(1, Self.old, .ready), Self.replica(2, Self.old, .ready), Self.replica(3, spec, .unknown)])
        #expect(s.actions.isEmpty)
        #expect(s.waits == [.readiness(["web-3"])])
        #expect(!s.isSettled)
    }

    @Test func startFirstReplacesOneOldReplicaPerReadyNewOne() {
        let spec = Self.spec(replicas: 2, parallelism: 1, order: .startFirst)
        let first = Self.step(spec, [Self.replica(1, Self.old, .ready), Self.replica(2, Self.old, .ready)])
        #expect(first.actions == [.create(count: 1, role: .regular)])
        let second = Self.step(spec, [Self.replica(1, Self.old, .ready), Self.replica(2, Self.old, .ready), Self.replica(3, spec, .ready)])
        #expect(second.removals.map(\.id) == ["c1"])
        #expect(second.creates == 1)
        let done = Self.step(spec, [Self.replica(3, spec, .ready), Self.replica(4, spec, .ready)])
        #expect(done.isSettled)
    }

    @Test func aNewReplicaFailingReadinessGoesAndTheOldOnesStay() {
        let spec = Self.spec(replicas: 2, parallelism: 1, order: .startFirst)
        let s = Self.step(spec, [Self.replica(1, Self.old, .ready), Self.replica(2, Self.old, .ready), Self.replica(3, spec, .failing)])
        #expect(s.removals.map(\.id) == ["c3"])
        #expect(s.creates == 0 && s.crashed && s.failure?.contains("old replicas keep serving") == true)
    }

    @Test func stopFirstKeepsAtMostParallelismMissing() {
        let spec = Self.spec(replicas: 3, parallelism: 1, order: .stopFirst)
        let first = Self.step(spec, (1...3).map { Self.replica($0, Self.old, .ready) })
        #expect(first.removals.map(\.id) == ["c1"] && first.creates == 1)
        let waiting = Self.step(spec, [Self.replica(2, Self.old, .ready), Self.replica(3, Self.old, .ready), Self.replica(4, spec, .unknown)])
        #expect(waiting.actions.isEmpty)
    }

    @Test func aFirstDeployCreatesEverythingAtOnceAfterItsDependencies() {
        let spec = Self.spec(replicas: 3, parallelism: 1, order: .startFirst)
        #expect(Self.step(spec, []).actions == [.create(count: 3, role: .regular)])
        let blocked = Self.step(spec, [], dependencies: ["db"])
        #expect(blocked.actions.isEmpty && blocked.waits == [.dependencies(["db"])])
    }

    @Test func replicasWithoutACheckWaitOnlyForTheRoutes() {
        var spec = Self.spec(replicas: 1, parallelism: 1, order: .startFirst)
        spec.readiness = nil
        let s = Self.step(spec, [Self.replica(1, spec, .settling(until: 5000))])
        #expect(s.actions.isEmpty && s.waits == [.settle(until: 5000)] && s.isSettled)
    }

    @Test func aReplicaTheEngineIsRestartingIsNeitherDeadNorReplaced() {
        var spec = Self.spec(replicas: 1, parallelism: 1, order: .startFirst)
        spec.restartPolicy = .always
        let restarting = Self.replica(1, spec, .unknown, state: .restarting)
        let plan = Planner.planService(spec, observed: [restarting.container], options: Planner.Options())
        #expect(plan.prune.isEmpty && plan.create == 0)
        let exited = Self.replica(2, spec, .unknown, state: .exited)
        let planExited = Planner.planService(spec, observed: [exited.container], options: Planner.Options(engineRestarting: ["c2"]))
        #expect(planExited.prune.isEmpty && planExited.create == 0 && planExited.live.map(\.id) == ["c2"])
    }

    @Test func replicasThatStoppedWhileNobodyWatchedAreReplacedButNotCrashes() {
        let spec = Self.spec(replicas: 2, parallelism: 1, order: .startFirst)
        let observed = [Self.replica(1, spec, .unknown, state: .exited).container, Self.replica(2, spec, .unknown, state: .exited).container]
        let plan = Planner.planService(spec, observed: observed, options: Planner.Options(notCrashed: ["c1", "c2"]))
        let step = RolloutStep.next(plan, readiness: { _ in .unknown })
        #expect(plan.prune.count == 2 && plan.create == 2 && !step.crashed)
        // The same containers seen dying while Flotilla watched are crashes.
        let crashed = RolloutStep.next(Planner.planService(spec, observed: observed, options: Planner.Options()), readiness: { _ in .unknown })
        #expect(crashed.crashed)
    }

    @Test func oldReplicasAreProbedWithTheirOwnChecks() {
        let v1Check = HealthCheck(probe: .http(path: "/healthz"))
        var v1 = Self.old
        v1.readiness = v1Check
        v1.liveness = v1Check
        var v2 = Self.spec(replicas: 2, parallelism: 1, order: .startFirst)
        v2.readiness = HealthCheck(probe: .http(path: "/ready"))
        v2.liveness = nil
        var old = Self.replica(1, v1, .ready).container
        old.checks = ReplicaChecks(v1)
        #expect(ReplicaChecks(label: ReplicaChecks(v1).label!) == ReplicaChecks(v1))
        #expect(ReplicaChecks.of(old, spec: v2) == ReplicaChecks(v1))           // its own, not v2's /ready
        #expect(ReplicaChecks.of(Self.replica(2, v2, .ready).container, spec: v2) == ReplicaChecks(v2))
        old.checks = nil  // made by an older Flotilla: only the manifest's readiness, never its liveness
        #expect(ReplicaChecks.of(old, spec: v2) == ReplicaChecks(readiness: v2.readiness, liveness: nil))
    }

    // MARK: - Every interleaving

    /// Every mix of {old ready/unknown/failing, new ready/unknown/failing, dead} for small
    /// services, both orders, parallelism 1–2: no step leaves fewer ready replicas than the rule
    /// allows, runs more than the surge allows, or creates duplicates; and a state that is not
    /// converged always has something to do or wait for.
    @Test func noStepEverBreaksTheRolloutRules() {
        var checked = 0
        for order in UpdatePolicy.Order.allCases {
            for n in 1...3 {
                for p in 1...2 {
                    let spec = Self.spec(replicas: n, parallelism: p, order: order)
                    for oldReady in 0...3 { for oldUnknown in 0...1 { for oldFailing in 0...1 {
                        for newReady in 0...3 { for newUnknown in 0...2 { for newFailing in 0...1 { for dead in 0...1 {
                            var replicas: [Replica] = []
                            var id = 0
                            func add(_ count: Int, _ s: ServiceSpec, _ r: Readiness, _ state: ContainerState = .running) {
                                for _ in 0..<count { id += 1; replicas.append(Self.replica(id, s, r, state: state)) }
                            }
                            add(oldReady, Self.old, .ready); add(oldUnknown, Self.old, .unknown); add(oldFailing, Self.old, .failing)
                            add(newReady, spec, .ready); add(newUnknown, spec, .unknown); add(newFailing, spec, .failing)
                            add(dead, spec, .unknown, .exited)
                            check(spec, replicas, order: order, n: n, p: p)
                            checked += 1
                        } } } }
                    } } }
                }
            }
        }
        #expect(checked == 2 * 3 * 2 * 4 * 2 * 2 * 4 * 3 * 2 * 2)
    }

    func check(_ spec: ServiceSpec, _ replicas: [Replica], order: UpdatePolicy.Order, n: Int, p: Int) {
        let step = Self.step(spec, replicas)
        let removed = Set(step.removals.map(\.id))
        let live = replicas.filter { $0.container.state.isLive }
        let after = live.filter { !removed.contains($0.container.id) }
        let readyBefore = live.filter { $0.readiness == .ready }.count
        let readyAfter = after.filter { $0.readiness == .ready }.count
        let runningAfter = after.count + step.creates
        let currentBefore = live.filter { $0.container.specHash == spec.specHash }.count
        let currentAfter = after.filter { $0.container.specHash == spec.specHash }.count + step.creates
        let context = "order=\(order) n=\(n) p=\(p) replicas=\(replicas.map { "\($0.container.specHash == spec.specHash ? "new" : "old"):\($0.readiness):\($0.container.state)" })"
        switch order {
        case .startFirst:
            #expect(readyAfter >= min(readyBefore, n), "ready \(readyBefore) → \(readyAfter): \(context)")
            #expect(runningAfter <= max(n + p, live.count), "running \(runningAfter): \(context)")
        case .stopFirst:
            #expect(n - readyAfter <= max(p, n - readyBefore), "missing \(n - readyBefore) → \(n - readyAfter): \(context)")
            #expect(runningAfter <= max(n, live.count), "running \(runningAfter): \(context)")
        }
        #expect(currentAfter <= max(n, currentBefore), "duplicates: \(currentAfter) current: \(context)")
        // Never a dead end: something to do, or something to wait for, until converged.
        let outdated = after.contains { $0.container.specHash != spec.specHash }
        let converged = !outdated && currentAfter == n
        #expect(converged || !step.actions.isEmpty || !step.waits.isEmpty, "stuck: \(context)")
    }

    /// Driving the machine to the end, with every new replica becoming ready one step after it
    /// was created, converges for every size and order without ever breaking the rules.
    @Test func stepsConvergeOnTheNewSpec() {
        for order in UpdatePolicy.Order.allCases {
            for n in 1...5 {
                for p in 1...3 {
                    let spec = Self.spec(replicas: n, parallelism: p, order: order)
                    var replicas = (1...n).map { Self.replica($0, Self.old, .ready) }
                    var next = n + 1
                    var steps = 0
                    while steps < 50 {
                        check(spec, replicas, order: order, n: n, p: p)
                        let step = Self.step(spec, replicas)
                        if step.isSettled && step.waits.isEmpty { break }
                        let removed = Set(step.removals.map(\.id))
                        replicas = replicas.filter { !removed.contains($0.container.id) }.map { r in
                            var r = r
                            if r.readiness == .unknown { r.readiness = .ready }
                            return r
                        }
                        for _ in 0..<step.creates { replicas.append(Self.replica(next, spec, .unknown)); next += 1 }
                        steps += 1
                    }
                    #expect(replicas.count == n && replicas.allSatisfy { $0.container.specHash == spec.specHash && $0.readiness == .ready },
                            "order=\(order) n=\(n) p=\(p) after \(steps) steps")
                    #expect(steps <= 2 * n + 2)
                }
            }
        }
    }
}
