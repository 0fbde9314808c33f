import ArgumentParser

@main
struct Flotilla: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flotilla",
        abstract: "Keep the containers on this host equal to a directory of YAML service manifests.",
        discussion: """
        Flotilla reads every *.yaml/*.yml file under a manifest directory (one service per YAML \
        document), compares it with the containers it owns on the local Docker or Podman engine, \
        and converges: it creates, replaces (rolling, health-gated), scales and prunes containers. \
        It keeps no state of its own; the containers' labels are the state.

        Typical use:
          flotilla validate manifests    every error as file:line:col
          flotilla plan manifests        what apply would change
          flotilla apply manifests       converge once
          flotilla run manifests         converge, then keep converging
          flotilla status manifests      what is actually running (exit 2: not converged)
          flotilla routes manifests      the proxy route table
          flotilla promote web manifests finish a canary release (rollback: abort it)
          flotilla down manifests        remove the project's containers

        Getting started:
          flotilla init manifests        a commented starter manifest
          flotilla import compose docker-compose.yml -o manifests
                                         convert a Compose project, one manifest per service

        Exit codes: 0 success (plan: nothing to change), 1 error, 2 plan has changes, 64 usage error.
        """,
        version: FlotillaVersion.string,
        subcommands: [ValidateCommand.self, PlanCommand.self, ApplyCommand.self, RunCommand.self, StatusCommand.self, RoutesCommand.self, PromoteCommand.self, RollbackCommand.self, DownCommand.self, ImportCommand.self, InitCommand.self, SchemaCommand.self, BenchCommand.self]
    )

    /// As ArgumentParser's own `main`, with `--allow-host-mounts` alone made explicit first.
    static func main() async {
        StartTrace.mark("exec→main")
        let arguments = HostAccessOptions.rewrite(Array(CommandLine.arguments.dropFirst()))
        do {
            var command = try parseAsRoot(arguments)
            StartTrace.mark("parse")
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            StartTrace.report()
        } catch {
            StartTrace.report()
            exit(withError: error)
        }
    }
}

enum FlotillaVersion {
    static let string = "0.4.0"
}
