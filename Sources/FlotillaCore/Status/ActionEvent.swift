/// One thing Flotilla did (or failed to do), for the status page's timeline and
/// `GET /api/v1/events`: created, replaced, removed, pruned, started, promoted, rolled back, failed.
public struct ActionEvent: Sendable, Hashable, Codable {
    /// Unix milliseconds.
    public var time: Int64
    /// `created`, `removed`, `started`, `promoted`, `rolled-back`, `failed`, `crash-loop`.
    public var action: String
    public var service: String
    public var container: String?
    public var reason: String?
    /// The git revision of the manifests in force.
    public var revision: String?

    public init(time: Int64, action: String, service: String, container: String? = nil, reason: String? = nil, revision: String? = nil) {
        self.time = time
        self.action = action
        self.service = service
        self.container = container
        self.reason = reason
        self.revision = revision
    }
}

/// The last `capacity` events, oldest first: a ring, so a busy daemon's memory stays flat.
public struct ActionLog: Sendable {
    public let capacity: Int
    private var ring: [ActionEvent] = []
    private var next = 0

    public init(capacity: Int = 300) { self.capacity = max(1, capacity) }

    public mutating func append(_ event: ActionEvent) {
        if ring.count < capacity { ring.append(event) } else { ring[next] = event }
        next = (next + 1) % capacity
    }

    /// Oldest first.
    public var events: [ActionEvent] {
        ring.count < capacity ? ring : Array(ring[next...] + ring[..<next])
    }
}
