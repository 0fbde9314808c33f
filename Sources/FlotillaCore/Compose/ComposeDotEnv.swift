/// The project's `.env` file as Docker Compose reads it: `KEY=VALUE` lines, `#` comments (also
/// after an unquoted value, when a space precedes them), `export ` prefixes, single quotes taken
/// literally, double quotes with `\n`-style escapes and values spanning lines.
public enum ComposeDotEnv {
    public typealias Problem = EnvFile.Problem

    public static func parse(_ text: String) -> Result<[(key: String, value: String)], Problem> {
        var result: [(key: String, value: String)] = []
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasSuffix("\r") ? String($0.dropLast()) : String($0) }
        var i = 0
        while i < lines.count {
            let number = i + 1
            var line = Substring(lines[i]).drop { $0 == " " || $0 == "\t" }
            i += 1
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = line.dropFirst("export ".count).drop { $0 == " " } }
            guard let eq = line.firstIndex(of: "=") else { return .failure(Problem(line: number, message: "expected KEY=VALUE")) }
            let key = String(line[..<eq]).trimmingCharacters(in: " \t")
            guard ManifestRules.isEnvName(key) else { return .failure(Problem(line: number, message: "\"\(key)\" is not a variable name")) }
            var rest = line[line.index(after: eq)...].drop { $0 == " " || $0 == "\t" }
            var value: String
            if let quote = rest.first, quote == "'" || quote == "\"" {
                rest = rest.dropFirst()
                var body = String(rest)
                // A quoted value may go on over the following lines until its closing quote.
                while !body.contains(quote), i < lines.count { body += "\n" + lines[i]; i += 1 }
                guard let end = body.firstIndex(of: quote) else { return .failure(Problem(line: number, message: "the \(quote) quote is not closed")) }
                value = String(body[..<end])
                if quote == "\"" {
                    value = value.replacingOccurrences(of: "\\n", with: "\n").replacingOccurrences(of: "\\t", with: "\t")
                        .replacingOccurrences(of: "\\\"", with: "\"").replacingOccurrences(of: "\\\\", with: "\\")
                }
            } else {
                value = String(rest)
                if let hash = value.range(of: " #") ?? value.range(of: "\t#") { value = String(value[..<hash.lowerBound]) }
                value = value.trimmingCharacters(in: " \t")
            }
            result.append((key, value))
        }
        return .success(result)
    }
}
