/// Whether a replica may take traffic and count toward a rollout, as observed right now.
public enum Readiness: Sendable, Hashable {
    /// Its readiness check has not answered yet (or the engine is restarting it).
    case unknown
    /// Without a readiness check: running, but not yet for the settle time (Unix ms when it will be).
    case settling(until: Int64)
    /// Passing its readiness check, or running for the settle time without one.
    case ready
    /// Failing its readiness check (`retries` failures in a row) after having passed it.
    case failing
    /// Failing its readiness check without ever having passed it: a new replica that did not
    /// come up (removed and counted toward crash-loop backoff, with or without a rollout).
    case neverReady

    public var isReady: Bool { self == .ready }
    /// Not decided yet: a rollout waits for it.
    public var isPending: Bool {
        switch self {
        case .unknown, .settling: return true
        case .ready, .failing, .neverReady: return false
        }
    }

    /// The readiness of a replica from its probe verdict (nil: the service has no readiness
    /// check) and, without a check, how long it has run: ready after `settleMS`.
    public var isFailing: Bool { self == .failing || self == .neverReady }

    public static func of(_ container: ObservedContainer, probe: ProbeState?, hasCheck: Bool, settleMS: Int64, now: Int64) -> Readiness {
        guard container.state.isLive else { return .unknown }
        if hasCheck {
            switch probe?.status ?? .unknown {
            case .passing: return .ready
            case .failing: return probe?.everPassed == true ? .failing : .neverReady
            case .unknown: return .unknown
            }
        }
        let until = container.created + settleMS
        return now >= until ? .ready : .settling(until: until)
    }
}
