/// Exponential backoff for services whose containers keep dying: never a hot loop of
/// create-crash-create. Pure state; the caller supplies the time (milliseconds).
public struct CrashLoopBackoff: Sendable {
    public var initialDelay: Int64
    public var maximumDelay: Int64
    /// A service without failures for this long starts again from ``initialDelay``.
    public var stablePeriod: Int64

    struct Entry: Sendable {
        var failures: Int
        var lastFailure: Int64
    }

    var entries: [String: Entry] = [:]

    public init(initialDelay: Int64 = 1_000, maximumDelay: Int64 = 300_000, stablePeriod: Int64 = 600_000) {
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.stablePeriod = stablePeriod
    }

    /// Records that a replica of `service` died or failed to become healthy.
    public mutating func recordFailure(_ service: String, now: Int64) {
        var entry = entries[service] ?? Entry(failures: 0, lastFailure: now)
        if now - entry.lastFailure > stablePeriod { entry.failures = 0 }
        entry.failures += 1
        entry.lastFailure = now
        entries[service] = entry
    }

    /// The delay after the current number of failures: initial × 2^(n−1), capped.
    public func delay(_ service: String) -> Int64 {
        guard let entry = entries[service], entry.failures > 0 else { return 0 }
        let shift = min(entry.failures - 1, 30)
        return min(initialDelay << shift, maximumDelay)
    }

    /// When `service` may be retried, if that is still in the future; nil when it may go now.
    public func blockedUntil(_ service: String, now: Int64) -> Int64? {
        guard let entry = entries[service], entry.failures > 0 else { return nil }
        let until = entry.lastFailure + delay(service)
        return until > now ? until : nil
    }

    /// Forgets the service's failures: its spec changed, and a new spec gets a fresh attempt
    /// (the failures were the old spec's: an image that could not be pulled, a crashing command).
    public mutating func reset(_ service: String) { entries[service] = nil }

    public func failures(_ service: String, now: Int64) -> Int {
        guard let entry = entries[service], now - entry.lastFailure <= stablePeriod else { return 0 }
        return entry.failures
    }
}
