import FlotillaCore
import Synchronization

/// The daemon's recent actions (``ActionLog``), written by whoever acts (replica creates and
/// removals run in child tasks) and read by the status endpoint. A lock, not an actor: recording
/// must never wait behind anything.
public final class ActionRecorder: Sendable {
    private let log: Mutex<ActionLog>

    public init(capacity: Int = 300) { log = Mutex(ActionLog(capacity: capacity)) }

    public func record(_ action: String, service: String, container: String? = nil, reason: String? = nil, revision: String? = nil) {
        let event = ActionEvent(time: WallClock.nowMS(), action: action, service: service, container: container, reason: reason, revision: revision)
        log.withLock { $0.append(event) }
    }

    /// Oldest first.
    public var events: [ActionEvent] { log.withLock { $0.events } }
}
