import ArgumentParser
import FlotillaAgent
import FlotillaCore
import FlotillaEngine
import FlotillaHTTP
import Foundation

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show what is actually running: per service desired, running, ready and current replicas, phase, revision, routes.",
        discussion: """
        When a `flotilla run --listen` daemon serves the project, its view is shown (it has every \
        probe's history, crash-loop backoffs and the last failures). Otherwise counts come from the \
        engine and from one readiness probe of each running replica (a \
        replica without a readiness check is ready once it has run for a second), never from the \
        manifest: a killed replica shows as missing until it is replaced. Then the orphans (containers \
        of services no longer in the manifests; "removal held back" when prune safety keeps them, \
        as after most manifests were deleted at once) and every manifest error. Changes nothing.

        Columns: DESIRED (the manifest's replicas), RUNNING, READY (running and passing readiness), \
        CURRENT (running replicas of the manifest's current spec), PHASE (steady, converging, rolling, \
        canary with its weight, promoting, rolled-back), REVISION (the git commit the current replicas \
        were created from; -dirty with uncommitted changes), ROUTES.

        Exit codes: 0 everything converged and ready, 2 not (yet), 1 error. --format json prints \
        {"project", "manifest_revision", "services": [{"name", "desired", "running", "ready", "current", \
        "phase", "canary_weight", "revision", "revisions", "routes", ...}], "orphans": [{"container", "service", "state", "held_back"}], "errors": [...], "converged"}.
        """
    )

    @OptionGroup var options: ReconcileOptions

    @Option(help: "Output format: text, or json for scripts.")
    var format: OutputFormat = .text

    @Flag(help: "Keep watching: redraw (text) or print one more JSON line whenever the status changes, until interrupted. Engine errors are shown and watching goes on.")
    var watch = false

    @Option(help: ArgumentHelp("How often --watch looks for a change.", valueName: "duration"))
    var interval: DurationArgument = DurationArgument(span: .seconds(1))

    func run() async throws {
        if try await runResolvingAuto(\.options) { return }
        if options.orchestrator == .swarm {
            // Swarm mode: counted from Swarm's tasks and nodes.
            let options = options
            let snapshot: @Sendable () async throws -> SwarmStatus = {
                let (swarm, desired) = try await options.openSwarmSession(quiet: watch, claim: false)
                return try await swarm.status(desired)
            }
            guard watch else {
                let status = try await withEngineErrors { try await snapshot() }
                Console.out(format == .json ? try JSONOutput.encode(status) : Self.text(status))
                if !status.converged { throw ExitCode(2) }
                return
            }
            try await watchLoop { format == .json ? try JSONOutput.encodeLine(try await snapshot()) : Self.text(try await snapshot()) }
        }
        guard watch else {
            let status = try await withEngineErrors { try await Self.snapshot(options) }
            Console.out(try render(status))
            if !status.converged { throw ExitCode(2) }
            return
        }
        try await watchLoop { try render(try await Self.snapshot(options)) }
    }

    /// --watch: prints the screen again whenever it changes, every --interval, until interrupted.
    func watchLoop(_ screenNow: () async throws -> String) async throws -> Never {
        var shown: String?
        while true {
            let screen: String
            do {
                screen = try await screenNow()
            } catch {
                screen = format == .json ? try JSONOutput.encode(["error": "\(error)"]) : "flotilla status: \(error)"
            }
            if screen != shown {
                if format == .text { FileHandle.standardOutput.write(Data("\u{1B}[H\u{1B}[2J".utf8)) }
                Console.out(screen)
                shown = screen
            }
            try await Task.sleep(for: interval.duration)
        }
    }

    static func text(_ status: SwarmStatus) -> String {
        var lines = ["project \(status.project) on Docker Swarm"]
        let width = max(7, status.services.map(\.name.count).max() ?? 0)
        lines.append("SERVICE".padding(toLength: width, withPad: " ", startingAt: 0) + "  RUNNING  NODES  PHASE")
        for s in status.services {
            lines.append(s.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + "\(s.running)/\(s.desired)".padding(toLength: 7, withPad: " ", startingAt: 0)
                         + "  " + String(s.nodes).padding(toLength: 5, withPad: " ", startingAt: 0) + "  " + s.phase + (s.lastError.map { "  (last task error: \($0))" } ?? ""))
        }
        for orphan in status.orphans { lines.append("orphan Swarm service \(orphan) (no manifest; apply removes it)") }
        lines.append(status.converged ? "converged" : "not converged")
        return lines.joined(separator: "\n")
    }

    /// One JSON document on one line under --watch (JSON lines), otherwise pretty text or JSON.
    func render(_ status: ProjectStatus) throws -> String {
        switch format {
        case .json: return watch ? try JSONOutput.encodeLine(status) : try JSONOutput.encode(status)
        case .text: return Self.text(status)
        }
    }

    static func snapshot(_ options: ReconcileOptions) async throws -> ProjectStatus {
        if let status = await fromDaemon(options) { return status }
        return try await oneShot(options)
    }

    /// A running `flotilla run --listen` for the project knows more (every probe's history,
    /// backoffs, the last failures): ask it first.
    static func fromDaemon(_ options: ReconcileOptions) async -> ProjectStatus? {
        let store = StateStore(directory: options.stateDir ?? StateStore.defaultDirectory(project: options.projectName))
        guard let text = store.loadDaemonAddress(), let address = ListenAddress(text) else { return nil }
        var client: HTTP1Client
        switch address {
        case .tcp(let host, let port): client = HTTP1Client(target: .tcp(host: host, port: port))
        case .unix(let path): client = HTTP1Client(target: .unixSocket(path))
        }
        client.authorization = store.loadDaemonToken().map { "Bearer " + $0 }
        guard let response = try? await client.send(.GET, "/api/v1/status", timeout: .seconds(3)), response.status == 200,
              let status = try? JSONDecoder().decode(ProjectStatus.self, from: Data(response.body)), status.project == options.projectName else { return nil }
        return status
    }

    static func oneShot(_ options: ReconcileOptions) async throws -> ProjectStatus {
        let session = try await options.openSession(claim: false, quiet: true)
        let plan = session.plan()
        let ready = await RouteRefresher.readyContainers(services: plan.services.map(\.spec), observed: session.observed, settleTime: .seconds(1),
                                                         prober: HealthProber(), routedOnly: false)
        return ProjectStatus(project: options.projectName, desired: session.desired, plan: plan, ready: { ready.contains($0.id) })
    }

    static func text(_ status: ProjectStatus) -> String {
        var rows = [["SERVICE", "DESIRED", "RUNNING", "READY", "CURRENT", "PHASE", "REVISION", "ROUTES"]]
        for s in status.services {
            var phase = s.phase
            if let weight = s.canaryWeight { phase += " \(weight)%" }
            let revision = (s.revision ?? "-") + (s.revisions.count > 1 ? " (+\(s.revisions.count - 1))" : "")
            rows.append([s.name, "\(s.desired)", "\(s.running)", "\(s.ready)", "\(s.current)", phase, revision, s.routes.isEmpty ? "-" : s.routes.joined(separator: ",")])
        }
        let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
        var lines = rows.map { row in
            row.enumerated().map { i, cell in i == row.count - 1 ? cell : cell.padding(toLength: widths[i] + 2, withPad: " ", startingAt: 0) }.joined()
        }
        if status.services.isEmpty { lines.append("(no services)") }
        for orphan in status.orphans {
            let held = orphan.heldBack == true ? "; removal held back by prune safety, see the daemon's log" : ""
            lines.append("orphan: \(orphan.container) (service \(orphan.service), \(orphan.state)\(held))")
        }
        for error in status.errors { lines.append("error: \(error)") }
        lines.append("project \(status.project)" + (status.manifestRevision.map { ", manifests at \($0)" } ?? "") + ": "
                     + (status.converged ? "converged" : "not converged"))
        return lines.joined(separator: "\n")
    }
}
