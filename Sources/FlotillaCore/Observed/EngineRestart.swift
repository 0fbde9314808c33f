/// What the engine says about a stopped replica whose service has a restart policy, and whether
/// the engine is about to bring it back (so Flotilla must keep its hands off).
public struct EngineRestart: Sendable, Hashable {
    /// The engine reports it is in its restart back-off (Docker's `Restarting`).
    public var restarting: Bool
    public var restartCount: Int
    public var exitCode: Int
    /// When it last stopped (Unix ms), if the engine says.
    public var finishedAt: Int64?

    /// How long after a stop a container under a restarting policy still counts as "being
    /// restarted". Podman restarts from a cleanup process that can lag by seconds on a busy host.
    public static let window: Int64 = 10_000

    /// When it last started (Unix ms), if the engine says.
    public var startedAt: Int64?

    public init(restarting: Bool, restartCount: Int, exitCode: Int, finishedAt: Int64?, startedAt: Int64? = nil) {
        self.startedAt = startedAt
        self.restarting = restarting
        self.restartCount = restartCount
        self.exitCode = exitCode
        self.finishedAt = finishedAt
    }

    /// Whether a replica in `state` is the engine's to restart. Covers every state a restart
    /// passes through that is not running: stopped, and Podman's re-initialised `created` (seen
    /// between its cleanup and the new start; treating it as a failed start pruned a healthy
    /// `restart_policy: always` replica). One the engine gave up on (on-failure:N exhausted, a
    /// clean exit under on-failure, stopped longer than ``window``) or `dead` is not.
    public func willRestart(state: ContainerState, policy: RestartPolicy, maxRetries: Int?, now: Int64) -> Bool {
        switch state {
        // `removing` also stands for Podman's `stopping`, which a restarting replica passes
        // through on its way to `exited` (seen on a loaded host: pruned mid-restart).
        case .exited, .created, .removing: break
        case .restarting: return true
        case .running, .paused, .dead, .unknown: return false
        }
        let allowed: Bool
        switch policy {
        case .no: return false
        case .always, .unlessStopped: allowed = true
        case .onFailure: allowed = exitCode != 0 && (maxRetries.map { restartCount < $0 } ?? true)
        }
        if restarting { return true }
        // A `created` container that never ran is a failed create, not a restart.
        if state == .created && restartCount == 0 && finishedAt == nil { return false }
        let recent = finishedAt.map { now - $0 < Self.window } ?? false
        return allowed && recent
    }
}
