import Foundation

/// A real nginx on loopback serving the route file that a `flotilla run` child keeps up to
/// date: what the end-to-end tests start, each in its own folder, and stop by PID.
final class NginxStack: @unchecked Sendable {
    let scenario: Scenario
    let manifests: String
    let proxyDir: String
    let port: Int
    /// The running daemon (after ``start()``).
    private(set) var daemon: DaemonProcess!
    private var nginx: pid_t = 0

    init(_ scenario: Scenario) async throws {
        self.scenario = scenario
        proxyDir = scenario.directory + "/proxy"
        manifests = scenario.directory + "/manifests"
        for dir in [proxyDir, manifests] { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        try "".write(toFile: proxyDir + "/routes.conf", atomically: true, encoding: .utf8)
        try NginxHarness.mainConfig(dir: proxyDir).write(toFile: proxyDir + "/nginx.conf", atomically: true, encoding: .utf8)
        port = NginxStack.nextPort()
    }

    /// A listen port no other stack of this test process uses (a random pick collided once when
    /// suites ran in parallel: nginx could not bind and the test saw no replies).
    private static let ports = NSLock()
    nonisolated(unsafe) private static var next = 18_000 + Int.random(in: 0..<500)
    /// A port nothing listens on yet (a proxy a crashed test left behind may hold one).
    static func nextPort() -> Int {
        while true {
            let port = ports.withLock {
                next += 1
                return next
            }
            if !tcpAccepts(port: port) { return port }
        }
    }

    /// Starts nginx, then the daemon.
    func start() throws {
        try startProxy()
        try startDaemon()
    }

    /// Starts nginx alone (for `flotilla apply` with ``routeArguments``). It listens on ``port``
    /// once Flotilla's first route file names it (a failing bind then shows in ``diagnosis()``).
    func startProxy() throws {
        nginx = try spawn(["/usr/sbin/nginx", "-p", proxyDir, "-c", proxyDir + "/nginx.conf", "-g", "daemon off;"])
    }

    /// What a failing end-to-end check prints: the route file, nginx's error log, whether nginx
    /// runs, and a direct GET (past nginx) to each upstream the route file names.
    func diagnosis() async -> String {
        var out = "routes.conf:\n\(routes)\n\(errorLog)\nnginx pid \(nginx) alive: \(nginx > 0 && kill(nginx, 0) == 0)\n"
        out += await directAnswers(Self.upstreamPorts(routes).sorted())
        let through = await get("probe.invalid")
        out += "GET through nginx (unknown host) -> \(through.map { "\($0.0)" } ?? "no answer")\n"
        return out
    }

    /// The route options of the daemon, for `apply`: the file, its format, check and reload.
    var routeArguments: [String] {
        let nginxArgs = "-p \(proxyDir) -c \(proxyDir)/nginx.conf"
        return ["--routes", proxyDir + "/routes.conf", "--routes-format", "nginx", "--proxy-listen", "127.0.0.1:\(port)",
                "--routes-check", "nginx -t -q \(nginxArgs)", "--routes-reload", "nginx -s reload \(nginxArgs)"]
    }

    var daemonArguments: [String] {
        let nginxArgs = "-p \(proxyDir) -c \(proxyDir)/nginx.conf"
        let range = scenario.portRange
        return [manifests, "--engine", scenario.engine.endpoint, "--project", scenario.project, "--state-dir", scenario.stateDirectory, "--port-range", "\(range.lowerBound)-\(range.upperBound)",
                "--resync-interval", "10m", "--routes", proxyDir + "/routes.conf", "--routes-format", "nginx", "--proxy-listen", "127.0.0.1:\(port)",
                "--routes-check", "nginx -t -q \(nginxArgs)", "--routes-reload", "nginx -s reload \(nginxArgs)"]
    }

    func startDaemon() throws { daemon = try DaemonProcess(daemonArguments) }

    func write(_ file: String, _ text: String) throws {
        try text.write(toFile: manifests + "/" + file, atomically: true, encoding: .utf8)
    }

    var routes: String { (try? String(contentsOfFile: proxyDir + "/routes.conf", encoding: .utf8)) ?? "" }

    /// The ports of the `server 127.0.0.1:PORT` lines of an nginx route file's upstreams.
    static func upstreamPorts(_ routes: String) -> Set<Int> {
        Set(routes.split(separator: "\n").compactMap { line -> Int? in
            guard let range = line.range(of: "server 127.0.0.1:") else { return nil }
            return Int(line[range.upperBound...].prefix { $0.isNumber })
        })
    }

    /// The last lines of nginx's error log (warnings and errors), for failure messages.
    var errorLog: String {
        let text = (try? String(contentsOfFile: proxyDir + "/error.log", encoding: .utf8)) ?? ""
        return "nginx error.log (last 30 lines):\n" + text.split(separator: "\n").suffix(30).joined(separator: "\n")
    }

    /// GET through nginx with a Host header.
    func get(_ host: String, _ path: String = "/", timeout: Duration = .seconds(3)) async -> (Int, String)? {
        await proxied(port: port, host: host, path: path, timeout: timeout)
    }

    /// The bodies (trimmed) of the 200 replies among `n` GETs of `/` on `host`, in order.
    func replies(_ host: String, _ n: Int) async -> [String] {
        var bodies: [String] = []
        for _ in 0..<n {
            if let (status, body) = await get(host), status == 200 { bodies.append(body.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        return bodies
    }

    /// Whether nginx's last reload is over: `nginx -s reload` only signals the master, and a worker
    /// of the previous configuration accepts connections until it has handled its own signal
    /// (it then renames itself "is shutting down" and closes its listeners). Ask after a reply
    /// from the new configuration has been seen: the master has then started the new worker.
    var reloadSettled: Bool {
        processTree(of: nginx).dropFirst().filter { $0.commandLine == "nginx: worker process" }.count == 1
    }

    /// Stops the daemon (its exit code) and nginx.
    @discardableResult
    func stop() async -> Int32 {
        let code = await daemon?.stop() ?? 0
        if nginx > 0 {
            kill(nginx, SIGTERM)
            var status: Int32 = 0
            waitpid(nginx, &status, 0)
            nginx = 0
        }
        return code
    }
}

