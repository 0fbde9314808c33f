import Foundation

/// A started process handed to the Dispatch thread that waits for it (and to nothing else).
private final class ProcessBox: @unchecked Sendable {
    let process: Process
    let pipe: Pipe
    init(process: Process, pipe: Pipe) {
        self.process = process
        self.pipe = pipe
    }
}

/// Runs a proxy hook (`nginx -t -c …`, `nginx -s reload`) without a shell, with a timeout.
public enum CommandRunner {
    public struct Result: Sendable {
        public var status: Int32
        public var output: String
        public var timedOut: Bool
        public var succeeded: Bool { status == 0 && !timedOut }
    }

    /// Splits a command line into arguments: whitespace separates, single and double quotes group.
    /// No variables, globs, pipes or redirections: there is no shell.
    public static func split(_ line: String) -> [String] {
        var args: [String] = [], current = "", quote: Character?, hasToken = false
        for c in line {
            if let q = quote {
                if c == q { quote = nil } else { current.append(c) }
            } else if c == "\"" || c == "'" {
                quote = c
                hasToken = true
            } else if c.isWhitespace {
                if hasToken { args.append(current); current = ""; hasToken = false }
            } else {
                current.append(c)
                hasToken = true
            }
        }
        if hasToken { args.append(current) }
        return args
    }

    public static func run(_ commandLine: String, timeout: Duration = .seconds(30)) async -> Result {
        let args = split(commandLine)
        guard let program = args.first else { return Result(status: 127, output: "empty command", timedOut: false) }
        let process = Process()
        if program.contains("/") {
            process.executableURL = URL(fileURLWithPath: program)
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        }
        process.arguments = program.contains("/") ? Array(args.dropFirst()) : args
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            return Result(status: 127, output: "cannot run \(program): \(error)", timedOut: false)
        }
        // Reading and waiting block a thread: do it on a Dispatch thread, not on the (small)
        // cooperative pool, and enforce the timeout from Dispatch too, so a busy pool cannot
        // delay it.
        let box = ProcessBox(process: process, pipe: pipe)
        let seconds = timeout.fractionalSeconds
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                let pid = box.process.processIdentifier
                let timer = DispatchWorkItem { kill(pid, SIGKILL) }
                DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: timer)
                let output = box.pipe.fileHandleForReading.readDataToEndOfFile()
                box.process.waitUntilExit()
                timer.cancel()
                let timedOut = box.process.terminationReason == .uncaughtSignal && box.process.terminationStatus == SIGKILL
                continuation.resume(returning: Result(status: box.process.terminationStatus, output: String(decoding: output, as: UTF8.self), timedOut: timedOut))
            }
        }
    }
}
