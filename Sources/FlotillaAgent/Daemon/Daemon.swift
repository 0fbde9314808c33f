import FlotillaCore
import FlotillaEngine
import Foundation
import Logging
import ServiceLifecycle

/// `flotilla run`: keeps the host equal to the manifest directory, forever.
///
/// It composes the adapters around the ``Controller``: the inotify watcher (debounced manifest
/// loads, each in a task of its own so a slow load holds nothing), the watchdog (a full list
/// every `resyncInterval`), the engine's event stream (the dying container's service is
/// enqueued at once), and the route writer. Each of them only enqueues keys.
///
/// A `Service` of swift-service-lifecycle: on graceful shutdown (SIGTERM/SIGINT through the
/// `ServiceGroup`) the controller stops taking keys, the steps in flight finish (their engine
/// calls are bounded), and the containers are left running for the next start to adopt.
public final class Daemon: Service, Sendable {
    public struct Options: Sendable {
        public var resyncInterval: Duration
        public var debounce: Duration
        /// Rewrites the route files whenever the routed replicas change.
        public var routes: RouteRefresher?
        /// What reports changes under the manifest directory (nil: inotify, ``ManifestWatcher``).
        public var changes: (any ManifestChangeSource)?
        /// Hands idle memory back to the system (``WorkingSet``); off where many daemons share
        /// one process (the simulator), since it pages out the whole program's code.
        public var releasesIdleMemory = true
        /// Watched every second (``DescriptorBudget``); nil in the simulator, whose daemons share
        /// one process.
        public var descriptors: DescriptorBudget?

        public init(resyncInterval: Duration = .seconds(30), debounce: Duration = .milliseconds(100), routes: RouteRefresher? = nil,
                    changes: (any ManifestChangeSource)? = nil) {
            self.changes = changes
            self.resyncInterval = resyncInterval
            self.debounce = debounce
            self.routes = routes
        }
    }

    let reconciler: Reconciler
    public let controller: Controller
    let options: Options
    let logger: Logger
    let loads: ManifestLoads
    let systemd = SystemdNotifier()
    /// Set when another manifest directory took the project over.
    let lostTo = Box<String>()

    public init(reconciler: Reconciler, options: Options, logger: Logger) {
        self.reconciler = reconciler
        self.options = options
        self.logger = logger
        controller = reconciler.makeController(mode: .daemon, routes: options.routes)
        loads = ManifestLoads(reconciler: reconciler, logger: logger)
    }

    /// SIGHUP: reload the manifests and look at every service now.
    public func requestReconcile() {
        Task { [self] in
            await load(.signal)
            try? await controller.resync(.signal)
        }
    }

    public func run() async throws {
        let changes = options.changes ?? ManifestWatcher(root: reconciler.directory) { [logger] problem in
            logger.warning("manifest watch incomplete", metadata: ["problem": "\(problem)"])
        }
        let loop = DaemonLoop(changes: changes, debounce: options.debounce, resyncInterval: options.resyncInterval, logger: logger)
        let controller = controller
        var beside: [@Sendable () async -> Void] = [{ [self] in await followEngineEvents() }]
        if options.releasesIdleMemory { beside.append { [self] in await keepWorkingSetSmall() } }
        if systemd.isEnabled { beside.append { [self] in await notifySystemd() } }
        if let budget = options.descriptors { beside.append { [self] in await watchDescriptors(budget) } }
        try await loop.run(onChange: { [self] in await load(.manifestsChanged) }, onWatchdog: { [self] in await watchdog() }, beside: beside) { [self] in
            // Start-up: what is there (exited replicas are adopted), then what is wanted.
            do {
                try await controller.resync(.startup)
            } catch where !Task.isCancelled {
                logger.error("engine unreachable at start-up; retrying in 2 s, 5 s and 10 s, then with the watchdog", metadata: ["error": "\(error)"])
                // Not only at the first watchdog tick: until a list answers, the last routes stand
                // as they were, dead replicas included (simulator seed 1340, release).
                Task {
                    for delay in [2, 5, 10] {
                        do { try await AgentClock.sleep(for: .seconds(delay)) } catch { return }
                        if (try? await controller.resync(.startup)) != nil { return }
                    }
                }
            } catch {}
            await load(.startup)
            // The controller runs until the graceful shutdown stops its queue; then the rest goes.
            // Cancelled (another service of the process failed, such as the status server
            // that could not bind): the same safe stop, never steps retried on a cancelled task.
            _ = await withTaskCancellationHandler {
                await controller.run()
            } onCancel: {
                Task { await controller.shutDown() }
            }
        } onShutdown: { [logger, controller, systemd] in
            systemd.stopping()
            logger.info("stopping at a safe point: no new steps; steps in flight finish")
            Task { await controller.shutDown() }
        }
        if let owner = await lostTo.value {
            throw Reconciler.OwnershipError(description: "project \"\(reconciler.project)\" is now managed from \(owner); this daemon stopped")
        }
        logger.info("stopped; containers left running for the next start to adopt")
    }

    /// The watchdog's tick: the manifests and every service looked at again. False once the
    /// project was moved elsewhere on purpose (`--take-over`): this daemon must stop touching it.
    func watchdog() async -> Bool {
        if case .foreign(let owner)? = try? await reconciler.ownership() {
            await lostTo.set(owner)
            logger.error("project taken over by another manifest directory; stopping", metadata: ["project": "\(reconciler.project)", "owner": "\(owner)"])
            await controller.shutDown()
            return false
        }
        await load(.watchdog)
        // A lost list is tried again within seconds, not at the next tick: a death whose event
        // was lost too would otherwise stay routed for two ticks (simulator seed 2117, release).
        for retry in [Duration.zero, .seconds(2), .seconds(5)] {
            if retry > .zero {
                do { try await AgentClock.sleep(for: retry) } catch { return true }
            }
            do {
                try await controller.resync(.watchdog)
                return true
            } catch {
                logger.error("engine unreachable; will retry (routes keep their last state)", metadata: ["error": "\(error)"])
            }
        }
        return true
    }

    /// Idle memory: once the first reconcile has settled, then every few minutes, the pages only
    /// start-up or a burst of work needed go back to the system (``WorkingSet``).
    func keepWorkingSetSmall() async {
        let controller = controller
        while !Task.isCancelled, !(await controller.firstReconcileDone) {
            do { try await AgentClock.sleep(for: .milliseconds(500)) } catch { return }
        }
        var pause: Duration = .seconds(5)
        while !Task.isCancelled {
            do { try await AgentClock.sleep(for: pause) } catch { return }
            let advised = WorkingSet.release()
            logger.debug("working set released", metadata: ["advised_mib": "\(advised >> 20)"])
            pause = .seconds(300)
        }
    }

    /// Looks at the descriptors every second: says so when they run low (the budget lets its
    /// reserve go for the controller) and, once they are back, looks at everything again, since
    /// steps may have failed for want of one meanwhile.
    func watchDescriptors(_ budget: DescriptorBudget) async {
        while !Task.isCancelled {
            switch budget.check() {
            case .exhausted(let reading)?:
                logger.error("file descriptors nearly exhausted; the reserve is released to the controller, and what cannot get one fails and is retried",
                             metadata: ["open": "\(reading.open)", "limit": "\(reading.limit)",
                                        "fix": "raise LimitNOFILE= (systemd) or ulimit -n; see what holds them in /proc/\(getpid())/fd"])
            case .recovered(let reading)?:
                logger.notice("file descriptors available again; looking at every service", metadata: ["open": "\(reading.open)", "limit": "\(reading.limit)"])
                await load(.watchdog)
                try? await controller.resync(.watchdog)
            case nil:
                break
            }
            if let reading = budget.lastReading { FlotillaMetrics.descriptors(open: reading.open, limit: reading.limit) }
            do { try await AgentClock.sleep(for: .seconds(1)) } catch { return }
        }
    }

    /// systemd `Type=notify`: `READY=1` after the first reconcile, `STATUS=` as it changes,
    /// `WATCHDOG=1` every half `WATCHDOG_USEC`, only while the controller answers.
    func notifySystemd() async {
        let controller = controller
        while !Task.isCancelled, !(await controller.firstReconcileDone) {
            do { try await AgentClock.sleep(for: .milliseconds(100)) } catch { return }
        }
        systemd.ready()
        var lastStatus = ""
        let tick = systemd.watchdogInterval ?? .seconds(5)
        while !Task.isCancelled {
            let status = await controller.summary
            if status != lastStatus { systemd.status(status); lastStatus = status }
            if let interval = systemd.watchdogInterval {
                // A controller that does not answer within the interval gets no ping: systemd
                // then restarts the daemon, as it should.
                let alive = await withTaskGroup(of: Bool.self) { group in
                    group.addTask { await controller.ping() }
                    group.addTask { try? await AgentClock.sleep(for: interval); return false }
                    let first = await group.next() ?? false
                    group.cancelAll()
                    return first
                }
                if alive { systemd.watchdog() }
            }
            do { try await AgentClock.sleep(for: tick) } catch { return }
        }
    }

    /// Loads the manifests (off the controller) and hands the result over.
    func load(_ trigger: Trigger) async {
        guard let (desired, generation) = await loads.next() else { return }
        await controller.setDesired(desired, trigger, generation: generation)
    }

    // MARK: - Engine events

    /// Follows the engine's event stream (``DaemonLoop/followEvents(_:logger:reconnected:stream:)``),
    /// resuming from the last event seen so that nothing is missed, and relists after every reconnect.
    func followEngineEvents() async {
        // Replay from just before the start-up list, so nothing between that list and the
        // subscription is missed (the engine's `since` has one-second resolution).
        var since: Int64? = WallClock.nowMS() / 1000 - 1
        let controller = controller
        await DaemonLoop.followEvents("engine event stream", logger: logger) {
            Task { try? await controller.resync(.engineReconnected) }
        } stream: { connected in
            try await reconciler.engine.streamEvents(project: reconciler.project, since: since, onConnected: connected) { event in
                since = max(since ?? 0, event.time)
                guard event.kind != .other, let service = event.service else { return }
                let trigger = Trigger.engineEvent(action: "\(service) \(event.action)")
                Task { [logger] in
                    // A death Flotilla did not cause is news, with its exit code.
                    var metadata: Logger.Metadata = [
                        "service": "\(service)", "container": "\(event.name ?? String(event.containerID.prefix(12)))", "action": "\(event.action)",
                    ]
                    if let code = event.exitCode { metadata["exit_code"] = "\(code)" }
                    let news = event.kind == .died ? await controller.deathIsNews(event.containerID) : false
                    logger.log(level: news ? .warning : .debug, event.kind == .died ? "container exited" : "container removed", metadata: metadata)
                    await controller.touch(service, trigger)
                    // Docker sends `die` a moment before its list shows the container as
                    // exited: look again shortly after, until the list has settled.
                    for delay in [250, 500, 1000] {
                        try? await AgentClock.sleep(for: .milliseconds(delay))
                        await controller.touch(service, trigger)
                    }
                }
            }
        }
    }
}

/// Manifest loads, one at a time and numbered, so an older load never replaces a newer one.
/// Diagnostics are logged when they change (not at every watchdog tick).
actor ManifestLoads {
    let reconciler: Reconciler
    let logger: Logger
    private var generation: UInt64 = 0
    private var lastDiagnostics: [String] = []

    init(reconciler: Reconciler, logger: Logger) {
        self.reconciler = reconciler
        self.logger = logger
    }

    /// The load and the number it took when it began: loads overlap (a watchdog tick and a
    /// commit), and the controller keeps only the highest number, so a load that began earlier
    /// and finished later never replaces a newer one.
    func next() async -> (DesiredState, UInt64)? {
        generation += 1
        let taken = generation
        let desired: DesiredState
        do {
            desired = try await reconciler.load()
        } catch {
            logger.error("cannot load manifests; changing nothing", metadata: ["error": "\(error)"])
            return nil
        }
        FlotillaMetrics.manifestFilesFailing(desired.failedFiles.count)
        let diagnostics = desired.diagnostics.map(\.description)
        if diagnostics != lastDiagnostics {
            for diagnostic in desired.diagnostics {
                logger.error("invalid manifest", metadata: ["at": "\(diagnostic.file):\(diagnostic.line):\(diagnostic.column)", "error": "\(diagnostic.message)"])
            }
            lastDiagnostics = diagnostics
        }
        return (desired, taken)
    }
}

/// A value set once from a task, read after the tasks ended.
actor Box<Value: Sendable> {
    private(set) var value: Value?
    func set(_ newValue: Value) { value = newValue }
}
