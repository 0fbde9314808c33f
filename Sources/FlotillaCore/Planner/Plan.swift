/// What a reconcile will do: per service (in dependency order) and for orphans.
public struct Plan: Sendable {
    public var services: [ServicePlan]
    /// Owned containers of services that are no longer in the manifests.
    public var orphans: [ObservedContainer]
    /// Things the operator should know: suspended pruning, crash-loop backoff, frozen services.
    public var notes: [String]
    /// Service names grouped in start order; each level depends only on earlier ones.
    public var levels: [[String]]

    public init(services: [ServicePlan], orphans: [ObservedContainer], notes: [String], levels: [[String]]) {
        self.services = services
        self.orphans = orphans
        self.notes = notes
        self.levels = levels
    }

    public var hasChanges: Bool { !orphans.isEmpty || services.contains { $0.hasChanges } }

    /// The plan as a flat list of actions, in the order they will run.
    public var actions: [PlanAction] {
        var result: [PlanAction] = []
        for service in services {
            result += service.prune.map { .remove(service: service.name, container: $0.name, reason: .dead) }
            result += service.replace.map { .replace(service: service.name, container: $0.name, order: service.spec.update.order) }
            if service.create > 0 { result.append(.create(service: service.name, count: service.create)) }
            result += service.removeSurplus.map { .remove(service: service.name, container: $0.name, reason: .surplus) }
        }
        result += orphans.map { .remove(service: $0.service, container: $0.name, reason: .orphan) }
        return result
    }
}

/// The work for one service.
public struct ServicePlan: Sendable {
    public var spec: ServiceSpec
    /// Owned containers that are not running (exited, dead, created but never started): removed.
    public var prune: [ObservedContainer]
    /// New replicas to add (beyond replacements).
    public var create: Int
    /// Running replicas of an older spec, replaced one batch at a time (rolling update).
    public var replace: [ObservedContainer]
    /// Running replicas beyond `replicas`: removed, newest first.
    public var removeSurplus: [ObservedContainer]
    /// Running replicas of the current spec that stay.
    public var keep: [ObservedContainer]
    /// For replacements: what changed between the running spec and the manifest.
    public var changes: [FieldChange]
    /// When set, the service is in crash-loop backoff: nothing is created before this time (ms).
    public var backoffUntil: Int64?

    public var name: String { spec.name }
    public var hasChanges: Bool { !prune.isEmpty || create > 0 || !replace.isEmpty || !removeSurplus.isEmpty }
}

/// One step of a plan, for display and `--format json`.
public enum PlanAction: Sendable, Hashable, Codable {
    case create(service: String, count: Int)
    case replace(service: String, container: String, order: UpdatePolicy.Order)
    case remove(service: String, container: String, reason: RemovalReason)
}

public enum RemovalReason: String, Sendable, Hashable, Codable {
    /// Not running any more (exited, dead, failed): pruned, and replaced when still wanted.
    case dead
    /// More replicas than `replicas`.
    case surplus
    /// Its service is no longer in the manifests.
    case orphan
}

/// One field of the container spec that differs between a running replica and the manifest.
public struct FieldChange: Sendable, Hashable, Codable {
    public var field: String
    public var old: String?
    public var new: String?
}
