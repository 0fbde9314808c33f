/// The rollout rules as a pure state machine: a service's plan (what differs) and each
/// replica's readiness → the next safe ``ServiceStep``. Called again after every step, from
/// freshly observed state, so a restart at any moment (SIGTERM, SIGKILL, reboot) continues from
/// what is there; nothing waits inside a step.
///
/// The rules, with N = `replicas` and P = `update.parallelism`:
/// - **start-first**: an old replica goes only when a new one is ready to take its place
///   (old replicas kept = N − ready new ones); at most P new replicas are pending at once and
///   at most N + P replicas run.
/// - **stop-first**: at most P replicas are missing (N − ready ones) at any time, and never more
///   than N run.
/// - A new replica that fails its readiness check during a rollout is removed; the old ones keep
///   serving and the failure counts toward crash-loop backoff.
/// - Without a rollout (first deploy, scale-up, a dead replica) missing replicas are created at
///   once, after every dependency has a ready replica.
/// - Surplus replicas go newest and least ready first.
public enum RolloutStep {
    public static func next(_ plan: ServicePlan, readiness: (ObservedContainer) -> Readiness, unreadyDependencies: [String] = []) -> ServiceStep {
        var step = ServiceStep()
        let spec = plan.spec
        let hash = spec.specHash
        if let rolledBack = plan.markRolledBack {
            step.actions.append(.recordRollback(hash: rolledBack, reason: plan.rollbackReason ?? "rolled back"))
        }
        if plan.clearMarker { step.actions.append(.clearRollback) }
        for container in plan.prune { step.actions.append(.remove(container, reason: .dead, stop: .graceful)) }
        // A replica of the current spec that ran and died is a crash; one left "created" by an
        // interrupted start, or stopped while no Flotilla watched, is not.
        if !plan.died.isEmpty { step.crashed = true }
        step.crashedReplicas.formUnion(plan.died.map(\.id))
        step.crashedReplicas.formUnion(plan.unhealthy.map(\.id))
        for container in plan.unhealthy { step.actions.append(.remove(container, reason: .unhealthy, stop: .kill)) }
        if !plan.unhealthy.isEmpty { step.crashed = true }
        for container in plan.start { step.actions.append(.start(container)) }

        switch plan.phase {
        case .rolledBack:
            for container in plan.removeSurplus { step.actions.append(.remove(container, reason: .rolledBack, stop: .graceful)) }
            return step
        case .canary:
            for container in plan.removeSurplus {
                step.actions.append(.remove(container, reason: plan.superseded.contains(container.id) ? .superseded : .surplus, stop: .graceful))
            }
            let canaries = plan.keep.filter { $0.specHash == hash }
            addWaits(&step, pending: canaries.filter { readiness($0).isPending }, readiness: readiness, blocking: true)
            createMissing(&step, plan.create, role: .canary, plan: plan, unreadyDependencies: unreadyDependencies)
            return step
        case .steady, .rolling, .promoting:
            rolling(&step, plan, readiness: readiness, unreadyDependencies: unreadyDependencies)
            return step
        }
    }

    static func rolling(_ step: inout ServiceStep, _ plan: ServicePlan, readiness: (ObservedContainer) -> Readiness, unreadyDependencies: [String]) {
        let spec = plan.spec
        let hash = spec.specHash
        let n = spec.replicas
        let p = max(1, spec.update.parallelism)
        let current = plan.live.filter { $0.specHash == hash }
        let outdated = plan.live.filter { $0.specHash != hash }

        // A new replica failing readiness during a rollout, or one that never came up at all:
        // it goes (the old ones keep serving) and counts toward backoff.
        var failed = Set<String>()
        do {
            for container in current where outdated.isEmpty ? readiness(container) == .neverReady : readiness(container).isFailing {
                step.actions.append(.remove(container, reason: .unready, stop: .graceful))
                failed.insert(container.id)
            }
            // A new replica failing liveness (removed above) failed just the same during a rollout,
            // and so did one that never passed its readiness check.
            let unhealthyNew = plan.unhealthy.contains { $0.specHash == hash && (!outdated.isEmpty || readiness($0) == .neverReady) }
            if !failed.isEmpty || unhealthyNew {
                step.crashed = true
                step.crashedReplicas.formUnion(failed)
                step.failure = outdated.isEmpty ? "new replica did not become ready" : "new replica did not become ready; old replicas keep serving"
            }
        }
        var kept = current.filter { !failed.contains($0.id) }

        // Surplus replicas of the current spec (scaled down): least ready, then newest, first.
        if kept.count > n {
            let order = kept.sorted { a, b in
                let ra = rank(readiness(a)), rb = rank(readiness(b))
                return ra != rb ? ra < rb : ObservedContainer.olderFirst(b, a)
            }
            let surplus = order.prefix(kept.count - n)
            for container in surplus { step.actions.append(.remove(container, reason: .surplus, stop: .graceful)) }
            let gone = Set(surplus.map(\.id))
            kept.removeAll { gone.contains($0.id) }
        }
        let ready = kept.filter { readiness($0).isReady }.count
        let pending = kept.filter { readiness($0).isPending }

        // Old replicas that may go now: failing ones first, then the oldest.
        var removeOld: Int
        switch spec.update.order {
        case .startFirst:
            removeOld = max(0, outdated.count - max(0, n - ready))
        case .stopFirst:
            let beyond = max(0, ready + outdated.count - n)
            let missing = n - ready - outdated.count
            removeOld = max(beyond, min(outdated.count, p - missing))
        }
        removeOld = min(max(0, removeOld), outdated.count)
        let oldOrder = outdated.sorted { a, b in
            let ra = rank(readiness(a)), rb = rank(readiness(b))
            return ra != rb ? ra < rb : ObservedContainer.olderFirst(a, b)
        }
        for container in oldOrder.prefix(removeOld) {
            step.actions.append(.remove(container, reason: .replaced, stop: .graceful))
        }
        let oldLeft = outdated.count - removeOld

        // New replicas.
        let missing = max(0, n - kept.count)
        var create = missing
        if step.failure != nil { create = 0 }
        if !outdated.isEmpty {
            switch spec.update.order {
            case .startFirst:
                create = min(missing, max(0, p - pending.count), max(0, n + p - kept.count - oldLeft))
            case .stopFirst:
                create = min(missing, max(0, n - kept.count - oldLeft))
            }
            if step.failure != nil { create = 0 }
        }
        // During a rollout, and for services others depend on, pending replicas hold things up;
        // otherwise only the routes wait for them.
        let blocking = !outdated.isEmpty || spec.readiness != nil
        addWaits(&step, pending: pending, readiness: readiness, blocking: blocking)
        createMissing(&step, create, role: .regular, plan: plan, unreadyDependencies: unreadyDependencies)
    }

    static func createMissing(_ step: inout ServiceStep, _ count: Int, role: ReplicaRole, plan: ServicePlan, unreadyDependencies: [String]) {
        if let until = plan.backoffUntil {
            step.waits.append(.backoff(until: until))
            return
        }
        guard count > 0 else { return }
        if !unreadyDependencies.isEmpty {
            step.waits.append(.dependencies(unreadyDependencies))
            return
        }
        step.actions.append(.create(count: count, role: role))
    }

    static func addWaits(_ step: inout ServiceStep, pending: [ObservedContainer], readiness: (ObservedContainer) -> Readiness, blocking: Bool) {
        var unknown: [String] = []
        var settleUntil: Int64?
        for container in pending {
            switch readiness(container) {
            case .settling(let until) where !blocking:
                settleUntil = min(settleUntil ?? until, until)
            default:
                unknown.append(container.name)
            }
        }
        if !unknown.isEmpty { step.waits.append(.readiness(unknown.sorted())) }
        if let settleUntil { step.waits.append(.settle(until: settleUntil)) }
    }

    /// Failing first, then undecided, then ready: the order in which replicas are given up.
    static func rank(_ readiness: Readiness) -> Int {
        switch readiness {
        case .failing, .neverReady: return 0
        case .unknown, .settling: return 1
        case .ready: return 2
        }
    }
}
