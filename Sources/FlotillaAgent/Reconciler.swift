import FlotillaCore
import FlotillaEngine
import Foundation
import Logging

/// A project on an engine: where its manifests are, how to observe it, and the ``Controller``
/// that reconciles it. The daemon runs the controller forever; `apply`, `promote` and
/// `rollback` run it once, until every service has settled or failed.
public struct Reconciler: Sendable {
    public struct Options: Sendable {
        public var parallelism: Int
        public var portRange: ClosedRange<Int>
        /// How long a replica without a readiness check must run to count as ready.
        public var settleTime: Duration
        /// The state directory (decisions, last route table); nil: none (decisions live on the engine only).
        public var stateDirectory: String?
        /// Allow removing more than half of the project's services at once (`--allow-mass-prune`).
        public var allowMassPrune: Bool
        /// Carries out the replicas' health checks (the network; the simulator's replicas).
        public var prober: any HealthProbing = HealthProber()
        /// Where the project lock lives (nil: `/run/flotilla`, or the temp folder).
        public var lockDirectory: String?
        /// Where host-port claims are kept (nil: none, a single process).
        public var portClaimDirectory: String? = ReconcileLock.defaultDirectory() + "/ports"
        /// Which commit the manifests are at, read at every load.
        public var revisions: any RevisionReading = GitRevisionReader()

        public init(parallelism: Int = 4, portRange: ClosedRange<Int> = 20000...29999, settleTime: Duration = .seconds(1), stateDirectory: String? = nil,
                    allowMassPrune: Bool = false) {
            self.allowMassPrune = allowMassPrune
            self.parallelism = parallelism
            self.portRange = portRange
            self.settleTime = settleTime
            self.stateDirectory = stateDirectory
        }
    }

    public let engine: any ContainerEngine
    public let directory: String
    public let project: String
    public let loader: ManifestDirectoryLoader
    public let options: Options
    public let allowEmpty: Bool
    /// Held by every one-shot command of this project on this host.
    public let lock: ReconcileLock
    public let logger: Logger
    /// Why the host's secret digest key could not be loaded or created (nil: it was, or there is
    /// no state directory). Loading manifests with secrets is then an error: digests under a
    /// throwaway key would differ on every run and replace those services each time.
    public let digestKeyProblem: String?
    /// The manifest directory as recorded on the engine (``ProjectOwnership``).
    public let source: String
    /// Seals new replicas and tells them from impostors (nil without a state directory).
    public let seal: ReplicaSeal?

    /// The loader's digest key is replaced by the key kept in the state directory.
    public init(engine: any ContainerEngine, directory: String, project: String, options: Options, allowEmpty: Bool, logger: Logger, loader: ManifestDirectoryLoader = ManifestDirectoryLoader()) {
        self.engine = engine
        self.directory = directory
        self.project = project
        self.options = options
        self.allowEmpty = allowEmpty
        self.logger = logger
        self.lock = ReconcileLock(project: project, directory: options.lockDirectory)
        var loader = loader
        var problem: String?
        var seal: ReplicaSeal?
        if let path = options.stateDirectory {
            let store = StateStore(directory: path)
            do {
                loader.digestKey = try store.loadOrCreateDigestKey()
                seal = ReplicaSeal(key: loader.digestKey, keyCreated: store.digestKeyCreated(), project: project)
            } catch {
                problem = "the secret digest key cannot be kept in the state directory \(path) (\(error)); give --state-dir a folder this user can write"
            }
        }
        self.loader = loader
        self.digestKeyProblem = problem
        self.seal = seal
        self.source = Self.source(of: directory)
    }

    public struct DigestKeyError: Error, CustomStringConvertible {
        public let description: String
    }

    /// The project's replicas: one list call filtered by the project label, without impostors.
    public func observe() async throws -> [ObservedContainer] {
        try await observeAll().replicas
    }

    /// The project's replicas, and the containers that carry its labels without being its
    /// replicas (each with the reason), which Flotilla leaves alone.
    public func observeAll() async throws -> (replicas: [ObservedContainer], impostors: [(container: ObservedContainer, problem: String)]) {
        let containers = try await engine.listContainers(label: OwnershipLabel.project, value: project)
        logger.debug("engine list", metadata: ["containers": "\(containers.count)"])
        guard let seal else { return (containers, []) }
        var replicas: [ObservedContainer] = [], impostors: [(ObservedContainer, String)] = []
        for container in containers {
            if let problem = seal.problem(with: container) { impostors.append((container, problem)) } else { replicas.append(container) }
        }
        return (replicas, impostors)
    }

    /// ``loadDesired(claimingRoutes:)`` and the git revision the manifests are at.
    public func load(claimingRoutes: Bool = true) async throws -> DesiredState {
        var state = try loadDesired(claimingRoutes: claimingRoutes)
        state.revision = await options.revisions.revision(of: directory)
        return state
    }

    /// The manifests, checked against the routes other projects claim on the shared proxy.
    /// `claimingRoutes`: record this project's routes in that register (what serves them: `run`,
    /// `apply`, a release); false for commands that only look (`plan`, `routes`, `status`).
    public func loadDesired(claimingRoutes: Bool = true) throws -> DesiredState {
        var state = try loader.load(directory: directory)
        if claimingRoutes, let claims = loader.routeClaims {
            // This project's routes, claimed on the shared proxy's register; claims it no longer
            // routes are given up only after a load without errors (a broken file keeps its routes).
            do {
                let lost = try claims.sync(routes: state.services.flatMap(\.routes), release: state.isValid)
                // Another project claimed one between the load and now: load again, refused at the route.
                if !lost.isEmpty { state = try loader.load(directory: directory) }
            } catch {
                logger.warning("cannot record this project's route claims", metadata: ["error": "\(error)"])
            }
        }
        if let digestKeyProblem, state.services.contains(where: { !$0.secrets.isEmpty }) {
            throw DigestKeyError(description: digestKeyProblem)
        }
        return state
    }

    /// The state directory, prepared; nil (logged) when it cannot be used.
    public var stateStore: StateStore? {
        guard let path = options.stateDirectory else { return nil }
        let store = StateStore(directory: path)
        do {
            try store.prepare()
            return store
        } catch {
            logger.warning("state directory not usable; decisions are kept on the engine only", metadata: ["state_dir": "\(path)", "error": "\(error)"])
            return nil
        }
    }

    /// Rollback decisions: the state directory's and the engine's markers together. The markers
    /// are read only when a service uses canary releases (no extra engine call otherwise).
    public func rolledBack(for desired: DesiredState) async throws -> [String: String] {
        let stored = stateStore?.loadDecisions().rolledBack ?? [:]
        guard desired.services.contains(where: { $0.update.strategy == .canary }) else { return stored }
        return stored.merging(try await engine.rollbackMarkers(project: project)) { a, _ in a }
    }

    /// Releases under way, from the state directory.
    public func releases() -> [String: ReleaseDecisions.Release] { stateStore?.loadDecisions().releases ?? [:] }

    /// Plans with this reconciler's `allowEmpty` (what `plan` shows); `options` carries the rest.
    public func plan(_ desired: DesiredState, observed: [ObservedContainer], options: Planner.Options = Planner.Options()) -> Plan {
        var options = options
        options.allowEmpty = allowEmpty
        options.allowMassPrune = self.options.allowMassPrune
        if options.releases.isEmpty { options.releases = releases() }
        return Planner.plan(desired: desired, observed: observed, options: options)
    }

    /// The named volumes and networks `desired` uses that this project may not (``ResourceRefusals``).
    public func resourceRefusals(_ desired: DesiredState) async throws -> [Diagnostic] {
        try await ResourceRefusals.find(desired, directory: directory, project: project, engine: engine,
                                        allowedVolumes: loader.access.allowedVolumes, allowedNetworks: loader.access.allowedNetworks)
    }

    public func makeController(mode: Controller.Mode, routes: RouteRefresher?) -> Controller {
        var configuration = Controller.Configuration(project: project, mode: mode, parallelism: options.parallelism, portRange: options.portRange,
                                                     settleTime: options.settleTime, allowEmpty: allowEmpty, sharedLock: mode == .daemon ? lock : nil)
        configuration.allowMassPrune = options.allowMassPrune
        configuration.seal = seal
        configuration.source = source
        configuration.prober = options.prober
        configuration.portClaimDirectory = options.portClaimDirectory
        configuration.mounts = loader.access.mountPolicy
        configuration.allowedNetworks = loader.access.allowedNetworks
        configuration.allowedVolumes = loader.access.allowedVolumes
        return Controller(engine: engine, configuration: configuration, logger: logger, routes: routes, store: stateStore)
    }

    /// Converges once: the controller runs until every service has settled or failed.
    /// `promote`/`rollback`: canary decisions to carry out in this run. `only`: limit the run to
    /// these services (and no orphan removal).
    /// `observed`: the project's replicas just listed by the caller (under the reconcile lock),
    /// used as the first observation instead of listing again.
    public func apply(_ desired: DesiredState, routes: RouteRefresher? = nil, promote: Set<String> = [], rollback: [String: String] = [:],
                      only: Set<String>? = nil, observed: [ObservedContainer]? = nil) async throws -> ApplyReport {
        let controller = makeController(mode: .once, routes: routes)
        await controller.decide(promote: promote, rollback: rollback)
        try await controller.resync(.startup, only: only, listed: observed)
        await controller.setDesired(desired, .manifestsChanged, only: only)
        return await controller.run()
    }

    /// Removes every container of the project (each stopped with SIGTERM and its stop timeout
    /// first), then its networks and rollback decisions.
    public func down() async throws -> Int {
        let controller = makeController(mode: .once, routes: nil)
        let removed = try await controller.removeEverything()
        if let store = stateStore { try? store.save(ReleaseDecisions()) }
        loader.routeClaims?.releaseAll()
        for service in try await engine.rollbackMarkers(project: project).keys {
            try await engine.clearRollbackMarker(project: project, service: service)
        }
        if try await observe().isEmpty { try await engine.clearProjectOwner(project: project) }
        return removed
    }

    /// What `down` could not or would not remove: every container still carrying the project's
    /// label, each with why it is there.
    public func leftovers() async throws -> [String] {
        let replicas = Dictionary(try await observeAll().replicas.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        return try await engine.labelledContainers(label: OwnershipLabel.project, value: project).map { container in
            if replicas[container.id] != nil { return "\(container.name) (\(container.id.prefix(12))): a replica that could not be removed" }
            guard let service = container.labels[OwnershipLabel.service] else {
                return "\(container.name) (\(container.id.prefix(12))): carries the project label but no service label; not created by Flotilla, left alone"
            }
            var observed = ObservedContainer(id: container.id, name: container.name, service: service, specHash: container.labels[OwnershipLabel.specHash] ?? "", state: .unknown, created: 0)
            observed.seal = container.labels[OwnershipLabel.seal]
            let why = seal?.problem(with: observed) ?? "not a replica"
            return "\(container.name) (\(container.id.prefix(12))): not a replica of this project (\(why)); left alone"
        }
    }
}
