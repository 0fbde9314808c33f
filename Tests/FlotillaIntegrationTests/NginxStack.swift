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
    static func nextPort() -> Int {
        ports.withLock {
            next += 1
            return next
        }
    }

    /// Starts nginx, then the daemon.
    func start() throws {
        try startProxy()
        try startDaemon()
    }

    /// Starts nginx alone (for `flotilla apply` with ``routeArguments``).
    func startProxy() throws {
        nginx = try spawn(["/usr/sbin/nginx", "-p", proxyDir, "-c", proxyDir + "/nginx.conf", "-g", "daemon off;"])
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

    /// GET through nginx with a Host header.
    func get(_ host: String, _ path: String = "/") async -> (Int, String)? { await proxied(port: port, host: host, path: path) }

    /// The bodies (trimmed) of the 200 replies among `n` GETs of `/` on `host`, in order.
    func replies(_ host: String, _ n: Int) async -> [String] {
        var bodies: [String] = []
        for _ in 0..<n {
            if let (status, body) = await get(host), status == 200 { bodies.append(body.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        return bodies
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
