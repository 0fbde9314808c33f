import ArgumentParser
import FlotillaAgent
import FlotillaCore
import Foundation

struct PromoteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "promote",
        abstract: "Complete a canary release: replace the old replicas of SERVICE with the new version.",
        discussion: """
        While a service with `update: {strategy: canary}` runs canaries of a new spec beside its old \
        replicas, this finishes the rollout (a rolling update gated on readiness, as configured) \
        and returns when only new replicas are left. A running `flotilla run` waits meanwhile (one \
        reconcile at a time per project) and then sees the promotion in the containers' labels; \
        so would a restarted one. Both orders work: `promote SERVICE DIR` and `promote DIR SERVICE`.

        Exit codes: 0 promoted, 1 no canary of SERVICE is waiting, or the rollout failed.
        """
    )

    @Argument(help: "The service whose canary to promote.")
    var service: String

    @OptionGroup var options: ReconcileOptions

    func run() async throws {
        try await ReleaseAction.run(.promote, service: service, options: options)
    }
}

struct RollbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Abort a canary release: remove the canaries of SERVICE, keep the old replicas.",
        discussion: """
        Removes every replica of SERVICE's new spec (canaries, and replicas of an unfinished \
        promotion) and records the rollback on the engine (a labelled volume), so neither \
        `flotilla run` nor a restart brings the canary back. The old replicas keep serving until \
        the manifest changes again; then the marker is cleared and a new canary starts. Both \
        orders work: `rollback SERVICE DIR` and `rollback DIR SERVICE`.

        Exit codes: 0 rolled back, 1 SERVICE has no release in progress, or removal failed.
        """
    )

    @Argument(help: "The service whose canary to roll back.")
    var service: String

    @OptionGroup var options: ReconcileOptions

    func run() async throws {
        try await ReleaseAction.run(.rollback, service: service, options: options)
    }
}

/// What promote and rollback share: plan with the decision, apply that service's part only.
enum ReleaseAction: String {
    case promote, rollback

    /// Swarm mode: promote updates the stable Swarm service to the canary's spec (Swarm rolls
    /// it) and removes the canary service; rollback removes the canary service.
    static func runSwarm(_ action: ReleaseAction, service: String, options: ReconcileOptions) async throws {
        try await options.withReconcileLock {
            let (swarm, desired) = try await options.openSwarmSession(claim: true)
            let report: SwarmReconciler.Report
            do {
                report = try await swarm.release(service, promote: action == .promote, desired: desired)
            } catch let error as SwarmReconciler.NoCanary {
                Console.error("error: \(error)")
                throw ExitCode(1)
            }
            for (name, reason) in report.failures.sorted(by: { $0.key < $1.key }) { Console.error("failed: \(name): \(reason)") }
            guard report.failures.isEmpty else { throw ExitCode(1) }
            Console.out(action == .promote ? "promoted \(service): \(report.summary)" : "rolled back the canary of \(service): \(report.summary)")
        }
    }

    static func run(_ action: ReleaseAction, service givenService: String, options givenOptions: ReconcileOptions) async throws {
        // `flotilla promote DIR SERVICE` (the order of the other commands) is understood too.
        var (service, options) = (givenService, try await givenOptions.resolvingOrchestrator())
        if ManifestDirectoryLoader.isDirectory(givenService) && !ManifestDirectoryLoader.isDirectory(options.directory) {
            (service, options.directory) = (options.directory, givenService)
        }
        if options.orchestrator == .swarm { return try await runSwarm(action, service: service, options: options) }
        try await options.withReconcileLock {
            let session = try await options.openSession(claim: true)
            guard let before = session.plan().service(service) else {
                let known = session.desired.services.map(\.name)
                let hint = EditDistance.suggestion(for: service, in: known).map { "; did you mean \"\($0)\"?" } ?? ""
                Console.error("error: no service \"\(service)\" in \(options.directory)\(hint)")
                throw ExitCode(1)
            }
            let allowed: [RolloutPhase] = action == .promote ? [.canary] : [.canary, .promoting]
            guard allowed.contains(before.phase) else {
                let what = before.spec.update.strategy == .canary ? "no canary release in progress (\(before.phase.rawValue))"
                    : "not released as a canary (update.strategy is \(before.spec.update.strategy.rawValue))"
                Console.error("error: \(service): \(what); nothing to \(action.rawValue)")
                throw ExitCode(1)
            }
            let servicePlan = before
            let report = try await session.reconciler.apply(
                session.desired, routes: options.makeRouteRefresher(logger: session.logger),
                promote: action == .promote ? [service] : [], rollback: action == .rollback ? [service: "flotilla rollback"] : [:], only: [service])
            for (name, reason) in report.failures.sorted(by: { $0.key < $1.key }) { Console.error("failed: \(name): \(reason)") }
            guard report.succeeded else { throw ExitCode(1) }
            switch action {
            case .promote: Console.out("promoted \(service) to \(servicePlan.spec.specHash): \(report.summary)")
            case .rollback: Console.out("rolled back the canary of \(service) (\(servicePlan.spec.specHash)): \(report.summary)")
            }
        }
    }
}
