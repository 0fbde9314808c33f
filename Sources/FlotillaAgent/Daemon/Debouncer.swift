/// Folds a burst of calls into one: `fire` runs `action` once the calls have stopped for
/// `window` (a `git checkout` touching fifty files becomes one reload), and at the latest
/// `maxWait` after the first call of a burst (a file rewritten without pause cannot postpone
/// the reload forever; 5 s by default, long enough that a slow `git checkout` is not loaded
/// half-done, which could take a moved service for a deleted one).
public actor Debouncer {
    private let window: Duration
    private let maxWait: Duration
    private let action: @Sendable () async -> Void
    private var deadline: AgentClock.Instant?
    private var latest: AgentClock.Instant?
    private var timer: Task<Void, Never>?

    public init(window: Duration, maxWait: Duration = .seconds(5), action: @escaping @Sendable () async -> Void) {
        self.window = window
        self.maxWait = max(window, maxWait)
        self.action = action
    }

    public func fire() {
        let now = AgentClock.now
        if latest == nil { latest = now + maxWait }
        deadline = Self.deadline(now: now, window: window, latest: latest!)
        guard timer == nil else { return }
        timer = Task { await self.wait() }
    }

    private func wait() async {
        while let deadline, AgentClock.now < deadline {
            try? await AgentClock().sleep(until: deadline)
            if Task.isCancelled { return }
        }
        timer = nil
        deadline = nil
        latest = nil
        await action()
    }

    /// When a call at `now` fires: after the quiet `window`, but never after the burst's `latest`.
    static func deadline(now: AgentClock.Instant, window: Duration, latest: AgentClock.Instant) -> AgentClock.Instant {
        min(now + window, latest)
    }

    public func cancel() {
        timer?.cancel()
        timer = nil
    }
}
