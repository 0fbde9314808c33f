import ArgumentParser
import FlotillaAgent
import FlotillaCore
import Foundation

struct RoutesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "routes",
        abstract: "Print the current route table, or a rendered route file, once.",
        discussion: """
        Builds the route table from the manifests and the project's running, ready replicas and \
        prints it: as a table (default), or rendered as --format nginx|caddy|haproxy|traefik|traefik-v2|json, \
        exactly as `run --routes` would write it. Changes nothing. In the table, ADDRESS:PORT*W is a \
        target of weight W during a canary release, "(canary)" marks the canaries, and "(strip)" a \
        route that strips its path prefix.
        """
    )

    @OptionGroup var options: ReconcileOptions

    @Option(name: .customLong("format"), help: "table, or a route file format: \(RouteFormat.names).")
    var output: String = "table"

    func validate() throws {
        guard output == "table" || RouteFormat(rawValue: output) != nil else {
            throw ValidationError("--format must be table or a route file format: \(RouteFormat.names)")
        }
    }

    func run() async throws {
        if try await runResolvingAuto(\.options) { return }
        try await withEngineErrors {
            let table: RouteTable
            let desired: DesiredState
            if options.orchestrator == .swarm {
                // The live tasks on serving nodes, as `run --orchestrator swarm` writes them.
                let (swarm, state) = try await options.openSwarmSession(claim: false)
                desired = state
                table = RouteTable.build(services: state.services, project: swarm.project,
                                         tasks: try await swarm.engine.listSwarmTasks(project: swarm.project), nodes: try await swarm.engine.listSwarmNodes())
            } else {
                let session = try await options.openSession(claim: false)
                desired = session.desired
                let observed = session.observed
                let services = session.plan().services.map(\.spec)
                let ready = await RouteRefresher.readyContainers(services: services, observed: observed, settleTime: .seconds(1), prober: HealthProber())
                table = RouteTable.build(services: services, observed: observed, ready: ready)
            }
            if let format = RouteFormat(rawValue: output) {
                FileHandle.standardOutput.write(Data(format.render(table, listen: options.proxyListen, project: options.projectName).utf8))
            } else {
                Console.out("HOST".padding(toLength: 32, withPad: " ", startingAt: 0) + "PATH".padding(toLength: 20, withPad: " ", startingAt: 0) + "SERVICE".padding(toLength: 16, withPad: " ", startingAt: 0) + "TARGETS")
                for e in table.entries {
                    // Weighted targets (a canary release) show their weight; canaries are marked.
                    let targets = e.targets.isEmpty ? "(none: 503)" : e.targets.map { t in
                        "\(t.address):\(t.port)" + (e.isWeighted ? "*\(t.weight)" : "") + (t.canary ? "(canary)" : "")
                    }.joined(separator: " ")
                    let path = e.path + (e.stripPrefix ? " (strip)" : "")
                    Console.out(e.host.padding(toLength: 32, withPad: " ", startingAt: 0) + path.padding(toLength: 20, withPad: " ", startingAt: 0) + e.service.padding(toLength: 16, withPad: " ", startingAt: 0) + targets)
                }
            }
            if !desired.isValid { throw ExitCode(1) }
        }
    }
}
