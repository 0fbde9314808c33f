import Foundation

/// The health checks a replica is probed with. Recorded on each container at creation (label
/// ``OwnershipLabel/checks``), because health is not part of the spec hash: during a rollout the
/// old replicas keep being probed with their own checks, never with the new version's (a new
/// check that the old version cannot pass must not take the old replicas out of service).
public struct ReplicaChecks: Sendable, Hashable, Codable {
    public var readiness: HealthCheck?
    public var liveness: HealthCheck?

    public init(readiness: HealthCheck?, liveness: HealthCheck?) {
        self.readiness = readiness
        self.liveness = liveness
    }

    public init(_ spec: ServiceSpec) { self.init(readiness: spec.readiness, liveness: spec.liveness) }

    public var isEmpty: Bool { readiness == nil && liveness == nil }

    /// The label value (compact JSON), nil when there is no check.
    public var label: String? {
        guard !isEmpty, let data = try? JSONEncoder().encode(self) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    public init?(label: String) {
        guard let value = try? JSONDecoder().decode(ReplicaChecks.self, from: Data(label.utf8)) else { return nil }
        self = value
    }

    /// The checks to probe `container` with: the manifest's for replicas of the current spec
    /// (a health edit applies at once), the container's own for older ones; an older replica
    /// without the label keeps only the manifest's readiness check (it is never replaced for
    /// failing a liveness check it was not made with).
    public static func of(_ container: ObservedContainer, spec: ServiceSpec) -> ReplicaChecks {
        if container.specHash == spec.specHash { return ReplicaChecks(spec) }
        return container.checks ?? ReplicaChecks(readiness: spec.readiness, liveness: nil)
    }
}
