import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Keeps the input being run where a crash or a hang can still save it: a Swift trap (SIGILL,
/// SIGTRAP), a bad access (SIGSEGV, SIGBUS) or an abort writes it to `crash-…` from the signal
/// handler (open/write/close only), then the previous handler runs (Swift's backtrace); a
/// watchdog thread writes an input that has run longer than the hang limit to `hang-…` and stops
/// the process. Either file replays with `FLOTILLA_FUZZ_REPLAY=FILE`.
final class FuzzGuard: @unchecked Sendable {
    static let capacity = 1 << 20
    /// Read by the signal handler, which can reach globals only. One run at a time (the fuzz
    /// suite is serialized).
    nonisolated(unsafe) static var buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
    nonisolated(unsafe) static var length = 0
    nonisolated(unsafe) static var crashPath: UnsafeMutablePointer<CChar>?
    /// The handlers before ours, by signal number (a dictionary is no place for a signal handler).
    nonisolated(unsafe) static var previous = UnsafeMutablePointer<sigaction>.allocate(capacity: 64)
    nonisolated(unsafe) static var installed = false
    static let signals = [SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGABRT, SIGFPE]

    let lock = NSLock()
    let hangLimit: Duration
    let findings: String
    var label = ""
    var started: ContinuousClock.Instant?
    var stopped = false

    init(findings: String, hangLimit: Duration) {
        self.findings = findings
        self.hangLimit = hangLimit
        try? FileManager.default.createDirectory(atPath: findings, withIntermediateDirectories: true)
        Self.install()
        // The handler needs a stack of its own when the crash is a stack overflow (per thread:
        // the one that runs the inputs).
        var stack = stack_t()
        stack.ss_sp = UnsafeMutableRawPointer.allocate(byteCount: 1 << 16, alignment: 16)
        stack.ss_size = 1 << 16
        sigaltstack(&stack, nil)
        let watchdog = Thread { [self] in watch() }
        watchdog.start()
    }

    /// Before each input: where it goes if it crashes (`label` names the target, seed and index).
    func begin(_ bytes: [UInt8], label: String) {
        lock.lock()
        defer { lock.unlock() }
        let n = min(bytes.count, Self.capacity)
        bytes.withUnsafeBufferPointer { Self.buffer.update(from: $0.baseAddress!, count: n) }
        Self.length = n
        free(Self.crashPath)
        Self.crashPath = strdup(findings + "/crash-" + label + ".yaml")
        self.label = label
        started = .now
    }

    func end() {
        lock.lock()
        started = nil
        lock.unlock()
    }

    /// After the run: a crash elsewhere in the process is not this run's input.
    func stop() {
        lock.lock()
        stopped = true
        started = nil
        free(Self.crashPath)
        Self.crashPath = nil
        lock.unlock()
    }

    private func watch() {
        while true {
            Thread.sleep(forTimeInterval: 0.25)
            lock.lock()
            if stopped { lock.unlock(); return }
            if let started, ContinuousClock.now - started > hangLimit {
                let path = findings + "/hang-" + label + ".yaml"
                _ = FileManager.default.createFile(atPath: path, contents: Data(UnsafeBufferPointer(start: Self.buffer, count: Self.length)))
                FileHandle.standardError.write(Data("fuzz: HANG: one input ran over \(hangLimit); saved to \(path)\n".utf8))
                lock.unlock()
                abort()
            }
            lock.unlock()
        }
    }

    private static func install() {
        guard !installed else { return }
        installed = true
        for signal in signals {
            var action = sigaction(), old = sigaction()
            action.__sigaction_handler.sa_handler = { signal in
                if let path = FuzzGuard.crashPath {
                    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
                    if fd >= 0 {
                        _ = write(fd, FuzzGuard.buffer, FuzzGuard.length)
                        close(fd)
                    }
                }
                sigaction(signal, FuzzGuard.previous + Int(signal), nil)
                raise(signal)
            }
            action.sa_flags = Int32(SA_ONSTACK)
            sigaction(signal, &action, &old)
            previous[Int(signal)] = old
        }
    }
}
