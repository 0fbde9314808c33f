/// A Swarm service as the manager reports it: what the planner compares with the manifests.
public struct ObservedSwarmService: Sendable, Hashable {
    public var id: String
    public var name: String
    /// Swarm's object version: an update must name the version it replaces.
    public var version: Int
    public var labels: [String: String]
    /// Swarm's rolling-update state (`updating`, `completed`, `rollback_completed`, …), if any.
    public var updateState: String?
    /// Swarm's word on it ("update rolled back due to failure or early termination of task …").
    public var updateMessage: String?

    /// The spec hash of the service's previous spec: after Swarm rolled an update back, the hash
    /// of the spec that failed.
    public var previousSpecHash: String?

    /// The replica count and image of its spec now (to notice edits made behind Flotilla's back,
    /// which leave its spec-hash label as it was). Nil: global mode, or not read.
    public var replicas: Int?
    public var image: String?

    public init(id: String, name: String, version: Int, labels: [String: String], updateState: String? = nil, previousSpecHash: String? = nil,
                replicas: Int? = nil, image: String? = nil) {
        self.previousSpecHash = previousSpecHash
        self.replicas = replicas
        self.image = image
        self.id = id
        self.name = name
        self.version = version
        self.labels = labels
        self.updateState = updateState
    }

    public var service: String? { labels[OwnershipLabel.service] }
    public var specHash: String? { labels[OwnershipLabel.specHash] }
    /// A canary service (`<project>_<name>-canary`) of a release in progress.
    /// Swarm rolled the last update back (its tasks failed during the update).
    public var wasRolledBackBySwarm: Bool { updateState?.hasPrefix("rollback") == true }
    public var isCanary: Bool { labels[OwnershipLabel.role] == ReplicaRole.canary.rawValue }
    /// The spec hash whose canary was rolled back (on the stable service), until the manifest moves on.
    public var rolledBackHash: String? { labels[OwnershipLabel.rolledBackHash] }
    /// The container-level spec hash (``ServiceSpec/specHash``) of its spec: a canary release
    /// starts only when this changes.
    public var containerHash: String? { labels[SwarmServiceBlueprint.containerHashLabel] }

    /// Its replica count or image was changed outside Flotilla (Swarm may add a digest to the image).
    public func drifted(from spec: ServiceSpec) -> Bool {
        if isCanary { return false }
        if let replicas, spec.placement?.mode != .global, replicas != spec.replicas { return true }
        if let image, image != spec.image, !image.hasPrefix(spec.image + "@") { return true }
        return false
    }

    /// The port block and the half its current spec's tasks use (``SwarmPorts``), if any.
    public var portBlock: Int? { labels[SwarmPorts.blockLabel].flatMap { Int($0) } }
    public var portHalf: Int? { labels[SwarmPorts.halfLabel].flatMap { Int($0) } }
    /// On a stable service: the half the last canary used.
    public var lastCanaryHalf: Int? { labels[SwarmPorts.lastCanaryHalfLabel].flatMap { Int($0) } }
}
