import FlotillaAgent
import FlotillaCore
import FlotillaEngine
import Foundation
import Logging
import Testing

/// The real engine the test command started (`FLOTILLA_TEST_ENGINE`, set by scripts/test).
enum TestEngine {
    static let endpoint = ProcessInfo.processInfo.environment["FLOTILLA_TEST_ENGINE"]
    static var available: Bool { endpoint != nil }
    /// Which engine the suite runs against (scripts/test sets it: podman or docker).
    static let kind = ProcessInfo.processInfo.environment["FLOTILLA_TEST_ENGINE_KIND"] ?? "podman"
    static var isPodman: Bool { kind == "podman" }
    static let image = "localhost/flotilla-test:busybox"

    /// Negotiated from `/_ping` alone, as the CLI does: Podman's `/version` reads its storage and
    /// can take seconds beside every other suite.
    static func client() async throws -> EngineClient {
        try await EngineClient.connect(candidates: [endpoint!], details: false)
    }

    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// The built binary (`FLOTILLA_TEST_BINARY` overrides, for a build in another scratch path).
    static var binary: String {
        ProcessInfo.processInfo.environment["FLOTILLA_TEST_BINARY"] ?? packageRoot.appendingPathComponent(".build/debug/flotilla").path
    }
}

/// A manifest directory in a temp folder, a project of its own, and helpers to drive and
/// inspect it. `cleanup()` removes the project's containers.
struct Scenario {
    let directory: String
    let project: String
    let engine: EngineClient
    let portRange: ClosedRange<Int>

    /// `engine`: another way to the test engine (through a fault-injecting relay, say).
    init(_ name: String, ports: ClosedRange<Int>, engine: EngineClient? = nil) async throws {
        project = "it-\(name)-\(UInt16.random(in: 0...UInt16.max))"
        directory = NSTemporaryDirectory() + project
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if let engine { self.engine = engine } else { self.engine = try await TestEngine.client() }
        portRange = ports
    }

    /// The project's state directory (a temp folder of its own).
    var stateDirectory: String { NSTemporaryDirectory() + project + "-state" }

    func write(_ file: String, _ text: String) throws {
        try text.write(toFile: directory + "/" + file, atomically: true, encoding: .utf8)
    }

    func remove(_ file: String) throws { try FileManager.default.removeItem(atPath: directory + "/" + file) }

    var reconciler: Reconciler {
        var logger = Logger(label: "test") { _ in LineLogHandler(label: "test", format: .text, level: .warning) }
        logger.logLevel = .warning
        return Reconciler(engine: engine, directory: directory, project: project,
                          options: .init(parallelism: 4, portRange: portRange, settleTime: .milliseconds(300), stateDirectory: stateDirectory),
                          allowEmpty: false, logger: logger)
    }

    /// One full reconcile, as `flotilla apply` does it.
    @discardableResult
    func apply() async throws -> ApplyReport {
        let r = reconciler
        return try await r.apply(try r.loadDesired())
    }

    func plan() async throws -> Plan {
        let r = reconciler
        let desired = try r.loadDesired()
        return r.plan(desired, observed: try await r.observe(), options: .init(rolledBack: try await r.rolledBack(for: desired)))
    }

    /// Runs the flotilla binary on this scenario's engine and project, with its directory (or
    /// `manifests`, a folder inside it).
    func cli(_ command: String, _ arguments: [String] = [], manifests: String? = nil) throws -> (Int32, String, String) {
        try runFlotilla([command] + arguments + [manifests ?? directory, "--engine", TestEngine.endpoint!, "--project", project, "--state-dir", stateDirectory,
                                                 "--port-range", "\(portRange.lowerBound)-\(portRange.upperBound)"])
    }

    /// Runs `command` inside a container (detached), e.g. to make its health endpoint fail.
    func exec(_ id: String, _ command: [String]) async throws {
        let body = try JSONSerialization.data(withJSONObject: ["Cmd": command, "AttachStdout": false, "AttachStderr": false])
        let created = try await engine.transport.send(.POST, "/v\(engine.apiVersion)/containers/\(id)/exec", body: [UInt8](body))
        let execID = try #require((try JSONSerialization.jsonObject(with: Data(created.body)) as? [String: Any])?["Id"] as? String, "\(created.status)")
        let started = try await engine.transport.send(.POST, "/v\(engine.apiVersion)/exec/\(execID)/start", body: Array(#"{"Detach":true}"#.utf8))
        #expect((200..<300).contains(started.status), "exec start: \(started.status) \(String(decoding: started.body, as: UTF8.self))")
    }

    func containers(_ service: String? = nil) async throws -> [ObservedContainer] {
        try await reconciler.observe().filter { service == nil || $0.service == service }
    }

    func cleanup() async {
        _ = try? await reconciler.down()
        try? FileManager.default.removeItem(atPath: directory)
        try? FileManager.default.removeItem(atPath: stateDirectory)
    }

    /// A busybox HTTP service on host networking that serves `body` at / (and /healthz).
    static func httpService(_ name: String, replicas: Int = 1, body: String = "v1", extra: String = "") -> String {
        """
        name: \(name)
        image: \(TestEngine.image)
        command: ["/bin/sh", "-c", "mkdir -p /w && echo \(body) > /w/index.html && echo ok > /w/healthz && exec /bin/httpd -f -p ${PORT} -h /w"]
        replicas: \(replicas)
        port: 8080
        network: host
        health: { http: /healthz, interval: 1s, timeout: 1s, retries: 5 }
        stop_timeout: 1s
        \(extra)
        """
    }
}

/// GET http://127.0.0.1:port/path, returning status and body, or nil when nothing answers.
func httpGet(port: Int, path: String = "/") async -> (Int, String)? {
    let client = HTTP1Client(target: .tcp(host: "127.0.0.1", port: port))
    guard let response = try? await client.send(.GET, path, timeout: .seconds(2)) else { return nil }
    return (response.status, String(decoding: response.body, as: UTF8.self))
}

/// Runs the built `flotilla` binary; returns exit code, stdout, stderr.
func runFlotilla(_ arguments: [String], environment: [String: String] = [:]) throws -> (Int32, String, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: TestEngine.binary)
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    process.environment = env
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // stderr is drained on another thread: a child writing more than a pipe holds to it while
    // stdout is read would otherwise block forever.
    nonisolated(unsafe) var errData = Data()
    let drained = DispatchSemaphore(value: 0)
    Thread.detachNewThread {
        errData = err.fileHandleForReading.readDataToEndOfFile()
        drained.signal()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    drained.wait()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}

/// Runs a command (podman, curl…) and returns its exit code and output.
@discardableResult
func shell(_ command: String) throws -> (Int32, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command]
    let out = Pipe()
    process.standardOutput = out
    process.standardError = out
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// Every process on the host: its parent and its command line (arguments joined by spaces), from /proc.
func processTable() -> [pid_t: (parent: pid_t, commandLine: String)] {
    var table: [pid_t: (parent: pid_t, commandLine: String)] = [:]
    for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
        guard let pid = pid_t(entry), let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { continue }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 2, let ppid = pid_t(fields[1]) else { continue }
        let line = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline").map { String(decoding: $0.map { $0 == 0 ? 32 : $0 }, as: UTF8.self) } ?? ""
        table[pid] = (ppid, line.trimmingCharacters(in: .whitespaces))
    }
    return table
}

/// `root` and its descendants (breadth first) with their command lines.
func processTree(of root: pid_t, in table: [pid_t: (parent: pid_t, commandLine: String)] = processTable()) -> [(pid: pid_t, commandLine: String)] {
    var tree = [root], frontier = [root]
    while !frontier.isEmpty {
        frontier = table.filter { frontier.contains($0.value.parent) }.map(\.key).sorted()
        tree += frontier
    }
    return tree.map { ($0, table[$0]?.commandLine ?? "gone") }
}

/// One line per port: what a direct GET to 127.0.0.1:PORT/ (past any proxy) answers.
func directAnswers(_ ports: [Int]) async -> String {
    var out = ""
    for port in ports {
        let answer = await httpGet(port: port)
        out += "direct GET 127.0.0.1:\(port)/ -> \(answer.map { "\($0.0) \($0.1.prefix(60))" } ?? "no answer")\n"
    }
    return out
}

/// Starts a long-running child with stdin on /dev/null, stdout and stderr appended to `output`
/// (or /dev/null), and `environment` over this process's; the caller ends it by PID.
func spawn(_ argv: [String], environment: [String: String] = [:], output: String? = nil) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    for fd: Int32 in [1, 2] { posix_spawn_file_actions_addopen(&actions, fd, output ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o644) }
    var pid: pid_t = 0
    let cArgs = argv.map { strdup($0) } + [nil]
    defer { for a in cArgs { free(a) } }
    let env = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { for e in env { free(e) } }
    let rc = posix_spawn(&pid, argv[0], &actions, nil, cArgs, env)
    guard rc == 0 else { throw NSError(domain: "spawn", code: Int(rc)) }
    return pid
}

/// A long-running child started with posix_spawn (Foundation's Process waits on descriptors that
/// background children inherit) and ended by its PID with `stopSignal`; restartable.
final class SpawnedProcess: @unchecked Sendable {
    let argv: [String]
    let stopSignal: Int32
    private(set) var pid: pid_t = 0

    init(_ argv: [String], stopSignal: Int32) {
        self.argv = argv
        self.stopSignal = stopSignal
    }

    func start() throws { pid = try spawn(argv) }

    func stop() {
        guard pid > 0 else { return }
        kill(pid, stopSignal)
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
        pid = 0
    }
}
