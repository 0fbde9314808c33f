import FlotillaCore
import Foundation

/// A real Caddy or HAProxy on loopback serving the route file that a `flotilla run` child keeps
/// up to date, checked by the proxy's own validator on the candidate (`{file}`) and reloaded for
/// real: what the Caddy and HAProxy end-to-end tests start, each in its own folder, and stop by
/// PID. (nginx has ``NginxStack``: its check can only read the live file.)
final class ProxyStack: @unchecked Sendable {
    enum Proxy: String, Sendable {
        case caddy, haproxy

        var binary: String { self == .caddy ? "/usr/bin/caddy" : "/usr/sbin/haproxy" }
        static func installed(_ proxy: Proxy) -> Bool { FileManager.default.isExecutableFile(atPath: proxy.binary) }
    }

    let proxy: Proxy
    let scenario: Scenario
    let manifests: String
    let proxyDir: String
    /// Where the proxy listens (127.0.0.1) and, for Caddy, its admin API (127.0.0.1).
    let port: Int, adminPort: Int
    let routesFile: String
    /// The running daemon (after ``start()``).
    private(set) var daemon: DaemonProcess!
    private var pid: pid_t = 0

    /// Caddy keeps its data and autosaved config under these, not in the real home.
    var environment: [String: String] { ["HOME": proxyDir, "XDG_DATA_HOME": proxyDir + "/data", "XDG_CONFIG_HOME": proxyDir + "/config"] }

    init(_ proxy: Proxy, _ scenario: Scenario, port: Int, adminPort: Int) throws {
        self.proxy = proxy
        self.scenario = scenario
        self.port = port
        self.adminPort = adminPort
        proxyDir = scenario.directory + "/proxy"
        manifests = scenario.directory + "/manifests"
        for dir in [proxyDir, manifests] { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        routesFile = proxyDir + (proxy == .caddy ? "/routes.caddy" : "/routes.cfg")
        // The proxy starts on an empty table: nothing routed until Flotilla's first write.
        try RouteFormat(rawValue: proxy.rawValue)!.render(RouteTable(entries: []), listen: listen, project: scenario.project).write(toFile: routesFile, atomically: true, encoding: .utf8)
        try mainConfig.write(toFile: mainConfigPath, atomically: true, encoding: .utf8)
    }

    var listen: String { "127.0.0.1:\(port)" }
    var mainConfigPath: String { proxyDir + (proxy == .caddy ? "/Caddyfile" : "/base.cfg") }

    /// Caddy: the global options (its admin API on loopback) and an import of the
    /// route file. HAProxy: the `global` and `defaults` sections the route file is loaded after.
    var mainConfig: String {
        switch proxy {
        case .caddy:
            return "{\n\tadmin 127.0.0.1:\(adminPort)\n}\nimport \(routesFile)\n"
        case .haproxy:
            return "global\n    maxconn 256\n\ndefaults\n    mode http\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n"
        }
    }

    /// Starts the proxy, waits until it listens, then starts the daemon.
    func start() async throws {
        switch proxy {
        case .caddy:
            pid = try spawn([proxy.binary, "run", "--config", mainConfigPath, "--adapter", "caddyfile"], environment: environment, output: logPath)
        case .haproxy:
            // Master-worker: SIGUSR2 to the master re-reads both files and replaces the worker;
            // a reload that fails keeps the old worker serving.
            pid = try spawn([proxy.binary, "-W", "-f", mainConfigPath, "-f", routesFile], output: logPath)
        }
        // Caddy without sites listens only on its admin API; HAProxy's empty table binds the port.
        let probe = proxy == .caddy ? adminPort : port
        let deadline = ContinuousClock.now + .seconds(10)
        while !tcpAccepts(port: probe), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        guard tcpAccepts(port: probe) else {
            throw NSError(domain: proxy.rawValue, code: 1, userInfo: [NSLocalizedDescriptionKey: "\(proxy.rawValue) does not listen on 127.0.0.1:\(probe)\n\(log)"])
        }
        daemon = try DaemonProcess(daemonArguments, environment: environment)
    }

    var daemonArguments: [String] {
        let (check, reload): (String, String)
        switch proxy {
        case .caddy:
            check = "caddy validate --config {file} --adapter caddyfile"
            reload = "caddy reload --config \(mainConfigPath) --adapter caddyfile --address 127.0.0.1:\(adminPort)"
        case .haproxy:
            check = "haproxy -c -q -f \(mainConfigPath) -f {file}"
            reload = "kill -USR2 \(pid)"
        }
        let range = scenario.portRange
        return [manifests, "--engine", TestEngine.endpoint!, "--project", scenario.project, "--state-dir", scenario.stateDirectory, "--port-range", "\(range.lowerBound)-\(range.upperBound)",
                "--resync-interval", "10m", "--routes", routesFile, "--routes-format", proxy.rawValue, "--proxy-listen", listen,
                "--routes-check", check, "--routes-reload", reload]
    }

    func write(_ file: String, _ text: String) throws {
        try text.write(toFile: manifests + "/" + file, atomically: true, encoding: .utf8)
    }

    var routes: String { (try? String(contentsOfFile: routesFile, encoding: .utf8)) ?? "" }

    /// The proxy's own output (stdout and stderr).
    var logPath: String { proxyDir + "/proxy.log" }
    var log: String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return "\(proxy.rawValue) output (last 30 lines):\n" + text.split(separator: "\n").suffix(30).joined(separator: "\n")
    }

    /// What a failing end-to-end check prints: the route file, the proxy's output, whether it
    /// runs (and its workers), who listens on its port, and a direct GET (past the proxy) to
    /// each target the route file names.
    func diagnosis() async -> String {
        var out = "\(routes)\n\(log)\n\(proxy.rawValue) pid \(pid) alive: \(pid > 0 && kill(pid, 0) == 0)\n"
        out += "processes: " + processTree(of: pid).map { "\($0.pid) [\($0.commandLine)]" }.joined(separator: ", ") + "\n"
        out += "listening on \(port): " + ((try? shell("ss -Hltnp 'sport = :\(port)'").1.trimmingCharacters(in: .whitespacesAndNewlines)) ?? "?") + "\n"
        let targets = Set(routes.split(separator: "\n").compactMap { line -> Int? in
            guard let range = line.range(of: "127.0.0.1:"), !line.contains("bind") else { return nil }
            return Int(line[range.upperBound...].prefix { $0.isNumber })
        }).subtracting([port, adminPort])
        out += await directAnswers(targets.sorted())
        let started = ContinuousClock.now
        let through = await get(ProxyRoutingScenario.host, "/")
        out += "GET / through \(proxy.rawValue) -> \(through.map { "\($0.0) \($0.1.prefix(60))" } ?? "no answer") after \(ContinuousClock.now - started)\n"
        return out
    }

    /// GET through the proxy with a Host header, on loopback.
    func get(_ host: String, _ path: String = "/") async -> (Int, String)? {
        guard let (status, body) = await proxied(port: port, host: host, path: path) else { return nil }
        return (status, body.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// The bodies of the 200 replies among `n` GETs of `path` on `host`, in order.
    func replies(_ host: String, _ path: String = "/", _ n: Int) async -> [String] {
        var bodies: [String] = []
        for _ in 0..<n {
            if let (status, body) = await get(host, path), status == 200 { bodies.append(body) }
        }
        return bodies
    }

    /// `n` GETs of `path` on `host`: the bodies of the 200 replies, and what each other one got
    /// ("503 …", "no answer in 10 s") with when, so a lost request says how it was lost. The
    /// client waits 10 s: on a loaded CI machine a request through the proxy can take seconds.
    func tally(_ host: String, _ path: String = "/", _ n: Int) async -> (bodies: [String], misses: [String]) {
        var bodies: [String] = [], misses: [String] = []
        let clock = ContinuousClock(), began = clock.now
        for i in 0..<n {
            let sent = clock.now
            switch await proxied(port: port, host: host, path: path, timeout: .seconds(10)) {
            case (200, let body)?: bodies.append(body.trimmingCharacters(in: .whitespacesAndNewlines))
            case (let status, let body)?: misses.append("request \(i) at \(sent - began): \(status) \(body.prefix(80))")
            case nil: misses.append("request \(i) at \(sent - began): no answer after \(clock.now - sent)")
            }
        }
        return (bodies, misses)
    }

    /// Stops the daemon (its exit code), then the proxy (the HAProxy master takes its workers).
    @discardableResult
    func stop() async -> Int32 {
        let code = await daemon?.stop() ?? 0
        if pid > 0 {
            kill(pid, SIGTERM)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            pid = 0
        }
        return code
    }
}
