/// How replicas are replaced when a service's spec changes.
public struct UpdatePolicy: Sendable, Hashable, Codable {
    public enum Order: String, Sendable, Hashable, Codable, CaseIterable {
        /// Start the new replica, wait until it is healthy, then stop an old one: no gap in service.
        case startFirst = "start-first"
        /// Stop an old replica first, then start its replacement: for services that cannot run twice.
        case stopFirst = "stop-first"
    }

    public enum Strategy: String, Sendable, Hashable, Codable, CaseIterable {
        /// Replace every replica, `parallelism` at a time, gated on readiness.
        case rolling
        /// Start ``CanaryPolicy/replicas`` of the new version beside the old ones, send them
        /// ``CanaryPolicy/weight`` percent of requests, and wait for `flotilla promote`
        /// (or ``CanaryPolicy/autoPromoteAfter``).
        case canary
    }

    public var strategy: Strategy
    public var order: Order
    public var parallelism: Int
    public var canary: CanaryPolicy

    public init(strategy: Strategy = .rolling, order: Order = .startFirst, parallelism: Int = 1, canary: CanaryPolicy = CanaryPolicy()) {
        self.strategy = strategy
        self.order = order
        self.parallelism = parallelism
        self.canary = canary
    }
}

/// The first step of a canary release.
public struct CanaryPolicy: Sendable, Hashable, Codable {
    /// New-version replicas started beside the old ones.
    public var replicas: Int
    /// Percent of requests (1–99) the canaries receive together.
    public var weight: Int
    /// Promote by itself once every canary has been ready this long; nil: wait for `flotilla promote`.
    public var autoPromoteAfter: TimeSpan?

    public init(replicas: Int = 1, weight: Int = 10, autoPromoteAfter: TimeSpan? = nil) {
        self.replicas = replicas
        self.weight = weight
        self.autoPromoteAfter = autoPromoteAfter
    }

    enum CodingKeys: String, CodingKey { case replicas, weight, autoPromoteAfter = "auto_promote_after" }
}
