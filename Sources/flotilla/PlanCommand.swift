import ArgumentParser
import FlotillaAgent
import FlotillaCore
import Foundation

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show what apply would change, per service, without changing anything.",
        discussion: """
        Compares the manifests with the containers the project owns and prints the plan: replicas \
        to create, replicas to replace (with the spec fields that changed), dead containers to \
        prune, surplus and orphaned containers to remove. Named volumes and networks the project \
        may not use (another project's, or ones made by hand that no --allow-volume or \
        --allow-network names) are errors at the manifest line that names them.

        Exit codes: 0 nothing would change, 2 something would, 1 error (invalid manifests, \
        a volume or network refused, engine unreachable). Scripts: `flotilla plan -q || flotilla apply`.
        """
    )

    @OptionGroup var options: ReconcileOptions

    @Option(help: "Output format: text, or json for scripts.")
    var format: OutputFormat = .text

    func run() async throws {
        if try await runResolvingAuto(\.options) { return }
        if options.orchestrator == .swarm {
            return try await withEngineErrors {
                let (swarm, desired) = try await options.openSwarmSession(claim: false)
                let plan = try await swarm.plan(desired)
                Console.out(SwarmPlanPrinter.text(plan))
                if !desired.isValid || !plan.problems.isEmpty { throw ExitCode(1) }
                if plan.hasChanges { throw ExitCode(2) }
            }
        }
        try await withEngineErrors {
            let session = try await options.openSession(claim: false)
            let (desired, observed) = (session.desired, session.observed)
            let plan = session.plan()
            // Volumes and networks the creates would refuse, said now, at their manifest lines.
            let refused = try await session.reconciler.resourceRefusals(desired)
            for diagnostic in refused { Console.error(diagnostic.description) }
            switch format {
            case .json: Console.out(try JSONOutput.encode(PlanReport(plan: plan, desired: desired, refused: refused)))
            case .text: Console.out(PlanPrinter.text(plan, observedCount: observed.count))
            }
            if !desired.isValid || !refused.isEmpty { throw ExitCode(1) }
            if plan.hasChanges { throw ExitCode(2) }
        }
    }
}

/// Swarm mode's plan: a line per Swarm service that changes.
enum SwarmPlanPrinter {
    static func text(_ plan: SwarmPlan) -> String {
        var lines: [String] = []
        for action in plan.actions {
            switch action {
            case .create(let b) where b.labels[OwnershipLabel.role] == ReplicaRole.canary.rawValue:
                lines.append("+ \(b.name)  (create the canary, \(b.replicas) replicas beside the stable service; promote or roll back)")
            case .create(let b): lines.append("+ \(b.name)  (create, \(b.replicas) replicas)")
            case .update(_, _, let b): lines.append("~ \(b.name)  (update: the spec changed; Swarm rolls it \(b.updateOrder))")
            case .remove(_, let name): lines.append("- \(name)  (remove: \(name.hasSuffix("-canary") ? "canary no longer needed" : "no manifest"))")
            case .markRolledBack(_, let name, let hash, _): lines.append("! \(name)  (canary of \(hash) rolled back; stable service keeps serving)")
            }
        }
        for name in plan.heldBack { lines.append("! \(name)  (would be removed; held back by prune safety)") }
        for (name, phase) in plan.canaries.sorted(by: { $0.key < $1.key }) where plan.unchanged.contains(name) {
            lines.append("  \(name)  (\(phase == .waiting ? "canary waiting: flotilla promote or rollback" : "canary rolled back; the manifest must change for a new one"))")
        }
        for (name, problem) in plan.problems.sorted(by: { $0.key < $1.key }) { lines.append("! \(name)  (not given to Swarm: \(problem))") }
        for (name, warning) in plan.warnings.sorted(by: { $0.key < $1.key }) { lines.append("warning: \(name) \(warning)") }
        lines.append(plan.hasChanges ? "\(plan.actions.count) Swarm services to change, \(plan.unchanged.count) unchanged." : "No changes. \(plan.unchanged.count) Swarm services up to date.")
        return lines.joined(separator: "\n")
    }
}

/// The human-readable plan: a block per service that changes, then orphans and notes.
enum PlanPrinter {
    static func text(_ plan: Plan, observedCount: Int) -> String {
        var lines: [String] = []
        var creates = 0, replaces = 0, removes = 0
        for service in plan.services where service.hasChanges || service.backoffUntil != nil {
            let phase = [.canary, .promoting, .rolledBack].contains(service.phase) ? ", \(service.phase.rawValue)" : ""
            lines.append("~ \(service.name)  (\(service.keep.count) of \(service.spec.replicas) replicas up to date\(phase))")
            for container in service.prune {
                lines.append("    - prune \(container.name) (\(container.state.rawValue))")
                removes += 1
            }
            for container in service.unhealthy {
                let shared = service.live.contains { $0.id != container.id && $0.hostPort == container.hostPort && container.hostPort != nil }
                lines.append("    - replace \(container.name) (\(shared ? "shares host port \(container.hostPort!) with another replica" : "liveness check failing"))")
                removes += 1
            }
            for container in service.start {
                lines.append("    > start \(container.name) again (an old replica of a canary release)")
            }
            if service.markRolledBack != nil { lines.append("    ! roll back the canary (\(service.rollbackReason ?? "requested"))") }
            if service.clearMarker { lines.append("    ~ clear the rollback marker (the manifest moved on)") }
            if !service.replace.isEmpty {
                let order = service.spec.update
                lines.append("    ~ replace \(service.replace.count) (rolling, \(order.order.rawValue), \(order.parallelism) at a time): \(service.replace.map(\.name).joined(separator: ", "))")
                for change in service.changes {
                    lines.append("        \(change.field): \(change.old ?? "(none)") -> \(change.new ?? "(none)")")
                }
                replaces += service.replace.count
            }
            if service.create > 0 {
                if service.createRole == .canary {
                    lines.append("    + create \(service.create) canary (\(service.spec.update.canary.weight)% of requests)")
                    for change in service.changes {
                        lines.append("        \(change.field): \(change.old ?? "(none)") -> \(change.new ?? "(none)")")
                    }
                } else {
                    lines.append("    + create \(service.create)")
                }
                creates += service.create
            }
            for container in service.removeSurplus {
                let why = service.phase == .rolledBack ? "canary rolled back" : service.superseded.contains(container.id) ? "superseded canary" : "surplus"
                lines.append("    - remove \(container.name) (\(why))")
                removes += 1
            }
        }
        for orphan in plan.orphans {
            lines.append("- \(orphan.service): remove \(orphan.name) (orphan: service no longer in the manifests)")
            removes += 1
        }
        for note in plan.notes { lines.append("note: \(note)") }
        if plan.hasChanges {
            lines.append("Plan: \(creates) to create, \(replaces) to replace, \(removes) to remove.")
        } else {
            lines.append("No changes. \(plan.services.count) services, \(observedCount) containers match the manifests.")
        }
        return lines.joined(separator: "\n")
    }
}

/// What `plan --format json` prints.
struct PlanReport: Encodable {
    struct Service: Encodable {
        var name: String
        var replicas: Int
        var upToDate: Int
        var create: Int
        var replace: [String]
        var prune: [String]
        var removeSurplus: [String]
        var unhealthy: [String]
        var changes: [FieldChange]
        var phase: RolloutPhase
        var createRole: ReplicaRole
        enum CodingKeys: String, CodingKey {
            case name, replicas, upToDate = "up_to_date", create, replace, prune, removeSurplus = "remove_surplus", unhealthy, changes, phase
            case createRole = "create_role"
        }
    }

    var changes: Bool
    var valid: Bool
    var errors: [Diagnostic]
    var services: [Service]
    var orphans: [String]
    var notes: [String]
    var actions: [PlanAction]

    init(plan: Plan, desired: DesiredState, refused: [Diagnostic] = []) {
        changes = plan.hasChanges
        valid = desired.isValid && refused.isEmpty
        errors = (desired.diagnostics + refused).sortedByLocation()
        services = plan.services.map {
            Service(name: $0.name, replicas: $0.spec.replicas, upToDate: $0.keep.count, create: $0.create, replace: $0.replace.map(\.name),
                    prune: $0.prune.map(\.name), removeSurplus: $0.removeSurplus.map(\.name), unhealthy: $0.unhealthy.map(\.name),
                    changes: $0.changes, phase: $0.phase, createRole: $0.createRole)
        }
        orphans = plan.orphans.map(\.name)
        notes = plan.notes
        actions = plan.actions
    }
}
