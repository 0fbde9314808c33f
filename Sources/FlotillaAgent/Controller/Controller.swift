import FlotillaCore
import FlotillaEngine
import Foundation
import Logging

/// The reconciler, in the controller-runtime style: a work queue keyed by service; each key is
/// reconciled by one short step computed from freshly observed state (``RolloutStep``), never
/// waiting inside the step; whatever must wait (readiness, settle time, backoff, dependencies,
/// auto-promotion) is a requeue after a delay.
///
/// - Different services reconcile concurrently (``Configuration/workers`` at once), one step at a
///   time per service: a slow rollout or pull of one service never delays another's healing.
/// - Triggers only enqueue keys: manifest changes (the changed services and orphans), engine
///   events (the service of the container), the watchdog (every key), probe changes.
/// - Daemon mode runs until shut down; once mode (`apply`, `promote`, `rollback`) runs until
///   every key is settled or has failed, and reports like `apply` always did.
public actor Controller {
    public enum Mode: Sendable { case daemon, once }

    public struct Configuration: Sendable {
        public var project: String
        public var mode: Mode
        /// Services reconciled at once.
        public var workers: Int
        /// Engine operations at once.
        public var parallelism: Int
        public var portRange: ClosedRange<Int>
        /// How long a replica without a readiness check must run to count as ready.
        public var settleTime: Duration
        public var allowEmpty: Bool
        /// Allow removing more than half of the project's services at once.
        public var allowMassPrune = false
        /// The daemon's steps take the project lock shared (CLI commands hold it exclusively).
        public var sharedLock: ReconcileLock?
        /// Seals new replicas and tells them from impostors; nil: every labelled container is adopted.
        public var seal: ReplicaSeal?
        /// The manifest directory, recorded on every new replica.
        public var source: String?
        /// Carries out the replicas' health checks.
        public var prober: any HealthProbing = HealthProber()
        /// Where host-port claims are kept (shared by every Flotilla on the host).
        public var portClaimDirectory: String? = ReconcileLock.defaultDirectory() + "/ports"
        /// The operator's host-mount policy, checked again before every create (the file system
        /// may have changed since the manifests loaded).
        public var mounts: MountPolicy = .refuseHostPaths
        /// Existing networks and volumes the operator lets the project use although Flotilla did
        /// not create them for it (`--allow-network`, `--allow-volume`).
        public var allowedNetworks: Set<String> = []
        public var allowedVolumes: Set<String> = []

        public init(project: String, mode: Mode, workers: Int = 8, parallelism: Int = 4, portRange: ClosedRange<Int> = 20000...29999,
                    settleTime: Duration = .seconds(1), allowEmpty: Bool = false, sharedLock: ReconcileLock? = nil) {
            self.sharedLock = sharedLock
            self.project = project
            self.mode = mode
            self.workers = workers
            self.parallelism = parallelism
            self.portRange = portRange
            self.settleTime = settleTime
            self.allowEmpty = allowEmpty
        }
    }

    let engine: any ContainerEngine
    let config: Configuration
    let logger: Logger
    let store: StateStore?
    public let monitor: ProbeMonitor
    let routes: RouteRefresher?
    let queue = WorkQueue<String>()
    let replicas: Replicas
    let images: Images
    let networks: Networks
    let volumes: ProjectVolumes
    let probeChanges: AsyncStream<ProbeMonitor.Change>
    /// What this controller did lately (the status page's timeline, `/api/v1/events`).
    public nonisolated let actions = ActionRecorder()

    // Desired state.
    var resolved = Planner.Resolved(specs: [:], frozen: [], suspendOrphans: true, notes: [])
    var lastGood: [String: [ServiceSpec]] = [:]
    var desiredLoaded = false
    var desiredGeneration: UInt64 = 0
    /// The git revision of the manifests in force (labels and action logs).
    var revision: String?
    /// The revision of the manifests in force (the simulator checks the newest commit wins).
    public var revisionInForce: String? { revision }
    /// The last manifests loaded (for ``status(project:)``).
    var lastDesired: DesiredState?
    /// Once mode: the services this run is limited to (`promote`, `rollback`).
    var only: Set<String>?
    /// Each service's memory between steps: why it is queued, what it saw, what it waits for.
    var services = ServiceStates()
    /// What the engine last showed of each service, with its freshness rules.
    var observations = ObservationCache()
    /// Watchdog passes answered from a service's idle inputs (for tests and the benchmarks' reasoning).
    public internal(set) var idleWatchdogSteps = 0
    /// The project lock's generation at the last look (daemon mode; see ``noteLockGeneration(_:)``).
    var lockGeneration: UInt64?
    /// Steps waiting on a list call now, and the project-wide list in flight that steps looking
    /// at the same time share (see ``observe(_:)``).
    var observing = 0
    var sharedList: (startedAt: Int64, task: Task<Void, any Error>)?
    /// Services not yet looked at since start-up: until each had its first step (its replicas
    /// probed once), the route files are left as they are, so a restart never writes a table of
    /// not-yet-probed replicas (a 503 or a lost canary weight for a moment). 30 s at most.
    var firstLook: Set<String>?
    var firstLookDeadline = AgentClock.now + .seconds(30)
    /// A CLI command changed the project since the last list of the whole project: no route
    /// table is written from the cache until one answered (see ``routeInputs()``).
    var awaitingRelist = false
    /// That list, in flight.
    var relisting: Task<Void, Never>?
    /// A list of the whole project has answered since start-up.
    var everListedProject = false
    // Project-wide memory between steps.
    var backoff = CrashLoopBackoff()
    /// Rollbacks, waiting canaries and promotions, written through to the state directory.
    var savedDecisions = WriteThrough(ReleaseDecisions())
    var decisions: ReleaseDecisions { savedDecisions.value }
    var engineMarkers: [String: String] = [:]
    // Each replica's memory (by container id).
    /// Replicas being removed (and their services): out of the routes from the moment their removal starts.
    var leaving: Set<String> = []
    var leavingService: [String: String] = [:]
    /// Replicas this process is stopping (live when their removal began): their death is no news.
    /// A dead replica being pruned is not among them, so its death is reported whichever of its
    /// event and the prune comes first.
    var stopping: Set<String> = []
    /// Exited replicas found at start-up or after the engine came back: not counted as crashes.
    var unwatched: Set<String> = []
    /// Of those, the ones found at this process's start: never waited on as "restarting".
    var stoppedBeforeStart: Set<String> = []
    /// Replicas whose crash was counted toward backoff.
    var countedCrashes: Set<String> = []
    /// Deaths already logged (by container id).
    var reportedDeaths: Set<String> = []
    /// When this process saw each of its new or restarted replicas start (Unix ms).
    var startedAt: [String: Int64] = [:]
    /// Replicas that died since their start was stamped: the engine's restart policy may have
    /// started them again, and their settle time counts from that start, asked of the engine.
    var diedSinceStart: Set<String> = []
    /// Containers with the project's labels that are not its replicas (each reported once).
    var impostors: Set<String> = []
    // Once mode.
    var promote: Set<String> = []
    var rollback: [String: String] = [:]
    var report = ApplyReport()

    public init(engine: any ContainerEngine, configuration: Configuration, logger: Logger, routes: RouteRefresher?, store: StateStore?) {
        self.engine = engine
        self.config = configuration
        self.logger = logger
        self.store = store
        self.routes = routes
        let limiter = ConcurrencyLimiter(limit: configuration.parallelism)
        let ports = PortAllocator(range: configuration.portRange, taken: [], claimDirectory: configuration.portClaimDirectory) {
            try await engine.hostPortsInUse()
        }
        replicas = Replicas(engine: engine, project: configuration.project, limiter: limiter, ports: ports, logger: logger,
                            seal: configuration.seal, source: configuration.source, mounts: configuration.mounts, actions: actions)
        images = Images(engine: engine, logger: logger)
        networks = Networks(engine: engine, project: configuration.project, logger: logger, allowed: configuration.allowedNetworks)
        volumes = ProjectVolumes(engine: engine, project: configuration.project, logger: logger, allowed: configuration.allowedVolumes)
        let (changes, continuation) = AsyncStream.makeStream(of: ProbeMonitor.Change.self)
        probeChanges = changes
        monitor = ProbeMonitor(prober: configuration.prober, logger: logger) { continuation.yield($0) }
        savedDecisions = WriteThrough(store?.loadDecisions() ?? ReleaseDecisions())
    }

    // MARK: - Inputs

    /// A new desired state (a manifest load): remembers each file's last good specs, and enqueues
    /// every service whose spec changed, appeared or disappeared.
    public func setDesired(_ desired: DesiredState, _ trigger: Trigger, generation: UInt64 = 0, only: Set<String>? = nil) async {
        if let only { self.only = only }
        guard generation == 0 || generation > desiredGeneration else { return }  // an older load finished late
        desiredGeneration = max(desiredGeneration, generation)
        if desired.revision != revision, let next = desired.revision {
            logger.info("manifest revision", metadata: ["revision": "\(next)", "previous": "\(revision ?? "none")"])
            FlotillaMetrics.manifestRevision(next, previous: revision)
        }
        revision = desired.revision ?? revision
        lastDesired = desired
        let wasLoaded = desiredLoaded
        let present = Set(desired.files)
        lastGood = lastGood.filter { present.contains($0.key) }
        var byFile: [String: [ServiceSpec]] = [:]
        for file in desired.files where !desired.failedFiles.contains(file) { byFile[file] = [] }
        for spec in desired.services { if let file = desired.sourceFile[spec.name] { byFile[file, default: []].append(spec) } }
        for (file, specs) in byFile { lastGood[file] = specs }

        let owned = observations.allContainers.count
        let ownedServices = Set(observations.records.filter { $0.value.containers?.isEmpty == false }.keys)
        let next = Planner.resolve(desired, lastGoodSpecs: lastGood, allowEmpty: config.allowEmpty, ownedContainers: owned,
                                   ownedServices: ownedServices, allowMassPrune: config.allowMassPrune)
        var changed = Set<String>()
        for (name, spec) in next.specs where resolved.specs[name] != spec {
            changed.insert(name)
            // A new spec gets a fresh attempt: the backoff was the old one's (simulator seed
            // 4115, release: a fixed image waited out the 255 s a missing one had earned).
            if let before = resolved.specs[name], before.specHash != spec.specHash { backoff.reset(name) }
        }
        // A new service the last project list did not show has no container as of that list.
        for name in next.specs.keys { observations.absentFromProjectList(name) }
        for name in resolved.specs.keys where next.specs[name] == nil { changed.insert(name) }
        if next.suspendOrphans != resolved.suspendOrphans || !desiredLoaded { changed.formUnion(observations.observedServices) }
        // A changed dependency may unblock its dependents.
        for (name, spec) in next.specs where spec.dependsOn.contains(where: changed.contains) { changed.insert(name) }
        // Prune-safety notes when they change, not at every watchdog tick.
        // (Removals held back by the prune budget are said at every load: each is a reconcile.)
        if next.notes != resolved.notes || !wasLoaded || !next.heldBack.isEmpty { for note in next.notes { logger.warning("\(note)") } }
        report.heldBack = next.heldBack
        resolved = next
        desiredLoaded = true
        if !changed.isEmpty || !wasLoaded {
            logger.info("manifests loaded", metadata: ["services": "\(next.specs.count)", "changed": "\(changed.count)", "reason": "\(trigger)"])
        }
        await enqueue(changed, trigger)
        routes?.requestRefresh()
    }

    /// Lists every owned container (one engine call) and enqueues every key: the watchdog.
    /// The list serves each key's next step unless that service changed after it was taken.
    /// `listed`: the project's replicas as the caller just listed them (a one-shot `apply` lists
    /// once for its plan; no second call for the same answer).
    public func resync(_ trigger: Trigger, only: Set<String>? = nil, listed given: [ObservedContainer]? = nil) async throws {
        if let only { self.only = only }
        let listed: [ObservedContainer]
        // Stamped with when the list began: a step's change made while it was in flight is newer.
        let startedAt = WallClock.nowMS()
        // A list is as good as the project lock's generation it was taken under.
        if let lock = config.sharedLock { noteLockGeneration(lock.currentGeneration()) }
        if let given { listed = genuine(given) } else { listed = genuine(try await engine.listContainers(label: OwnershipLabel.project, value: config.project)) }
        logger.debug("engine list", metadata: ["containers": "\(listed.count)", "reason": "\(trigger)"])
        take(projectList: listed, startedAt: startedAt)
        await replicas.ports.markTaken(listed.compactMap(\.hostPort))
        if trigger == .startup || trigger == .engineReconnected {
            // What exited while no Flotilla watched (a reboot, an engine restart) stopped, it did
            // not crash: no crash-loop count and no canary rollback for it; and after the engine
            // came back, backoff starts over.
            let stopped = listed.filter { $0.state == .exited || $0.state == .dead }.map(\.id)
            unwatched.formUnion(stopped)
            // Only a fresh start (a reboot, say) may find replicas the engine will never restart
            // although they stopped a moment ago; after the event stream merely reconnected, the
            // engine's restart policy is still at work and is asked as usual.
            if trigger == .startup { stoppedBeforeStart.formUnion(stopped) }
            if trigger == .engineReconnected { backoff = CrashLoopBackoff() }
        }
        await refreshMarkers()
        services.updateAll { $0.engineRetryDelay = nil }
        await enqueue(Set(resolved.specs.keys).union(listed.map(\.service)), trigger)
    }

    /// Whether a container's death is news: not a removal by this process, and not reported
    /// before (a reconnected event stream replays what it already said).
    public func deathIsNews(_ id: String) -> Bool {
        guard !stopping.contains(id) else { return false }
        // Restarted by the engine, it settles anew (simulator seed 8092, release: a replacement
        // killed and restarted by its policy counted as settled from its first start, and an
        // old replica went 0.4 s after the restart).
        startedAt[id] = nil
        diedSinceStart.insert(id)
        if reportedDeaths.count > 10_000 { reportedDeaths = [] }
        return reportedDeaths.insert(id).inserted
    }

    /// The first reconcile after start-up is done: the manifests are loaded and every service has
    /// had its first step (or 30 s passed). `READY=1` for systemd.
    public var firstReconcileDone: Bool {
        guard desiredLoaded, let firstLook else { return false }
        return firstLook.isEmpty || AgentClock.now >= firstLookDeadline
    }

    /// A one-line summary for systemd's `STATUS=`: services, ready replicas, problems.
    public var summary: String {
        let specs = resolved.specs.values
        let desired = specs.reduce(0) { $0 + $1.replicas }
        let ready = specs.reduce(0) { $0 + services[$1.name].ready.count }
        var line = "\(specs.count) services, \(ready)/\(desired) replicas ready"
        let looping = specs.filter { backoff.blockedUntil($0.name, now: WallClock.nowMS()) != nil }.map(\.name).sorted()
        if !looping.isEmpty { line += "; crash loop: " + looping.joined(separator: ", ") }
        if let revision { line += "; manifests at \(revision)" }
        return line
    }

    /// What runs now, as this controller sees it: the last lists, the probes' verdicts (ready =
    /// passing readiness or settled), crash-loop backoffs and the last failure of each service.
    public func status(project: String) -> ProjectStatus {
        let now = WallClock.nowMS()
        var desired = lastDesired ?? DesiredState(files: [])
        desired.revision = desired.revision ?? revision
        var options = Planner.Options(allowEmpty: config.allowEmpty, lastGoodSpecs: lastGood, backoff: backoff, now: now)
        options.rolledBack = decisions.rolledBack.merging(engineMarkers) { a, _ in a }
        options.releases = decisions.releases
        options.allowMassPrune = config.allowMassPrune
        let observed = observations.allContainers.filter { !leaving.contains($0.id) }
        let plan = Planner.plan(desired: desired, observed: observed, options: options)
        let ready = services.byKey.values.reduce(into: Set<String>()) { $0.formUnion($1.ready) }
        let failing = services.byKey.values.reduce(into: Set<String>()) { $0.formUnion($1.failing) }
        var backoffs: [String: Int64] = [:]
        for service in plan.services { if let until = backoff.blockedUntil(service.name, now: now) { backoffs[service.name] = until } }
        return ProjectStatus(project: project, desired: desired, plan: plan, ready: { ready.contains($0.id) },
                             failing: { failing.contains($0.id) }, backoff: backoffs, failures: services.byKey.compactMapValues(\.lastFailure))
    }

    /// Answers at once unless the controller is stuck (the systemd watchdog's question).
    public func ping() -> Bool { true }

    /// Something happened to a service's containers (an engine event, a probe change).
    public func touch(_ service: String, _ trigger: Trigger) async {
        if case .engineEvent = trigger {
            // What the cache holds is from before the event: the next step lists.
            observations.eventCame(service, at: WallClock.nowMS())
        }
        await enqueue([service], trigger)
    }

    /// Once mode: promote or roll back these services' canaries during this run.
    public func decide(promote: Set<String>, rollback: [String: String]) {
        self.promote = promote
        self.rollback = rollback
    }

    func enqueue(_ keys: Set<String>, _ trigger: Trigger) async {
        let keys = only.map { keys.intersection($0) } ?? keys
        guard !keys.isEmpty else { return }
        if trigger == .startup || firstLook == nil {
            firstLook = (firstLook ?? []).union(keys)
            firstLookDeadline = .now + .seconds(30)
        }
        for key in keys {
            if services[key].trigger?.isRoutine ?? true { services[key].trigger = trigger }
            if trigger != .watchdog { services[key].askedBesidesWatchdog = true }
        }
        await queue.add(keys)
    }

    func refreshMarkers() async {
        guard resolved.specs.values.contains(where: { $0.update.strategy == .canary }) || !decisions.rolledBack.isEmpty else { return }
        if let markers = try? await engine.rollbackMarkers(project: config.project) { engineMarkers = markers }
    }

    // MARK: - Running

    /// Runs the workers (and the probe-change listener) until ``shutDown()``. In once mode,
    /// returns when every key has settled or failed, with the report.
    public func run() async -> ApplyReport {
        let clock = AgentClock(), start = clock.now
        let probes = Task { await self.followProbes() }
        var writer: Task<Void, Never>?
        if let routes {
            await routes.connect(source: { [weak self] in await self?.routeInputs() }, monitor: monitor, store: store, lock: config.sharedLock)
            writer = Task { await routes.run() }
            routes.requestRefresh()
        }
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<max(1, config.workers) {
                group.addTask { await self.work() }
            }
            if config.mode == .once {
                await queue.waitUntilIdle()
                await queue.shutDown()
            }
            // Workers end when the queue shuts down, after the step in hand.
            await group.waitForAll()
        }
        if config.mode == .once { await routes?.refreshAndWait(timeout: .seconds(60)) }
        // The writer stops before the probes: a pass after them would route to nothing.
        writer?.cancel()
        await writer?.value
        probes.cancel()
        await monitor.stop()
        report.seconds = (clock.now - start).fractionalSeconds
        report.unchanged = max(0, resolved.specs.count - report.changedServices.count - report.failures.count)
        return report
    }

    /// Stops handing out keys; steps in flight finish (their engine calls are bounded).
    public func shutDown() async {
        await queue.shutDown()
    }

    func work() async {
        while let key = await queue.next() {
            let requeue = await reconcile(key)
            // A first look is over when a step found nothing more to do at once (a step that
            // acted is looked at again before its result counts: its list is from before it).
            // A step that observed nothing (project locked, engine unavailable) is no first look.
            if requeue != .now, services[key].looked || resolved.specs[key] == nil, firstLook?.remove(key) != nil, firstLook?.isEmpty == true {
                routes?.requestRefresh()
            }
            switch requeue {
            case .done: await queue.done(key, requeueAfter: nil)
            case .now: await queue.done(key, requeueAfter: .zero)
            case .after(let delay): await queue.done(key, requeueAfter: delay)
            }
        }
    }

    func followProbes() async {
        for await change in probeChanges {
            if change.role == .readiness { routes?.requestRefresh() }
            await touch(change.container.service, .probe(role: change.role.rawValue, status: change.status.rawValue))
            if Task.isCancelled { return }
        }
    }

    /// What the route writer builds the table from: the last observation, without the replicas
    /// being removed; services of broken files with unknown specs keep their last routes.
    func routeInputs() async -> RouteRefresher.Inputs? {
        // Has a CLI command changed the project since this process last looked? (Then
        // ``awaitingRelist`` is set until a list of the whole project answered.)
        if let lock = config.sharedLock { noteLockGeneration(lock.currentGeneration()) }
        if awaitingRelist {
            // The command wrote the routes from its own, newer observation; this cache is older
            // (simulator seed 351: a pass routed to a replica the command had removed). Every
            // service is listed afresh before the next full table.
            if relisting == nil {
                relisting = Task {
                    try? await self.resync(.followUp)
                    self.relisted()
                }
            }
            // Meanwhile only a removal waiting for its replica to leave the routes gets a table:
            // the command's (from the state directory), with the services observed since then
            // built afresh.
            guard !leaving.isEmpty else { return nil }
        }
        // A removal waiting for its replica to leave the routes is never held back by this
        // (simulator seed 2: a replica stopped while the file still routed to it).
        if let firstLook, !firstLook.isEmpty, AgentClock.now < firstLookDeadline, leaving.isEmpty { return nil }
        let observed = observations.allContainers.filter { $0.state.isLive && !leaving.contains($0.id) }.map(settling)
        var inputs = RouteRefresher.Inputs(services: Array(resolved.specs.values), observed: observed, keeping: keptRoutes)
        // Simulator seed 150: the start-up list failed, and services whose deletion was held
        // back lost their routes (their replicas unknown, so not held back either).
        inputs.withdrawn = Set(observations.allContainers.filter { leaving.contains($0.id) }.map(\.name))
        inputs.keepingUnknown = !everListedProject || awaitingRelist
        inputs.unobserved = inputs.keeping.filter { observations[$0].observedAt == nil }
        if awaitingRelist {
            let stale = Set(resolved.specs.keys.filter { !services[$0].observedSinceChange })
            inputs.keeping.formUnion(stale)
            inputs.unobserved.formUnion(stale)
            inputs.lastTableFromStore = true
        }
        return inputs
    }

    func relisted() { relisting = nil }

    /// Services whose last routes stay as they are: not in force (their file is broken, their
    /// removal is held back by the prune budget) and not to be removed either. A syntax error
    /// names no service, so while orphan removal is suspended every unknown service with
    /// replicas keeps its routes (simulator seeds 1 and 2 before this: its routes went, its
    /// containers stayed).
    var keptRoutes: Set<String> {
        var kept = resolved.frozen.union(resolved.heldBack)
        for (name, record) in observations.records where resolved.specs[name] == nil && record.containers?.isEmpty == false && !resolved.isOrphan(name) {
            kept.insert(name)
        }
        // Never observed yet (the start-up list failed): nothing is known of its replicas, so
        // its last routes stand rather than a route with zero targets.
        for name in resolved.specs.keys where observations[name].observedAt == nil { kept.insert(name) }
        return kept
    }

    /// `down`: every owned container, stopped gracefully and removed; then the project's networks.
    /// Impostors (containers with the project's labels that Flotilla did not create) are left.
    public func removeEverything() async throws -> Int {
        let all = genuine(try await engine.listContainers(label: OwnershipLabel.project, value: config.project))
        let results = await remove(all.map { ($0, .orphan, .graceful) }, spec: nil)
        await networks.prune(keeping: [])
        return results.removed
    }

    /// The project's own replicas among containers that carry its labels. The others are never
    /// adopted, probed, routed or removed; each is reported once.
    func genuine(_ listed: [ObservedContainer]) -> [ObservedContainer] {
        guard let seal = config.seal else { return listed }
        return listed.filter { container in
            guard let problem = seal.problem(with: container) else { return true }
            if impostors.insert(container.id).inserted {
                logger.warning("not a replica of this project; leaving it alone", metadata: [
                    "container": "\(container.name)", "id": "\(container.shortID)", "service": "\(container.service)", "why": "\(problem)",
                ])
            }
            return false
        }
    }

    enum Requeue: Sendable, Equatable {
        case done, now
        case after(Duration)
    }
}
