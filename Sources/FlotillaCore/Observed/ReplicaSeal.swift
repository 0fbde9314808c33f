/// Tells Flotilla's own replicas from impostors. Labels can be copied by anyone who can start a
/// container on the engine, so a container carrying a project's labels is not necessarily one
/// Flotilla created: adopting such a copy would let it receive traffic and pass readiness, and
/// make the real replica look like surplus. Each replica therefore carries a seal: an HMAC,
/// under the host's key, of its name (unique on the engine) and its identity labels. A copy of
/// the labels on another container has the wrong name for its seal.
///
/// Containers created before the key existed (by an earlier Flotilla, or before a lost state
/// directory got a new key) cannot carry a valid seal; the engine's own creation time, which a
/// container cannot choose, tells them apart from impostors created later.
public struct ReplicaSeal: Sendable {
    public let key: SecretDigestKey
    /// When the key was created (Unix ms); nil: unknown (then only sealed replicas are genuine).
    public let keyCreated: Int64?
    public let project: String

    public init(key: SecretDigestKey, keyCreated: Int64?, project: String) {
        self.key = key
        self.keyCreated = keyCreated
        self.project = project
    }

    /// The seal for a replica about to be created.
    public func seal(name: String, service: String, specHash: String) -> String {
        let text = ["flotilla.seal.v1", name, project, service, specHash].joined(separator: "\n")
        return String(Digests.hmacSHA256Hex(key: key.bytes, Array(text.utf8)).prefix(32))
    }

    /// Why `container` is not a well-formed replica of this project, or nil when it is one.
    public func problem(with container: ObservedContainer) -> String? {
        guard container.name.hasPrefix("\(project)-\(container.service)-") else {
            return "its name \(container.name) is not \(project)-\(container.service)-…, as Flotilla names replicas"
        }
        if let seal = container.seal, seal == self.seal(name: container.name, service: container.service, specHash: container.specHash) { return nil }
        // The engine's time has whole seconds: only a container from an earlier second than the key predates it.
        if let keyCreated, container.engineCreated > 0, container.engineCreated + 1000 <= keyCreated { return nil }
        return container.seal == nil ? "it has no seal (labels copied onto a container Flotilla did not create?)"
            : "its seal does not match its name and labels (labels copied from another container?)"
    }
}
