import Foundation

/// `flotilla run` as a child process, its stderr collected line by line.
final class DaemonProcess: @unchecked Sendable {
    let process = Process()
    private let lock = NSLock()
    private var buffer = ""

    init(_ arguments: [String], environment: [String: String] = [:]) throws {
        process.executableURL = URL(fileURLWithPath: TestEngine.binary)
        process.arguments = ["run"] + arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        err.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard !data.isEmpty else { handle.readabilityHandler = nil; return }
            self?.lock.withLock { self?.buffer += String(decoding: data, as: UTF8.self) }
        }
        try process.run()
    }

    var log: String { lock.withLock { buffer } }
    var lines: [String] { log.split(separator: "\n").map(String.init) }
    func count(_ needle: String) -> Int { lines.filter { $0.contains(needle) }.count }

    /// Polls `condition` until it holds or `timeout` passes; returns whether it held. An error
    /// while polling (the engine's API dropping one request on loaded cores: "engine error 0")
    /// counts as "not yet"; only the last attempt's error is thrown.
    @discardableResult
    func waitUntil(timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async rethrows -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            do {
                if try await condition() { return true }
            } catch {
                // not yet: try again until the deadline
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return try await condition()
    }

    /// SIGTERM, then the exit code.
    func stop() async -> Int32 {
        if process.isRunning { process.terminate() }
        let deadline = ContinuousClock.now + .seconds(30)
        while process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return process.terminationStatus
    }
}
