import Foundation

/// One page open in a real headless Chromium (`scripts/lib/headless-page.py`, the DevTools
/// protocol on a pipe). ``evaluate(_:)`` asks a JavaScript question about the page as it is
/// now; the page is never reloaded, so what changes between two answers came from its own live
/// updates.
final class HeadlessPage: @unchecked Sendable {
    let process = Process()
    private let input = Pipe()
    private let lock = NSLock()
    private var buffer = ""

    static var available: Bool {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium")
    }

    init(_ url: String, screenshot: String? = nil) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", TestEngine.packageRoot.appendingPathComponent("scripts/lib/headless-page.py").path, url]
            + (screenshot.map { ["--screenshot", $0] } ?? [])
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.standardError
        output.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard !data.isEmpty else { handle.readabilityHandler = nil; return }
            self?.lock.withLock { self?.buffer += String(decoding: data, as: UTF8.self) }
        }
        try process.run()
    }

    /// The expression's value (JSON-decoded), or nil after 30 s without an answer. A JavaScript
    /// exception comes back as `["error": message]`.
    func evaluate(_ expression: String) async -> Any? {
        input.fileHandleForWriting.write(Data((expression.replacingOccurrences(of: "\n", with: " ") + "\n").utf8))
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let line: String? = lock.withLock {
                guard let end = buffer.firstIndex(of: "\n") else { return nil }
                let line = String(buffer[..<end])
                buffer.removeSubrange(...end)
                return line
            }
            if let line {
                guard let answer = try? JSONSerialization.jsonObject(with: Data(line.utf8), options: [.fragmentsAllowed]) as? [String: Any] else { return nil }
                if let error = answer["error"] { return ["error": error] }
                return answer["value"] ?? NSNull()
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    /// Asks `expression` until it answers `true` or `timeout` passes.
    func waitFor(_ expression: String, timeout: Duration = .seconds(30)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if await evaluate(expression) as? Bool == true { return true }
            try? await Task.sleep(for: .milliseconds(250))
        }
        return false
    }

    /// Closes the browser (after the screenshot, if one was asked for).
    func close() async {
        try? input.fileHandleForWriting.close()
        let deadline = ContinuousClock.now + .seconds(20)
        while process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning { process.terminate() }
    }
}
