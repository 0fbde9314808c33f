import ArgumentParser
import FlotillaAgent
import FlotillaCore
import Foundation

struct ApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Converge the host to the manifests once, then exit.",
        discussion: """
        Creates missing replicas, replaces outdated ones with a health-gated rolling update, \
        prunes dead containers and removes surplus and orphaned ones, in dependency order with \
        bounded parallelism. One log line per action on stderr, then a summary such as
          created 3, replaced 1, removed 2, unchanged 5 in 1.8s
        Applying twice in a row does nothing the second time.

        Invalid manifests: every error is printed, services of the failing files are left \
        untouched, orphan removal is suspended, the rest is applied, and the exit code is 1.

        With --orchestrator swarm, apply sends the specs to Swarm, then waits until the new tasks \
        run (and pass their health checks), one of them fails, or --wait-timeout passes.

        Exit codes: 0 the host matches the manifests, 1 something failed or a manifest is invalid.
        """
    )

    @OptionGroup var options: ReconcileOptions

    @Option(help: ArgumentHelp("Swarm mode: how long to wait for the new tasks to run before exit 1.", valueName: "duration"))
    var waitTimeout: DurationArgument = DurationArgument(span: .seconds(300))

    @Flag(help: "Swarm mode: exit once Swarm has the specs, without waiting for the tasks.")
    var noWait = false

    func run() async throws {
        if try await runResolvingAuto(\.options) { return }
        if options.orchestrator == .swarm { return try await runSwarm() }
        try await options.withReconcileLock {
            let session = try await options.openSession(claim: true)
            let (reconciler, desired) = (session.reconciler, session.desired)
            let report = try await reconciler.apply(desired, routes: options.makeRouteRefresher(logger: session.logger), observed: session.observed)
            for (service, reason) in report.failures.sorted(by: { $0.key < $1.key }) { Console.error("failed: \(service): \(reason)") }
            Console.out(report.summary)
            if !report.heldBack.isEmpty {
                Console.error("not removed (prune budget): \(report.heldBack.joined(separator: ", ")); pass --allow-mass-prune to remove them")
            }
            // The host does not match the manifests while removals are held back: exit 1.
            if !report.succeeded || !desired.isValid || !report.heldBack.isEmpty { throw ExitCode(1) }
        }
    }
}

extension ApplyCommand {
    func runSwarm() async throws {
        try await options.withReconcileLock {
            let (swarm, desired) = try await options.openSwarmSession(claim: true)
            var report = try await swarm.apply(desired)
            if !noWait, !report.sent.isEmpty {
                // As on one host: exit 0 means it runs, not only that Swarm accepted the spec.
                let failed = try await swarm.waitUntilRunning(report.sent, timeout: waitTimeout.duration) { Console.error($0) }
                report.failures.merge(failed) { a, _ in a }
            }
            for (service, reason) in report.failures.sorted(by: { $0.key < $1.key }) { Console.error("failed: \(service): \(reason)") }
            Console.out(report.summary)
            if !report.heldBack.isEmpty { Console.error("not removed (prune safety): \(report.heldBack.joined(separator: ", "))") }
            if !report.failures.isEmpty || !desired.isValid || !report.heldBack.isEmpty { throw ExitCode(1) }
        }
    }
}

struct DownCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "down",
        abstract: "Remove every container of the project (the manifests are not read).",
        discussion: "Only containers labelled with this project are touched (with --orchestrator swarm: its Swarm services, then its secrets and networks once their tasks are gone). Exit 0 when none is left; exit 1 names what is."
    )

    @OptionGroup var options: ReconcileOptions

    func run() async throws {
        if try await runResolvingAuto(\.options) { return }
        let logger = options.makeLogger()
        if options.orchestrator == .swarm {
            return try await options.withReconcileLock {
                let engine = try await options.connect(logger: logger)
                let swarm = options.makeSwarmReconciler(engine: engine, logger: logger)
                let removed = try await swarm.down()
                Console.out("removed \(removed) Swarm services of project \(options.projectName)")
                let left = try await swarm.leftovers()
                // Its routes are free for other projects once no service of it serves them.
                if !left.contains(where: { $0.hasPrefix("Swarm service") }) { options.loader.routeClaims?.releaseAll() }
                try reportLeftovers(left, one: "object still carries", many: "objects still carry")
            }
        }
        try await options.withReconcileLock {
            let engine = try await options.connect(logger: logger)
            let reconciler = options.makeReconciler(engine: engine, logger: logger)
            try await options.checkOwnership(reconciler, claim: false)
            let removed = try await reconciler.down()
            let left = try await reconciler.leftovers()
            Console.out("removed \(removed) containers of project \(options.projectName)")
            try reportLeftovers(left, one: "container still carries", many: "containers still carry")
        }
    }

    /// What `down` could not remove, a line each, then exit 1; nothing when nothing is left.
    func reportLeftovers(_ left: [String], one: String, many: String) throws {
        guard !left.isEmpty else { return }
        for line in left { Console.error("left: \(line)") }
        Console.error("error: \(left.count) \(left.count == 1 ? one : many) the label \(OwnershipLabel.project)=\(options.projectName)")
        throw ExitCode(1)
    }
}
