/// Whether the Swarm services an `apply` created or updated run what it sent: the verdict
/// `apply --orchestrator swarm` waits for, so that it exits 1 on tasks that crash-loop instead
/// of 0 because Swarm accepted the spec. Pure: from the tasks and services Swarm reports.
public enum SwarmRollout {
    /// One Swarm service `apply` sent a spec to.
    public struct Expected: Sendable, Hashable {
        public var serviceName: String
        /// The spec hash its tasks carry once they run the new spec.
        public var specHash: String
        /// Replicated: the tasks wanted; nil for a global service (one per eligible node).
        public var replicas: Int?

        public init(serviceName: String, specHash: String, replicas: Int?) {
            self.serviceName = serviceName
            self.specHash = specHash
            self.replicas = replicas
        }

        public init(_ blueprint: SwarmServiceBlueprint) {
            self.init(serviceName: blueprint.name, specHash: blueprint.labels[OwnershipLabel.specHash] ?? "",
                      replicas: blueprint.placement.mode == .global ? nil : blueprint.replicas)
        }
    }

    public enum Verdict: Sendable, Equatable {
        /// Every wanted task runs the new spec (and passed its health check: Swarm reports a
        /// task with one as `starting` until it does).
        case running
        case waiting(running: Int, wanted: Int?)
        case failed(String)
    }

    /// A service fails when Swarm rolled its update back, or when as many of its new tasks have
    /// failed as it wants running (each slot failed at least once on average: a crash loop, not
    /// one unlucky start).
    public static func verdict(_ expected: Expected, tasks: [ObservedSwarmTask], service: ObservedSwarmService?) -> Verdict {
        let mine = tasks.filter { $0.serviceName == expected.serviceName && $0.specHash == expected.specHash }
        let running = mine.filter(\.isLive).count
        let failed = mine.filter { $0.hasFailed || ($0.state == "complete" && $0.desiredState != "shutdown") }
        let lastError = failed.max { ($0.since ?? 0) < ($1.since ?? 0) }?.error.map { ": \($0)" } ?? ""
        // Rolled back: the service's spec is no longer the one sent (a state left over from an
        // earlier update that Swarm rolled back is not this one's: the spec is still ours then).
        if let service, let state = service.updateState, ["rollback_started", "rollback_completed", "rollback_paused", "paused"].contains(state),
           state == "paused" || service.labels[OwnershipLabel.specHash] != expected.specHash {
            let said = service.updateMessage.map { " (\($0))" } ?? ""
            return .failed("Swarm rolled the update back\(said)\(lastError)")
        }
        if service == nil { return .failed("the Swarm service is gone") }
        if let wanted = expected.replicas {
            if wanted == 0 { return .running }
            if running >= wanted { return .running }
            if failed.count >= wanted { return .failed("\(failed.count) of its new tasks failed\(lastError)") }
            return .waiting(running: running, wanted: wanted)
        }
        // Global: every new task Swarm wants running runs (one at least).
        let wanted = mine.filter { $0.desiredState == "running" }.count
        if running > 0 && running >= wanted { return .running }
        if !failed.isEmpty && failed.count >= max(1, wanted) { return .failed("\(failed.count) of its new tasks failed\(lastError)") }
        return .waiting(running: running, wanted: nil)
    }
}
