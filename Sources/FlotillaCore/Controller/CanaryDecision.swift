/// What the controller decides by itself about a waiting canary release, from the canaries'
/// labels and readiness only (so a restart decides the same): roll back when a canary fails its
/// readiness check, promote when every canary has been ready for `auto_promote_after`.
public enum CanaryDecision: Sendable, Hashable {
    /// Nothing yet; look again at `recheckAt` (Unix ms) when an automatic promotion may come due.
    case wait(recheckAt: Int64?)
    case promote
    case rollback(String)

    /// - Parameter canaries: the live canaries of `spec` (its current spec hash).
    public static func decide(_ spec: ServiceSpec, canaries: [ObservedContainer], readiness: (ObservedContainer) -> Readiness, now: Int64) -> CanaryDecision {
        if let failing = canaries.first(where: { readiness($0).isFailing }) {
            return .rollback("canary \(failing.name) failing its readiness check")
        }
        guard let after = spec.update.canary.autoPromoteAfter else { return .wait(recheckAt: nil) }
        let ready = Set(canaries.filter { readiness($0).isReady }.map(\.id))
        guard let due = Rollout.autoPromoteAt(spec, canaries: canaries, ready: ready) else {
            // Not all ready yet: look again one period after the youngest canary started.
            guard let youngest = canaries.map(\.created).max() else { return .wait(recheckAt: nil) }
            return .wait(recheckAt: max(youngest + Int64(after.milliseconds), now + 1000))
        }
        return due <= now ? .promote : .wait(recheckAt: due)
    }
}
