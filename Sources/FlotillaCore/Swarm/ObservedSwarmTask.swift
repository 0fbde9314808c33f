/// A task of one of the project's Swarm services, as the manager lists it: what the route table
/// and the status are built from.
public struct ObservedSwarmTask: Sendable, Hashable {
    public var id: String
    /// The Swarm service's name (`<project>_<service>`).
    public var serviceName: String
    /// The Flotilla service (the task container's service label).
    public var service: String?
    /// 1… for replicated services; 0 for global ones (one task per node).
    public var slot: Int
    public var nodeID: String
    /// Swarm's task state: `new` … `starting`, `running`, `complete`, `failed`, `shutdown`, …
    /// With a health check, `starting` lasts until the check passes.
    public var state: String
    /// What Swarm wants of it: `running`, or `shutdown` once it is being replaced or drained.
    public var desiredState: String
    /// The half of the port block its spec used (``SwarmPorts``); nil without per-task ports.
    public var portHalf: Int?
    /// Swarm's error for a failed task.
    public var error: String?
    /// When the task reached its current state (Unix ms).
    public var since: Int64?
    /// The spec hash of the service spec it was started from.
    public var specHash: String?

    public init(id: String, serviceName: String, service: String?, slot: Int, nodeID: String, state: String, desiredState: String,
                portHalf: Int? = nil, error: String? = nil, since: Int64? = nil, specHash: String? = nil) {
        self.since = since
        self.specHash = specHash
        self.id = id
        self.serviceName = serviceName
        self.service = service
        self.slot = slot
        self.nodeID = nodeID
        self.state = state
        self.desiredState = desiredState
        self.portHalf = portHalf
        self.error = error
    }

    /// Running and meant to keep running (a task being drained or replaced is not).
    public var isLive: Bool { state == "running" && desiredState == "running" }

    /// It ended badly (`failed`, `rejected`) rather than being shut down or completing.
    public var hasFailed: Bool { state == "failed" || state == "rejected" }

    /// Its host port, when its service has per-task ports.
    public var port: Int? { portHalf.map { SwarmPorts.port(half: $0, slot: slot) } }
}

/// A node of the Swarm, as the manager sees it.
public struct ObservedSwarmNode: Sendable, Hashable {
    public var id: String
    public var hostname: String
    /// The address its tasks' host ports are reached at (`Status.Addr`).
    public var address: String
    /// `ready`, `down`, `unknown`, `disconnected`.
    public var state: String
    /// `active`, `pause` or `drain`.
    public var availability: String

    public init(id: String, hostname: String, address: String, state: String, availability: String) {
        self.id = id
        self.hostname = hostname
        self.address = address
        self.state = state
        self.availability = availability
    }

    /// Its tasks can take traffic: the node is up and not being drained.
    public var isServing: Bool { state == "ready" && availability != "drain" }
}
