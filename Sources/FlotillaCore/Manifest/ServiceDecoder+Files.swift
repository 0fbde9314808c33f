/// Values read from files through the injected ``SecretReader``: `env_file` and `secrets`.
extension ServiceDecoder {
    mutating func envFiles(_ node: YAMLNode, into secrets: inout [String: SecretValue]) {
        let paths: [(YAMLNode, String)]
        if let s = node.scalar, !s.isNull { paths = [(node, s.value)] }
        else {
            guard let list = stringList(node, "env_file", hint: "write a path or a list of paths") else { return }
            paths = list.enumerated().map { (listItem(node, $0.offset), $0.element) }
        }
        for (at, path) in paths {
            switch secretReader.read(path, from: file) {
            case .failure(let problem):
                error(at, "env_file \"\(path)\": \(problem.message)")
            case .success(let text):
                switch EnvFile.parse(text) {
                case .failure(let problem):
                    error(at, "env_file \"\(path)\" line \(problem.line): \(problem.message)")
                case .success(let pairs):
                    // Later files and later lines win, as in docker compose.
                    for (key, value) in pairs { secrets[key] = SecretValue(value: value, source: path, key: digestKey) }
                }
            }
        }
    }

    mutating func secrets(_ node: YAMLNode, into secrets: inout [String: SecretValue]) {
        guard let fields = mapping(node, of: "secrets", allowed: nil) else { return }
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
            // The key's position only when there is an error to report (a lookup per key would be quadratic).
            var at: YAMLNode { keyNode(of: key, in: node) ?? value }
            guard ManifestRules.isEnvName(key) else { error(at, "secret name \"\(key)\" must match [A-Za-z_][A-Za-z0-9_]* (it becomes an environment variable)"); continue }
            guard let entry = mapping(value, of: "secret \(key)", allowed: Self.secretKeys) else { continue }
            guard let fileNode = entry["file"] else { error(value, "secret \(key) needs a file: write { file: path/to/file }"); continue }
            guard let path = string(fileNode, "file") else { continue }
            switch secretReader.read(path, from: file) {
            case .failure(let problem):
                error(fileNode, "secret \(key) file \"\(path)\": \(problem.message)")
            case .success(var text):
                // A trailing newline is what editors add, not part of the secret.
                if text.hasSuffix("\r\n") { text.removeLast(2) } else if text.hasSuffix("\n") { text.removeLast() }
                secrets[key] = SecretValue(value: text, source: path, key: digestKey)
            }
        }
    }
}
