import FlotillaCore

/// The daemon's own canary decisions, taken before each plan.
extension Daemon {
    struct CanaryDecisions {
        var promote: Set<String> = []
        var rollback: [String: String] = [:]
        /// The earliest automatic promotion still to come.
        var nextPromotion: Int64?
    }

    /// From the live replicas and the probes: canaries failing readiness are rolled back, and
    /// canaries ready for `auto_promote_after` are promoted. Recomputed every time, from labels and
    /// probe verdicts only, so a restart changes nothing (it only makes the probes start over).
    func canaryDecisions(_ services: [ServiceSpec], observed: [ObservedContainer], rolledBack: [String: String], now: Int64) async -> CanaryDecisions {
        var decisions = CanaryDecisions()
        for spec in services where spec.update.strategy == .canary {
            let live = observed.filter { $0.service == spec.name && $0.state.isLive }
            guard Rollout.phase(of: spec, live: live, rolledBackHash: rolledBack[spec.name]) == .canary else { continue }
            let canaries = live.filter { $0.specHash == spec.specHash }
            var ready = Set<String>()
            for canary in canaries {
                let status = spec.readiness == nil ? ProbeState.Status.passing : await monitor.readiness(of: canary.id)
                if status == .failing { decisions.rollback[spec.name] = "canary \(canary.name) failing its readiness check" }
                if status == .passing { ready.insert(canary.id) }
            }
            guard decisions.rollback[spec.name] == nil, let after = spec.update.canary.autoPromoteAfter else { continue }
            guard let due = Rollout.autoPromoteAt(spec, canaries: canaries, ready: ready) else {
                // Not all ready yet: look again one period after the youngest canary started.
                if let youngest = canaries.map(\.created).max() {
                    let again = max(youngest + Int64(after.milliseconds), now + 1000)
                    decisions.nextPromotion = min(decisions.nextPromotion ?? again, again)
                }
                continue
            }
            if due <= now { decisions.promote.insert(spec.name) } else { decisions.nextPromotion = min(decisions.nextPromotion ?? due, due) }
        }
        return decisions
    }
}
