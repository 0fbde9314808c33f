import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The process's file descriptors, watched and partly held back.
///
/// Everything the daemon does draws on one limit: the engine connection, probes, locks, port
/// claims, manifest reads, git, the proxy's hooks, and the status server's clients. Before, 3,000
/// idle clients under a 1,024 limit took them all: the route file could not be written, a killed
/// replica was not replaced for minutes, then the process died. So:
///
/// - at start-up the soft limit is raised to the hard one (``raiseSoftLimit(cap:)``), and the
///   status server's connection cap is derived from it (``connectionCap(limit:)``);
/// - a ``reserve`` of descriptors (open on `/dev/null`) is held from the start; when the free
///   descriptors fall below ``lowWater(limit:)``, the reserve is let go, so the controller's next
///   steps (a route file, an engine call) find descriptors, and the budget reports itself
///   ``isLow`` (the log, `/healthz`);
/// - once enough are free again the reserve is taken back and the budget reports the recovery.
///
/// ``check()`` is cheap (a `/proc/self/fd` listing); failing to list it is itself the sign of
/// exhaustion. The contract: ``check()`` never throws and never traps, whatever the limit.
public final class DescriptorBudget: Sendable {
    /// What one look saw: descriptors open (the reserve included) and the soft limit.
    public struct Reading: Sendable, Equatable, CustomStringConvertible {
        public var open: Int
        public var limit: Int
        public var free: Int { max(0, limit - open) }
        public var description: String { "\(open) of \(limit) open" }
    }

    /// A change ``check()`` saw.
    public enum Transition: Sendable, Equatable {
        case exhausted(Reading)
        case recovered(Reading)
    }

    struct State {
        var reserve: [Int32] = []
        var isLow = false
        var last: Reading?
    }

    public let reserveSize: Int
    private let state = Mutex(State())

    /// Opens the reserve now (as many of `reserve` as the limit allows).
    public init(reserve: Int = 16) {
        reserveSize = reserve
        state.withLock { $0.reserve = Self.openReserve(reserve) }
    }

    deinit {
        state.withLock { for fd in $0.reserve { close(fd) } }
    }

    /// Whether the last look found too few descriptors free.
    public var isLow: Bool { state.withLock { $0.isLow } }

    /// The last reading (nil before the first ``check()``).
    public var lastReading: Reading? { state.withLock { $0.last } }

    /// Looks at the descriptors now; returns the change, if this look found one.
    public func check() -> Transition? {
        state.withLock { state in
            let limit = Self.softLimit()
            // No listing at all: no descriptor was free for it.
            let reading = Reading(open: Self.countOpen() ?? limit, limit: limit)
            state.last = reading
            let low = Self.lowWater(limit: limit)
            if !state.isLow, reading.free < low {
                state.isLow = true
                for fd in state.reserve { close(fd) }
                state.reserve = []
                return .exhausted(reading)
            }
            // Hysteresis: the reserve comes back only when taking it leaves the budget above low water.
            if state.isLow, reading.free >= low + reserveSize {
                state.isLow = false
                state.reserve = Self.openReserve(reserveSize)
                return .recovered(reading)
            }
            return nil
        }
    }

    /// Below this many free descriptors the budget is low: a twentieth of the limit, between
    /// 32 and 256 (a 1,024 limit: 51).
    public static func lowWater(limit: Int) -> Int { min(256, max(32, limit / 20)) }

    /// The status server's connection cap for this limit: 64, but never more than a quarter
    /// of the descriptors (each client holds one).
    public static func connectionCap(limit: Int) -> Int { max(4, min(64, limit / 4)) }

    /// The soft `RLIMIT_NOFILE`, read each time (`prlimit` may change it from outside).
    public static func softLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        return limit.rlim_cur > rlim_t(Int32.max) ? Int(Int32.max) : Int(limit.rlim_cur)
    }

    /// Raises the soft descriptor limit to the hard one, at most `cap` (as systemd's
    /// `LimitNOFILE=` would): a daemon that starts from a shell keeps that shell's 1,024 otherwise.
    /// Returns the limit before and after.
    @discardableResult
    public static func raiseSoftLimit(cap: Int = 65536) -> (before: Int, after: Int) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return (1024, 1024) }
        let before = limit.rlim_cur
        let target = min(limit.rlim_max, rlim_t(cap))  // an unlimited hard limit (all bits set) gives the cap
        guard target > before else { return (Int(before), Int(before)) }
        limit.rlim_cur = target
        guard setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return (Int(before), Int(before)) }
        return (Int(before), Int(target))
    }

    /// Descriptors open in this process (the listing's own excluded); nil when the listing
    /// cannot be opened, which under a reached limit is the common case.
    public static func countOpen() -> Int? {
        guard let dir = opendir("/proc/self/fd") else { return nil }
        defer { closedir(dir) }
        var count = 0
        while let entry = readdir(dir) {
            let first = withUnsafeBytes(of: entry.pointee.d_name) { $0.first ?? 0 }
            if first != UInt8(ascii: ".") { count += 1 }
        }
        return max(0, count - 1)
    }

    static func openReserve(_ count: Int) -> [Int32] {
        var fds: [Int32] = []
        for _ in 0..<count {
            let fd = open("/dev/null", O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { break }
            fds.append(fd)
        }
        return fds
    }
}
