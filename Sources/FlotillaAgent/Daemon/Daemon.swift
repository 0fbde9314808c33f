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

    public init(reconciler: Reconciler, options: Options, logger: Logger) {
        self.reconciler = reconciler
        self.options = options
        self.logger = logger
        // One buffered trigger: whatever arrives during a reconcile becomes one follow-up run.
        (triggers, trigger) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Asks for a reconcile (coalesced with any other pending request).
    public func requestReconcile(_ reason: String) { trigger.yield(reason) }

    /// Runs until the task is cancelled (SIGTERM/SIGINT), then returns without touching the
    /// containers: they keep running and a restarted Flotilla adopts them.
    public func run() async throws {
        let watcher = ManifestWatcher(root: reconciler.directory)
        try watcher.start()
        defer { watcher.stop() }
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
        logger.info("stopped; containers left running for the next start to adopt")
    }

    // MARK: - The one reconcile

    func reconcile(reason: String) async {
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
        do {
            observed = try await reconciler.observe()
        } catch {
            logger.error("engine unreachable; will retry (routes keep their last state)", metadata: ["reason": "\(reason)", "error": "\(error)"])
            return
        }
        let now = Self.nowMS()
        let plan = reconciler.plan(desired, observed: observed, lastGood: lastGood, backoff: await memory.backoff, now: now)
        let routed = plan.services.map(\.spec)
        let keeping = desired.servicesInFailedFiles.subtracting(routed.map(\.name))
        // Dead replicas leave the routes now, not after the replacements are up.
        if plan.services.contains(where: { !$0.prune.isEmpty }) {
            await options.routes?.refresh(services: routed, observed: observed.filter(\.state.isLive), keeping: keeping)
        }
        let heldBack = plan.services.filter { $0.backoffUntil != nil }.map(\.name)
        if !plan.hasChanges && !heldBack.isEmpty {
            logger.warning("waiting: crash-loop backoff", metadata: ["reason": "\(reason)", "services": "\(heldBack.joined(separator: ","))"])
            for note in plan.notes { logger.warning("\(note)") }
        } else if !plan.hasChanges {
            let level: Logger.Level = reason == "watchdog" ? .debug : .info
            logger.log(level: level, "in sync", metadata: ["reason": "\(reason)", "services": "\(plan.services.count)", "containers": "\(observed.count)"])
            for note in plan.notes where reason != "watchdog" { logger.warning("\(note)") }
        } else {
            logger.info("reconcile started", metadata: ["reason": "\(reason)", "actions": "\(plan.actions.count)"])
            let report = await reconciler.apply(plan, observed: observed) { [reconciler, routes = options.routes] in
                await routes?.refresh(services: routed, observed: try? await reconciler.observe(), keeping: keeping)
            }
            await memory.record(report, now: Self.nowMS())
            let level: Logger.Level = report.succeeded ? .info : .warning
            logger.log(level: level, "reconcile finished", metadata: ["summary": "\(report.summary)", "duration": "\(Applier.format(clock.now - start))"])
        }
        // A service held back by crash-loop backoff gets its own retry, not the next watchdog tick.
        if let retry = plan.services.compactMap(\.backoffUntil).min() {
            let delay = Duration.milliseconds(max(0, retry - now))
            Task { [trigger] in
                try? await Task.sleep(for: delay)
                trigger.yield("crash-loop retry")
            }
        }
        let final = plan.hasChanges ? (try? await reconciler.observe()) : observed
        await options.routes?.refresh(services: routed, observed: final, keeping: keeping)
    }

    // MARK: - Engine events

    /// Follows the engine's event stream; reconnects with backoff, resuming from the last event
    /// seen so that nothing is missed, and reconciles after every reconnect.
    func followEngineEvents() async {
        // Replay from just before the start-up list, so nothing between that list and the
        // subscription is missed (the engine's `since` has one-second resolution).
        var since: Int64? = Self.nowMS() / 1000 - 1
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

    static func nowMS() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
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

    func record(_ report: ApplyReport, now: Int64) {
        for service in report.crashed { backoff.recordFailure(service, now: now) }
    }
}
