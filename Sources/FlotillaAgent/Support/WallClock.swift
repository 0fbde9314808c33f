import Foundation

/// Where the agent's time comes from: the system, or the simulator's virtual clock.
///
/// Contract: ``wallMS()`` is Unix milliseconds and may jump (NTP, a clock set by hand);
/// ``monotonic()`` never goes back; ``sleep(for:)`` returns once `duration` of this source's
/// monotonic time has passed, and throws `CancellationError` promptly when its task is
/// cancelled.
public protocol TimeSource: Sendable {
    func wallMS() -> Int64
    func monotonic() -> Duration
    func sleep(for duration: Duration) async throws
}

/// The real clocks: `Date` and `ContinuousClock`.
public struct SystemTime: TimeSource {
    static let origin = ContinuousClock.now

    public init() {}
    public func wallMS() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
    public func monotonic() -> Duration { ContinuousClock.now - Self.origin }
    public func sleep(for duration: Duration) async throws { try await Task.sleep(for: duration) }
}

/// Wall-clock time in Unix milliseconds: what creation labels, backoff and probe states use.
/// Read here, at the edge; the core takes "now" as an argument. Every time the agent reads or
/// waits for goes through ``source``, so the simulator can run the agent on virtual time.
public enum WallClock {
    /// Set once, before any task reads time (the simulator's entry point); never changed after.
    nonisolated(unsafe) public private(set) static var source: any TimeSource = SystemTime()

    /// Replaces the process's time source. Only before anything else runs.
    public static func install(_ newSource: any TimeSource) { source = newSource }

    public static func nowMS() -> Int64 { source.wallMS() }
}

/// The agent's monotonic clock, as a `Clock`: its instants and sleeps come from
/// ``WallClock/source``. Every deadline, elapsed time and sleep in the agent uses it.
public struct AgentClock: Clock {
    public struct Instant: InstantProtocol, Sendable {
        public var sinceOrigin: Duration

        public static var now: Instant { AgentClock.now }
        public func advanced(by duration: Duration) -> Instant { Instant(sinceOrigin: sinceOrigin + duration) }
        public func duration(to other: Instant) -> Duration { other.sinceOrigin - sinceOrigin }
        public static func < (a: Instant, b: Instant) -> Bool { a.sinceOrigin < b.sinceOrigin }
        public static func + (a: Instant, b: Duration) -> Instant { a.advanced(by: b) }
        public static func - (a: Instant, b: Duration) -> Instant { a.advanced(by: .zero - b) }
        public static func - (a: Instant, b: Instant) -> Duration { b.duration(to: a) }
    }

    public init() {}
    public static var now: Instant { Instant(sinceOrigin: WallClock.source.monotonic()) }
    public var now: Instant { Self.now }
    public var minimumResolution: Duration { .milliseconds(1) }

    public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        try await WallClock.source.sleep(for: max(.zero, Self.now.duration(to: deadline)))
    }

    /// Suspends for `duration` of agent time (throws when cancelled).
    public static func sleep(for duration: Duration) async throws {
        try await WallClock.source.sleep(for: max(.zero, duration))
    }
}
