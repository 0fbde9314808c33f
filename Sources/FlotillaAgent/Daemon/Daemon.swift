import FlotillaCore
import FlotillaEngine
import Foundation
import Logging

/// `flotilla run`: keeps the host equal to the manifest directory, forever.
///
/// Level-triggered, like a Kubernetes controller: manifest changes (inotify, debounced), the
/// watchdog tick, engine events (a container died or vanished), SIGHUP and crash-loop retries
/// all lead to the same full, idempotent reconcile. At most one reconcile runs at a time; triggers
/// that arrive meanwhile coalesce into exactly one follow-up run.
public final class Daemon: Sendable {
    public struct Options: Sendable {
        public var resyncInterval: Duration
        public var debounce: Duration
        /// Rewrites the route files after every reconcile and watchdog tick.
        public var routes: RouteRefresher?

        public init(resyncInterval: Duration = .seconds(30), debounce: Duration = .milliseconds(100), routes: RouteRefresher? = nil) {
            self.resyncInterval = resyncInterval
            self.debounce = debounce
            self.routes = routes
        }
    }

    let reconciler: Reconciler
    let options: Options
    let logger: Logger
    let memory = DaemonMemory()
    let triggers: AsyncStream<String>
    let trigger: AsyncStream<String>.Continuation
    /// Readiness and liveness of every replica, probed continuously.
    let monitor: ProbeMonitor

    public init(reconciler: Reconciler, options: Options, logger: Logger) {
        self.reconciler = reconciler
        self.options = options
        self.logger = logger
        // One buffered trigger: whatever arrives during a reconcile becomes one follow-up run.
        let (triggers, trigger) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(1))
        (self.triggers, self.trigger) = (triggers, trigger)
        let routes = options.routes
        monitor = ProbeMonitor(logger: logger) { change in
            switch (change.role, change.status) {
            case (.readiness, _):
                // Routes follow readiness at once, without an engine call.
                Task { await routes?.refreshReadiness() }
                if change.status == .failing && change.container.role == .canary {
                    trigger.yield("canary readiness failing: \(change.container.service)")
                }
            case (.liveness, .failing):
                trigger.yield("liveness failing: \(change.container.service)")
            case (.liveness, _):
                break
            }
        }
    }

    /// Asks for a reconcile (coalesced with any other pending request).
    public func requestReconcile(_ reason: String) { trigger.yield(reason) }

    /// Runs until the task is cancelled (SIGTERM/SIGINT), then returns without touching the
    /// containers: they keep running and a restarted Flotilla adopts them.
    public func run() async throws {
        let watcher = ManifestWatcher(root: reconciler.directory)
        try watcher.start()
        defer { watcher.stop() }
        await options.routes?.use(monitor)
        let debouncer = Debouncer(window: options.debounce) { [trigger] in trigger.yield("manifests changed") }

        await withTaskGroup(of: Void.self) { group in
            group.addTask { [logger] in
                for await event in watcher.events {
                    logger.debug("manifest event", metadata: ["kind": "\(event.kind)", "path": "\(event.path)"])
                    await debouncer.fire()
                }
            }
            group.addTask { [options, trigger] in
                while !Task.isCancelled {
                    do { try await Task.sleep(for: options.resyncInterval) } catch { return }
                    trigger.yield("watchdog")
                }
            }
            group.addTask { await self.followEngineEvents() }
            group.addTask {
                for await reason in self.triggers {
                    if Task.isCancelled { break }
                    await self.reconcile(reason: reason)
                }
            }
            trigger.yield("startup")
            await withTaskCancellationHandler {
                await group.next()
            } onCancel: { [trigger] in
                trigger.finish()
            }
            group.cancelAll()
        }
        await debouncer.cancel()
        await monitor.stop()
        logger.info("stopped; containers left running for the next start to adopt")
    }

    // MARK: - The one reconcile

    func reconcile(reason: String) async {
        await reconciler.lock.withLock(logger: logger) { await reconcileLocked(reason: reason) }
        // A long-running process: hand the reconcile's freed heap back to the system.
        HeapTuning.trim()
    }

    func reconcileLocked(reason: String) async {
        let clock = ContinuousClock(), start = clock.now
        let desired: DesiredState
        do {
            desired = try reconciler.loadDesired()
        } catch {
            logger.error("cannot load manifests; changing nothing", metadata: ["reason": "\(reason)", "error": "\(error)"])
            return
        }
        for diagnostic in desired.diagnostics {
            logger.error("invalid manifest", metadata: ["at": "\(diagnostic.file):\(diagnostic.line):\(diagnostic.column)", "error": "\(diagnostic.message)"])
        }
        let lastGood = await memory.remember(desired)

        let observed: [ObservedContainer]
        let rolledBack: [String: String]
        do {
            observed = try await reconciler.observe()
            rolledBack = try await reconciler.rolledBack(for: desired)
        } catch {
            logger.error("engine unreachable; will retry (routes keep their last state)", metadata: ["reason": "\(reason)", "error": "\(error)"])
            return
        }
        let now = WallClock.nowMS()
        // Probed: the valid services, and the last good specs of files that failed to load (as planned).
        var probed = desired.services
        for file in desired.failedFiles { probed += (lastGood[file] ?? []).filter { spec in !probed.contains { $0.name == spec.name } } }
        await monitor.sync(services: probed, observed: observed)
        let releases = await canaryDecisions(desired.services, observed: observed, rolledBack: rolledBack, now: now)
        let plan = reconciler.plan(desired, observed: observed, options: .init(
            lastGoodSpecs: lastGood, backoff: await memory.backoff, now: now, unhealthy: await monitor.failingLiveness(),
            promote: releases.promote, rollback: releases.rollback, rolledBack: rolledBack))
        for service in releases.promote.sorted() {
            logger.info("canary promoted (healthy for auto_promote_after)", metadata: ["service": "\(service)"])
        }
        let routed = plan.services.map(\.spec)
        let keeping = desired.servicesInFailedFiles.subtracting(routed.map(\.name))
        // Dead and failing replicas leave the routes now, not after the replacements are up.
        if plan.services.contains(where: { !$0.prune.isEmpty || !$0.unhealthy.isEmpty }) {
            let leaving = Set(plan.services.flatMap { $0.unhealthy.map(\.id) })
            await options.routes?.refresh(services: routed, observed: observed.filter { $0.state.isLive && !leaving.contains($0.id) }, keeping: keeping)
        }
        let heldBack = plan.services.filter { $0.backoffUntil != nil }.map(\.name)
        if !plan.hasChanges && !heldBack.isEmpty {
            logger.warning("waiting: crash-loop backoff", metadata: ["reason": "\(reason)", "services": "\(heldBack.joined(separator: ","))"])
            for note in plan.notes { logger.warning("\(note)") }
        } else if !plan.hasChanges {
            let level: Logger.Level = reason == "watchdog" ? .debug : .info
            logger.log(level: level, "in sync", metadata: ["reason": "\(reason)", "services": "\(plan.services.count)", "containers": "\(observed.count)"])
            // Standing notes (a canary waiting, a rolled-back release) once, not at every event.
            for note in await memory.fresh(plan.notes) { logger.warning("\(note)") }
        } else {
            logger.info("reconcile started", metadata: ["reason": "\(reason)", "actions": "\(plan.actions.count)"])
            let report = await reconciler.apply(plan, observed: observed, beforeRetiring: { [reconciler, monitor, routes = options.routes] in
                let now = try? await reconciler.observe()
                if let now { await monitor.sync(services: routed, observed: now) }
                await routes?.refresh(services: routed, observed: now, keeping: keeping)
            }, removed: { [monitor] id in await monitor.forget(id) })
            await memory.record(report, now: WallClock.nowMS())
            let level: Logger.Level = report.succeeded ? .info : .warning
            logger.log(level: level, "reconcile finished", metadata: ["summary": "\(report.summary)", "duration": "\(Applier.format(clock.now - start))"])
        }
        // A service held back by crash-loop backoff gets its own retry, not the next watchdog tick;
        // so does a canary due for automatic promotion.
        if let retry = plan.services.compactMap(\.backoffUntil).min() { schedule("crash-loop retry", inMS: retry - now) }
        if let due = releases.nextPromotion { schedule("canary auto-promotion due", inMS: due - now) }
        // Canaries started just now were not in that decision: look again when theirs is due.
        for service in plan.services where service.createRole == .canary && service.create > 0 {
            if let after = service.spec.update.canary.autoPromoteAfter { schedule("canary auto-promotion due", inMS: Int64(after.milliseconds) + 100) }
        }
        let final = plan.hasChanges ? (try? await reconciler.observe()) : observed
        if let final, plan.hasChanges { await monitor.sync(services: routed, observed: final) }
        await options.routes?.refresh(services: routed, observed: final, keeping: keeping)
    }

    /// A trigger `delay` milliseconds from now.
    func schedule(_ reason: String, inMS delay: Int64) {
        let delay = Duration.milliseconds(max(0, delay))
        Task { [trigger] in
            try? await Task.sleep(for: delay)
            trigger.yield(reason)
        }
    }

    // MARK: - Engine events

    /// Follows the engine's event stream; reconnects with backoff, resuming from the last event
    /// seen so that nothing is missed, and reconciles after every reconnect.
    func followEngineEvents() async {
        // Replay from just before the start-up list, so nothing between that list and the
        // subscription is missed (the engine's `since` has one-second resolution).
        var since: Int64? = WallClock.nowMS() / 1000 - 1
        var delay = Duration.milliseconds(500)
        var everConnected = false
        while !Task.isCancelled {
            var connected = false
            do {
                try await reconciler.engine.streamEvents(project: reconciler.project, since: since) {
                    connected = true
                    if everConnected {
                        logger.info("engine event stream reconnected")
                        trigger.yield("engine reconnected")
                    }
                    everConnected = true
                } onEvent: { event in
                    since = max(since ?? 0, event.time)
                    guard event.kind != .other else { return }
                    logger.debug("container \(event.kind.rawValue)", metadata: [
                        "service": "\(event.service ?? "?")", "container": "\(event.containerID.prefix(12))", "action": "\(event.action)",
                    ])
                    trigger.yield("engine event: \(event.service ?? "?") \(event.action)")
                    // Docker sends `die` a moment before its container list shows the container as
                    // exited; a second look a second later sees the settled state.
                    let reason = "engine event follow-up: \(event.service ?? "?") \(event.action)"
                    Task { [trigger] in
                        try? await Task.sleep(for: .seconds(1))
                        trigger.yield(reason)
                    }
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning("engine event stream lost; reconnecting", metadata: ["error": "\(error)", "in": "\(delay)"])
            }
            if Task.isCancelled { return }
            if connected { delay = .milliseconds(500) }
            do { try await Task.sleep(for: delay) } catch { return }
            delay = min(delay * 2, .seconds(10))
        }
    }

}

/// What the daemon remembers between reconciles: the last good specs per file (prune safety)
/// and crash-loop backoff. Everything else is read afresh every time.
actor DaemonMemory {
    private(set) var backoff = CrashLoopBackoff()
    private var lastGood: [String: [ServiceSpec]] = [:]

    /// Records the specs of every file that loaded cleanly; returns the last good specs.
    func remember(_ desired: DesiredState) -> [String: [ServiceSpec]] {
        let present = Set(desired.files)
        lastGood = lastGood.filter { present.contains($0.key) }
        var byFile: [String: [ServiceSpec]] = [:]
        for file in desired.files where !desired.failedFiles.contains(file) { byFile[file] = [] }
        for spec in desired.services { if let file = desired.sourceFile[spec.name] { byFile[file, default: []].append(spec) } }
        for (file, specs) in byFile { lastGood[file] = specs }
        return lastGood
    }

    private var lastNotes: Set<String> = []

    /// The notes that were not in the previous plan.
    func fresh(_ notes: [String]) -> [String] {
        defer { lastNotes = Set(notes) }
        return notes.filter { !lastNotes.contains($0) }
    }

    func record(_ report: ApplyReport, now: Int64) {
        for service in report.crashed { backoff.recordFailure(service, now: now) }
    }
}
