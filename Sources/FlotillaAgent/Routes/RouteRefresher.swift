import FlotillaCore
import FlotillaEngine
import Foundation
import Logging

/// Rebuilds the route table from the running replicas and rewrites every route output.
///
/// One writer, serialized: ``requestRefresh()`` only asks (requests made meanwhile fold into one
/// more pass), and ``run()`` does the passes one after another, each from fresh inputs (the
/// controller's last observation and the probes' verdicts), so no stale table is ever written
/// over a newer one and the proxy is never reloaded twice at once. The proxy's check and reload
/// hooks run here, outside every reconcile and every lock: a hanging hook delays only the next
/// route write. The last table written is kept in the state directory, so the routes of services
/// whose manifest file is broken survive a restart.
public actor RouteRefresher {
    /// What a route table is built from.
    public struct Inputs: Sendable {
        public var services: [ServiceSpec]
        public var observed: [ObservedContainer]
        /// Services whose manifest failed to load and whose spec is unknown: their last routes
        /// are kept as they were (prune safety applies to routes too).
        public var keeping: Set<String>
        /// Nothing is known yet of which other services have replicas (no list of the whole
        /// project has answered): every service not in `services` keeps its last routes too.
        public var keepingUnknown = false
        /// Kept services this process has not observed: their last targets stand as they are
        /// (the others lose the targets that are no longer live).
        public var unobserved: Set<String> = []
        /// Another process wrote the routes since this one did: its table, kept in the state
        /// directory, is the last table.
        public var lastTableFromStore = false
        /// Replicas being removed (by name): never routed, kept routes or not.
        public var withdrawn: Set<String> = []

        public init(services: [ServiceSpec], observed: [ObservedContainer], keeping: Set<String>) {
            self.services = services
            self.observed = observed
            self.keeping = keeping
        }
    }

    let outputs: [RouteOutput]
    let listen: String
    /// Named in every route file (upstreams, backends, routers): other projects may feed the same proxy.
    let project: String
    let settleTime: Duration
    /// The least time between two proxy reloads (see ``publish(_:)``).
    let reloadInterval: Duration
    let logger: Logger
    let prober: any HealthProbing
    /// The daemon's continuous probes; without it readiness is probed at each refresh.
    var monitor: ProbeMonitor?
    var store: StateStore?
    var source: (@Sendable () async -> Inputs?)?
    var passLock: ReconcileLock?
    public private(set) var lastTable: RouteTable?
    /// Each kept service's entries as they were when it began to be kept (its targets filtered by
    /// what is live at each pass, never narrowed for good).
    var keptEntries: [String: [RouteTable.Entry]] = [:]
    private let requests: AsyncStream<Void>
    private let requestContinuation: AsyncStream<Void>.Continuation
    private var wanted: UInt64 = 0
    private var completed: UInt64 = 0
    /// When the pass in progress began writing, checking and reloading (nil: not there).
    private var hooksStarted: AgentClock.Instant?
    /// When the last reload hook ended.
    private var lastReload: AgentClock.Instant?

    public init(outputs: [RouteOutput], listen: String, project: String, settleTime: Duration = .seconds(1), reloadInterval: Duration = .seconds(1), prober: any HealthProbing = HealthProber(), logger: Logger) {
        self.prober = prober
        self.outputs = outputs
        self.listen = listen
        self.project = project
        self.settleTime = settleTime
        self.reloadInterval = reloadInterval
        self.logger = logger
        (requests, requestContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    public func use(_ monitor: ProbeMonitor) { self.monitor = monitor }

    /// Where each pass reads its inputs, and where the last table is kept.
    /// `lock`: the daemon's project lock. Each pass holds it shared, and a pass while a CLI
    /// command holds it (and writes the same route files from its own, fresher observation) is
    /// put off until the command let go.
    public func connect(source: @escaping @Sendable () async -> Inputs?, monitor: ProbeMonitor?, store: StateStore?, lock: ReconcileLock? = nil) {
        self.passLock = lock
        self.source = source
        self.monitor = monitor
        self.store = store
        if lastTable == nil { lastTable = store?.loadRoutes() }
    }

    public var isEnabled: Bool { !outputs.isEmpty }

    /// How long a pass waits for more requests before it writes.
    static let burstWindow = Duration.milliseconds(150)

    /// Asks for a pass (folded with any other pending request). Never waits.
    public nonisolated func requestRefresh() { requestContinuation.yield() }

    /// Asks for a pass and waits until one that started after this call has finished, or
    /// `timeout` passed. Once the pass in progress has spent 2 s in its proxy hooks (a check or
    /// reload hanging), it waits no longer: a hanging hook must not hold the caller.
    public func refreshAndWait(timeout: Duration) async {
        guard !outputs.isEmpty else { return }
        wanted += 1
        let target = wanted
        requestContinuation.yield()
        let deadline = AgentClock.now + timeout
        while completed < target && AgentClock.now < deadline {
            // Checked at every turn, not only on entry: a hook that was young when the wait
            // began may hang since (a killed replica's replacement waited the whole bound
            // behind a hanging reload hook; RouteWriterTests).
            if let hooksStarted, AgentClock.now - hooksStarted > .seconds(2) { return }
            // Cancelled (the process stops): the sleep throws at once, so waiting on would spin
            // until the deadline (simulator seed 322 never ended: time does not pass while a
            // job spins).
            do { try await AgentClock.sleep(for: .milliseconds(20)) } catch { return }
        }
    }

    /// The writer: one pass per request, until the task is cancelled (which also ends a
    /// running hook, killing its process group).
    public func run() async {
        guard !outputs.isEmpty else { return }
        for await _ in requests {
            if Task.isCancelled { return }
            // Fold a burst (replicas becoming ready one after another) into one write and one
            // proxy reload.
            try? await AgentClock.sleep(for: Self.burstWindow)
            // Stopping: never write a table from a half-stopped daemon (probes gone = no target).
            if Task.isCancelled { return }
            let target = wanted
            var held: Int32?
            if let passLock {
                // A CLI command holds the project and writes these files itself (simulator seed
                // 48: the daemon's older table put back a replica `promote` was stopping).
                guard let fd = passLock.trySharedLock() else {
                    Task { [weak self] in
                        try? await AgentClock.sleep(for: .milliseconds(250))
                        self?.requestRefresh()
                    }
                    continue
                }
                held = fd
            }
            if let inputs = await source?(), !Task.isCancelled {
                if inputs.lastTableFromStore, let stored = store?.loadRoutes(), stored != lastTable {
                    lastTable = stored
                    keptEntries = [:]  // another process's table: kept entries are taken from it afresh
                }
                var keeping = inputs.keeping, unobserved = inputs.unobserved
                if inputs.keepingUnknown, let lastTable {
                    let known = Set(inputs.services.map(\.name)).union(inputs.observed.map(\.service))
                    let unknown = lastTable.entries.map(\.service).filter { !known.contains($0) }
                    keeping.formUnion(unknown)
                    unobserved.formUnion(unknown)
                }
                await refresh(services: inputs.services, observed: inputs.observed, keeping: keeping, unobserved: unobserved, withdrawn: inputs.withdrawn)
            }
            if let held { passLock?.release(held) }
            completed = max(completed, target)
        }
    }

    /// One pass from the given state. Nil observed (engine unreachable) keeps the last files.
    public func refresh(services: [ServiceSpec], observed: [ObservedContainer]?, keeping: Set<String> = [], unobserved: Set<String> = [],
                        withdrawn: Set<String> = []) async {
        guard !outputs.isEmpty, let observed else { return }
        let ready = await Self.readyContainers(services: services, observed: observed, settleTime: settleTime, prober: prober, monitor: monitor)
        var table = RouteTable.build(services: services, observed: observed, ready: ready)
        keptEntries = keptEntries.filter { keeping.contains($0.key) }
        for service in keeping where keptEntries[service] == nil {
            if let entries = lastTable?.entries.filter({ $0.service == service }), !entries.isEmpty { keptEntries[service] = entries }
        }
        if !keeping.isEmpty {
            // A kept service's last routes replace what this pass would build for it. Observed:
            // its entries as they were when it began to be kept, with the targets live now (a
            // kept replica that died leaves them like any other, and comes back when the engine
            // restarts it: simulator seed 669). Not observed yet: its routes as last written
            // (simulator seed 463: a kept replica long dead came back into the routes).
            let live = Set(observed.filter(\.state.isLive).map(\.name))
            let kept = keeping.sorted().flatMap { service -> [RouteTable.Entry] in
                if unobserved.contains(service) { return lastTable?.entries.filter { $0.service == service } ?? [] }
                return (keptEntries[service] ?? []).map { entry in
                    var entry = entry
                    entry.targets = entry.targets.filter { live.contains($0.container) }
                    return entry
                }
            }.map { entry in
                var entry = entry
                entry.targets = entry.targets.filter { !withdrawn.contains($0.container) }
                return entry
            }
            let keptServices = Set(kept.map(\.service))
            table = RouteTable(entries: table.entries.filter { !keptServices.contains($0.service) } + kept)
        }
        await publish(table)
    }

    /// Writes `table` to every route output (each only when its content changes, checked and
    /// reloaded by its hooks) and keeps it as the last table. Swarm mode builds its tables from
    /// tasks and hands them here, through the same writer, checks and logs. Callers never
    /// overlap (``run()`` and Swarm's route loop are each one task).
    ///
    /// A write that reloads the proxy waits until ``reloadInterval`` has passed since the last
    /// reload: a proxy told to reload while it is still reloading may drop the request and keep
    /// the previous file for good (HAProxy's master loses a SIGUSR2 that arrives within a few
    /// hundred milliseconds of the one before). Requests made meanwhile fold into the next pass,
    /// spaced the same way. The wait does not count as time in the hooks, which
    /// ``refreshAndWait(timeout:)`` reads to tell a hanging hook.
    public func publish(_ table: RouteTable) async {
        guard !outputs.isEmpty else { return }
        if table != lastTable, let store {
            do { try store.save(table) } catch {
                logger.error("cannot save the route table in the state directory", metadata: ["error": "\(error)"])
            }
        }
        lastTable = table
        let contents = outputs.map { $0.format.render(table, listen: listen, project: project) }
        if let lastReload, zip(outputs, contents).contains(where: { $0.writer.reload != nil && $0.writer.differs(from: $1) }) {
            let wait = reloadInterval - (AgentClock.now - lastReload)
            if wait > .zero {
                logger.debug("proxy reload spaced", metadata: ["wait": "\(wait)"])
                try? await AgentClock.sleep(for: wait)
                if Task.isCancelled { return }
            }
        }
        hooksStarted = .now
        defer { hooksStarted = nil }
        for (output, content) in zip(outputs, contents) {
            let outcome = await output.writer.update(to: content)
            if output.writer.reload != nil, outcome.wentLive { lastReload = .now }
            switch outcome {
            case .unchanged:
                break
            case .written:
                logger.info("routes updated", metadata: ["file": "\(output.writer.path)", "format": "\(output.format.rawValue)",
                                                        "routes": "\(table.entries.count)", "targets": "\(table.upstreams.map(\.targets.count).reduce(0, +))"])
            case .checkFailed(let why):
                logger.error("route file failed the proxy's check: new file discarded, live file unchanged, proxy not reloaded",
                             metadata: ["file": "\(output.writer.path)", "check_output": "\(why)"])
            case .reloadFailed(let why):
                logger.error("proxy reload failed", metadata: ["file": "\(output.writer.path)", "output": "\(why)"])
            case .writeFailed(let why):
                logger.error("cannot write route file", metadata: ["file": "\(output.writer.path)", "error": "\(why)"])
            }
        }
    }

    /// Running replicas that pass their readiness check (the monitor's verdict, or a probe now
    /// where the monitor does not probe it) or, without one, have run for the settle time.
    /// `routedOnly`: only replicas of services with routes (what a route file needs); else every
    /// running replica (what `status` counts).
    public static func readyContainers(services: [ServiceSpec], observed: [ObservedContainer], settleTime: Duration, prober: any HealthProbing,
                                       monitor: ProbeMonitor? = nil, routedOnly: Bool = true) async -> Set<String> {
        let specs = Dictionary(services.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let now = WallClock.nowMS()
        let settleMS = settleTime.wholeMilliseconds
        return await withTaskGroup(of: String?.self) { group in
            for container in observed where container.state.isLive {
                guard let spec = specs[container.service], !routedOnly || !spec.routes.isEmpty else { continue }
                let port = container.hostPort
                if routedOnly && port == nil { continue }
                group.addTask {
                    // Each replica by its own checks (an old one keeps the checks it was made with).
                    if let readiness = ReplicaChecks.of(container, spec: spec).readiness {
                        guard let port else { return nil }
                        // The monitor's verdict where it probes the replica; a probe now where it
                        // does not (a `promote` of one service probes only that one: the others'
                        // replicas lost their routes, simulator seed 4).
                        if let status = await monitor?.readiness(of: container.id) { return status == .passing ? container.id : nil }
                        return await prober.probe(readiness, port: port) ? container.id : nil
                    }
                    return now - container.created >= settleMS ? container.id : nil
                }
            }
            var ready = Set<String>()
            for await id in group { if let id { ready.insert(id) } }
            return ready
        }
    }
}
