import FlotillaCore
import FlotillaEngine
import Foundation
import Logging

/// One key's reconcile: observe the service, plan, compute the next safe step, carry it out,
/// and say when to look again.
extension Controller {
    func reconcile(_ key: String) async -> Requeue {
        guard let lock = config.sharedLock else { return await step(key) }
        // A CLI command (`promote`, `apply`, …) holds the project: look again shortly.
        guard let fd = lock.trySharedLock() else {
            // Held by a CLI command (or the lock file cannot be opened: never work unlocked).
            return later(key, .milliseconds(500), "project locked by a flotilla command (or its lock file \(lock.path) cannot be opened)")
        }
        defer { lock.release(fd) }
        noteLockGeneration(ReconcileLock.generation(fd))
        return await step(key)
    }

    /// A CLI command held the project since the last look (see ``ReconcileLock/generation(_:)``):
    /// it may have created, started or removed replicas, which no event says (only deaths and
    /// removals are watched), so every observation from before is listed again.
    func noteLockGeneration(_ generation: UInt64?) {
        guard let generation else { return }
        if let known = lockGeneration, known != generation {
            logger.debug("project was changed by a flotilla command; observing it afresh", metadata: ["generation": "\(generation)"])
            observations.distrustAll()
            services.updateAll {
                $0.idle = nil
                $0.observedSinceChange = false
            }
            awaitingRelist = true
        }
        lockGeneration = generation
    }

    /// One step, measured: `flotilla_reconciles_total{result,trigger}` and its duration.
    func step(_ key: String) async -> Requeue {
        let trigger = services[key].trigger ?? .followUp
        let start = AgentClock.now
        services[key].stepResult = "idle"
        let requeue = await stepBody(key)
        FlotillaMetrics.reconcile(result: services[key].stepResult ?? "idle", trigger: trigger.kind, duration: .now - start)
        services[key].stepResult = nil
        return requeue
    }

    func stepBody(_ key: String) async -> Requeue {
        // Read and reset before the first await: a trigger that comes meanwhile is the next step's.
        let trigger = services[key].trigger ?? .followUp
        let onlyWatchdog = trigger == .watchdog && !services[key].askedBesidesWatchdog
        let idle = services[key].idle
        services[key].trigger = nil
        services[key].askedBesidesWatchdog = false
        services[key].idle = nil
        if config.mode == .once && services[key].finished { return .done }
        guard let spec = resolved.specs[key] else { return await reconcileOrphan(key, trigger: trigger) }
        let runningBefore = Set((observations.containers(key) ?? []).filter { $0.state == .running }.map(\.id))
        let containers: [ObservedContainer], observedAt: Int64
        do {
            (containers, observedAt) = try await observe(key)
        } catch {
            // The process is stopping (its task cancelled): not the engine's trouble.
            if Task.isCancelled { return .done }
            return engineTrouble(key, error)
        }
        // A replica the engine's restart policy started again is routable once ready: the route
        // pass its readiness asked for ran before this look, on the cache that still had it dead
        // (simulator seed 5235, release: it stayed out of the routes until the watchdog).
        if !Set(containers.filter { $0.state == .running }.map(\.id)).isSubset(of: runningBefore) { routes?.requestRefresh() }
        if onlyWatchdog, let idle, idle.spec == spec, Set(idle.containers) == Set(containers) {
            services[key].idle = idle
            idleWatchdogSteps += 1
            return .done  // the same inputs as the last step that found nothing to do
        }
        if spec.update.strategy == .canary {
            // `flotilla promote`/`rollback` may have decided meanwhile, in another process.
            if let store { savedDecisions = WriteThrough(store.loadDecisions()) }
            await refreshMarkers()
        }
        let now = WallClock.nowMS()
        let restarting = await restartingByEngine(spec, containers, now: now)
        await monitor.sync(service: spec, containers: containers)
        // A one-shot command without route files, over a service whose replicas are all of the
        // current spec, decides nothing by when they started: it need not ask the engine (one
        // inspect per replica younger than a minute made a no-op `apply` right after a deploy
        // 2.6× a list call). A rollout, a canary, routes or the daemon still ask (simulator seed 161).
        let startTimesMatter = config.mode != .once || routes != nil
            || containers.contains { $0.specHash != spec.specHash || $0.role != .regular }
        let readiness = await readiness(of: spec, containers, now: now, learnStarts: startTimesMatter)
        let failingLiveness = await monitor.failingLiveness()
        let ready: (ObservedContainer) -> Readiness = { readiness[$0.id] ?? .unknown }
        // The routes follow the ready set: a replica whose settle time just ended (a requeue at
        // that moment) joins them now.
        let readyNow = Set(readiness.filter { $0.value == .ready }.map(\.key))
        FlotillaMetrics.replicas(service: key, desired: spec.replicas, running: containers.filter { $0.state == .running }.count, ready: readyNow.count)
        services[key].failing = Set(readiness.filter { $0.value.isFailing }.map(\.key))
        if readyNow != services[key].ready {
            services[key].ready = readyNow
            routes?.requestRefresh()
        }

        var options = Planner.Options(allowEmpty: config.allowEmpty, backoff: backoff, now: now,
                                      unhealthy: failingLiveness.intersection(containers.map(\.id)),
                                      promote: promote.contains(key) ? [key] : [], rollback: rollback.filter { $0.key == key },
                                      rolledBack: rolledBackDecisions, notCrashed: unwatched, engineRestarting: restarting)
        options.releases = decisions.releases
        var plan = Planner.planService(spec, observed: containers, options: options)
        var recheck: Int64?
        if plan.phase == .canary {
            switch CanaryDecision.decide(spec, canaries: plan.live.filter { $0.specHash == spec.specHash }, readiness: ready, now: now) {
            case .promote where config.mode == .daemon:
                logger.info("canary promoted (healthy for auto_promote_after)", metadata: ["service": "\(key)"])
                actions.record("promoted", service: key, reason: "healthy for auto_promote_after", revision: revision)
                options.promote.insert(key)
                plan = Planner.planService(spec, observed: containers, options: options)
            case .rollback(let why):
                options.rollback[key] = why
                plan = Planner.planService(spec, observed: containers, options: options)
            case .wait(let at):
                recheck = at
            default:
                break
            }
        }
        // A replica still settling joins the routes when its settle time ends: look again then,
        // whatever the step waits for (simulator seed 199: a replica started again after a kill
        // stayed out of the routes, nothing else asking for a step).
        let settlesAt = readiness.values.compactMap { if case .settling(let until) = $0 { until } else { nil } }.min()
        if let settlesAt, recheck == nil || settlesAt + 50 < recheck! { recheck = settlesAt + 50 }
        // A replica the engine's restart policy is bringing back: its start is no news (no event
        // Flotilla follows), so look again shortly, to probe and route it (simulator seed 57:
        // out of the routes until the watchdog, while a crash-loop backoff of the service waited).
        if !restarting.isEmpty, recheck == nil || now + 1000 < recheck! { recheck = now + 1000 }
        let unreadyDependencies = await unreadyDependencies(of: spec, now: now)
        let step = RolloutStep.next(plan, readiness: ready, unreadyDependencies: unreadyDependencies)
        remember(phase: plan.phase, of: spec, rolledBack: plan.markRolledBack != nil)
        logNotes(plan, step: step, now: now)

        if !step.actions.isEmpty {
            logger.info("reconcile step", metadata: [
                "service": "\(key)", "reason": "\(trigger)", "phase": "\(plan.phase.rawValue)", "actions": "\(step.actions.count)",
            ])
            if services[key].convergingSince == nil { services[key].convergingSince = .now }
        } else if step.isSettled, let since = services[key].convergingSince {
            services[key].convergingSince = nil
            logger.info("converged", metadata: [
                "service": "\(key)", "replicas": "\(plan.live.count)", "duration": "\(Replicas.format(.now - since))",
            ])
        } else if step.isSettled {
            // Not "in sync" while the prune budget holds removals back: the project is not.
            logger.log(level: trigger.isRoutine || !resolved.heldBack.isEmpty ? .debug : .info, "in sync", metadata: [
                "service": "\(key)", "reason": "\(trigger)", "replicas": "\(plan.live.count)",
            ])
        }
        let outcome = await execute(step, plan: plan)
        // The process is stopping (its task cancelled): what failed for that is no news.
        if Task.isCancelled { return .done }
        report.removed += outcome.removed
        report.replaced += outcome.replaced
        if !step.actions.isEmpty {
            services[key].stepResult = "changed"
            observations.changed(key, at: WallClock.nowMS())
            await track(key, observed: containers, observedAt: observedAt, outcome: outcome)
            report.changedServices.insert(key)
            routes?.requestRefresh()
        }
        if outcome.engineUnavailable { return engineTrouble(key, nil) }
        if step.failure != nil || outcome.createFailure != nil || outcome.failedActions > 0 { services[key].stepResult = "failed" }
        if config.mode == .daemon, let failure = step.failure ?? outcome.createFailure {
            // Once per failure, not once per step or event while it lasts.
            if services[key].lastFailure != failure {
                services[key].lastFailure = failure
                logger.warning("service did not converge; retrying after backoff", metadata: ["service": "\(key)", "reason": "\(failure)"])
                actions.record("failed", service: key, reason: failure, revision: revision)
            }
        } else if step.isSettled {
            services[key].lastFailure = nil
        }
        if step.crashed || outcome.createFailure != nil {
            report.crashed.insert(key)
            // A death is seen by several steps (its event, the follow-ups): count it once.
            let fresh = step.crashedReplicas.subtracting(countedCrashes)
            if config.mode == .daemon, outcome.createFailure != nil || !fresh.isEmpty || step.crashedReplicas.isEmpty {
                backoff.recordFailure(key, now: now)
            }
            if countedCrashes.count > 10_000 { countedCrashes = [] }
            countedCrashes.formUnion(step.crashedReplicas)
        }
        logBackoff(key, step: step, now: now)
        let requeue = config.mode == .once ? onceRequeue(key, step: step, outcome: outcome, unreadyDependencies: unreadyDependencies)
            : daemonRequeue(key, step: step, outcome: outcome, recheck: recheck, now: now)
        // Only a service at rest is remembered: nothing done, nothing awaited, no failure, and
        // every replica running (an exited one may be the engine's to restart or give up on,
        // which its list entry does not show).
        if requeue == .done, step.actions.isEmpty, step.isSettled, step.failure == nil, services[key].lastFailure == nil,
           containers.allSatisfy({ $0.state == .running }) {
            services[key].idle = (spec, containers)
        }
        return requeue
    }

    // MARK: - When to look again

    func daemonRequeue(_ key: String, step: ServiceStep, outcome: StepOutcome, recheck: Int64?, now: Int64) -> Requeue {
        if outcome.createFailure != nil || outcome.failedActions > 0 {
            // Counted toward backoff (creates) or a transient engine refusal: look again soon.
            return later(key, .seconds(1), "failed action")
        }
        if !step.actions.isEmpty { return later(key, .zero, "follow-up") }
        var delay: Int64?
        var why = ""
        for wait in step.waits {
            let (ms, reason): (Int64, String)
            switch wait {
            case .readiness: (ms, reason) = (1000, "readiness")
            case .settle(let until): (ms, reason) = (until - now + 50, "settle time")
            case .backoff(let until): (ms, reason) = (until - now, "crash-loop backoff")
            case .dependencies: (ms, reason) = (1000, "dependencies")
            }
            if delay == nil || ms < delay! { (delay, why) = (ms, reason) }
        }
        if let recheck, delay == nil || recheck - now < delay! { (delay, why) = (recheck - now, "recheck due (canary auto-promotion, settle time, engine restarting a replica)") }
        guard let delay else { return .done }
        return later(key, .milliseconds(max(0, delay)), why)
    }

    /// A one-shot command's engine refusals of a service in a row: true once they reach the limit.
    func noteOnceTrouble(_ key: String) -> Bool {
        services[key].onceTroubles += 1
        return services[key].onceTroubles >= Self.onceTroubleLimit
    }

    static let onceTroubleLimit = 3

    func onceFailure(_ key: String, _ why: String) -> Requeue {
        report.failures[key] = why
        logger.error("service did not converge", metadata: ["service": "\(key)", "reason": "\(why)"])
        services[key].finished = true
        return .done
    }

    func onceRequeue(_ key: String, step: ServiceStep, outcome: StepOutcome, unreadyDependencies: [String]) -> Requeue {
        func fail(_ why: String) -> Requeue { onceFailure(key, why) }
        if outcome.failedActions > 0 {
            if noteOnceTrouble(key) { return fail("the engine refused \(outcome.failedActions) action(s), \(Self.onceTroubleLimit) steps in a row") }
        } else {
            services[key].onceTroubles = 0
        }
        if let failure = step.failure ?? outcome.createFailure { return fail(failure) }
        if step.crashed && services[key].createdThisRun > 0 { return fail("new replicas did not become ready") }
        if let failed = unreadyDependencies.first(where: { report.failures[$0] != nil }) {
            return fail("not started: dependency \(failed) is not healthy")
        }
        if !step.actions.isEmpty { return later(key, .zero, "follow-up") }
        if step.isSettled {
            services[key].finished = true
            return .done
        }
        return later(key, .milliseconds(250), "waiting")
    }

    func later(_ key: String, _ delay: Duration, _ why: String) -> Requeue {
        if services[key].trigger == nil { services[key].trigger = delay == .zero ? .followUp : .requeue(why) }
        return delay == .zero ? .now : .after(delay)
    }

    /// The engine did not answer: not the service's fault, so no crash count; retry with a
    /// growing delay (reset by the next successful list).
    func engineTrouble(_ key: String, _ error: (any Error)?) -> Requeue {
        services[key].stepResult = "engine_unavailable"
        if let error, !EngineError.isUnavailable(error) {
            // A one-shot command gives up after a few refusals in a row: `apply` must end
            // (before: it retried every 2 s for as long as the engine answered 500).
            if config.mode == .once, noteOnceTrouble(key) { return onceFailure(key, "engine refused a request \(Self.onceTroubleLimit) times: \(error)") }
            logger.error("engine refused a request; retrying", metadata: ["service": "\(key)", "error": "\(error)"])
            return later(key, .seconds(2), "engine error")
        }
        if config.mode == .once {
            report.failures[key] = "engine unavailable\(error.map { ": \($0)" } ?? "")"
            services[key].finished = true
            return .done
        }
        // Per service: one service's trouble does not slow another's retries.
        let delay = services[key].engineRetryDelay ?? .milliseconds(500)
        services[key].engineRetryDelay = min(delay * 2, .seconds(10))
        logger.warning("engine unavailable; will retry (nothing counted as a crash)", metadata: [
            "service": "\(key)", "retry_in": "\(delay)", "error": "\(error.map { "\($0)" } ?? "request failed")",
        ])
        return later(key, delay, "engine unavailable")
    }

    // MARK: - Observing

    /// The service's containers: the last list when it was taken after this process's last
    /// change to the service (each list serves one step), else a fresh one. A step that looks
    /// alone lists its service; steps that look at the same time share one list of the project
    /// (the engine walks all of its containers for every list, filtered or not, so one list per
    /// service in a wave of N services costs N times N).
    func observe(_ key: String) async throws -> (containers: [ObservedContainer], at: Int64) {
        // `at`: when what is returned was observed, taken before any other await (a list begun
        // meanwhile may stamp the cache newer than this observation).
        let observed: (containers: [ObservedContainer], at: Int64)
        if let fresh = observations.takeFresh(key) {
            observed = fresh
        } else if let known = knownContainers(key) {
            observed = try await inspect(known, of: key)
        } else if observing > 0 || sharedList != nil {
            try await sharedObservation(for: key)
            if let fresh = observations.takeFresh(key) {
                observed = fresh
            } else {
                observed = try await listService(key)
            }
        } else {
            observed = try await listService(key)
        }
        services[key].engineRetryDelay = nil
        services[key].looked = true
        services[key].observedSinceChange = true
        // No removal of this service is in flight (one step per key at a time): what is still
        // marked leaving is gone, or its removal failed and this step decides again (before:
        // a replica whose removal failed stayed out of the routes for good).
        for (id, service) in leavingService where service == key {
            leaving.remove(id)
            stopping.remove(id)
            leavingService[id] = nil
        }
        await replicas.ports.markTaken(observed.containers.compactMap(\.hostPort))
        return observed
    }

    /// Once mode holds the project lock for its whole run, so no other Flotilla adds replicas
    /// meanwhile: the service's containers are the ones this process last knew, each looked at
    /// again by inspection (one cheap call each, where Podman's list walks every container on the
    /// engine: a list per step made a cold start of 500 services quadratic). The daemon lists
    /// (a CLI command may have changed the project between its steps). Nil: list instead.
    func knownContainers(_ key: String) -> [ObservedContainer]? {
        guard config.mode == .once, observations.isCurrent(key), let known = observations.containers(key), known.count <= 8 else { return nil }
        return known
    }

    /// Each of `known` as the engine shows it now (gone ones left out); cached as the service's list.
    func inspect(_ known: [ObservedContainer], of key: String) async throws -> (containers: [ObservedContainer], at: Int64) {
        let startedAt = WallClock.nowMS()
        let now = try await inspect(ids: known.map(\.id))
        observations.observed(key, now, at: startedAt, byList: false)
        return (now, startedAt)
    }

    /// These containers as the engine shows them now, one inspection each; gone ones left out.
    func inspect(ids: [String]) async throws -> [ObservedContainer] {
        var seen: [ObservedContainer] = []
        for id in ids {
            if let container = try await engine.observeContainer(id, label: OwnershipLabel.project, value: config.project) { seen.append(container) }
        }
        return seen
    }

    /// After a step's change: the service's cache becomes what its step saw, less what it removed,
    /// plus what it created or started (inspected), so the follow-up step needs no list. Only
    /// when every action succeeded and no engine event came for the service since that look.
    func track(_ key: String, observed: [ObservedContainer], observedAt: Int64, outcome: StepOutcome) async {
        observations.untrack(key)
        guard outcome.isComplete, !observations.eventSince(key, observedAt) else { return }
        let changed = Set(outcome.startedIDs).union(outcome.removedIDs)
        // Not known exactly (an inspection failed): the next step lists.
        guard let seen = try? await inspect(ids: outcome.startedIDs + outcome.createdIDs) else { return }
        // After the await: taken only if nothing newer came meanwhile (the cache's rule).
        observations.track(key, containers: observed.filter { !changed.contains($0.id) } + seen, observedAt: observedAt)
    }

    /// One list call for the service alone.
    func listService(_ key: String) async throws -> (containers: [ObservedContainer], at: Int64) {
        observing += 1
        defer { observing -= 1 }
        let startedAt = WallClock.nowMS()
        let containers = genuine(try await engine.listContainers(label: OwnershipLabel.project, value: config.project, service: key))
        logger.debug("engine list", metadata: ["service": "\(key)", "containers": "\(containers.count)"])
        observations.observed(key, containers, at: startedAt, byList: true)
        return (containers, startedAt)
    }

    /// Waits for a list of the whole project taken after the service's last change here: the one
    /// in flight when it is recent enough, else a new one (which later steps may join).
    func sharedObservation(for key: String) async throws {
        if let shared = sharedList, shared.startedAt > (observations[key].changedAt ?? 0) {
            try await shared.task.value
            return
        }
        let startedAt = WallClock.nowMS()
        let task = Task { try await self.listProject(startedAt: startedAt) }
        sharedList = (startedAt, task)
        defer { if sharedList?.startedAt == startedAt { sharedList = nil } }
        try await task.value
    }

    /// One list of every owned container, handed to each service as its observation taken at
    /// `startedAt` (never over a newer one).
    func listProject(startedAt: Int64) async throws {
        observing += 1
        defer { observing -= 1 }
        let listed = genuine(try await engine.listContainers(label: OwnershipLabel.project, value: config.project))
        logger.debug("engine list (shared by the steps looking now)", metadata: ["containers": "\(listed.count)"])
        take(projectList: listed, startedAt: startedAt)
    }

    /// A list of every owned container, begun at `startedAt`: each service's observation, except
    /// where the cache already holds something newer.
    func take(projectList listed: [ObservedContainer], startedAt: Int64) {
        observations.observedProject(listed, startedAt: startedAt, known: Set(resolved.specs.keys))
        everListedProject = true
        if awaitingRelist {
            awaitingRelist = false
            routes?.requestRefresh()
        }
    }

    /// Exited replicas the engine is about to restart (restart policy): those it says it is
    /// restarting, and those that stopped in the last few seconds with a policy that restarts
    /// them. One the engine has given up on (on-failure:N exhausted, a clean exit under
    /// on-failure, or stopped for longer) is dead.
    func restartingByEngine(_ spec: ServiceSpec, _ containers: [ObservedContainer], now: Int64) async -> Set<String> {
        guard spec.restartPolicy != .no else { return [] }
        var result = Set<String>()
        for container in containers where [.exited, .created, .removing].contains(container.state) && !stoppedBeforeStart.contains(container.id) {
            // Not knowing is not "dead": an inspect that fails on a loaded engine leaves the
            // replica to the engine for this pass (the next one asks again).
            guard let status = try? await engine.restartStatus(of: container.id) else {
                result.insert(container.id)
                continue
            }
            if status.willRestart(state: container.state, policy: spec.restartPolicy, maxRetries: spec.restartMaxRetries, now: now) {
                result.insert(container.id)
            }
        }
        return result
    }

    /// `learnStarts`: a young replica's start time is asked from the engine (``learnStart(of:now:)``).
    func readiness(of spec: ServiceSpec, _ containers: [ObservedContainer], now: Int64, learnStarts: Bool = true) async -> [String: Readiness] {
        var result: [String: Readiness] = [:]
        let settle = config.settleTime.wholeMilliseconds
        for container in containers {
            let hasCheck = ReplicaChecks.of(container, spec: spec).readiness != nil && container.hostPort != nil
            if !hasCheck && learnStarts { await learnStart(of: container, now: now) }
            let container = settling(container)
            let probe = hasCheck ? await monitor.readinessState(of: container.id) : nil
            result[container.id] = Readiness.of(container, probe: probe, hasCheck: hasCheck, settleMS: settle, now: now)
        }
        return result
    }

    /// The replica with its settle time counted from when this process saw it start, where that
    /// is later than its creation label (an engine slow to start it: simulator seed 55 took an
    /// old replica away 5 ms after its replacement started).
    func settling(_ container: ObservedContainer) -> ObservedContainer {
        guard let started = startedAt[container.id], started > container.created else { return container }
        var container = container
        container.created = started
        return container
    }

    /// A young running replica's start time, asked once from the engine when this process did
    /// not start it itself: its creation label is when the create *began*, and an engine slow
    /// to start it made a replica "settled" the moment it started (simulator seed 161: a CLI
    /// `apply` took an old replica away 0.7 s after its replacement started). A failed inspect
    /// leaves the label's time (asked again next step).
    func learnStart(of container: ObservedContainer, now: Int64) async {
        let restarted = diedSinceStart.contains(container.id)
        guard container.state == .running, startedAt[container.id] == nil, now - container.created < 60_000 || restarted else { return }
        guard let status = try? await engine.restartStatus(of: container.id) else {
            // Not known: a restarted replica settles from now (never from its first start).
            if restarted { startedAt[container.id] = now; diedSinceStart.remove(container.id) }
            return
        }
        startedAt[container.id] = status.startedAt ?? (restarted ? now : container.created)
        diedSinceStart.remove(container.id)
    }

    /// Dependencies that want replicas but have no ready one (as last observed).
    func unreadyDependencies(of spec: ServiceSpec, now: Int64) async -> [String] {
        var unready: [String] = []
        for name in spec.dependsOn {
            guard let dependency = resolved.specs[name], dependency.replicas > 0 else { continue }
            let readiness = await readiness(of: dependency, (observations.containers(name) ?? []).filter { !leaving.contains($0.id) }, now: now)
            if !readiness.values.contains(.ready) { unready.append(name) }
        }
        return unready
    }

    // MARK: - Decisions that outlive the process

    /// Rollbacks from the state directory and the engine's markers together (either may be lost).
    var rolledBackDecisions: [String: String] {
        decisions.rolledBack.merging(engineMarkers) { state, _ in state }
    }

    func remember(phase: RolloutPhase, of spec: ServiceSpec, rolledBack: Bool) {
        var next = decisions
        next.record(service: spec.name, hash: spec.specHash, phase: rolledBack ? .rolledBack : phase)
        save(next)
    }

    func save(_ next: ReleaseDecisions) {
        if let error = savedDecisions.save(next, write: { try store?.save($0) }) {
            logger.error("cannot save the state directory; decisions live in memory and on the engine only", metadata: ["error": "\(error)"])
        }
    }

    func logNotes(_ plan: ServicePlan, step: ServiceStep, now: Int64) {
        if step.waits.contains(where: { if case .backoff = $0 { return true } else { return false } }) { return }  // see logBackoff
        let note = plan.note
        guard services[plan.name].lastNote != note else { return }
        services[plan.name].lastNote = note
        if let note { logger.warning("\(note)") }
    }

    /// One warning per backoff decision (its deadline, once the step's own crash is counted),
    /// not one per step while it counts down or per event that passes by.
    func logBackoff(_ key: String, step: ServiceStep, now: Int64) {
        let waiting = step.waits.contains { if case .backoff = $0 { return true } else { return false } }
        guard waiting || step.crashed, let until = backoff.blockedUntil(key, now: now), services[key].lastBackoff != until else { return }
        services[key].lastBackoff = until
        FlotillaMetrics.crashLoopBackoff(service: key)
        actions.record("crash-loop", service: key, reason: "next attempt in \((until - now + 999) / 1000)s", revision: revision)
        logger.warning("\(key): crash loop, next attempt in \((until - now + 999) / 1000)s", metadata: [
            "service": "\(key)", "failures": "\(backoff.failures(key, now: now))",
        ])
    }
}
