/// What the Swarm daemon decides by itself about a canary release, from the canary service's
/// tasks. Pure; the same rules as on one host:
/// - a canary task that failed (Swarm's `failed` or `rejected`: it crashed, failed its health
///   check or could not start) rolls the release back;
/// - with `update.canary.auto_promote_after`, once every canary task is live and the youngest
///   has been for that long, the release is promoted.
public enum SwarmCanaryDecision {
    public struct Decisions: Sendable, Hashable {
        public var promote: Set<String> = []
        /// Service → why.
        public var rollback: [String: String] = [:]
        /// Service → the spec hash (``ServiceSpec/swarmHash``) each decision is about: a decision
        /// taken for one spec is never applied to a newer manifest.
        public var hashes: [String: String] = [:]
        public var isEmpty: Bool { promote.isEmpty && rollback.isEmpty }
        public init(promote: Set<String> = [], rollback: [String: String] = [:], hashes: [String: String] = [:]) {
            self.promote = promote
            self.rollback = rollback
            self.hashes = hashes
        }

        /// Only the decisions about the specs `services` still want.
        public func current(for services: [ServiceSpec]) -> Decisions {
            let wanted = Dictionary(services.map { ($0.name, $0.swarmHash) }, uniquingKeysWith: { a, _ in a })
            func still(_ name: String) -> Bool { hashes[name] != nil && wanted[name] == hashes[name] }
            return Decisions(promote: promote.filter(still), rollback: rollback.filter { still($0.key) }, hashes: hashes)
        }
    }

    /// - Parameters:
    ///   - waiting: services whose canary is waiting (``SwarmPlan/canaries``).
    ///   - tasks: the project's tasks (every service).
    ///   - now: Unix ms.
    public static func decide(services: [ServiceSpec], waiting: Set<String>, project: String, tasks: [ObservedSwarmTask], now: Int64) -> Decisions {
        var decisions = Decisions()
        for spec in services where waiting.contains(spec.name) {
            let canaryName = SwarmServiceBlueprint.canaryName(project: project, service: spec.name)
            let hash = spec.swarmHash
            let canaries = tasks.filter { $0.serviceName == canaryName && $0.specHash == hash }
            if let failed = canaries.first(where: \.hasFailed) {
                decisions.rollback[spec.name] = "a canary task failed" + (failed.error.map { ": \($0)" } ?? "")
                decisions.hashes[spec.name] = hash
                continue
            }
            guard let after = spec.update.canary.autoPromoteAfter else { continue }
            let live = canaries.filter(\.isLive)
            guard live.count >= spec.update.canary.replicas, let youngest = live.compactMap(\.since).max() else { continue }
            if now - youngest >= Int64(after.milliseconds) {
                decisions.promote.insert(spec.name)
                decisions.hashes[spec.name] = hash
            }
        }
        return decisions
    }
}
