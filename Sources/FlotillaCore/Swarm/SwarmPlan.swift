/// Desired services + the project's Swarm services → what to create, update and remove. Pure.
///
/// The same safety as on one host: services of manifest files that failed to load are left as
/// they are and nothing is removed while any file fails; an empty directory removes nothing
/// without `allowEmpty`; removing more than half of the services (and more than one) waits for
/// `allowMassPrune`.
public struct SwarmPlan: Sendable, Hashable {
    public enum Action: Sendable, Hashable {
        case create(SwarmServiceBlueprint)
        case update(id: String, version: Int, SwarmServiceBlueprint)
        case remove(id: String, name: String)
    }

    public var actions: [Action]
    public var unchanged: [String]
    /// Services that would be removed but are held back (empty directory, prune budget, failed files).
    public var heldBack: [String]
    /// Services that cannot be given to Swarm as they are (service → why), left as they are.
    public var problems: [String: String]

    public var hasChanges: Bool { !actions.isEmpty }

    /// - Parameter portBlocks: the port block of every service that needs per-task ports
    ///   (``SwarmPorts/assign(needing:current:taken:range:)``).
    public init(desired: DesiredState, observed: [ObservedSwarmService], project: String, allowEmpty: Bool = false, allowMassPrune: Bool = false,
                portBlocks: [String: Int] = [:]) {
        var actions: [Action] = []
        var problems: [String: String] = [:]
        var unchanged: [String] = []
        var byService: [String: ObservedSwarmService] = [:]
        var duplicates: [ObservedSwarmService] = []
        for service in observed.sorted(by: { $0.name < $1.name }) {
            guard let name = service.service else { continue }
            if byService[name] == nil { byService[name] = service } else { duplicates.append(service) }
        }
        for spec in desired.services {
            let current = byService[spec.name]
            if let current, current.specHash == spec.swarmHash {
                unchanged.append(spec.name)
                continue
            }
            var ports: (block: Int, half: Int)?
            if SwarmPorts.needsPorts(spec) {
                if spec.placement?.mode != .global, spec.replicas > SwarmPorts.maxReplicas {
                    problems[spec.name] = "a network: host service has at most \(SwarmPorts.maxReplicas) replicas in swarm mode (one port per task slot); use fewer replicas or mode: global"
                    continue
                }
                guard let block = portBlocks[spec.name] else {
                    problems[spec.name] = "no free block of \(SwarmPorts.blockSize) ports left in --port-range for its tasks; widen --port-range"
                    continue
                }
                ports = (block, SwarmPorts.nextHalf(block: block, current: current?.portHalf))
            }
            let blueprint = SwarmServiceBlueprint(spec: spec, project: project, ports: ports)
            if let current { actions.append(.update(id: current.id, version: current.version, blueprint)) }
            else { actions.append(.create(blueprint)) }
        }
        let wanted = Set(desired.services.map(\.name)).union(desired.servicesInFailedFiles)
        var removals = byService.values.filter { !wanted.contains($0.service ?? "") }.sorted { $0.name < $1.name } + duplicates
        var held: [String] = []
        if !desired.isValid || (desired.services.isEmpty && !allowEmpty) {
            held = removals.map(\.name)
            removals = []
        } else if !allowMassPrune, removals.count > 1, removals.count * 2 > byService.count {
            held = removals.map(\.name)
            removals = []
        }
        actions += removals.map { .remove(id: $0.id, name: $0.name) }
        self.actions = actions
        self.unchanged = unchanged
        self.heldBack = held
        self.problems = problems
    }
}
