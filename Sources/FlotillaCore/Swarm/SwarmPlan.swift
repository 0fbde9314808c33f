/// Desired services + the project's Swarm services → what to create, update and remove. Pure.
///
/// The same safety as on one host: services of manifest files that failed to load are left as
/// they are and nothing is removed while any file fails; an empty directory removes nothing
/// without `allowEmpty`; removing more than half of the services (and more than one) waits for
/// `allowMassPrune`.
///
/// Canary releases (`update.strategy: canary`): a changed spec does not update the service; it
/// becomes a second Swarm service `<project>_<name>-canary` with `update.canary.replicas` tasks,
/// which the route table weights against the stable one. Promoting updates the stable service to
/// the new spec (Swarm rolls it) and removes the canary; rolling back removes the canary and
/// marks the stable service with the rolled-back hash, so no new canary starts until the
/// manifest changes again.
public struct SwarmPlan: Sendable, Hashable {
    public enum Action: Sendable, Hashable {
        case create(SwarmServiceBlueprint)
        case update(id: String, version: Int, SwarmServiceBlueprint)
        case remove(id: String, name: String)
        /// Labels the stable service with the spec hash whose canary was rolled back (and the
        /// half of the port block the removed canary used, so the next canary takes the other).
        case markRolledBack(id: String, name: String, hash: String, canaryHalf: Int?)
    }

    /// Where a canary release of a service stands.
    public enum CanaryPhase: String, Sendable, Hashable, Codable {
        /// The canary service runs the manifest's spec beside the stable one.
        case waiting
        /// The manifest's spec was rolled back; the stable service keeps serving.
        case rolledBack = "rolled-back"
    }

    public var actions: [Action]
    public var unchanged: [String]
    /// Services that would be removed but are held back (empty directory, prune budget, failed files).
    public var heldBack: [String]
    /// Services that cannot be given to Swarm as they are (service → why), left as they are.
    public var problems: [String: String]
    /// Services with a canary release in progress or rolled back.
    public var canaries: [String: CanaryPhase]
    /// What works but not as the manifest may expect (service → why).
    public var warnings: [String: String]

    public var hasChanges: Bool { !actions.isEmpty }

    /// The key of a canary service's port block in `portBlocks`.
    public static func canaryKey(_ service: String) -> String { service + "/canary" }

    /// - Parameters:
    ///   - portBlocks: the port block of every service that needs per-task ports
    ///     (``SwarmPorts/assign(needing:current:taken:range:)``); canaries under ``canaryKey(_:)``.
    ///   - promote: services whose canary is promoted now (`flotilla promote`).
    ///   - rollback: services whose canary is rolled back now (`flotilla rollback`).
    ///   - sent: the spec hash last sent to each Swarm service (by Swarm service name): after
    ///     Swarm rolled an update back, it no longer says which spec failed.
    public init(desired: DesiredState, observed: [ObservedSwarmService], project: String, allowEmpty: Bool = false, allowMassPrune: Bool = false,
                portBlocks: [String: Int] = [:], promote: Set<String> = [], rollback: Set<String> = [], sent: [String: String] = [:]) {
        var actions: [Action] = []
        var problems: [String: String] = [:]
        var canaries: [String: CanaryPhase] = [:]
        var warnings: [String: String] = [:]
        for spec in desired.services where !spec.routes.isEmpty && !SwarmPorts.needsPorts(spec) {
            warnings[spec.name] = "has routes but no per-task ports: in swarm mode only network: host services with a port are routed (its routes answer 503)"
        }
        var unchanged: [String] = []
        var stable: [String: ObservedSwarmService] = [:]
        var canaryServices: [String: ObservedSwarmService] = [:]
        var duplicates: [ObservedSwarmService] = []
        for service in observed.sorted(by: { $0.name < $1.name }) {
            guard let name = service.service else { continue }
            if service.isCanary {
                if canaryServices[name] == nil { canaryServices[name] = service } else { duplicates.append(service) }
            } else if stable[name] == nil { stable[name] = service } else { duplicates.append(service) }
        }

        func ports(_ spec: ServiceSpec, key: String, currentHalf: Int?) -> (block: Int, half: Int)?? {
            guard SwarmPorts.needsPorts(spec) else { return .some(nil) }
            let replicas = key == spec.name ? spec.replicas : spec.update.canary.replicas
            if spec.placement?.mode != .global, replicas > SwarmPorts.maxReplicas {
                problems[spec.name] = "a network: host service has at most \(SwarmPorts.maxReplicas) replicas in swarm mode (one port per task slot); use fewer replicas or mode: global"
                return nil
            }
            guard let block = portBlocks[key] else {
                problems[spec.name] = "no free block of \(SwarmPorts.blockSize) ports left in --port-range for its tasks; widen --port-range"
                return nil
            }
            return .some((block, SwarmPorts.nextHalf(block: block, current: currentHalf)))
        }

        let canaryStrategy = Set(desired.services.filter { $0.update.strategy == .canary }.map(\.name))
        for spec in desired.services {
            if spec.name.hasSuffix("-canary"), canaryStrategy.contains(String(spec.name.dropLast("-canary".count))) {
                problems[spec.name] = "its Swarm service name \(SwarmServiceBlueprint.serviceName(project: project, service: spec.name)) is the one the canary releases of \(spec.name.dropLast("-canary".count)) use; rename it"
                continue
            }
            let current = stable[spec.name]
            let canary = canaryServices[spec.name]
            let hash = spec.swarmHash
            if let current, current.specHash == hash, !current.drifted(from: spec) {
                // Up to date (or just promoted): a canary left over has nothing more to show.
                unchanged.append(spec.name)
                if let canary { actions.append(.remove(id: canary.id, name: canary.name)) }
                continue
            }
            if let current, rollback.contains(spec.name) {
                if let canary { actions.append(.remove(id: canary.id, name: canary.name)) }
                actions.append(.markRolledBack(id: current.id, name: current.name, hash: hash, canaryHalf: canary?.portHalf))
                canaries[spec.name] = .rolledBack
                continue
            }
            if let current, current.wasRolledBackBySwarm, current.previousSpecHash == hash || sent[current.name] == hash, !promote.contains(spec.name) {
                // Swarm rolled this very spec back (its tasks failed while updating): updating
                // again would loop. It stays rolled back until the manifest changes.
                unchanged.append(spec.name)
                problems[spec.name] = "Swarm rolled back the update to this spec (its new tasks failed; see `flotilla status` for the task error); the previous spec keeps running until the manifest changes"
                continue
            }
            if let current, current.rolledBackHash == hash {
                // This spec's canary was rolled back: the stable service keeps serving.
                unchanged.append(spec.name)
                canaries[spec.name] = .rolledBack
                if let canary { actions.append(.remove(id: canary.id, name: canary.name)) }
                continue
            }
            // Only a change of what runs in the containers is a canary release; replicas, update
            // settings and placement go to the stable service directly.
            if let current, spec.update.strategy == .canary, current.containerHash != spec.specHash, !promote.contains(spec.name) {
                if let canary, canary.specHash == hash {
                    canaries[spec.name] = .waiting
                    unchanged.append(spec.name)
                    continue
                }
                // A new canary takes the other half than the last one: its tasks may still be stopping.
                guard let port = ports(spec, key: Self.canaryKey(spec.name), currentHalf: canary?.portHalf ?? current.lastCanaryHalf) else { continue }
                canaries[spec.name] = .waiting
                let blueprint = SwarmServiceBlueprint(spec: spec, project: project, ports: port, role: .canary)
                if let canary { actions.append(.update(id: canary.id, version: canary.version, blueprint)) } else { actions.append(.create(blueprint)) }
                continue
            }
            guard let port = ports(spec, key: spec.name, currentHalf: current?.portHalf) else { continue }
            var blueprint = SwarmServiceBlueprint(spec: spec, project: project, ports: port)
            if let half = canary?.portHalf ?? current?.lastCanaryHalf { blueprint.labels[SwarmPorts.lastCanaryHalfLabel] = String(half) }
            if let current { actions.append(.update(id: current.id, version: current.version, blueprint)) } else { actions.append(.create(blueprint)) }
            // Promoted: the stable service rolls to the canary's spec first, then the canary goes.
            if let canary { actions.append(.remove(id: canary.id, name: canary.name)) }
        }
        let wanted = Set(desired.services.map(\.name)).union(desired.servicesInFailedFiles)
        let orphans = stable.values.filter { !wanted.contains($0.service ?? "") } + canaryServices.values.filter { !wanted.contains($0.service ?? "") }
        var removals = orphans.sorted { $0.name < $1.name } + duplicates
        var held: [String] = []
        if !desired.isValid || (desired.services.isEmpty && !allowEmpty) {
            held = removals.map(\.name)
            removals = []
        } else if !allowMassPrune, removals.count > 1, removals.count * 2 > stable.count {
            held = removals.map(\.name)
            removals = []
        }
        actions += removals.map { .remove(id: $0.id, name: $0.name) }
        self.actions = actions
        self.unchanged = unchanged
        self.heldBack = held
        self.problems = problems
        self.canaries = canaries
        self.warnings = warnings
    }
}
