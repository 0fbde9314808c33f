/// Where a service's replicas may run when an orchestrator spreads them over nodes (Swarm mode).
/// On one host there is only one node: it is accepted and has no effect, so the same manifests
/// work on both.
public struct Placement: Sendable, Hashable, Codable {
    public enum Mode: String, Sendable, Hashable, Codable, CaseIterable {
        /// `replicas` tasks, spread over the nodes.
        case replicated
        /// One task on every node that meets the constraints (`replicas` is ignored).
        case global
    }

    /// Swarm constraint expressions: `node.role==manager`, `node.labels.zone!=b`.
    public var constraints: [String]
    /// At most this many replicas on one node.
    public var maxPerNode: Int?
    public var mode: Mode

    public init(constraints: [String] = [], maxPerNode: Int? = nil, mode: Mode = .replicated) {
        self.constraints = constraints
        self.maxPerNode = maxPerNode
        self.mode = mode
    }

    enum CodingKeys: String, CodingKey { case constraints, maxPerNode = "max_per_node", mode }

    /// The canonical text of the placement, for Swarm mode's spec hash.
    var canonicalForm: String {
        "placement=\(mode.rawValue)/\(maxPerNode.map(String.init) ?? "~")/" + constraints.map { JSONString.quote($0) }.joined(separator: ",")
    }
}
