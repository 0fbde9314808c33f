/// The decisions about releases that must outlive every container and every Flotilla process
/// (reboots, `docker container prune`, `docker volume prune`): kept in the state directory.
public struct ReleaseDecisions: Sendable, Hashable, Codable {
    /// Service → the spec hash whose canary was rolled back (it does not come back until the
    /// manifest changes).
    public var rolledBack: [String: String] = [:]
    /// Service → the release under way: a canary waiting (never shipped at full scale, even if
    /// every replica vanished) or a promotion (continues to the end).
    public var releases: [String: Release] = [:]

    public struct Release: Sendable, Hashable, Codable {
        public var hash: String
        public var phase: RolloutPhase
        public init(hash: String, phase: RolloutPhase) {
            self.hash = hash
            self.phase = phase
        }
    }

    public init(rolledBack: [String: String] = [:], releases: [String: Release] = [:]) {
        self.rolledBack = rolledBack
        self.releases = releases
    }

    /// Records where `service` stands after a step planned in `phase` for `hash`.
    public mutating func record(service: String, hash: String, phase: RolloutPhase) {
        switch phase {
        case .canary, .promoting:
            releases[service] = Release(hash: hash, phase: phase)
        case .steady, .rolling, .rolledBack:
            releases[service] = nil
        }
    }

    /// Forgets a service that left the manifests.
    public mutating func forget(service: String) {
        rolledBack[service] = nil
        releases[service] = nil
    }
}
