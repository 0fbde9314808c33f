@_spi(ExperimentalCustomExecutors) @_spi(ExperimentalScheduling) import _Concurrency
import FlotillaAgent
import Foundation

/// The simulator's whole world of time and scheduling, on one thread: every task and actor of
/// the process runs here (it is the process's main and default executor, see
/// ``SimExecutorFactory``), one job at a time, the next job picked by a seeded generator; time
/// is virtual and moves only when nothing is ready to run, straight to the next timer.
///
/// So one seed gives one interleaving and one trace, bit for bit (with
/// `SWIFT_DETERMINISTIC_HASHING=1`, which `flotilla-sim` sets for itself), and an hour of
/// daemon life runs in well under a second.
final class SimScheduler: MainExecutor, TaskExecutor, SchedulingExecutor, TimeSource, @unchecked Sendable {
    public static let shared = SimScheduler()

    private enum Wake {
        case job(UnownedJob)
        case sleeper(UnsafeContinuation<Void, any Error>)
    }
    private struct Timer {
        var at: Int64  // virtual ns
        var seq: UInt64  // unique: (at, seq) orders timers totally
        var wake: Wake
    }

    private let lock = NSLock()
    private var ready: [UnownedJob] = []
    /// Sorted by (at, seq), latest first: the next timer is taken from the end.
    private var timers: [Timer] = []
    private var seq: UInt64 = 0
    private var cancelledSleeps: Set<UInt64> = []
    private var stopped = false
    private var rng = SplitMix64(seed: 0)
    /// Virtual monotonic time, nanoseconds since the seed began.
    public private(set) var nowNS: Int64 = 0
    /// The wall clock at the seed's start (Unix ms).
    public var wallEpochMS: Int64 = 1_000_000_000_000  // 2001: older than any file the seed writes (a state key "predates" no replica)
    /// Jobs run since the virtual clock last moved: a busy loop shows as a huge number.
    public private(set) var jobsAtThisInstant = 0
    public private(set) var jobsRun = 0
    /// Jobs at one virtual instant beyond which the seed is a busy loop (time never moves).
    var busyLimit = 2_000_000
    /// Told once the limit is passed (it reports and ends the process).
    var onBusy: (() -> Void)?

    /// Forgets every job and timer and starts virtual time over, for the next seed. The
    /// tasks left suspended by the previous seed are never resumed.
    public func reset(seed: UInt64) {
        lock.withLock {
            ready = []
            timers = []
            cancelledSleeps = []
            nowNS = 0
            jobsAtThisInstant = 0
            rng = SplitMix64(seed: seed ^ 0x5EED_5EED)
        }
    }

    // MARK: Executor

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        lock.withLock { ready.append(job) }
    }

    public func enqueue<C: Clock>(_ job: consuming ExecutorJob, after delay: C.Duration, tolerance: C.Duration?, clock: C) {
        let job = UnownedJob(job)
        let ns = (delay as? Duration).map(Self.nanoseconds) ?? 0
        lock.withLock { addTimer(at: nowNS + ns, .job(job)) }
    }

    /// A library's `Task.sleep` on a system clock: its deadline is read as a delay from now.
    public func enqueue<C: Clock>(_ job: consuming ExecutorJob, at instant: C.Instant, tolerance: C.Duration?, clock: C) {
        let job = UnownedJob(job)
        let delay = clock.now.duration(to: instant)
        var ns = (delay as? Duration).map(Self.nanoseconds) ?? 0
        ns = (ns + 500_000) / 1_000_000 * 1_000_000  // whole ms: the real clock moved a little since
        lock.withLock { addTimer(at: nowNS + max(0, ns), .job(job)) }
    }

    public func asUnownedTaskExecutor() -> UnownedTaskExecutor { UnownedTaskExecutor(ordinary: self) }

    public func run() throws {
        while true {
            let next: UnownedJob? = lock.withLock {
                if stopped { return nil }
                while ready.isEmpty {
                    guard let timer = timers.popLast() else { return nil }
                    if timer.at > nowNS {
                        nowNS = timer.at
                        jobsAtThisInstant = 0
                    }
                    switch timer.wake {
                    case .job(let job): ready.append(job)
                    case .sleeper(let continuation):
                        cancelledSleeps.remove(timer.seq)
                        // Resuming enqueues the sleeper's job here (through `enqueue`): unlock first.
                        lock.unlock()
                        continuation.resume()
                        lock.lock()
                    }
                }
                let index = Int(rng.next() % UInt64(ready.count))
                jobsAtThisInstant += 1
                jobsRun += 1
                return ready.remove(at: index)
            }
            guard let next else { return }
            if jobsAtThisInstant > busyLimit, let onBusy {
                self.onBusy = nil
                onBusy()
            }
            unsafe next.runSynchronously(on: asUnownedSerialExecutor())
        }
    }

    public func stop() { lock.withLock { stopped = true } }

    private func addTimer(at: Int64, _ wake: Wake, id: UInt64? = nil) {
        let timer: Timer
        if let id { timer = Timer(at: at, seq: id, wake: wake) } else { seq += 1; timer = Timer(at: at, seq: seq, wake: wake) }
        // Binary search for the first timer due no later than this one (latest first).
        var low = 0, high = timers.count
        while low < high {
            let mid = (low + high) / 2
            if (timers[mid].at, timers[mid].seq) > (at, timer.seq) { low = mid + 1 } else { high = mid }
        }
        timers.insert(timer, at: low)
    }

    // MARK: TimeSource

    public func wallMS() -> Int64 { wallEpochMS + nowNS / 1_000_000 }
    public func monotonic() -> Duration { .nanoseconds(nowNS) }

    public func sleep(for duration: Duration) async throws {
        try Task.checkCancellation()
        let id: UInt64 = lock.withLock { seq += 1; return seq }
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
                lock.withLock {
                    if cancelledSleeps.remove(id) != nil {
                        continuation.resume(throwing: CancellationError())
                        return
                    }
                    addTimer(at: nowNS + Self.nanoseconds(duration), .sleeper(continuation), id: id)
                }
            }
        } onCancel: {
            let continuation: UnsafeContinuation<Void, any Error>? = lock.withLock {
                if let index = timers.lastIndex(where: { $0.seq == id }), case .sleeper(let c) = timers[index].wake {
                    timers.remove(at: index)
                    return c
                }
                cancelledSleeps.insert(id)
                return nil
            }
            continuation?.resume(throwing: CancellationError())
        }
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    /// The virtual time as `12.345s` (for traces).
    public var stamp: String {
        let ms = nowNS / 1_000_000
        return "\(ms / 1000).\(String(ms % 1000).leftPad(3))s"
    }
}

/// Installs ``SimScheduler`` as the process's main and default executor.
struct SimExecutorFactory: ExecutorFactory {
    static var mainExecutor: any MainExecutor { SimScheduler.shared }
    static var defaultExecutor: any TaskExecutor { SimScheduler.shared }
}

/// The simulator's runtime, for its entry point.
public enum SimRuntime {
    /// Makes ``SimScheduler`` the process's executor and clock. First thing in a synchronous
    /// `main`, before any task exists.
    public static func install() {
        _createExecutors(factory: SimExecutorFactory.self)
        WallClock.install(SimScheduler.shared)
        Entropy.install { SimRuntime.names.next() }
    }

    /// Runs every task until `exit` (or until nothing is left to run: a deadlock).
    public static func run() throws { try SimScheduler.shared.run() }

    /// Replica name suffixes, drawn per seed.
    nonisolated(unsafe) static var names = Names()
    struct Names {
        var generator = SplitMix64(seed: 0)
        mutating func next() -> UInt32 { UInt32(truncatingIfNeeded: generator.next()) }
    }
}

/// A small, fast, seedable generator (SplitMix64): the same seed, the same numbers, everywhere.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension String {
    func leftPad(_ width: Int, _ pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
