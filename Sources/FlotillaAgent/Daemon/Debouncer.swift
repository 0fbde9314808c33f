/// Folds a burst of calls into one: `fire` runs `action` once the calls have stopped for
/// `window` (a `git checkout` touching fifty files becomes one reload).
public actor Debouncer {
    private let window: Duration
    private let action: @Sendable () async -> Void
    private var deadline: ContinuousClock.Instant?
    private var timer: Task<Void, Never>?

    public init(window: Duration, action: @escaping @Sendable () async -> Void) {
        self.window = window
        self.action = action
    }

    public func fire() {
        deadline = ContinuousClock.now + window
        guard timer == nil else { return }
        timer = Task { await self.wait() }
    }

    private func wait() async {
        while let deadline, ContinuousClock.now < deadline {
            try? await Task.sleep(until: deadline, clock: .continuous)
            if Task.isCancelled { return }
        }
        timer = nil
        deadline = nil
        await action()
    }

    public func cancel() {
        timer?.cancel()
        timer = nil
    }
}
