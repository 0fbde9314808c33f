import ArgumentParser
import FlotillaAgent
import FlotillaCore
import Foundation

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a manifest directory and report every error as file:line:column.",
        discussion: """
        Loads every *.yaml/*.yml file under DIR (recursively; hidden files and editor leftovers \
        are skipped), validates each service and the directory as a whole (unique names, route \
        conflicts, depends_on targets and cycles), and prints either a one-line summary \
        ("N services in M files", exit 0) or every error, one per line, in the form
          path/to/file.yaml:LINE:COL: error: MESSAGE
        followed by a count (exit 1). Nothing talks to an engine.
        """
    )

    @Argument(help: "The manifest directory.", completion: .directory)
    var directory: String = "manifests"

    @Option(help: "Output format: text, or json (the loaded services, or the errors) for scripts.")
    var format: OutputFormat = .text

    @OptionGroup(title: "Host access")
    var access: HostAccessOptions

    @Option(help: "Project name: secret and env files are read from its subfolder of --secrets-dir. Default: the manifest directory's name.")
    var project: String?

    @Option(help: ArgumentHelp("A project's state directory: its secret digest key makes the digests shown here match the containers' labels.",
                               discussion: "Without it (or when that folder has no key yet) secret digests use a key for this run only. validate never creates one.",
                               valueName: "dir"))
    var stateDir: String?

    func run() throws {
        let state: DesiredState
        do {
            let key = stateDir.flatMap { StateStore(directory: $0).loadDigestKey() } ?? .ephemeral
            var loader = ManifestDirectoryLoader(access: access.hostAccess(swarm: false, project: project ?? Reconciler.defaultProject(for: directory)), digestKey: key)
            loader.maxTreeSize = access.manifestByteCap
            state = try loader.load(directory: directory)
        } catch {
            Console.error("error: \(error)")
            throw ExitCode(1)
        }
        switch format {
        case .json:
            Console.out(try JSONOutput.encode(ValidationReport(state)))
        case .text:
            if state.isValid {
                Console.out("\(state.services.count) \(state.services.count == 1 ? "service" : "services") in \(state.files.count) \(state.files.count == 1 ? "file" : "files")")
            } else {
                for diagnostic in state.diagnostics { Console.error(diagnostic.description) }
                let n = state.diagnostics.count
                Console.error("\(n) \(n == 1 ? "error" : "errors") in \(state.failedFiles.count) of \(state.files.count) files")
            }
        }
        if !state.isValid { throw ExitCode(1) }
    }
}

/// What `validate --format json` prints.
struct ValidationReport: Encodable {
    struct Service: Encodable {
        var file: String
        var specHash: String
        var spec: ServiceSpec

        enum CodingKeys: String, CodingKey { case file, specHash = "spec_hash", spec }
    }

    var valid: Bool
    var files: [String]
    var services: [Service]
    var errors: [Diagnostic]

    init(_ state: DesiredState) {
        valid = state.isValid
        files = state.files
        services = state.services.map { Service(file: state.sourceFile[$0.name] ?? "", specHash: $0.specHash, spec: $0) }
        errors = state.diagnostics
    }
}
