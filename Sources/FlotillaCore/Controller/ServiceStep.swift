/// The next safe step for one service: what to do now, without waiting for anything, and what
/// the service then waits for (the controller requeues it instead of waiting inside the loop).
public struct ServiceStep: Sendable, Hashable {
    public enum Action: Sendable, Hashable {
        /// Record a rollback decision (before any canary is removed, so no crash can undo it).
        case recordRollback(hash: String, reason: String)
        /// The rollback decision no longer applies (the manifest moved on).
        case clearRollback
        /// Start an exited replica again, in place.
        case start(ObservedContainer)
        /// Remove a replica: `graceful` stops it with SIGTERM and its stop timeout first (and
        /// takes it out of the routes before); `kill` does not wait (it failed liveness).
        case remove(ObservedContainer, reason: RemovalReason, stop: StopMode)
        /// Create and start new replicas (not waiting for them to become ready).
        case create(count: Int, role: ReplicaRole)
    }

    public enum StopMode: String, Sendable, Hashable {
        case graceful, kill
    }

    public enum Wait: Sendable, Hashable {
        /// New replicas whose readiness is not decided yet (names).
        case readiness([String])
        /// Replicas without a readiness check, running but not yet for the settle time: they
        /// join the routes then. Nothing else waits on them.
        case settle(until: Int64)
        /// Crash-loop backoff: nothing is created before this time.
        case backoff(until: Int64)
        /// Dependencies with no ready replica yet.
        case dependencies([String])
    }

    public var actions: [Action] = []
    public var waits: [Wait] = []
    /// A replica of this service died, failed liveness, or failed readiness during a rollout:
    /// counts once toward crash-loop backoff.
    public var crashed = false
    /// The replicas whose crash this step saw (a crash is counted once, however many steps see it).
    public var crashedReplicas: Set<String> = []
    /// Why this service's rollout stopped (reported by `apply`; the daemon retries after backoff).
    public var failure: String?

    public init() {}

    /// Nothing to do and nothing to wait for but settle times (which only the routes care about).
    public var isSettled: Bool {
        actions.isEmpty && waits.allSatisfy { if case .settle = $0 { return true } else { return false } }
    }

    /// Creations in this step.
    public var creates: Int {
        actions.reduce(0) { if case .create(let n, _) = $1 { return $0 + n } else { return $0 } }
    }

    /// Replicas removed in this step, in order.
    public var removals: [ObservedContainer] {
        actions.compactMap { if case .remove(let c, _, _) = $0 { return c } else { return nil } }
    }
}
