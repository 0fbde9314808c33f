/// What is actually running, per service: the answer to `flotilla status` (and, later, the
/// daemon's status endpoint). Every count comes from the engine's containers and the probes'
/// verdicts, never from the manifest: only `desired` is the manifest's.
///
/// Encoded as the documented JSON of `flotilla status --format json`.
public struct ProjectStatus: Sendable, Hashable, Codable {
    public struct Service: Sendable, Hashable, Codable {
        public var name: String
        /// `replicas` in the manifest.
        public var desired: Int
        /// Containers running now.
        public var running: Int
        /// Running and passing readiness (or settled, without a readiness check).
        public var ready: Int
        /// Running replicas of the manifest's current spec.
        public var current: Int
        /// `steady`, `rolling`, `canary`, `promoting`, `rolled-back`; `converging` while replicas
        /// are missing or not ready; `crash-loop` / `failed` when the daemon says so.
        public var phase: String
        /// The canary's share of requests (percent), while a canary waits.
        public var canaryWeight: Int?
        /// Crash-loop backoff: the next attempt (Unix ms).
        public var nextAttempt: Int64?
        /// The last error, when the service failed to converge.
        public var lastError: String?
        /// The git revision of the running replicas of the current spec (the most common one).
        public var revision: String?
        /// Every revision among the running replicas (more than one during a rollout).
        public var revisions: [String]
        /// `host/path` of each route.
        public var routes: [String]
        /// Every container of the service, running or dead (not yet pruned).
        public var replicas: [Replica]

        enum CodingKeys: String, CodingKey {
            case name, desired, running, ready, current, phase, canaryWeight = "canary_weight", nextAttempt = "next_attempt_ms"
            case lastError = "last_error", revision, revisions, routes, replicas
        }
    }

    /// One container of a service, as the status page draws it.
    public struct Replica: Sendable, Hashable, Codable {
        public var container: String
        /// `ready`; `starting` (running, readiness not passed yet); `failing` (running, failing
        /// readiness or liveness); `dead` (stopped, waiting to be pruned and replaced).
        public var health: String
        /// `regular` or `canary`.
        public var role: String
        /// Of the manifest's current spec.
        public var current: Bool
        public var revision: String?
    }

    public struct Orphan: Sendable, Hashable, Codable {
        public var container: String
        public var service: String
        public var state: String
        /// Its removal is held back by prune safety (`held_back`; absent when it is not).
        public var heldBack: Bool?

        enum CodingKeys: String, CodingKey {
            case container, service, state, heldBack = "held_back"
        }
    }

    public var project: String
    /// The git revision of the manifests as they are on disk now.
    public var manifestRevision: String?
    public var services: [Service]
    /// Containers of services no longer in the manifests.
    public var orphans: [Orphan]
    /// Manifest errors, as `file:line:col: error: message`.
    public var errors: [String]
    /// Everything as the manifests say and ready: `flotilla status` exits 0 only then.
    public var converged: Bool

    enum CodingKeys: String, CodingKey {
        case project, manifestRevision = "manifest_revision", services, orphans, errors, converged
    }

    /// - Parameters:
    ///   - ready: whether a running replica is ready (its probe, or its settle time).
    ///   - failing: whether a running replica fails its readiness check.
    ///   - backoff/failures: what a running controller knows (nil from a one-shot command).
    public init(project: String, desired: DesiredState, plan: Plan, ready: (ObservedContainer) -> Bool,
                failing: (ObservedContainer) -> Bool = { _ in false },
                backoff: [String: Int64] = [:], failures: [String: String] = [:]) {
        self.project = project
        manifestRevision = desired.revision
        errors = desired.diagnostics.map(\.description)
        // Held-back removals count as orphans too: the project is not in sync while they run
        // (before: a mass deletion held back said "converged", exit 0).
        orphans = plan.orphans.map { Orphan(container: $0.name, service: $0.service, state: $0.state.rawValue) }
            + plan.heldOrphans.map { Orphan(container: $0.name, service: $0.service, state: $0.state.rawValue, heldBack: true) }
        services = plan.services.sorted { $0.name < $1.name }.map { service in
            let spec = service.spec
            let running = (service.live + service.unhealthy).filter { $0.state == .running }
            let readyCount = running.filter { !service.unhealthy.contains($0) && ready($0) }.count
            let current = running.filter { $0.specHash == spec.specHash }
            var phase: String
            switch service.phase {
            case .steady: phase = "steady"
            case .rolling: phase = "rolling"
            case .canary: phase = "canary"
            case .promoting: phase = "promoting"
            case .rolledBack: phase = "rolled-back"
            }
            if service.phase == .steady, current.count != spec.replicas || readyCount < spec.replicas || running.count != spec.replicas {
                phase = "converging"
            }
            if backoff[spec.name] != nil { phase = "crash-loop" }
            if failures[spec.name] != nil { phase = "failed" }
            var counts: [String: Int] = [:]
            for container in current { if let r = container.revision { counts[r, default: 0] += 1 } }
            let revisions = Set(running.compactMap(\.revision)).sorted()
            let dead = (service.prune + service.died).filter { !$0.state.isLive }
            var seen = Set<String>()
            let replicas = (running + dead).filter { seen.insert($0.id).inserted }.map { container in
                let health: String
                if !container.state.isLive { health = "dead" }
                else if service.unhealthy.contains(container) || failing(container) { health = "failing" }
                else if ready(container) { health = "ready" }
                else { health = "starting" }
                return Replica(container: container.name, health: health, role: container.role.rawValue,
                               current: container.specHash == spec.specHash, revision: container.revision)
            }
            return Service(
                name: spec.name, desired: spec.replicas, running: running.count, ready: readyCount, current: current.count,
                phase: phase, canaryWeight: service.phase == .canary ? spec.update.canary.weight : nil,
                nextAttempt: backoff[spec.name], lastError: failures[spec.name],
                revision: counts.max { ($0.value, $1.key) < ($1.value, $0.key) }?.key, revisions: revisions,
                routes: spec.routes.map { $0.host + $0.path }, replicas: replicas
            )
        }
        converged = errors.isEmpty && orphans.isEmpty && !plan.hasChanges
            && services.allSatisfy { $0.ready == $0.desired && $0.running == $0.desired && $0.current == $0.desired && $0.lastError == nil && $0.nextAttempt == nil }
    }
}
