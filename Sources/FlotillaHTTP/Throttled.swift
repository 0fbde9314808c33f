import FlotillaAgent

/// A value computed at most once per `interval`, whatever the number of callers: callers within
/// the interval get the last value, and callers that arrive while it is being computed wait for
/// that one computation instead of starting their own. The status server's answers that cost
/// something (the whole project's plan on the controller's actor, an engine ping) go through
/// one, so a flood of requests costs the daemon one computation per interval.
actor Throttled<Value: Sendable> {
    private let interval: Duration
    private let compute: @Sendable () async -> Value
    private var last: (value: Value, at: AgentClock.Instant)?
    private var running: Task<Value, Never>?

    init(every interval: Duration, _ compute: @escaping @Sendable () async -> Value) {
        self.interval = interval
        self.compute = compute
    }

    var value: Value {
        get async {
            let now = AgentClock.now
            if let last, now - last.at < interval { return last.value }
            if let running { return await running.value }
            let task = Task { await compute() }
            running = task
            let value = await task.value
            last = (value, AgentClock.now)
            running = nil
            return value
        }
    }
}
