/// The `KEY=VALUE` format of `env_file`: one variable per line, `#` comments and blank lines
/// ignored, an optional `export ` prefix, values optionally in single or double quotes (taken
/// literally: no expansion). Pure; the loader supplies the text.
public enum EnvFile {
    public struct Problem: Error, Sendable, Hashable {
        public var line: Int
        public var message: String
    }

    public static func parse(_ text: String) -> Result<[(key: String, value: String)], Problem> {
        var result: [(key: String, value: String)] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = Substring(raw)
            if line.hasSuffix("\r") { line = line.dropLast() }
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            var body = trimmed
            if body.hasPrefix("export ") { body = body.dropFirst(7).drop { $0 == " " } }
            guard let eq = body.firstIndex(of: "=") else {
                return .failure(Problem(line: index + 1, message: "expected KEY=VALUE"))
            }
            let key = String(body[..<eq])
            guard ManifestRules.isEnvName(key) else {
                return .failure(Problem(line: index + 1, message: "variable name must match [A-Za-z_][A-Za-z0-9_]*"))
            }
            var value = body[body.index(after: eq)...]
            if value.count >= 2, let q = value.first, q == "\"" || q == "'", value.last == q {
                value = value.dropFirst().dropLast()
            }
            result.append((key, String(value)))
        }
        return .success(result)
    }
}
