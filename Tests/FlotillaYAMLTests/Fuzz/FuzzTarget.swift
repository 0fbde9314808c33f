import FlotillaAgent
import FlotillaCore
import FlotillaYAML
import Foundation

/// What the fuzzer feeds and what must hold for every input, whatever it is: an outcome that is
/// either valid or diagnostics with a line and column at or after 1 inside the file, each
/// diagnostic one printable line (``Diagnostic/needsEscape(_:)`` holds for none of its scalars).
/// A crash or a hang is caught outside (``FuzzGuard``); a broken rule is a ``violation``.
enum FuzzTarget: String, CaseIterable, Sendable {
    /// Manifest bytes → YAMLDocumentParser → DesiredState; every 16th input also as a file in a
    /// manifest directory, beside hostile entries (a FIFO, links out of the tree and to /dev/zero).
    case loader
    /// Compose bytes → YAMLDocumentParser (with `!reset`/`!override`) → ComposeConverter →
    /// manifest texts, which must parse, and load as the import checks them; and as a `.env` file.
    case compose

    struct Outcome {
        /// Messages with quoted text and numbers replaced, for "distinct diagnostics" and to keep
        /// inputs that showed a new one.
        var signatures: [String] = []
        var valid = false
        var violation: String?
    }

    func run(_ bytes: [UInt8], index: Int, scratch: String) -> Outcome {
        switch self {
        case .loader: return Self.loader(bytes, directory: index % 16 == 0 ? scratch : nil, variant: index / 16)
        case .compose: return Self.compose(bytes)
        }
    }

    // MARK: - Manifest loader

    static func loader(_ bytes: [UInt8], directory: String?, variant: Int) -> Outcome {
        var outcome = Outcome()
        let (documents, problems) = YAMLDocumentParser().parse(bytes, file: "m.yaml")
        let state = DesiredState(files: [ManifestFile(path: "m.yaml", documents: documents, diagnostics: problems)], secrets: AnyFileSecret(), mounts: MountPolicy(allowed: .any))
        outcome.valid = state.isValid
        outcome.signatures = state.diagnostics.map { signature($0.message) }
        if let problem = check(state.diagnostics.map { ($0.file, $0.line, $0.column, $0.description) }, file: "m.yaml", bytes: bytes) { outcome.violation = problem }
        else if state.isValid != state.diagnostics.isEmpty { outcome.violation = "isValid is \(state.isValid) with \(state.diagnostics.count) diagnostics" }
        else if !state.isValid && !state.services.isEmpty { outcome.violation = "an invalid file gave \(state.services.count) services" }
        else if state.isValid && state.services.count != documents.filter({ $0.scalar?.isNull != true }).count { outcome.violation = "\(documents.count) documents but \(state.services.count) services" }
        if outcome.violation == nil, let directory { outcome.violation = loaderDirectory(bytes, directory: directory, variant: variant, alone: state) }
        return outcome
    }

    /// Reads no file: the loader's own rules, not the host's files.
    struct AnyFileSecret: SecretReader {
        func read(_ path: String, from file: String) -> Result<String, SecretReadError> { .success("") }
    }

    static let outsideMarker = "FLOTILLA-FUZZ-OUTSIDE-MARKER"

    /// The same bytes as `svc.yaml` in a directory with hostile neighbours, loaded twice (the
    /// second load may come from the loader's memo and must say the same).
    static func loaderDirectory(_ bytes: [UInt8], directory: String, variant: Int, alone: DesiredState) -> String? {
        let fm = FileManager.default
        try? fm.removeItem(atPath: directory)
        let tree = directory + "/tree", outside = directory + "/outside.yaml"
        try? fm.createDirectory(atPath: tree + "/sub", withIntermediateDirectories: true)
        _ = fm.createFile(atPath: outside, contents: Data("name: \(outsideMarker)\nimage: x\n".utf8))
        _ = fm.createFile(atPath: tree + "/svc.yaml", contents: Data(bytes))
        // The bytes as an env file too: `env_file: web.env` in a mutated manifest reads it.
        _ = fm.createFile(atPath: tree + "/web.env", contents: Data(bytes))
        var expectedProblems: [String] = []
        switch variant % 6 {
        case 0: symlink(outside, tree + "/out.yaml"); expectedProblems.append("out.yaml")
        case 1: mkfifo(tree + "/pipe.yaml", 0o644); expectedProblems.append("pipe.yaml")
        case 2: symlink("/dev/zero", tree + "/zero.yaml"); expectedProblems.append("zero.yaml")
        case 3: symlink(tree + "/missing", tree + "/dangling.yaml"); expectedProblems.append("dangling.yaml")
        case 4: symlink("../svc.yaml", tree + "/sub/link.yaml")
        default: try? fm.createDirectory(atPath: tree + "/dir.yaml", withIntermediateDirectories: true); _ = fm.createFile(atPath: tree + "/dir.yaml/x.yml", contents: Data(bytes))
        }
        let loader = ManifestDirectoryLoader(access: HostAccess(secretsDirectory: directory + "/secrets", hostMounts: .any))
        guard let state = try? loader.load(directory: tree), let again = try? loader.load(directory: tree) else { return "the directory load threw" }
        if state.diagnostics != again.diagnostics { return "a second load of the same directory said something else" }
        for d in state.diagnostics {
            if d.message.contains(outsideMarker) || d.description.contains(outsideMarker) { return "a diagnostic shows a file outside the tree: \(d.description)" }
            if d.file.hasPrefix("/") || d.file.contains("..") { return "a diagnostic names \(d.file), not a path inside the tree" }
            if d.line < 1 || d.column < 1 { return "\(d.description): line and column start at 1" }
            if d.description.unicodeScalars.contains(where: Diagnostic.needsEscape) { return "not one printable line: \(d.description)" }
        }
        for name in expectedProblems where !state.diagnostics.contains(where: { $0.file == name }) { return "\(name) was skipped without a word" }
        if !alone.isValid && !state.diagnostics.contains(where: { $0.file == "svc.yaml" }) {
            return "svc.yaml alone has errors, in a directory none"
        }
        return nil
    }

    // MARK: - Compose importer

    static let composeParser = YAMLDocumentParser(limits: .init(extraTags: ["!reset", "!override"]))

    static func compose(_ bytes: [UInt8]) -> Outcome {
        var outcome = Outcome()
        let file = "compose.yaml"
        let (documents, problems) = composeParser.parse(bytes, file: file)
        if let problem = check(problems.map { ($0.file, $0.line, $0.column, $0.description) }, file: file, bytes: bytes) { outcome.violation = problem; return outcome }
        outcome.signatures = problems.map { signature($0.message) }
        // The .env reader, on the same bytes.
        if case .failure(let problem) = ComposeDotEnv.parse(String(decoding: bytes, as: UTF8.self)), problem.line < 1 {
            outcome.violation = ".env line \(problem.line)"
            return outcome
        }
        guard problems.isEmpty else { return outcome }
        let options = ComposeImportOptions(projectName: nil, variables: ["TAG": "1.2", "PORT": "8080", "EMPTY": "", "NL": "a\nb", "Q": "\"'"],
                                           outputDirectory: "/srv/fuzz/out", fileExists: { $0.hasSuffix("present.env") })
        let result = ComposeConverter.convert([ComposeSource(file: file, directory: "/srv/fuzz", documents: documents)], options: options)
        outcome.signatures += result.findings.map { signature($0.message) }
        if let problem = check(result.findings.map { ($0.file, $0.mark.line, $0.mark.column, $0.description) }, file: file, bytes: bytes) {
            outcome.violation = problem
            return outcome
        }
        guard result.succeeded else { return outcome }
        // What the import writes must be YAML that loads; what `validate` refuses, the import
        // reports as an error (the command does that), so it is a finding here, not a violation.
        var files: [ManifestFile] = []
        if Set(result.manifests.map(\.fileName)).count != result.manifests.count { outcome.violation = "two manifests with one file name"; return outcome }
        for manifest in result.manifests {
            guard ManifestRules.isDNSLabel(manifest.service) else { outcome.violation = "service name \(manifest.service) is not a DNS label"; return outcome }
            let (docs, diagnostics) = YAMLDocumentParser().parse(Array(manifest.text.utf8), file: manifest.fileName)
            if !diagnostics.isEmpty || docs.count != 1 {
                outcome.violation = "the manifest written for \(manifest.service) is not one YAML document: \(diagnostics.first?.description ?? "\(docs.count) documents")\n\(manifest.text)"
                return outcome
            }
            files.append(ManifestFile(path: manifest.fileName, documents: docs, diagnostics: []))
        }
        let state = DesiredState(files: files, secrets: AnyFileSecret(), mounts: MountPolicy(allowed: .any))
        outcome.valid = state.isValid
        outcome.signatures += state.diagnostics.map { "import→validate: " + signature($0.message) }
        if let d = state.diagnostics.first(where: { $0.description.unicodeScalars.contains(where: Diagnostic.needsEscape) }) { outcome.violation = "not one printable line: \(d.description)" }
        return outcome
    }

    // MARK: - Rules for every outcome

    /// Each diagnostic of `file` points into it (line 1 to its last line, column 1 to its longest
    /// line's length + 1) and prints as one line. Lines end as the README says: at LF (CRLF
    /// included), at a lone CR only in a file without LF.
    static func check(_ diagnostics: [(file: String, line: Int, column: Int, description: String)], file: String, bytes: [UInt8]) -> String? {
        let lineBreak: UInt8 = bytes.contains(0x0a) ? 0x0a : 0x0d
        var lines = 1, longest = 0, current = 0
        for byte in bytes {
            if byte == lineBreak { lines += 1; current = 0 } else { current += 1; longest = max(longest, current) }
        }
        for d in diagnostics {
            if d.description.unicodeScalars.contains(where: Diagnostic.needsEscape) { return "not one printable line: \(d.description)" }
            guard d.file == file else { continue }
            if !(1...lines).contains(d.line) { return "\(d.description): line \(d.line) outside 1...\(lines)" }
            if !(1...(longest + 1)).contains(d.column) { return "\(d.description): column \(d.column) outside 1...\(longest + 1)" }
        }
        return nil
    }

    /// A message with its specifics taken out (quoted text, and every word that is not plain
    /// lowercase: keys, paths, names, numbers): one per kind of problem.
    static func signature(_ message: String) -> String {
        var unquoted = "", quoted = false
        for c in message {
            if c == "\"" { quoted.toggle(); if quoted { unquoted += " … " }; continue }
            if !quoted { unquoted.append(c) }
        }
        var words: [String] = []
        for raw in unquoted.split(separator: " ") {
            let word = raw.trimmingCharacters(in: CharacterSet(charactersIn: ",;:()."))
            let plain = !word.isEmpty && word.count <= 14 && word.allSatisfy { $0.isASCII && $0.isLowercase }
            if plain { words.append(word) } else if words.last != "…" { words.append("…") }
        }
        return String(words.joined(separator: " ").prefix(160))
    }
}
