import FlotillaCore

/// Everything the controller remembers of one service between its steps, in one value: why it
/// is queued, what its last step saw, what it is doing and what it waits for. (What the engine
/// showed of it is the ``ObservationCache``'s; its replicas' memory is keyed by container.)
struct ServiceState: Sendable {
    // Why it is queued.
    /// Why the service was queued (logged with its step); nil once the step took it.
    var trigger: Trigger?
    /// Something other than the watchdog asked to look at it since its last step.
    var askedBesidesWatchdog = false

    // What its steps saw.
    /// Observed at least once by a step of this process.
    var looked = false
    /// Observed since a CLI command last changed the project.
    var observedSinceChange = false
    /// What its last step saw when it found nothing to do and nothing to wait for (every replica
    /// running): a watchdog pass that sees the same is answered without planning again.
    var idle: (spec: ServiceSpec, containers: [ObservedContainer])?
    /// Its ready replicas at the last step (a change refreshes the routes).
    var ready: Set<String> = []
    /// Its replicas failing readiness at the last step (the status page's red dots).
    var failing: Set<String> = []

    // What it is doing, and what it waits for.
    /// Changed by a step and not settled since (when it began): "converged" is logged when it settles.
    var convergingSince: AgentClock.Instant?
    /// The step in hand's result, for its metric.
    var stepResult: String?
    /// While the engine is unavailable: the delay before the next retry.
    var engineRetryDelay: Duration?

    // What was said about it (each said once, not at every step).
    var lastNote: String?
    var lastBackoff: Int64?
    /// The last "did not converge" reason (also the status page's failure).
    var lastFailure: String?

    // Once mode.
    /// Engine refusals in a row (the command gives up at a limit).
    var onceTroubles = 0
    var createdThisRun = 0
    /// Settled or failed: no more steps this run.
    var finished = false
}

/// Every service's ``ServiceState``; a service never seen reads as a fresh one.
struct ServiceStates: Sendable {
    private(set) var byKey: [String: ServiceState] = [:]

    subscript(key: String) -> ServiceState {
        get { byKey[key] ?? ServiceState() }
        set { byKey[key] = newValue }
    }

    /// Applies `change` to every service's state.
    mutating func updateAll(_ change: (inout ServiceState) -> Void) {
        for key in byKey.keys { change(&byKey[key]!) }
    }
}
