import FlotillaCore

/// A controller's work queue: ``WorkQueueState``'s decisions plus waiting workers and timers.
/// Workers call ``next()`` (suspends until a key is due, nil after ``shutDown()``) and
/// ``done(_:requeueAfter:)`` when finished with it.
public actor WorkQueue<Key: Hashable & Sendable> {
    private var state = WorkQueueState<Key>()
    private var waiters: [CheckedContinuation<Key?, Never>] = []
    private var idleWaiters: [CheckedContinuation<Void, Never>] = []
    private var timer: Task<Void, Never>?
    private var timerDue: Int64?

    public init() {}

    public func add(_ key: Key) {
        state.add(key)
        dispatch()
    }

    public func add(_ keys: some Sequence<Key>) {
        for key in keys { state.add(key) }
        dispatch()
    }

    public func next() async -> Key? {
        if let key = state.take() { return key }
        if state.isShutDown { return nil }
        return await withCheckedContinuation { waiters.append($0) }
    }

    /// Done with `key`, queuing it again at once (`after` zero) or after a delay, in one step
    /// (so the queue never looks idle in between).
    public func done(_ key: Key, requeueAfter delay: Duration?) {
        state.done(key)
        if let delay {
            if delay <= .zero {
                state.add(key)
            } else {
                state.addAfter(key, due: WallClock.nowMS() + max(1, delay.wholeMilliseconds))
                armTimer()
            }
        }
        dispatch()
    }

    /// Hands out nothing more; waiting workers get nil.
    public func shutDown() {
        state.shutDown()
        timer?.cancel()
        timer = nil
        for waiter in waiters { waiter.resume(returning: nil) }
        waiters = []
        for waiter in idleWaiters { waiter.resume() }
        idleWaiters = []
    }

    /// Returns once nothing is queued, processing or scheduled (or the queue shut down).
    public func waitUntilIdle() async {
        if state.isIdle || state.isShutDown { return }
        await withCheckedContinuation { idleWaiters.append($0) }
    }

    // MARK: -

    private func dispatch() {
        while !waiters.isEmpty, let key = state.take() {
            waiters.removeFirst().resume(returning: key)
        }
        if state.isIdle {
            for waiter in idleWaiters { waiter.resume() }
            idleWaiters = []
        }
    }

    private func armTimer() {
        guard let next = state.promoteDue(now: WallClock.nowMS()) else {
            dispatch()
            return
        }
        dispatch()
        if let timerDue, timerDue <= next, timer != nil { return }
        timer?.cancel()
        timerDue = next
        timer = Task { [weak self] in
            let wait = max(0, next - WallClock.nowMS())
            try? await AgentClock.sleep(for: .milliseconds(wait))
            if Task.isCancelled { return }
            await self?.fire()
        }
    }

    private func fire() {
        timer = nil
        timerDue = nil
        armTimer()
    }
}
