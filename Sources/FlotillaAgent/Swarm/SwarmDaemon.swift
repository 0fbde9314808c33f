import FlotillaCore
import FlotillaEngine
import Foundation
import Logging
import ServiceLifecycle

/// `flotilla run --orchestrator swarm`: keeps the project's Swarm services equal to the manifests,
/// and the route files equal to the tasks that are live now.
///
/// Two loops, each level-triggered from what it observes:
/// - **apply**: at start, on every manifest change (inotify, debounced), every `resyncInterval`
///   (the watchdog: a service edited or removed behind Flotilla's back is put back) and on
///   SIGHUP. One apply at a time; requests made meanwhile fold into one more.
/// - **routes**: every `taskPoll`, and at once on a node event, one list of the tasks and one of
///   the nodes become the route table (``RouteTable/build(services:project:tasks:nodes:)``),
///   written only when it changes. Swarm's event stream reports services and nodes but not task
///   states, so the task list is the source of truth and the poll its trigger.
/// - **events**: the manager's service and node events. A service of the project updated or
///   removed (by Flotilla or behind its back) is an apply at once, not at the next watchdog; a
///   node that changed (down, drained) is a route pass at once.
///
/// Swarm schedules, restarts and rolls the tasks; this daemon never does.
public final class SwarmDaemon: Service, Sendable {
    public struct Options: Sendable {
        public var resyncInterval: Duration
        public var debounce: Duration
        public var taskPoll: Duration
        public var routes: RouteRefresher?
        /// What reports changes under the manifest directory (nil: inotify, ``ManifestWatcher``).
        public var changes: (any ManifestChangeSource)?

        public init(resyncInterval: Duration = .seconds(30), debounce: Duration = .milliseconds(100), taskPoll: Duration = .seconds(1),
                    routes: RouteRefresher? = nil, changes: (any ManifestChangeSource)? = nil) {
            self.changes = changes
            self.resyncInterval = resyncInterval
            self.debounce = debounce
            self.taskPoll = taskPoll
            self.routes = routes
        }
    }

    let swarm: SwarmReconciler
    let directory: String
    let load: @Sendable () async throws -> DesiredState
    let options: Options
    let logger: Logger
    /// The last manifests that loaded (what the route loop builds from).
    let desired = Box<DesiredState>()
    private let requests: AsyncStream<String>
    private let requestContinuation: AsyncStream<String>.Continuation
    private let routePasses: AsyncStream<Void>
    private let routeContinuation: AsyncStream<Void>.Continuation

    /// - Parameter load: reads the manifest directory (diagnostics logged by the caller's loader).
    public init(swarm: SwarmReconciler, directory: String, load: @escaping @Sendable () async throws -> DesiredState, options: Options,
                lock: ReconcileLock? = nil, logger: Logger) {
        self.swarm = swarm
        self.lock = lock
        self.directory = directory
        self.load = load
        self.options = options
        self.logger = logger
        (requests, requestContinuation) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(1))
        (routePasses, routeContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Asks for an apply (the reason is logged); folds with requests not yet served.
    public func requestApply(_ reason: String) { requestContinuation.yield(reason) }

    /// Held shared while applying, so a `flotilla apply`, `promote` or `rollback` (exclusive)
    /// never runs at the same time; nil: no lock (tests).
    let lock: ReconcileLock?

    /// Canary releases waiting (from the last plan), and the decisions the daemon took itself
    /// but has not applied yet.
    let waitingCanaries = Box<Set<String>>()
    /// The last apply held removals back (prune safety): services gone from the manifests still run.
    let removalsHeld = Box<Bool>()
    let pending = Box<SwarmCanaryDecision.Decisions>()

    public func run() async throws {
        let changes = options.changes ?? ManifestWatcher(root: directory) { [logger] problem in
            logger.warning("manifest watch incomplete", metadata: ["problem": "\(problem)"])
        }
        let loop = DaemonLoop(changes: changes, debounce: options.debounce, resyncInterval: options.resyncInterval, logger: logger)
        requestApply("start-up")
        let beside: [@Sendable () async -> Void] = [
            { [self] in await refreshRoutes() },
            { [self] in
                while !Task.isCancelled {
                    routeContinuation.yield()
                    do { try await AgentClock.sleep(for: options.taskPoll) } catch { return }
                }
            },
            { [self] in await followEvents() },
        ]
        try await loop.run(onChange: { [self] in requestApply("manifests changed") },
                           onWatchdog: { [self] in requestApply("watchdog"); return true }, beside: beside) { [self] in
            for await reason in requests {
                if Task.isCancelled { break }
                await applyOnce(reason)
            }
        } onShutdown: { [logger, requestContinuation, routeContinuation] in
            logger.info("stopping; the Swarm services keep running")
            requestContinuation.finish()
            routeContinuation.finish()
        }
        logger.info("stopped")
    }

    func applyOnce(_ reason: String) async {
        var fd: Int32?
        if let lock {
            // A flotilla command holds the project: try again shortly (the request folds).
            guard let held = lock.trySharedLock() else {
                logger.debug("project locked by a flotilla command; applying shortly")
                Task { [self] in
                    try? await AgentClock.sleep(for: .milliseconds(500))
                    requestApply(reason)
                }
                return
            }
            fd = held
        }
        defer { if let fd { lock?.release(fd) } }
        let state: DesiredState
        do { state = try await load() } catch {
            logger.error("cannot read the manifests; nothing changed", metadata: ["error": "\(error)"])
            return
        }
        await desired.set(state)
        logger.debug("apply", metadata: ["trigger": "\(reason)"])
        // Decisions about a spec the manifest has moved on from are dropped.
        let decided = (await pending.value ?? SwarmCanaryDecision.Decisions()).current(for: state.services)
        await pending.set(SwarmCanaryDecision.Decisions())
        for name in decided.promote.sorted() { logger.info("promoting the canary: every canary task has been live for auto_promote_after", metadata: ["service": "\(name)"]) }
        for (name, why) in decided.rollback.sorted(by: { $0.key < $1.key }) { logger.warning("rolling the canary back", metadata: ["service": "\(name)", "reason": "\(why)"]) }
        do {
            let report = try await swarm.apply(state, promote: decided.promote, rollback: Set(decided.rollback.keys))
            await waitingCanaries.set(Set(report.canaries.filter { $0.value == SwarmPlan.CanaryPhase.waiting }.keys))
            await removalsHeld.set(!report.heldBack.isEmpty)
            if report.created + report.updated + report.removed > 0 || !report.failures.isEmpty {
                logger.info("reconciled", metadata: ["trigger": "\(reason)", "result": "\(report.summary)", "failures": "\(report.failures.count)"])
            }
        } catch {
            logger.error("Swarm manager unreachable or refused; will retry at the next trigger", metadata: ["error": "\(error)"])
        }
    }

    func refreshRoutes() async {
        for await _ in routePasses {
            if Task.isCancelled { return }
            await publishRoutes()
        }
    }

    /// Service and node events (``DaemonLoop/followEvents(_:logger:reconnected:stream:)``); a
    /// reconnect is an apply (events may have been missed meanwhile).
    func followEvents() async {
        let prefix = swarm.project + "_"
        await DaemonLoop.followEvents("Swarm event stream", logger: logger) { [self] in
            requestApply("event stream reconnected")
        } stream: { connected in
            try await swarm.engine.streamSwarmEvents(onConnected: connected) { event in
                switch event.type {
                case "service" where event.name.hasPrefix(prefix) && event.action != "create":
                    logger.debug("service event", metadata: ["service": "\(event.name)", "action": "\(event.action)"])
                    requestApply("service \(event.name) \(event.action)")
                    routeContinuation.yield()
                case "node":
                    logger.info("node event", metadata: ["node": "\(event.name)", "action": "\(event.action)"])
                    routeContinuation.yield()
                default: break
                }
            }
        }
    }

    /// One route pass from the tasks and nodes now (only the route loop calls it, so passes never
    /// overlap and no older table is written over a newer one). An unreachable manager keeps the
    /// last files.
    func publishRoutes() async {
        guard let state = await desired.value else { return }
        let routes = options.routes
        do {
            async let listedTasks = swarm.engine.listSwarmTasks(project: swarm.project)
            async let nodes = swarm.engine.listSwarmNodes()
            let tasks = try await listedTasks
            var table = RouteTable.build(services: state.services, project: swarm.project, tasks: tasks, nodes: try await nodes)
            // Canary decisions the daemon takes itself, applied at once.
            let decisions = SwarmCanaryDecision.decide(services: state.services, waiting: await waitingCanaries.value ?? [], project: swarm.project,
                                                       tasks: tasks, now: WallClock.nowMS())
            if !decisions.isEmpty, await pending.value != decisions {
                await pending.set(decisions)
                requestApply("canary decision")
            }
            // Services of manifest files that fail to load keep the routes they had. A file with
            // a syntax error names no service, and a held-back removal leaves its service running:
            // then every service the manifests do not name keeps its routes (before: a syntax
            // error dropped them while their Swarm services ran on).
            guard let routes else { return }
            var keeping = state.servicesInFailedFiles
            let last = await routes.lastTable
            let held = await removalsHeld.value ?? false
            if !state.isValid || held, let last {
                let named = Set(state.services.map(\.name))
                keeping.formUnion(last.entries.map(\.service).filter { !named.contains($0) })
            }
            if !keeping.isEmpty, let last {
                table = RouteTable(entries: table.entries + last.entries.filter { keeping.contains($0.service) })
            }
            await routes.publish(table)
        } catch {
            logger.warning("cannot list the Swarm's tasks; route files keep their last state", metadata: ["error": "\(error)"])
        }
    }
}
