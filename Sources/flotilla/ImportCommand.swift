import ArgumentParser
import FlotillaAgent
import FlotillaCore
import FlotillaYAML
import Foundation

/// `flotilla import`: bring an existing setup's definitions over as manifests.
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Convert other formats into Flotilla manifests.",
        subcommands: [ImportComposeCommand.self]
    )
}

/// `flotilla import compose FILE... [-o DIR]`: Compose files in, one manifest per service out.
struct ImportComposeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compose",
        abstract: "Convert docker-compose.yml / compose.yaml files into Flotilla manifests, one per service.",
        discussion: """
        Reads the Compose files (several are merged as `docker compose -f a -f b` merges them), \
        interpolates ${VAR}, ${VAR:-default} and friends from the environment and the .env file \
        next to the first file, and writes DIR/<service>.yaml for each service, each saying where \
        it came from. What has a Flotilla meaning is mapped (image, command, entrypoint, \
        environment, env_file, ports, volumes, networks, depends_on, healthcheck, deploy, restart, \
        stop_grace_period, labels, secrets, Traefik router labels as routes); everything else is \
        reported as

          FILE:LINE:COL: warning: ...  carried over differently or left out
          FILE:LINE:COL: error: ...    the result would not run (nothing written)

        Every manifest is validated before anything is written, and every file is written \
        atomically. Existing files are never overwritten without --force.

        Exit codes: 0 converted (warnings may have been printed), 1 not converted (every reason \
        printed), 64 usage error.

        Next steps: flotilla validate DIR, then flotilla plan DIR.
        """
    )

    @Argument(help: "The Compose files, merged in order (later files override earlier ones).", completion: .file(extensions: ["yml", "yaml"]))
    var files: [String]

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("The folder to write the manifests into (created when missing).", valueName: "dir"), completion: .directory)
    var output: String = "manifests"

    @Flag(help: "Overwrite manifests that already exist in the output folder.")
    var force = false

    @Option(help: ArgumentHelp("The Compose project name (as docker compose -p): it prefixes network and volume names. Default: the file's name: field, or the first file's folder name.", valueName: "name"))
    var projectName: String?

    @Option(help: ArgumentHelp("A .env file for interpolation instead of the one next to the first Compose file.", valueName: "file"), completion: .file())
    var envFile: String?

    /// A project name given on the command line is used as given, or refused: never quietly
    /// made into another (`../../etc` became `etc`).
    func validate() throws {
        if let projectName, ComposeConverter.normalizedProject(projectName) != projectName {
            throw ValidationError("--project-name \"\(projectName)\" is not a Compose project name: lowercase letters, digits, \"_\" and \"-\", starting with a letter or digit, at most 40 characters")
        }
    }

    struct ReadProblem: Error { var message: String }

    /// A regular file's bytes, at most `limit`: opened without blocking (a FIFO put there never
    /// hangs the import; before, it blocked forever), and refused when it is not a regular file.
    static func readRegularFile(_ path: String, limit: Int) -> Result<Data, ReadProblem> {
        switch RegularFile.read(path, maxSize: limit) {
        case .success(let bytes): return .success(Data(bytes))
        case .failure(.notRegular): return .failure(ReadProblem(message: "not a regular file (a FIFO, device or folder)"))
        case .failure(.tooLarge): return .failure(ReadProblem(message: "the file is larger than \(limit) bytes"))
        case .failure: return .failure(ReadProblem(message: "cannot read the file (missing or permission denied)"))
        }
    }

    func run() throws {
        let cwd = FileManager.default.currentDirectoryPath
        func absolute(_ path: String) -> String {
            ((path.hasPrefix("/") ? path : cwd + "/" + path) as NSString).standardizingPath
        }
        let parser = YAMLDocumentParser(limits: .init(extraTags: ["!reset", "!override"]))  // Compose's merge tags
        var sources: [ComposeSource] = []
        var unreadable: [String] = []
        var tagWarnings: [ImportFinding] = []
        for file in files {
            let full = absolute(file)
            let data: Data
            switch Self.readRegularFile(full, limit: Self.maxFileSize) {
            case .success(let read): data = read
            case .failure(let problem):
                unreadable.append("\(file):1:1: error: \(problem.message)")
                continue
            }
            let (documents, diagnostics) = parser.parse([UInt8](data), file: file)
            unreadable += diagnostics.map(\.description)
            tagWarnings += Self.collectionTags(in: data, file: file)
            sources.append(ComposeSource(file: file, directory: (full as NSString).deletingLastPathComponent, documents: documents))
        }
        guard unreadable.isEmpty else {
            for line in unreadable { Console.error(line) }
            Console.error("not converted: the Compose files could not be read; nothing was written")
            throw ExitCode(1)
        }

        var variables: [String: String] = [:]
        let dotEnv = envFile.map(absolute) ?? ((sources.first?.directory ?? cwd) + "/.env")
        // Missing is fine (unless named with --env-file); there but not a readable file is an
        // error (before: a FIFO, a device or a folder named .env was ignored in silence).
        var dotEnvText: String?
        if envFile != nil || FileManager.default.fileExists(atPath: dotEnv) {
            switch Self.readRegularFile(dotEnv, limit: Self.maxFileSize) {
            case .success(let data): dotEnvText = String(decoding: data, as: UTF8.self)
            case .failure(let problem):
                Console.error("\(envFile ?? dotEnv):1:1: error: the env file: \(problem.message)")
                throw ExitCode(1)
            }
        }
        if let text = dotEnvText {
            switch ComposeDotEnv.parse(text) {
            case .success(let pairs): for pair in pairs { variables[pair.key] = pair.value }
            case .failure(let problem):
                Console.error("\(envFile ?? dotEnv):\(problem.line):1: error: \(problem.message)")
                throw ExitCode(1)
            }
        } else if let envFile {
            Console.error("\(envFile):1:1: error: cannot read the env file")
            throw ExitCode(1)
        }
        for (key, value) in ProcessInfo.processInfo.environment { variables[key] = value }

        let outputDirectory = absolute(output)
        var result = ComposeConverter.convert(sources, options: ComposeImportOptions(projectName: projectName, variables: variables, outputDirectory: outputDirectory,
                                                                                             fileExists: { FileManager.default.fileExists(atPath: $0) }))
        result.findings += tagWarnings
        if result.succeeded { result.findings += Self.validate(result.manifests, besides: outputDirectory) }

        let errors = result.findings.filter { $0.severity == .error }.count
        let warnings = result.findings.count - errors
        // Errors first (each one must be fixed), then warnings, in file order; a flood is cut short.
        let ordered = result.findings.sorted { ($0.severity == .error ? 0 : 1, $0.file, $0.mark.line, $0.mark.column) < ($1.severity == .error ? 0 : 1, $1.file, $1.mark.line, $1.mark.column) }
        for finding in ordered.prefix(Self.maxFindingsShown) { Console.error(finding.description) }
        if ordered.count > Self.maxFindingsShown {
            Console.error("\(ordered.count - Self.maxFindingsShown) more findings are not shown (\(errors) errors and \(warnings) warnings in all)")
        }
        guard result.succeeded else {
            Console.error("not converted: \(errors) \(errors == 1 ? "error" : "errors")\(warnings > 0 ? " and \(warnings) \(warnings == 1 ? "warning" : "warnings")" : ""); nothing was written")
            throw ExitCode(1)
        }

        let targets = result.manifests.map { (manifest: $0, path: outputDirectory + "/" + $0.fileName) }
        // lstat: a dangling symlink exists too; only a regular file may be replaced (with --force).
        func kind(_ path: String) -> FileAttributeType? { (try? FileManager.default.attributesOfItem(atPath: path))?[.type] as? FileAttributeType }
        var blocked: [String] = []
        for target in targets {
            // `web.yml` beside a new `web.yaml`: two files, one service (before: written anyway).
            let name = target.manifest.fileName
            let twin = name.hasSuffix(".yaml") ? String(name.dropLast(5)) + ".yml" : name.hasSuffix(".yml") ? String(name.dropLast(4)) + ".yaml" : nil
            if let twin, kind(outputDirectory + "/" + twin) != nil {
                blocked.append("\(output)/\(twin):1:1: error: already there; \(name) would define its service a second time: move \(twin) away (or import into another folder)")
                continue
            }
            guard let type = kind(target.path) else { continue }
            if type != .typeRegular { blocked.append("\(output)/\(target.manifest.fileName):1:1: error: something other than a file is there (\(type.rawValue)); move it away") }
            else if !force { blocked.append("\(output)/\(target.manifest.fileName):1:1: error: the file exists; pass --force to overwrite it") }
        }
        if let type = kind(outputDirectory), type != .typeDirectory {
            blocked = ["\(output):1:1: error: the output path exists and is not a folder"]
        }
        if !blocked.isEmpty {
            for line in blocked { Console.error(line) }
            Console.error("not converted: \(blocked.count) of the manifests cannot be written; nothing was written")
            throw ExitCode(1)
        }
        do {
            try FileManager.default.createDirectory(atPath: outputDirectory, withIntermediateDirectories: true)
            let leftovers = AtomicFile.removeLeftovers(in: outputDirectory)
            if !leftovers.isEmpty {
                Console.error("note: removed \(leftovers.count) staged \(leftovers.count == 1 ? "file" : "files") an earlier, killed import left in \(output)/ (\(leftovers.joined(separator: ", ")))")
            }
            // Every file staged first, then all renamed: an error leaves no half-written set.
            var staged: [(temp: String, path: String)] = []
            do {
                for target in targets { staged.append((try AtomicFile.stage(Data(target.manifest.text.utf8), nextTo: target.path), target.path)) }
            } catch {
                for file in staged { unlink(file.temp) }
                throw error
            }
            for file in staged { try AtomicFile.commit(file.temp, to: file.path) }
        } catch {
            Console.error("\(output):1:1: error: cannot write into the folder: \((error as NSError).localizedDescription)")
            throw ExitCode(1)
        }

        let services = result.manifests.count
        Console.out("imported \(services) \(services == 1 ? "service" : "services") (project \(result.projectName)) into \(output)/: \(result.manifests.map(\.fileName).joined(separator: ", "))"
                    + (warnings > 0 ? "; the \(warnings == 1 ? "warning" : "\(warnings) warnings") above \(warnings == 1 ? "says" : "say") what was carried over differently" : ""))
        var validate = "flotilla validate \(output)"
        if let folder = result.secretsDirectory { validate += " --secrets-dir \(folder) --shared-secrets-dir" }
        if result.usesHostMounts { validate += " --allow-host-mounts" }
        Console.out("next: \(validate), then flotilla plan \(output)")
        if let folder = result.secretsDirectory {
            Console.out("note: env and secret files stay in \(folder); the daemon reads them with --secrets-dir \(folder) --shared-secrets-dir (deprecated: move them to /etc/flotilla/secrets/\(result.projectName)/, out of git, and update the paths)")
        } else if !result.secretFolders.isEmpty {
            Console.out("note: env and secret files are read from \(result.secretFolders.joined(separator: ", ")); the daemon reads them only inside the manifest directory or one --secrets-dir: move them into the project's folder (/etc/flotilla/secrets/\(result.projectName)/) and update the paths")
        }
    }

    static let maxFileSize = 1 << 20

    /// `key: !reset [...]` / `!override {...}` on a list or mapping: the YAML tree keeps tags of
    /// scalars only, so such a line is found in the text and said, never silently merged.
    static func collectionTags(in data: Data, file: String) -> [ImportFinding] {
        var findings: [ImportFinding] = []
        for (n, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            for tag in ["!reset", "!override"] {
                guard let range = line.range(of: tag) else { continue }
                let after = line[range.upperBound...].drop { $0 == " " }
                if after.isEmpty || after.hasPrefix("[") || after.hasPrefix("{") {
                    findings.append(ImportFinding(.warning, file: file, at: SourceMark(line: n + 1, column: line.distance(from: line.startIndex, to: range.lowerBound) + 1),
                        "\(tag) on a list or mapping is not applied by the import (it merges as if untagged); check the merged result"))
                }
            }
        }
        return findings
    }
    static let maxFindingsShown = 200

    /// The manifests as `flotilla validate` would read them (file contents and host mounts are
    /// the operator's business, checked when the daemon loads them): anything wrong is an error
    /// at the Compose service it came from.
    static func validate(_ manifests: [ImportedManifest], besides directory: String) -> [ImportFinding] {
        let parser = YAMLDocumentParser()
        // Manifests already in the folder (those not replaced) are part of the directory too:
        // a service name or route they hold must not be taken again.
        let replaced = Set(manifests.map(\.fileName))
        var files: [ManifestFile] = ManifestDirectoryLoader.isDirectory(directory)
            ? ((try? ManifestDirectoryLoader().readFiles(directory: directory)) ?? []).filter { !replaced.contains($0.path) } : []
        let existing = Set(files.map(\.path))
        for manifest in manifests {
            let (documents, diagnostics) = parser.parse(Array(manifest.text.utf8), file: manifest.fileName)
            files.append(ManifestFile(path: manifest.fileName, documents: documents, diagnostics: diagnostics))
        }
        let state = DesiredState(files: files, secrets: AnySecretFile(), mounts: MountPolicy(allowed: .any))
        // Problems of the existing files alone are theirs to fix, not the import's.
        // One found in an existing file counts when it names a new file (a clash with it).
        let mine = state.diagnostics.filter { d in !existing.contains(d.file) || replaced.contains { d.message.contains($0) } }
        return mine.map { diagnostic in
            let origin = manifests.first { $0.fileName == diagnostic.file } ?? manifests.first { diagnostic.message.contains($0.fileName) }
            return ImportFinding(.error, file: origin?.sourceFile ?? diagnostic.file, at: origin?.sourceMark ?? SourceMark(line: diagnostic.line, column: diagnostic.column),
                                 "the manifest made from this service would not validate (\(diagnostic.file):\(diagnostic.line):\(diagnostic.column): \(diagnostic.message))")
        }
    }

    /// Reads no file: at import time only the manifest's form is checked.
    struct AnySecretFile: SecretReader {
        func read(_ path: String, from file: String) -> Result<String, SecretReadError> { .success("") }
    }
}
