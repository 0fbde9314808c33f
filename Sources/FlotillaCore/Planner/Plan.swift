/// What a reconcile will do: per service (in dependency order) and for orphans.
public struct Plan: Sendable {
    public var services: [ServicePlan]
    /// Owned containers of services that are no longer in the manifests.
    public var orphans: [ObservedContainer]
    /// Things the operator should know: suspended pruning, crash-loop backoff, frozen services.
    public var notes: [String]
    /// Service names grouped in start order; each level depends only on earlier ones.
    public var levels: [[String]]
    /// Services whose rollback marker no longer applies (their manifest changed or is gone).
    public var staleMarkers: [String]
    /// Owned containers of services no longer in the manifests whose removal prune safety holds
    /// back (a mass deletion, an empty or broken manifest directory): left running, and the
    /// project is not in sync while they are there.
    public var heldOrphans: [ObservedContainer] = []

    public init(services: [ServicePlan], orphans: [ObservedContainer], notes: [String], levels: [[String]], staleMarkers: [String] = []) {
        self.services = services
        self.orphans = orphans
        self.notes = notes
        self.levels = levels
        self.staleMarkers = staleMarkers
    }

    public var hasChanges: Bool { !orphans.isEmpty || !staleMarkers.isEmpty || services.contains { $0.hasChanges } }

    public func service(_ name: String) -> ServicePlan? { services.first { $0.name == name } }

    /// The plan as a flat list of actions, in the order they will run.
    public var actions: [PlanAction] {
        var result: [PlanAction] = []
        for service in services {
            result += service.prune.map { .remove(service: service.name, container: $0.name, reason: .dead) }
            result += service.unhealthy.map { .remove(service: service.name, container: $0.name, reason: .unhealthy) }
            result += service.start.map { .start(service: service.name, container: $0.name) }
            if service.markRolledBack != nil { result.append(.rollback(service: service.name)) }
            result += service.replace.map { .replace(service: service.name, container: $0.name, order: service.spec.update.order) }
            if service.create > 0 {
                result.append(service.createRole == .canary ? .createCanary(service: service.name, count: service.create) : .create(service: service.name, count: service.create))
            }
            let reason: RemovalReason = service.phase == .rolledBack ? .rolledBack : .surplus
            result += service.removeSurplus.map { .remove(service: service.name, container: $0.name, reason: service.superseded.contains($0.id) ? .superseded : reason) }
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
    /// Running replicas whose liveness check failed: removed and replaced.
    public var unhealthy: [ObservedContainer]
    /// New replicas to add (beyond replacements).
    public var create: Int
    /// What the new replicas are: canaries while a canary release waits for promotion.
    public var createRole: ReplicaRole
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
    /// Where the service is in a release.
    public var phase: RolloutPhase
    /// Set when this plan rolls a canary back: the spec hash to record in the rollback marker
    /// (written before any canary is removed, so a crash cannot bring the canary back).
    public var markRolledBack: String?
    public var rollbackReason: String?
    /// The service's rollback marker is stale and is removed.
    public var clearMarker: Bool
    /// Ids (in ``removeSurplus``) of canaries of an earlier, never promoted release.
    public var superseded: Set<String> = []
    /// Exited replicas started again in place (found at start-up, or old replicas of a canary release).
    public var start: [ObservedContainer] = []
    /// Every replica that is or will be running: running (and not failing liveness), restarting
    /// by the engine's restart policy, or in ``start``.
    public var live: [ObservedContainer] = []
    /// Replicas of the current spec (in ``prune``) that ran and died while Flotilla watched: crashes.
    public var died: [ObservedContainer] = []

    public var name: String { spec.name }

    /// What the operator should know about where this service stands in a release.
    public var note: String? {
        switch phase {
        case .canary:
            let stable = keep.contains { $0.specHash != spec.specHash }
            if !stable {
                return "\(name): canary of \(spec.specHash) is waiting but the old replicas are gone (only the canaries run); run \"flotilla promote \(name)\" or \"flotilla rollback \(name)\""
            }
            return "\(name): canary of \(spec.specHash) takes \(spec.update.canary.weight)% of requests; run \"flotilla promote \(name)\" or \"flotilla rollback \(name)\""
        case .rolledBack where markRolledBack == nil && keep.isEmpty:
            return "\(name): the canary of \(spec.specHash) was rolled back and no old replica is left (nothing runs); change the manifest to deploy a version"
        case .rolledBack where markRolledBack == nil:
            return "\(name): the canary of \(spec.specHash) was rolled back; the old replicas keep serving until the manifest changes"
        default:
            return nil
        }
    }
    public var hasChanges: Bool {
        !prune.isEmpty || !unhealthy.isEmpty || !start.isEmpty || create > 0 || !replace.isEmpty || !removeSurplus.isEmpty || markRolledBack != nil || clearMarker
    }
}

/// One step of a plan, for display and `--format json`.
public enum PlanAction: Sendable, Hashable, Codable {
    case create(service: String, count: Int)
    case createCanary(service: String, count: Int)
    case rollback(service: String)
    case replace(service: String, container: String, order: UpdatePolicy.Order)
    case remove(service: String, container: String, reason: RemovalReason)
    case start(service: String, container: String)
}

public enum RemovalReason: String, Sendable, Hashable, Codable {
    /// Not running any more (exited, dead, failed): pruned, and replaced when still wanted.
    case dead
    /// More replicas than `replicas`.
    case surplus
    /// Its service is no longer in the manifests.
    case orphan
    /// Running but failing its liveness check.
    case unhealthy
    /// A canary that was rolled back.
    case rolledBack = "rolled-back"
    /// A canary of an earlier manifest edit, replaced by a canary of the latest.
    case superseded
    /// Replaced by a ready replica of the new spec (rolling update).
    case replaced
    /// A new replica that failed its readiness check during a rolling update.
    case unready
}

/// One field of the container spec that differs between a running replica and the manifest.
public struct FieldChange: Sendable, Hashable, Codable {
    public var field: String
    public var old: String?
    public var new: String?
}
