/// Where a service is in a release, derived only from the replicas' labels (and a rollback
/// marker), so a restarted Flotilla finds the same phase. Pure.
public enum RolloutPhase: String, Sendable, Hashable, Codable {
    /// Every live replica runs the manifest's spec (or there are none).
    case steady
    /// A rolling update is replacing replicas of an older spec.
    case rolling
    /// Canaries of the new spec run beside the old replicas and take a share of the traffic.
    case canary
    /// The canary was promoted: the rest of the old replicas are being replaced.
    case promoting
    /// The canary of the manifest's spec was rolled back; the old replicas stay until the manifest changes.
    case rolledBack
}

public enum Rollout {
    /// The phase of `spec` given its live replicas and the hash recorded by a rollback marker.
    public static func phase(of spec: ServiceSpec, live: [ObservedContainer], rolledBackHash: String?) -> RolloutPhase {
        phase(of: spec, hash: spec.specHash, live: live, rolledBackHash: rolledBackHash)
    }

    /// The same, with the spec's hash already computed (the planner hashes each spec once).
    static func phase(of spec: ServiceSpec, hash: String, live: [ObservedContainer], rolledBackHash: String?) -> RolloutPhase {
        let current = live.filter { $0.specHash == hash }
        let outdated = live.filter { $0.specHash != hash }
        // A rolled-back version never comes back by itself, not even when its old replicas are
        // gone (after a reboot and `docker container prune`): only a manifest change clears it.
        if spec.update.strategy == .canary && rolledBackHash == hash { return .rolledBack }
        if outdated.isEmpty { return .steady }
        guard spec.update.strategy == .canary else { return .rolling }
        // A regular replica of the new spec exists only once the canary was promoted.
        if current.contains(where: { $0.role == .regular }) { return .promoting }
        return .canary
    }

    /// Among the replicas of older specs during a canary release: the canaries of an earlier
    /// release that was never promoted (superseded by the new canary). A canary label stays on a
    /// container for life, so a canary counts as superseded only when regular replicas of another
    /// spec exist and none of its own spec does; a promoted canary (alone, or beside regular
    /// replicas of its spec) is part of the old, stable set.
    public static func superseded(_ outdated: [ObservedContainer]) -> [ObservedContainer] {
        let regularHashes = Set(outdated.filter { $0.role == .regular }.map(\.specHash))
        guard !regularHashes.isEmpty else { return [] }
        return outdated.filter { $0.role == .canary && !regularHashes.contains($0.specHash) }
    }

    /// Per-replica weights so that `canary` replicas together get `percent` of the requests and
    /// `stable` replicas the rest: each stable replica (100−p)·C, each canary p·S, reduced by
    /// their gcd and, when larger than `maxWeight` (HAProxy's limit is 256), scaled down to fit
    /// (the ratio is then as close as whole numbers allow, never 0).
    public static func weights(stable: Int, canary: Int, percent: Int, maxWeight: Int = 256) -> (stable: Int, canary: Int) {
        guard stable > 0, canary > 0 else { return (1, 1) }
        let p = min(max(percent, 0), 100)
        var s = (100 - p) * canary, c = p * stable
        if s == 0 || c == 0 { return (s == 0 ? 0 : 1, c == 0 ? 0 : 1) }
        let g = gcd(s, c)
        s /= g
        c /= g
        let largest = max(s, c)
        if largest > maxWeight {
            s = max(1, Int((Double(s) * Double(maxWeight) / Double(largest)).rounded()))
            c = max(1, Int((Double(c) * Double(maxWeight) / Double(largest)).rounded()))
        }
        return (s, c)
    }

    /// When the canaries may be promoted automatically: every wanted canary is live and ready,
    /// and the youngest has run for `auto_promote_after`. Nil when there is no such setting or
    /// the canaries are not all ready yet. (A canary that failed readiness was rolled back, so
    /// those still here have stayed healthy.)
    public static func autoPromoteAt(_ spec: ServiceSpec, canaries: [ObservedContainer], ready: Set<String>) -> Int64? {
        guard let after = spec.update.canary.autoPromoteAfter else { return nil }
        let wanted = min(spec.update.canary.replicas, spec.replicas)
        guard canaries.count >= wanted, !canaries.isEmpty, canaries.allSatisfy({ ready.contains($0.id) }) else { return nil }
        return canaries.map(\.created).max()! + Int64(after.milliseconds)
    }

    static func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
}
