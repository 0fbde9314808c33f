/// Why a service's key was queued: logged with the step it leads to.
public enum Trigger: Sendable, Hashable, CustomStringConvertible {
    case startup
    case manifestsChanged
    case watchdog
    case signal
    case engineReconnected
    /// The engine reported a container of the service died, was removed, ….
    case engineEvent(action: String)
    /// A probe verdict changed.
    case probe(role: String, status: String)
    /// The previous step asked to look again (readiness, settle time, backoff, dependencies, auto-promotion).
    case requeue(String)
    /// The previous step changed something: look at the result.
    case followUp

    public var description: String {
        switch self {
        case .startup: return "startup"
        case .manifestsChanged: return "manifests changed"
        case .watchdog: return "watchdog"
        case .signal: return "SIGHUP"
        case .engineReconnected: return "engine reconnected"
        case .engineEvent(let action): return "engine event: \(action)"
        case .probe(let role, let status): return "\(role) \(status)"
        case .requeue(let why): return "requeue: \(why)"
        case .followUp: return "follow-up"
        }
    }

    /// The trigger's kind, without the service or the detail: a metric label of bounded cardinality.
    public var kind: String {
        switch self {
        case .startup: return "startup"
        case .manifestsChanged: return "manifests"
        case .watchdog: return "watchdog"
        case .signal: return "signal"
        case .engineReconnected: return "engine_reconnected"
        case .engineEvent: return "engine_event"
        case .probe: return "probe"
        case .requeue: return "requeue"
        case .followUp: return "follow_up"
        }
    }

    /// Routine triggers are logged at debug level when they find nothing to do.
    public var isRoutine: Bool {
        switch self {
        // An engine event or a probe verdict is logged where it is seen; its step, if idle, is not news.
        case .watchdog, .requeue, .followUp, .engineEvent, .probe: return true
        default: return false
        }
    }
}
