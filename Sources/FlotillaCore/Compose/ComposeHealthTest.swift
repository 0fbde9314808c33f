/// A Compose `healthcheck.test` recognised as a check Flotilla can run from the host, or the
/// reason it cannot be. Compose runs the test inside the container; Flotilla probes the
/// container's port from the host, so only tests that are plainly an HTTP request or a TCP
/// connect to the container itself translate.
public enum ComposeHealthTest: Sendable, Hashable {
    /// `curl -f http://localhost:8080/health`, `wget --spider http://127.0.0.1/`: GET this path on this port.
    case http(path: String, port: Int)
    /// `nc -z localhost 5432`, or curl without `-f` (any HTTP answer passes): a connect.
    case tcp(port: Int, note: String?)
    /// `test: ["NONE"]` or `disable: true`.
    case disabled
    case unrecognised(String)

    /// `words` is the test as Compose stores it: `["CMD", ...]`, `["CMD-SHELL", "..."]`, `["NONE"]`.
    public static func recognise(_ words: [String]) -> ComposeHealthTest {
        guard let kind = words.first else { return .unrecognised("the test is empty") }
        var argv: [String]
        switch kind {
        case "NONE": return .disabled
        case "CMD": argv = Array(words.dropFirst())
        case "CMD-SHELL":
            let script = words.dropFirst().joined(separator: " ")
            guard var split = ShellWords.split(script) else { return .unrecognised("the shell command has an unclosed quote") }
            // `curl -f URL || exit 1` is the idiom; the `|| exit 1` adds nothing to a probe.
            if split.count >= 2, split[split.count - 2] == "||", split.last == "exit" || split.last == "1" { split.removeLast(2) }
            if split.count >= 3, split[split.count - 3] == "||", split[split.count - 2] == "exit" { split.removeLast(3) }
            argv = split
        default: return .unrecognised("the test must start with CMD, CMD-SHELL or NONE")
        }
        if argv.contains(where: { ["&&", "||", "|", ";", ">", "<", "&"].contains($0) }) {
            return .unrecognised("a shell pipeline or a list of commands is not a single HTTP or TCP check")
        }
        guard let program = argv.first.map({ $0.split(separator: "/").last.map(String.init) ?? $0 }) else { return .unrecognised("the test is empty") }
        let arguments = Array(argv.dropFirst())
        switch program {
        case "curl": return curl(arguments)
        case "wget": return wget(arguments)
        case "nc", "ncat", "netcat": return netcat(arguments)
        default: return .unrecognised("\"\(program)\" runs inside the container; Flotilla probes from the host and knows HTTP and TCP checks only")
        }
    }

    static func curl(_ arguments: [String]) -> ComposeHealthTest {
        var fail = false
        var url: String?
        var i = 0
        let withValue: Set<String> = ["-o", "--output", "-m", "--max-time", "--connect-timeout", "--retry", "-w", "--write-out", "-A", "--user-agent"]
        let harmless: Set<String> = ["--silent", "--show-error", "--location", "--head", "--insecure", "--no-progress-meter", "-4", "--ipv4"]
        while i < arguments.count {
            let a = arguments[i]
            if a == "--fail" || a == "--fail-with-body" { fail = true }
            else if withValue.contains(a) { i += 1 }
            else if harmless.contains(a) {}
            else if a.hasPrefix("--") { return .unrecognised("curl option \(a) is not part of a plain HTTP check") }
            else if a.hasPrefix("-"), a.count > 1 {
                let letters = a.dropFirst()
                guard letters.allSatisfy({ "fsSLIko4".contains($0) }) else { return .unrecognised("curl option \(a) is not part of a plain HTTP check") }
                if letters.contains("f") { fail = true }
                if letters.last == "o" || letters.last == "m" { i += 1 }
            } else if url == nil { url = a }
            else { return .unrecognised("curl is given more than one URL") }
            i += 1
        }
        guard let url else { return .unrecognised("curl is given no URL") }
        switch target(url) {
        case .success(let (path, port)):
            return fail ? .http(path: path, port: port)
                : .tcp(port: port, note: "curl without -f succeeds on any HTTP answer (even 500), so it is imported as a TCP check; add -f to the test, or write `http: \(path)` yourself")
        case .failure(let why): return .unrecognised(why.message)
        }
    }

    static func wget(_ arguments: [String]) -> ComposeHealthTest {
        var url: String?
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            if ["-O", "-T", "-t", "--tries", "--timeout", "-U", "--user-agent"].contains(a) { i += 1 }
            else if ["--spider", "-q", "--quiet", "-O-", "-qO-", "-qO", "--no-verbose", "-nv", "-S", "--server-response", "-4"].contains(a) || a.hasPrefix("--tries=") || a.hasPrefix("--timeout=") || a.hasPrefix("-T") || a.hasPrefix("--output-document") {
                if a == "-qO" { i += 1 }
            }
            else if a.hasPrefix("-") { return .unrecognised("wget option \(a) is not part of a plain HTTP check") }
            else if url == nil { url = a }
            else { return .unrecognised("wget is given more than one URL") }
            i += 1
        }
        guard let url else { return .unrecognised("wget is given no URL") }
        switch target(url) {
        case .success(let (path, port)): return .http(path: path, port: port)
        case .failure(let why): return .unrecognised(why.message)
        }
    }

    static func netcat(_ arguments: [String]) -> ComposeHealthTest {
        let flags = arguments.filter { $0.hasPrefix("-") }
        let rest = arguments.filter { !$0.hasPrefix("-") }
        guard flags.contains(where: { $0.contains("z") }), rest.count == 2, isLocal(rest[0]), let port = Int(rest[1]), (1...65535).contains(port) else {
            return .unrecognised("only `nc -z localhost PORT` is recognised as a TCP check")
        }
        return .tcp(port: port, note: nil)
    }

    struct Why: Error { var message: String }

    static func isLocal(_ host: String) -> Bool { ["localhost", "127.0.0.1", "0.0.0.0", "[::1]", "::1"].contains(host) }

    /// The path and port of `http://localhost[:port][/path]`.
    static func target(_ url: String) -> Result<(String, Int), Why> {
        guard url.hasPrefix("http://") else {
            return .failure(Why(message: url.hasPrefix("https://") ? "Flotilla's HTTP checks speak plain HTTP; \(url) is HTTPS" : "\"\(url)\" is not an http:// URL"))
        }
        let rest = url.dropFirst("http://".count)
        let authority = rest.prefix { $0 != "/" && $0 != "?" }
        var path = String(rest.dropFirst(authority.count))
        if path.isEmpty { path = "/" }
        if path.hasPrefix("?") { path = "/" + path }
        var host = String(authority), port = 80
        if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
            host = String(authority[..<colon])
            guard let p = Int(authority[authority.index(after: colon)...]), (1...65535).contains(p) else { return .failure(Why(message: "\(url) has no valid port")) }
            port = p
        }
        guard isLocal(host) else { return .failure(Why(message: "the test asks \(host), not the container itself (localhost)")) }
        return .success((path, port))
    }
}
