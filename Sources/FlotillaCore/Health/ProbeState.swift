/// The state machine of one probe (readiness or liveness) of one replica. Pure: the caller
/// runs the probe and supplies the time (Unix milliseconds).
///
/// - A success makes the probe `passing` at once and clears the failure count.
/// - A failure during `start_period` (counted from the replica's creation) is ignored.
/// - After `retries` failures in a row the probe is `failing`; fewer leave the status as it was
///   (one dropped request does not pull a replica out of the routes).
/// - Until the first verdict the status is `unknown`, which gates routes like `failing`.
public struct ProbeState: Sendable, Hashable {
    public enum Status: String, Sendable, Hashable {
        case unknown, passing, failing
    }

    public let check: HealthCheck
    /// When the replica was created; `start_period` counts from here.
    public let since: Int64
    public private(set) var status: Status = .unknown
    public private(set) var consecutiveFailures = 0
    /// Whether the probe ever succeeded (a replica failing before that never started properly).
    public private(set) var everPassed = false
    /// When the status last changed (or `since`).
    public private(set) var changedAt: Int64

    public init(check: HealthCheck, since: Int64) {
        self.check = check
        self.since = since
        self.changedAt = since
    }

    /// Records one probe result; returns the new status when it changed.
    @discardableResult
    public mutating func record(success: Bool, at now: Int64) -> Status? {
        let before = status
        if success {
            everPassed = true
            consecutiveFailures = 0
            status = .passing
        } else if now - since >= Int64(check.startPeriod.milliseconds) {
            consecutiveFailures += 1
            if consecutiveFailures >= check.retries { status = .failing }
        }
        guard status != before else { return nil }
        changedAt = now
        return status
    }
}
