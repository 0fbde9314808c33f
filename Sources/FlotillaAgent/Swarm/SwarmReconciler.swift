import FlotillaCore
import FlotillaEngine
import Logging

/// `--orchestrator swarm`: the manifests as Swarm services on a Swarm manager. Flotilla computes
/// the plan (``SwarmPlan``, pure) and hands each service to Swarm, which schedules its tasks
/// over the nodes and rolls updates itself (`UpdateConfig`); Flotilla never schedules.
///
/// Only services labelled with the project are listed, so a foreign service is never touched.
public struct SwarmReconciler: Sendable {
    public let engine: EngineClient
    public let project: String
    public let allowEmpty: Bool
    public let allowMassPrune: Bool
    /// Where the port blocks of `network: host` services come from (``SwarmPorts``).
    public let portRange: ClosedRange<Int>
    /// Where the spec hashes sent to Swarm are kept (``StateStore/loadSwarmUpdates()``).
    public let store: StateStore?
    let logger: Logger

    public init(engine: EngineClient, project: String, allowEmpty: Bool, allowMassPrune: Bool, portRange: ClosedRange<Int> = 20000...29999,
                store: StateStore? = nil, logger: Logger) {
        self.engine = engine
        self.store = store
        self.portRange = portRange
        self.project = project
        self.allowEmpty = allowEmpty
        self.allowMassPrune = allowMassPrune
        self.logger = logger
    }

    public struct NotAManager: Error, CustomStringConvertible {
        public var description: String {
            "the engine is not a Swarm manager: --orchestrator swarm needs the socket of a manager node (docker swarm init, or a manager's socket)"
        }
    }

    public func observe() async throws -> [ObservedSwarmService] {
        guard try await engine.isSwarmManager() else { throw NotAManager() }
        return try await engine.listSwarmServices(label: OwnershipLabel.project, value: project)
    }

    public func plan(_ desired: DesiredState, promote: Set<String> = [], rollback: Set<String> = []) async throws -> SwarmPlan {
        let observed = try await observe()
        var needing: [String] = []
        for spec in desired.services where SwarmPorts.needsPorts(spec) {
            needing.append(spec.name)
            if spec.update.strategy == .canary { needing.append(SwarmPlan.canaryKey(spec.name)) }
        }
        var blocks: [String: Int] = [:]
        if !needing.isEmpty {
            var current: [String: Int] = [:]
            for service in observed {
                guard let name = service.service, let block = service.portBlock else { continue }
                current[service.isCanary ? SwarmPlan.canaryKey(name) : name] = block
            }
            // Every block a Swarm service holds is taken, the project's own included (an orphan
            // or a service of a failing file keeps running on its ports); a service keeps its own.
            let taken = try await engine.swarmPortBlocks().values
            blocks = SwarmPorts.assign(needing: needing, current: current, taken: Set(taken), range: portRange)
        }
        return SwarmPlan(desired: desired, observed: observed, project: project, allowEmpty: allowEmpty, allowMassPrune: allowMassPrune,
                         portBlocks: blocks, promote: promote, rollback: rollback, sent: store?.loadSwarmUpdates() ?? [:])
    }

    /// What runs now: each service's tasks counted from Swarm, never from the manifest.
    public func status(_ desired: DesiredState) async throws -> SwarmStatus {
        let observed = try await observe()
        let tasks = Dictionary(grouping: try await engine.listSwarmTasks(project: project), by: \.serviceName)
        return SwarmStatus(project: project, desired: desired, observed: observed, tasks: tasks)
    }

    public struct Report: Sendable {
        public var created = 0, updated = 0, removed = 0, unchanged = 0
        public var failures: [String: String] = [:]
        public var heldBack: [String] = []
        /// Canary releases waiting or rolled back (from the plan).
        public var canaries: [String: SwarmPlan.CanaryPhase] = [:]
        /// The specs sent (created or updated), for ``waitUntilRunning(_:timeout:progress:)``.
        public var sent: [SwarmServiceBlueprint] = []
        public var summary: String { "created \(created), updated \(updated), removed \(removed), unchanged \(unchanged) Swarm services" }
    }

    /// Carries the plan out, one action after another; a failing action is reported and the
    /// others still run.
    /// - Parameter only: carry out only the actions of this service (its stable and canary
    ///   Swarm services): what `promote` and `rollback` change, nothing else.
    public func apply(_ desired: DesiredState, promote: Set<String> = [], rollback: Set<String> = [], only: String? = nil) async throws -> Report {
        var plan = try await plan(desired, promote: promote, rollback: rollback)
        if let only {
            let names: Set<String> = [SwarmServiceBlueprint.serviceName(project: project, service: only), SwarmServiceBlueprint.canaryName(project: project, service: only)]
            plan.actions = plan.actions.filter { names.contains(Self.name(of: $0)) }
            plan.problems = plan.problems.filter { $0.key == only }
            plan.heldBack = []
        }
        var report = Report(unchanged: plan.unchanged.count, failures: plan.problems, heldBack: plan.heldBack)
        report.canaries = plan.canaries
        for (name, warning) in plan.warnings.sorted(by: { $0.key < $1.key }) {
            logger.warning("routes not served", metadata: ["service": "\(name)", "reason": "\(warning)"])
        }
        for (name, problem) in plan.problems.sorted(by: { $0.key < $1.key }) {
            logger.error("not given to Swarm", metadata: ["service": "\(name)", "reason": "\(problem)"])
        }
        for name in plan.heldBack {
            logger.warning("not removed (prune safety: failing manifests, an empty directory or more than half of the services)", metadata: ["service": "\(name)"])
        }
        var secretIDs = try await engine.listSwarmSecrets(label: OwnershipLabel.project, value: project)
        for action in plan.actions {
            do {
                switch action {
                case .create(let blueprint), .update(_, _, let blueprint):
                    try await ensureSecrets(blueprint, &secretIDs)
                    try await networks.ensure(names: blueprint.networks.map(\.name).filter { $0 != "host" })
                case .remove, .markRolledBack: break
                }
                switch action {
                case .create(let blueprint):
                    let id = try await engine.createSwarmService(blueprint, secretIDs: secretIDs)
                    remember(blueprint)
                    report.created += 1
                    report.sent.append(blueprint)
                    logger.info("created", metadata: ["service": "\(blueprint.name)", "id": "\(id.prefix(12))", "replicas": "\(blueprint.replicas)"])
                case .update(let id, let version, let blueprint):
                    // Recorded before it is sent: if the answer is lost and Swarm rolls the
                    // update back, the record still says which spec failed.
                    remember(blueprint)
                    try await engine.updateSwarmService(id: id, version: version, blueprint, secretIDs: secretIDs)
                    report.updated += 1
                    report.sent.append(blueprint)
                    logger.info("updated; Swarm rolls it", metadata: ["service": "\(blueprint.name)", "order": "\(blueprint.updateOrder)"])
                case .remove(let id, let name):
                    try await engine.removeSwarmService(id: id)
                    report.removed += 1
                    logger.info("removed", metadata: ["service": "\(name)"])
                case .markRolledBack(let id, let name, let hash, let canaryHalf):
                    var labels = [OwnershipLabel.rolledBackHash: hash]
                    if let canaryHalf { labels[SwarmPorts.lastCanaryHalfLabel] = String(canaryHalf) }
                    try await engine.setSwarmServiceLabels(id: id, labels)
                    logger.warning("canary rolled back; the stable service keeps serving until the manifest changes", metadata: ["service": "\(name)", "spec": "\(hash)"])
                }
            } catch {
                report.failures[Self.name(of: action)] = "\(error)"
                logger.error("failed", metadata: ["service": "\(Self.name(of: action))", "error": "\(error)"])
            }
        }
        if report.failures.isEmpty, desired.isValid {
            // Overlay networks of the project that no service joins any more (Swarm refuses while
            // a task is still attached; a later apply removes it).
            await networks.prune(keeping: Set(desired.services.flatMap { $0.networks.map(\.name) }))
        }
        // Unused secrets go only when every service of the project has finished updating: Swarm
        // could still roll an update back to a spec that names an old secret.
        let settled = (try? await observe().allSatisfy { !($0.updateState.map { ["updating", "paused", "rollback_started", "rollback_paused"].contains($0) } ?? false) }) ?? false
        if report.failures.isEmpty, desired.isValid, settled { await pruneSecrets(keeping: Set(desired.services.flatMap { SwarmServiceBlueprint(spec: $0, project: project).secrets.map(\.swarmName) })) }
        return report
    }

    public struct NoCanary: Error, CustomStringConvertible {
        public var description: String
    }

    /// `flotilla promote|rollback SERVICE` in swarm mode: only while a canary of the manifest's
    /// spec is waiting (``SwarmPlan/CanaryPhase/waiting``).
    public func release(_ service: String, promote: Bool, desired: DesiredState) async throws -> Report {
        guard let spec = desired.services.first(where: { $0.name == service }) else {
            throw NoCanary(description: "no service \"\(service)\" in the manifests")
        }
        guard try await plan(desired).canaries[service] == .waiting else {
            let what = spec.update.strategy == .canary ? "no canary release in progress" : "not released as a canary (update.strategy is \(spec.update.strategy.rawValue))"
            throw NoCanary(description: "\(service): \(what); nothing to \(promote ? "promote" : "roll back")")
        }
        return try await apply(desired, promote: promote ? [service] : [], rollback: promote ? [] : [service], only: service)
    }

    /// Records the spec hash sent to a Swarm service (best effort: without a state directory an
    /// update Swarm rolled back is recognised only while Swarm still reports the failed spec).
    func remember(_ blueprint: SwarmServiceBlueprint) {
        guard let store, let hash = blueprint.labels[OwnershipLabel.specHash] else { return }
        var sent = store.loadSwarmUpdates()
        sent[blueprint.name] = hash
        do { try store.saveSwarmUpdates(sent) } catch {
            logger.warning("cannot record the spec sent to Swarm in the state directory", metadata: ["error": "\(error)"])
        }
    }

    var networks: Networks { Networks(engine: engine, project: project, logger: logger, driver: "overlay") }

    /// Creates the blueprint's Swarm secrets that do not exist yet (the value goes to the engine
    /// in the create request only; logs and labels name the secret, never its value).
    func ensureSecrets(_ blueprint: SwarmServiceBlueprint, _ ids: inout [String: String]) async throws {
        for secret in blueprint.secrets where ids[secret.swarmName] == nil {
            ids[secret.swarmName] = try await engine.createSwarmSecret(
                name: secret.swarmName, labels: [OwnershipLabel.project: project, OwnershipLabel.service: blueprint.labels[OwnershipLabel.service] ?? ""], value: secret.value)
            logger.info("secret created", metadata: ["secret": "\(secret.swarmName)"])
        }
    }

    /// Removes the project's Swarm secrets no service refers to any more (a rotated value's old
    /// secret). One still in use by a task being replaced is left for the next apply.
    func pruneSecrets(keeping wanted: Set<String>) async {
        guard let existing = try? await engine.listSwarmSecrets(label: OwnershipLabel.project, value: project) else { return }
        for (name, id) in existing where !wanted.contains(name) {
            if (try? await engine.removeSwarmSecret(id: id)) != nil { logger.info("secret removed", metadata: ["secret": "\(name)"]) }
        }
    }

    /// Removes every Swarm service of the project; returns how many.
    public func down() async throws -> Int {
        var removed = 0
        for service in try await observe() {
            try await engine.removeSwarmService(id: service.id)
            removed += 1
            logger.info("removed", metadata: ["service": "\(service.name)"])
        }
        // Secrets and networks are in use until the removed services' tasks are gone (a task's
        // stop timeout, then Swarm detaches it): retry for up to 60 s; ``leftovers()`` says what stays.
        let deadline = AgentClock.now + .seconds(60)
        while AgentClock.now < deadline {
            await pruneSecrets(keeping: [])
            await networks.prune(keeping: [])
            if (try? await leftovers().isEmpty) == true { break }
            do { try await AgentClock.sleep(for: .milliseconds(500)) } catch { break }  // cancelled: no spinning
        }
        return removed
    }

    /// What still carries the project's label after ``down()``: services, secrets and networks,
    /// one line each (empty when the project is gone).
    public func leftovers() async throws -> [String] {
        var left: [String] = []
        for service in try await observe() { left.append("Swarm service \(service.name): could not be removed") }
        for name in try await engine.listSwarmSecrets(label: OwnershipLabel.project, value: project).keys.sorted() {
            left.append("Swarm secret \(name): still in use by a task that has not stopped")
        }
        for network in try await engine.ownedNetworks(project: project) {
            left.append("network \(network): still in use by a task that has not stopped")
        }
        return left
    }

    static func name(of action: SwarmPlan.Action) -> String {
        switch action {
        case .create(let b), .update(_, _, let b): return b.name
        case .remove(_, let name), .markRolledBack(_, let name, _, _): return name
        }
    }
}
