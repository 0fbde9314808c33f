/// What a Swarm project is actually doing, per service: built from the manifests, the project's
/// Swarm services and their tasks. Pure; `flotilla status --orchestrator swarm` prints it.
public struct SwarmStatus: Sendable, Hashable, Codable {
    public struct Service: Sendable, Hashable, Codable {
        public var name: String
        public var swarmService: String?
        public var desired: Int
        /// Tasks running now (and meant to run).
        public var running: Int
        /// Distinct nodes those tasks run on.
        public var nodes: Int
        /// The Swarm service carries the manifest's spec hash.
        public var current: Bool
        /// `missing` (no Swarm service yet), `updating` (Swarm is rolling it), `converged`, `degraded`.
        public var phase: String
        /// Swarm's last task error, when a task failed.
        public var lastError: String?
    }

    public var project: String
    public var services: [Service]
    /// Swarm services of the project without a manifest.
    public var orphans: [String]
    public var converged: Bool

    public init(project: String, desired: DesiredState, observed: [ObservedSwarmService], tasks: [String: [ObservedSwarmTask]]) {
        self.project = project
        var byService: [String: ObservedSwarmService] = [:]
        var canaries: [String: ObservedSwarmService] = [:]
        for service in observed {
            guard let name = service.service else { continue }
            if service.isCanary { canaries[name] = service } else { byService[name] = service }
        }
        services = desired.services.map { spec in
            guard let swarm = byService[spec.name] else {
                return Service(name: spec.name, swarmService: nil, desired: spec.replicas, running: 0, nodes: 0, current: false, phase: "missing", lastError: nil)
            }
            let all = tasks[swarm.name] ?? []
            let running = all.filter(\.isLive)
            let current = swarm.specHash == spec.swarmHash
            let updating = swarm.updateState.map { ["updating", "rollback_started", "paused", "rollback_paused"].contains($0) } ?? false
            let canaryWaiting = canaries[spec.name]?.specHash == spec.swarmHash && !current
            let rolledBack = !current && swarm.rolledBackHash == spec.swarmHash
            // Global mode: one task per eligible node, so `replicas` says nothing; every task meant
            // to run must be live.
            let global = spec.placement?.mode == .global
            let meant = all.filter { $0.desiredState == "running" }.count
            let full = global ? running.count > 0 && running.count == meant : running.count == spec.replicas
            let phase = canaryWaiting ? "canary" : rolledBack ? "rolled-back" : !current ? "outdated" : updating ? "updating"
                : full ? "converged" : "degraded"
            // The newest task error (Swarm keeps a few finished tasks of each slot).
            let lastError = all.filter { $0.error != nil }.max { ($0.since ?? 0) < ($1.since ?? 0) }?.error
            return Service(name: spec.name, swarmService: swarm.name, desired: global ? meant : spec.replicas, running: running.count,
                           nodes: Set(running.map(\.nodeID)).count, current: current, phase: phase, lastError: lastError)
        }
        let wanted = Set(desired.services.map(\.name))
        orphans = observed.filter { !wanted.contains($0.service ?? "") }.map(\.name).sorted()
        converged = desired.isValid && orphans.isEmpty && services.allSatisfy { $0.phase == "converged" }
    }
}
