import FlotillaCore
import FlotillaYAML

/// Loads in-memory manifest files through the real libyaml parser and the pure validator.
func desired(_ files: [String: String], secretFiles: [String: String] = [:], mounts: MountPolicy = MountPolicy(allowed: .any)) -> DesiredState {
    let parser = YAMLDocumentParser()
    return DesiredState(files: files.map { path, text in
        let (documents, diagnostics) = parser.parse(Array(text.utf8), file: path)
        return ManifestFile(path: path, documents: documents, diagnostics: diagnostics)
    }, secrets: MemorySecretReader(files: secretFiles), mounts: mounts)
}

/// Secret files from a dictionary (path as written in the manifest → content).
struct MemorySecretReader: SecretReader {
    var files: [String: String]
    func read(_ path: String, from file: String) -> Result<String, SecretReadError> {
        files[path].map { .success($0) } ?? .failure(SecretReadError("\(path) does not exist"))
    }
}

func desired(_ text: String, file: String = "svc.yaml") -> DesiredState { desired([file: text]) }

/// The diagnostics' `file:line:col: error: message` lines.
func errors(_ text: String) -> [String] { desired(text).diagnostics.map(\.description) }

let minimal = "name: web\nimage: busybox\n"
