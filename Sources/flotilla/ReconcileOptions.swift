import ArgumentParser
import FlotillaAgent
import FlotillaCore
import FlotillaEngine
import Foundation
import Logging

/// Options shared by every command that talks to the engine.
struct ReconcileOptions: ParsableArguments {
    @Argument(help: "The manifest directory.", completion: .directory)
    var directory: String = "manifests"

    @Option(help: ArgumentHelp("Engine API socket, e.g. unix:///run/podman/podman.sock.",
                               discussion: "Default: $DOCKER_HOST, else unix:///var/run/docker.sock, else unix:///run/podman/podman.sock."))
    var engine: String?

    @Option(help: "Project name; Flotilla owns only containers labelled with it. Default: the manifest directory's name.")
    var project: String?

    @Option(help: "Engine operations run at once.")
    var parallelism: Int = 4

    @Option(help: "Host ports handed to network: host replicas (FROM-TO).")
    var portRange: PortRange = PortRange(range: 20000...29999)

    @Flag(help: "Allow a manifest directory with no services to remove every container of the project.")
    var allowEmpty = false

    @Option(help: "Log format: text or json.")
    var logFormat: LineLogHandler.Format = .text

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func validate() throws {
        guard parallelism >= 1 else { throw ValidationError("--parallelism must be at least 1") }
        if let project, Reconciler.sanitizeProject(project) != project {
            throw ValidationError("--project must be lowercase letters, digits and \"-\" (e.g. \(Reconciler.sanitizeProject(project)))")
        }
    }

    var projectName: String { project ?? Reconciler.defaultProject(for: directory) }

    func makeLogger() -> Logger {
        let format = logFormat, level = logLevel
        return Logger(label: "flotilla") { label in LineLogHandler(label: label, format: format, level: level) }
    }

    func connect(logger: Logger) async throws -> EngineClient {
        let candidates = EngineEndpoint.candidates(explicit: engine, environment: ProcessInfo.processInfo.environment)
        let client = try await EngineClient.connect(candidates: candidates)
        logger.debug("engine", metadata: ["endpoint": "\(client.endpoint)", "engine": "\(client.version.engineName)", "api": "\(client.apiVersion)"])
        return client
    }

    func makeReconciler(engine: EngineClient, logger: Logger) -> Reconciler {
        Reconciler(
            engine: engine, directory: directory, project: projectName,
            applierOptions: .init(project: projectName, parallelism: parallelism, portRange: portRange.range),
            allowEmpty: allowEmpty, logger: logger
        )
    }

    /// Loads the manifests, printing every diagnostic; throws only when the directory is missing.
    func loadDesired(_ reconciler: Reconciler) throws -> DesiredState {
        let state: DesiredState
        do {
            state = try reconciler.loadDesired()
        } catch {
            Console.error("error: \(error)")
            throw ExitCode(1)
        }
        for diagnostic in state.diagnostics { Console.error(diagnostic.description) }
        return state
    }
}

struct PortRange: ExpressibleByArgument {
    var range: ClosedRange<Int>

    init(range: ClosedRange<Int>) { self.range = range }

    init?(argument: String) {
        let parts = argument.split(separator: "-")
        guard parts.count == 2, let a = Int(parts[0]), let b = Int(parts[1]), 1024 <= a, a <= b, b <= 65535 else { return nil }
        range = a...b
    }

    var defaultValueDescription: String { "\(range.lowerBound)-\(range.upperBound)" }
}

extension LineLogHandler.Format: ExpressibleByArgument {}
extension Logger.Level: @retroactive ExpressibleByArgument {}

/// Runs an engine-facing command body, turning engine errors into a message and exit 1.
func withEngineErrors<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as EngineError {
        Console.error("error: \(error)")
        throw ExitCode(1)
    }
}
