import FlotillaCore
import FlotillaEngine
import Foundation
import Logging

/// Carrying out a ``ServiceStep`` on the engine: decisions first (a rollback is recorded before
/// any canary goes), then removals (out of the routes first, then SIGTERM and the stop timeout),
/// starts in place, and creations (image and networks first); dead replicas' removal runs beside
/// their replacements' creation. Nothing here waits for readiness.
extension Controller {
    struct StepOutcome: Sendable {
        var created = 0
        var removed = 0
        var replaced = 0
        var failedActions = 0
        /// Why new replicas could not be created (counted once toward backoff).
        var createFailure: String?
        /// The engine did not answer: no crash count, retried with the engine's backoff.
        var engineUnavailable = false
        /// What changed on the engine, by container id (complete only when ``isComplete``).
        var createdIDs: [String] = []
        var startedIDs: [String] = []
        var removedIDs: Set<String> = []

        /// Every action was carried out: the change is known exactly.
        var isComplete: Bool { failedActions == 0 && createFailure == nil && !engineUnavailable }

        /// Folds in what ``Controller/remove(_:spec:)`` did with `removals`.
        mutating func add(_ results: (removed: Int, replaced: Int, failed: Int, unavailable: Bool),
                          of removals: [(ObservedContainer, RemovalReason, ServiceStep.StopMode)]) {
            removed += results.removed
            replaced += results.replaced
            failedActions += results.failed
            if results.unavailable { engineUnavailable = true }
            removedIDs = Set(removals.map(\.0.id))
        }
    }

    func execute(_ step: ServiceStep, plan: ServicePlan) async -> StepOutcome {
        var outcome = StepOutcome()
        let spec = plan.spec
        var removals: [(ObservedContainer, RemovalReason, ServiceStep.StopMode)] = []
        var starts: [ObservedContainer] = []
        var creates: [(Int, ReplicaRole)] = []
        for action in step.actions {
            switch action {
            case .recordRollback(let hash, let reason):
                var next = decisions
                next.rolledBack[spec.name] = hash
                next.releases[spec.name] = nil
                save(next)
                let onEngine = (try? await engine.setRollbackMarker(project: config.project, service: spec.name, hash: hash)) != nil
                guard decisions.rolledBack[spec.name] == hash && (store != nil || onEngine) else {
                    // Neither record holds: removing canaries now could let a crash bring them back.
                    logger.error("cannot record the rollback; canaries left as they are", metadata: ["service": "\(spec.name)"])
                    outcome.failedActions += 1
                    return outcome
                }
                logger.warning("canary rolled back", metadata: ["service": "\(spec.name)", "spec": "\(hash)", "reason": "\(reason)"])
                actions.record("rolled-back", service: spec.name, reason: reason, revision: revision)
            case .clearRollback:
                var next = decisions
                next.rolledBack[spec.name] = nil
                save(next)
                engineMarkers[spec.name] = nil
                if (try? await engine.clearRollbackMarker(project: config.project, service: spec.name)) != nil {
                    logger.info("rollback marker cleared (the manifest moved on)", metadata: ["service": "\(spec.name)"])
                }
            case .remove(let container, let reason, let stop):
                removals.append((container, reason, stop))
            case .start(let container):
                starts.append(container)
            case .create(let count, let role):
                creates.append((count, role))
            }
        }

        // Dead replicas' removal waits for a route pass (the route file may still name them, and
        // a restart policy may bring one back); their replacements need not wait for it, so a
        // killed replica is replaced as soon as the engine can create one. Any other removal
        // (a stop-first update, a surplus) goes first, as the plan orders.
        if !creates.isEmpty, !removals.isEmpty, removals.allSatisfy({ $0.1 == .dead && !$0.0.state.isLive }) {
            async let removing = remove(removals, spec: spec)
            await bringUp(starts: starts, creates: creates, plan: plan, into: &outcome)
            outcome.add(await removing, of: removals)
        } else {
            if !removals.isEmpty { outcome.add(await remove(removals, spec: spec), of: removals) }
            await bringUp(starts: starts, creates: creates, plan: plan, into: &outcome)
        }
        if outcome.created > 0 { services[spec.name].createdThisRun += outcome.created }
        return outcome
    }

    /// Starts stopped replicas in place, then creates new ones.
    func bringUp(starts: [ObservedContainer], creates: [(Int, ReplicaRole)], plan: ServicePlan, into outcome: inout StepOutcome) async {
        let spec = plan.spec
        for container in starts {
            do {
                try await replicas.start(container)
                startedAt[container.id] = WallClock.nowMS()
                outcome.startedIDs.append(container.id)
            } catch {
                logger.error("start failed", metadata: ["service": "\(spec.name)", "container": "\(container.name)", "error": "\(error)"])
                if EngineError.isUnavailable(error) { outcome.engineUnavailable = true } else { outcome.failedActions += 1 }
            }
        }
        for (count, role) in creates {
            let made = await create(count, role: role, spec: spec, inRollout: plan.live.contains { $0.specHash != spec.specHash })
            outcome.created += made.ids.count
            outcome.createdIDs += made.ids
            if let failure = made.failure { outcome.createFailure = failure }
            if made.unavailable { outcome.engineUnavailable = true }
        }
    }

    /// Removes replicas at once (engine calls bounded by the limiter). Running ones leave the
    /// routes first (the refresh is awaited, bounded), then get SIGTERM and their stop timeout.
    func remove(_ removals: [(ObservedContainer, RemovalReason, ServiceStep.StopMode)], spec: ServiceSpec?) async
        -> (removed: Int, replaced: Int, failed: Int, unavailable: Bool) {
        for (container, _, _) in removals {
            leaving.insert(container.id)
            leavingService[container.id] = container.service
            if container.state.isLive { stopping.insert(container.id) }
        }
        // Live ones leave the routes first; so does one the route file still names although the
        // list said it had exited (its restart policy may have started it again since: simulator
        // seed 2711, release, stopped one the file named).
        let routed = Set((await routes?.lastTable)?.entries.flatMap { $0.targets.map(\.container) } ?? [])
        if let routes, removals.contains(where: { $0.0.state.isLive || routed.contains($0.0.name) }) {
            await routes.refreshAndWait(timeout: .seconds(5))
            // The process is stopping and the wait was cut short: the replicas may still be in
            // the route file, so none is stopped; the next start decides again (simulator seed
            // 2558, release: a replica stopped while its route still named it).
            if Task.isCancelled {
                for (container, _, _) in removals {
                    leaving.remove(container.id)
                    stopping.remove(container.id)
                    leavingService[container.id] = nil
                }
                return (0, 0, 0, false)
            }
        }
        let replicas = replicas, revision = revision
        let results = await withTaskGroup(of: (ObservedContainer, RemovalReason, Result<Void, any Error>).self) { group in
            for (container, reason, stop) in removals {
                let timeout = Replicas.stopTimeout(of: container, spec: spec)
                group.addTask {
                    do {
                        try await replicas.remove(container, reason: reason.logText, stop: stop, stopTimeout: timeout, decidedAt: revision)
                        return (container, reason, .success(()))
                    } catch {
                        return (container, reason, .failure(error))
                    }
                }
            }
            var all: [(ObservedContainer, RemovalReason, Result<Void, any Error>)] = []
            for await result in group { all.append(result) }
            return all
        }
        var removed = 0, replaced = 0, failed = 0
        var unavailable = false
        var refused: [ObservedContainer] = []
        for (container, reason, result) in results {
            switch result {
            case .success:
                removed += 1
                if reason == .replaced { replaced += 1 }
            case .failure(let error):
                logger.error("remove failed", metadata: ["error": "\(error)"])
                if EngineError.isUnavailable(error) {
                    unavailable = true  // it may be gone: it stays out of the routes
                } else {
                    failed += 1
                    refused.append(container)
                }
            }
        }
        // The engine refused a removal: a replica still running goes back into the routes until a
        // step decides again (simulator seed 20: a `promote` that failed left a ready replica out
        // of the routes; seed 58: one its stop had ended must stay out). Not known: it stays out.
        for container in refused {
            guard let now = try? await engine.observeContainer(container.id, label: OwnershipLabel.project, value: config.project),
                  now.state.isLive else { continue }
            leaving.remove(container.id)
            stopping.remove(container.id)
            leavingService[container.id] = nil
        }
        for (container, _, _) in removals {
            await monitor.forget(container.id)
            startedAt[container.id] = nil
            diedSinceStart.remove(container.id)
        }
        return (removed, replaced, failed, unavailable)
    }

    /// Creates `count` replicas at once: image and networks first, then create + start each.
    func create(_ count: Int, role: ReplicaRole, spec: ServiceSpec, inRollout: Bool) async -> (ids: [String], failure: String?, unavailable: Bool) {
        do {
            try await images.ensure(spec.image, policy: spec.pull)
            try await networks.ensure(for: spec)
            try await volumes.ensure(for: spec)
        } catch {
            if Task.isCancelled { return ([], nil, false) }  // the process is stopping: nothing to report
            logger.error("image, network or volume not available", metadata: ["service": "\(spec.name)", "image": "\(spec.image)", "error": "\(error)"])
            return ([], "\(error)", !(error is ResourceRefused) && EngineError.isUnavailable(error))
        }
        if role == .canary {
            logger.info("canary release", metadata: ["service": "\(spec.name)", "canaries": "\(count)", "weight": "\(spec.update.canary.weight)%"])
        } else if inRollout {
            logger.info("rolling update", metadata: ["service": "\(spec.name)", "new": "\(count)", "order": "\(spec.update.order.rawValue)"])
        }
        let replicas = replicas, revision = revision
        // Each replica's start is stamped when its own start answered, not when the batch did
        // (simulator seed 329: a slow third start pushed two routed replicas' settle time back,
        // and they left the routes).
        let results = await withTaskGroup(of: Result<(id: String, startedAt: Int64), Replicas.CreateError>.self) { group in
            for _ in 0..<count {
                group.addTask {
                    do {
                        let id = try await replicas.create(spec, role: role, revision: revision)
                        return .success((id, WallClock.nowMS()))
                    } catch let error as Replicas.CreateError {
                        return .failure(error)
                    } catch {
                        return .failure(Replicas.CreateError(description: "\(error)", engineUnavailable: EngineError.isUnavailable(error)))
                    }
                }
            }
            var all: [Result<(id: String, startedAt: Int64), Replicas.CreateError>] = []
            for await result in group { all.append(result) }
            return all
        }
        var ids: [String] = []
        var failure: String?
        var unavailable = false
        var leftovers: [String] = []
        for result in results {
            switch result {
            case .success(let created):
                ids.append(created.id)
                startedAt[created.id] = created.startedAt
            case .failure(let error):
                if let id = error.leftover { leftovers.append(id) }
                if error.engineUnavailable { unavailable = true } else { failure = "\(count - ids.count) of \(count) new replicas could not be created: \(error)" }
            }
        }
        await discard(leftovers, of: spec.name)
        if failure != nil { await images.forget(spec.image) }
        if !ids.isEmpty && (role == .canary || !inRollout) { report.created += ids.count }
        return (ids, failure, unavailable)
    }

    /// What failed creates left on the engine: out of the routes first (a list may have shown
    /// one running, and a route pass routed it: simulator seed 2364, release, stopped one the
    /// route file named), then stopped and removed.
    func discard(_ ids: [String], of service: String) async {
        guard !ids.isEmpty else { return }
        for id in ids {
            leaving.insert(id)
            leavingService[id] = service
            stopping.insert(id)
        }
        if let routes { await routes.refreshAndWait(timeout: .seconds(5)) }
        for id in ids { await replicas.discard(id) }
    }

    /// A service no longer in the manifests: its containers go (gracefully), its decisions are
    /// forgotten. Left alone while prune safety suspends orphan removal.
    func reconcileOrphan(_ key: String, trigger: Trigger) async -> Requeue {
        guard resolved.isOrphan(key) else {
            // Kept (broken file, held-back removal): its replicas stay, and what they are is kept
            // current, since the prune budget counts the services that still have replicas and
            // kept routes follow the live ones (simulator seed 351: a removed service's stale
            // list held another service back).
            let before = observations.containers(key)
            if before?.isEmpty == false, (try? await observe(key)) != nil, observations.containers(key)?.isEmpty == true {
                observations.forget(key)
            }
            // Its kept routes follow what is live: a replica back from a restart rejoins them now
            // (simulator seed 857, release: it waited for an unrelated route pass).
            if observations.containers(key) != before { routes?.requestRefresh() }
            // A kept replica the engine may be restarting (its policy unknown here, so any that
            // stopped a moment ago): look again in 1 s, so that it rejoins its kept routes (its
            // start is no event Flotilla follows; simulator seed 479 waited for the watchdog).
            let now = WallClock.nowMS()
            for container in observations.containers(key) ?? [] where !container.state.isLive && !stoppedBeforeStart.contains(container.id) {
                if let status = try? await engine.restartStatus(of: container.id),
                   status.willRestart(state: container.state, policy: .always, maxRetries: nil, now: now) {
                    return later(key, .seconds(1), "a kept replica the engine is restarting")
                }
            }
            return .done
        }
        let containers: [ObservedContainer], observedAt: Int64
        do {
            (containers, observedAt) = try await observe(key)
        } catch {
            return engineTrouble(key, error)
        }
        var next = decisions
        next.forget(service: key)
        save(next)
        if engineMarkers[key] != nil {
            try? await engine.clearRollbackMarker(project: config.project, service: key)
            engineMarkers[key] = nil
        }
        guard !containers.isEmpty else {
            observations.forget(key)
            return .done
        }
        logger.info("reconcile step", metadata: ["service": "\(key)", "reason": "\(trigger)", "phase": "orphan", "actions": "\(containers.count)"])
        await monitor.forget(service: key)
        let results = await remove(containers.map { ($0, .orphan, .graceful) }, spec: nil)
        observations.changed(key, at: WallClock.nowMS())
        var outcome = StepOutcome(failedActions: results.failed, engineUnavailable: results.unavailable)
        outcome.removedIDs = Set(containers.map(\.id))
        await track(key, observed: containers, observedAt: observedAt, outcome: outcome)
        report.removed += results.removed
        report.changedServices.insert(key)
        routes?.requestRefresh()
        await networks.prune(keeping: Set(resolved.specs.values.flatMap { $0.networks.map(\.name) }))
        if results.unavailable { return engineTrouble(key, nil) }
        return results.failed > 0 ? later(key, .seconds(2), "failed removal") : later(key, .zero, "follow-up")
    }
}

extension RemovalReason {
    /// The `reason=` of the "removed" log line.
    var logText: String {
        switch self {
        case .dead: return "pruned (not running)"
        case .surplus: return "surplus (scaled down)"
        case .orphan: return "orphan (service no longer in the manifests)"
        case .unhealthy: return "liveness check failing"
        case .rolledBack: return "canary rolled back"
        case .superseded: return "superseded canary"
        case .replaced: return "replaced"
        case .unready: return "new replica did not become ready"
        }
    }
}
