/// A container Flotilla owns, as the engine reported it: everything the planner needs, rebuilt
/// from the container's labels on every read (Flotilla keeps no state file).
public struct ObservedContainer: Sendable, Hashable, Codable {
    public var id: String
    public var name: String
    public var service: String
    /// The ``ServiceSpec/specHash`` of the spec it was created from.
    public var specHash: String
    public var state: ContainerState
    /// Creation time, Unix milliseconds (orders replicas oldest to newest). From Flotilla's own
    /// label, since the engine's list only has whole seconds.
    public var created: Int64
    /// The host port that reaches the service's `port`: the label for host networking, the
    /// published port for bridge networking; nil when the service has no port.
    public var hostPort: Int?
    /// The ``ServiceSpec/canonicalContainerForm`` it was created from (to say what changed).
    public var canonicalSpec: String?
    /// Created as a canary (label ``OwnershipLabel/role``); a label, so it survives restarts.
    public var role: ReplicaRole
    /// The health checks it was created with (label ``OwnershipLabel/checks``), if recorded.
    public var checks: ReplicaChecks?
    /// The manifest directory that created it (label ``OwnershipLabel/source``), if recorded.
    public var source: String?
    /// Its ``ReplicaSeal`` (label ``OwnershipLabel/seal``), if any.
    public var seal: String?
    /// The engine's own creation time, Unix milliseconds (whole seconds): unlike labels, a
    /// container cannot choose it.
    public var engineCreated: Int64 = 0
    /// The git revision of the manifests it was created from (label ``OwnershipLabel/revision``).
    public var revision: String?

    public init(id: String, name: String, service: String, specHash: String, state: ContainerState, created: Int64, hostPort: Int? = nil, canonicalSpec: String? = nil, role: ReplicaRole = .regular, checks: ReplicaChecks? = nil) {
        self.checks = checks
        self.canonicalSpec = canonicalSpec
        self.role = role
        self.id = id
        self.name = name
        self.service = service
        self.specHash = specHash
        self.state = state
        self.created = created
        self.hostPort = hostPort
    }

    public var shortID: String { String(id.prefix(12)) }

    /// Oldest first; ties broken by id so the order is total and stable.
    public static func olderFirst(_ a: ObservedContainer, _ b: ObservedContainer) -> Bool {
        (a.created, a.id) < (b.created, b.id)
    }
}

/// Why a replica exists: a regular member of its service, or a canary of a new version that
/// runs beside the old replicas until it is promoted or rolled back.
public enum ReplicaRole: String, Sendable, Hashable, Codable {
    case regular
    case canary
}

/// The engine's container states, normalised across Docker and Podman.
public enum ContainerState: String, Sendable, Hashable, Codable {
    case created, running, paused, restarting, removing, exited, dead, unknown

    /// Podman and Docker spell a few states differently ("configured", "stopped", "stopping").
    public init(engineState: String) {
        switch engineState.lowercased() {
        case "running": self = .running
        case "created", "configured", "initialized": self = .created
        case "paused": self = .paused
        case "restarting": self = .restarting
        case "removing", "stopping": self = .removing
        case "exited", "stopped": self = .exited
        case "dead": self = .dead
        default: self = .unknown
        }
    }

    /// Only running containers count as replicas; every other state is pruned and replaced.
    public var isLive: Bool { self == .running }
}

/// The labels that make a container Flotilla's. Everything Flotilla knows about a container
/// comes from these; a container without the project label is invisible to it.
public enum OwnershipLabel {
    public static let project = "io.flotilla.project"
    public static let service = "io.flotilla.service"
    public static let specHash = "io.flotilla.spec-hash"
    public static let hostPort = "io.flotilla.host-port"
    public static let canonicalSpec = "io.flotilla.spec"
    public static let createdAt = "io.flotilla.created-ms"
    /// The service's routed container `port` (to tell its published port from the extra ones).
    public static let containerPort = "io.flotilla.port"
    /// `canary` on canary replicas (absent on regular ones).
    public static let role = "io.flotilla.role"
    /// The readiness and liveness checks a replica was created with (JSON, ``ReplicaChecks``).
    public static let checks = "io.flotilla.checks"
    /// On a rollback marker (a labelled volume): the spec hash that was rolled back.
    public static let rolledBackHash = "io.flotilla.rolled-back-hash"
    /// The manifest directory that manages the project (``ProjectOwnership``): on every
    /// container, and on the project's owner marker (a labelled volume).
    public static let source = "io.flotilla.source"
    /// Proof that Flotilla created the container under this name (``ReplicaSeal``).
    public static let seal = "io.flotilla.seal"
    /// The git revision of the manifests the replica was created from.
    public static let revision = "io.flotilla.revision"
}

extension ObservedContainer {
    /// Live replicas that claim a host port an older live replica already claims: at most one
    /// of them can be listening, so the others are replaced (a plan that called them "no
    /// changes" would route to, and probe, someone else's process).
    public static func hostPortConflicts(_ containers: [ObservedContainer]) -> Set<String> {
        var holder: [Int: ObservedContainer] = [:]
        var conflicts = Set<String>()
        for container in containers.filter({ $0.state.isLive && $0.hostPort != nil }).sorted(by: olderFirst) {
            let port = container.hostPort!
            if holder[port] != nil { conflicts.insert(container.id) } else { holder[port] = container }
        }
        return conflicts
    }
}
