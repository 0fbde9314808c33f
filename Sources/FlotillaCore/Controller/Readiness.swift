/// Whether a replica may take traffic and count toward a rollout, as observed right now.
public enum Readiness: Sendable, Hashable {
    /// Its readiness check has not answered yet (or the engine is restarting it).
    case unknown
    /// Without a readiness check: running, but not yet for the settle time (Unix ms when it will be).
    case settling(until: Int64)
    /// Passing its readiness check, or running for the settle time without one.
    case ready
    /// Failing its readiness check (`retries` failures in a row).
    case failing

    public var isReady: Bool { self == .ready }
    /// Not decided yet: a rollout waits for it.
    public var isPending: Bool {
        switch self {
        case .unknown, .settling: return true
        case .ready, .failing: return false
        }
    }

    /// The readiness of a replica from its probe verdict (nil: the service has no readiness
    /// check) and, without a check, how long it has run: ready after `settleMS`.
    public static func of(_ container: ObservedContainer, probe: ProbeState.Status?, hasCheck: Bool, settleMS: Int64, now: Int64) -> Readiness {
        guard container.state.isLive else { return .unknown }
        if hasCheck {
            switch probe ?? .unknown {
            case .passing: return .ready
            case .failing: return .failing
            case .unknown: return .unknown
            }
        }
        let until = container.created + settleMS
        return now >= until ? .ready : .settling(until: until)
    }
}
