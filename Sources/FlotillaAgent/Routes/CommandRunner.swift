import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs a proxy hook (`nginx -t -c …`, `nginx -s reload`) without a shell, with a timeout.
///
/// Contract: the hook runs in its own process group (stdin `/dev/null`, stdout and stderr in one
/// pipe); at the timeout the whole group gets SIGTERM, then SIGKILL after a 1 s grace, and on
/// task cancellation SIGKILL at once (`timedOut` is true in both cases). Output is never awaited
/// from grandchildren: reading stops when the hook itself has exited, so ``run(_:timeout:)``
/// returns within about `timeout` + 2 s whatever the hook does. What a hook leaves running after
/// a normal exit is not killed (nor is anything that moved to another group or session).
public enum CommandRunner {
    public struct Result: Sendable {
        /// The exit status; 128 + N when the hook was killed by signal N (shell convention: usually
        /// 143 or 137 after a timeout, 137 after cancellation); 126/127 when it could not be
        /// started (not executable / not found); 125 when the task was already cancelled and
        /// nothing was started.
        public var status: Int32
        /// stdout and stderr interleaved, at most the last ``outputLimit`` bytes (a marker line
        /// says how much was dropped before them).
        public var output: String
        /// The hook did not finish: it hit the timeout, or the calling task was cancelled.
        public var timedOut: Bool
        public var succeeded: Bool { status == 0 && !timedOut }
        /// The hook's process group (its pid), nil when nothing was started.
        var processGroup: pid_t? = nil
        /// The calling task was cancelled (then ``timedOut`` is true too).
        var cancelled = false
    }

    /// How much output is kept (the tail).
    static let outputLimit = 64 * 1024
    /// Between SIGTERM and SIGKILL at the timeout.
    static let killGrace = Duration.seconds(1)

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

    /// Runs `commandLine` (split by ``split(_:)``; a program name without `/` is looked up in
    /// PATH) in its own process group; see ``CommandRunner`` for the timeout and cancellation
    /// contract.
    public static func run(_ commandLine: String, timeout: Duration = .seconds(30)) async -> Result {
        await run(arguments: split(commandLine), timeout: timeout)
    }

    /// Runs `args` (already split: each one is passed as is) like ``run(_:timeout:)``.
    public static func run(arguments args: [String], timeout: Duration = .seconds(30)) async -> Result {
        guard !args.isEmpty else { return Result(status: 127, output: "empty command", timedOut: false) }
        let control = Control()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                // Spawning, polling and reaping block a thread: one of its own. Not the cooperative
                // pool, and not DispatchQueue.global() either: on Linux that shares its
                // CPU-count threads with the cooperative pool.
                Thread {
                    continuation.resume(returning: execute(args, timeout: timeout, control: control))
                }.start()
            }
        } onCancel: {
            control.cancel()
        }
    }

    // MARK: - Internals

    /// Shared between the supervising thread and the cancellation handler. Signals go to the
    /// group only while its leader is unreaped: until then its pid (= the group id) cannot be
    /// reused, so a late kill can never hit an unrelated process group.
    final class Control: @unchecked Sendable {
        private let lock = NSLock()
        private var cancelled = false
        private var group: pid_t = 0

        var isCancelled: Bool { lock.withLock { cancelled } }

        func cancel() {
            lock.withLock {
                cancelled = true
                if group > 0 { _ = kill(-group, SIGKILL) }
            }
        }

        func started(_ pid: pid_t) {
            lock.withLock {
                group = pid
                if cancelled { _ = kill(-pid, SIGKILL) }
            }
        }

        func signalGroup(_ signal: Int32) {
            lock.withLock { if group > 0 { _ = kill(-group, signal) } }
        }

        /// Reaps the leader, which must have exited; returns its raw wait status.
        func reap(_ pid: pid_t) -> Int32? {
            lock.withLock {
                group = 0
                var raw: Int32 = 0
                while true {
                    let r = waitpid(pid, &raw, 0)
                    if r == pid { return raw }
                    if r == -1 && errno == EINTR { continue }
                    return nil
                }
            }
        }
    }

    /// Starts the hook and supervises it to the end. Blocks: runs on a thread of its own.
    static func execute(_ args: [String], timeout: Duration, control: Control) -> Result {
        if control.isCancelled {
            return Result(status: 125, output: "cancelled before start", timedOut: true, cancelled: true)
        }
        let program = args[0]
        guard let (readFD, writeFD) = makePipe() else {
            return Result(status: 127, output: "cannot run \(program): pipe: \(errnoText())", timedOut: false)
        }
        var pid: pid_t = 0
        let spawnError = spawn(args, stdoutFD: writeFD, pid: &pid)
        close(writeFD)
        if spawnError != 0 {
            close(readFD)
            let status: Int32 = spawnError == EACCES || spawnError == ENOEXEC || spawnError == EISDIR ? 126 : 127
            return Result(status: status, output: "cannot run \(program): \(String(cString: strerror(spawnError)))", timedOut: false)
        }
        control.started(pid)
        var reader = PipeReader(fd: readFD)
        defer { close(readFD) }

        let clock = AgentClock()
        let deadline = clock.now.advanced(by: timeout)
        var exited = false, timedOut = false, cancelled = false

        // Until the hook exits, the deadline passes or the task is cancelled.
        var idle = Duration.milliseconds(1)
        while true {
            if control.isCancelled { cancelled = true; break }
            if leaderExited(pid) { exited = true; break }
            let now = clock.now
            if now >= deadline { timedOut = true; break }
            if reader.eof {
                // Output closed but the hook still runs: check back soon, then less often.
                sleep(for: min(deadline - now, idle))
                idle = min(idle * 2, .milliseconds(50))
            } else {
                reader.pump(waitingAtMost: min(deadline - now, .milliseconds(50)))
            }
        }

        if timedOut || cancelled {
            if !cancelled {
                // Politely first: the whole group, then SIGKILL after the grace or once the hook
                // exited and its output closed.
                control.signalGroup(SIGTERM)
                let graceEnd = clock.now.advanced(by: killGrace)
                while !control.isCancelled {
                    if !exited { exited = leaderExited(pid) }
                    let now = clock.now
                    if (exited && reader.eof) || now >= graceEnd { break }
                    if reader.eof { sleep(for: min(graceEnd - now, .milliseconds(10))) } else { reader.pump(waitingAtMost: min(graceEnd - now, .milliseconds(50))) }
                }
                if control.isCancelled { cancelled = true }
            }
            // Whatever is left of the group (a no-op on the leader if it is already a zombie).
            control.signalGroup(SIGKILL)
            let killEnd = clock.now.advanced(by: .milliseconds(500))
            while !exited {
                exited = leaderExited(pid)
                if exited || clock.now >= killEnd { break }
                if reader.eof { sleep(for: .milliseconds(5)) } else { reader.pump(waitingAtMost: .milliseconds(10)) }
            }
        }
        // Whatever the hook wrote is in the pipe by now; take what is there without waiting for
        // anyone else who still holds it open.
        reader.drain(for: .milliseconds(100))

        let status: Int32
        if exited {
            // -1: someone else reaped it (only if the process sets SIGCHLD to SIG_IGN or reaps -1).
            status = control.reap(pid).map(decode) ?? -1
        } else {
            // SIGKILLed but still not gone (stuck in the kernel): reap it whenever it goes.
            status = 128 + SIGKILL
            Thread { [pid] in
                var info = siginfo_t()
                while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) == -1 && errno == EINTR {}
                _ = control.reap(pid)
            }.start()
        }
        return Result(status: status, output: reader.text, timedOut: timedOut || cancelled, processGroup: pid, cancelled: cancelled)
    }

    /// The pipe for stdout and stderr, both ends close-on-exec (so no other child the daemon
    /// spawns inherits it) and at least 3 (so the child's dup2 onto 0-2 cannot clobber them);
    /// the read end is non-blocking.
    static func makePipe() -> (read: Int32, write: Int32)? {
        var fds: [Int32] = [-1, -1]
        if let pipe2 = GNU.pipe2 {
            guard pipe2(&fds, O_CLOEXEC) == 0 else { return nil }
        } else {
            // Not atomic: a concurrent fork could inherit the pipe until the flags are set.
            guard pipe(&fds) == 0 else { return nil }
            for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        }
        for i in 0..<2 where fds[i] < 3 {
            let moved = fcntl(fds[i], F_DUPFD_CLOEXEC, 3)
            if moved < 0 { close(fds[0]); close(fds[1]); return nil }
            close(fds[i])
            fds[i] = moved
        }
        _ = fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK)
        return (fds[0], fds[1])
    }

    /// posix_spawnp into a new process group with default signal dispositions and an empty mask
    /// (the daemon ignores SIGTERM itself, and ignored signals survive exec), stdin `/dev/null`,
    /// stdout and stderr `stdoutFD`, no other descriptors. Returns 0 or an errno.
    static func spawn(_ args: [String], stdoutFD: Int32, pid: inout pid_t) -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, stdoutFD, 1)
        posix_spawn_file_actions_adddup2(&actions, stdoutFD, 2)
        if let closeFrom = GNU.addCloseFrom { _ = closeFrom(&actions, 3) }

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attr, 0)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attr, &mask)
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigdefault(&attr, &defaults)

        let argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        let envp: [UnsafeMutablePointer<CChar>?] = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in envp { free(p) } }
        return argv.withUnsafeBufferPointer { argvBuffer in
            envp.withUnsafeBufferPointer { envpBuffer in
                posix_spawnp(&pid, args[0], &actions, &attr, argvBuffer.baseAddress!, envpBuffer.baseAddress!)
            }
        }
    }

    /// Whether the leader has exited, without reaping it (WNOWAIT keeps its pid, and so the
    /// group id, reserved until ``Control/reap(_:)``).
    static func leaderExited(_ pid: pid_t) -> Bool {
        while true {
            var info = siginfo_t()
            if waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 { return info.si_signo == SIGCHLD }
            if errno != EINTR { return true }  // ECHILD: gone already
        }
    }

    /// A raw wait status as a shell would report it.
    static func decode(_ raw: Int32) -> Int32 {
        let signal = raw & 0x7f
        return signal == 0 ? (raw >> 8) & 0xff : 128 + signal
    }

    static func sleep(for duration: Duration) {
        let micros = max(0, duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000)
        usleep(UInt32(clamping: micros))
    }

    /// glibc functions Swift's Glibc module does not show (its headers declare them only under
    /// _GNU_SOURCE), looked up at run time; nil if this libc lacks them.
    enum GNU {
        typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>?, Int32) -> Int32
        typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
        static let pipe2: Pipe2? = symbol("pipe2")
        /// glibc ≥ 2.34: close every descriptor from N up in the child, so a hook inherits none
        /// the daemon (or a library) opened without close-on-exec.
        static let addCloseFrom: AddCloseFrom? = symbol("posix_spawn_file_actions_addclosefrom_np")

        private static func symbol<F>(_ name: String) -> F? {
            guard let handle = dlopen(nil, RTLD_NOW), let address = dlsym(handle, name) else { return nil }
            return unsafeBitCast(address, to: F.self)
        }
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }

    /// The non-blocking read end of the output pipe, keeping the last ``outputLimit`` bytes.
    struct PipeReader {
        let fd: Int32
        private(set) var eof = false
        private var kept: [UInt8] = []
        private var dropped = 0
        private var buffer = [UInt8](repeating: 0, count: 16 * 1024)

        init(fd: Int32) { self.fd = fd }

        /// Waits up to `wait` for output and reads what is there (at most 256 KiB at a time, so
        /// the caller gets back to its deadline checks).
        mutating func pump(waitingAtMost wait: Duration) {
            guard !eof else { return }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let (s, a) = wait.components
            let ms = Int32(clamping: max(0, s * 1000 + (a + 999_999_999_999_999) / 1_000_000_000_000_000))
            if poll(&pfd, 1, ms) > 0 { readAvailable(upTo: 256 * 1024) }
        }

        /// Reads what is in the pipe right now, for at most `budget` (a grandchild may keep
        /// writing forever).
        mutating func drain(for budget: Duration) {
            let clock = AgentClock()
            let end = clock.now.advanced(by: budget)
            while !eof && clock.now < end {
                if readAvailable(upTo: 256 * 1024) == 0 { return }
            }
        }

        /// Reads until the pipe is empty, closed, or `limit` bytes were read; returns the count.
        @discardableResult
        mutating func readAvailable(upTo limit: Int) -> Int {
            var total = 0
            while total < limit {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    append(n)
                    total += n
                } else if n == 0 {
                    eof = true
                    break
                } else if errno == EINTR {
                    continue
                } else {
                    if errno != EAGAIN && errno != EWOULDBLOCK { eof = true }
                    break
                }
            }
            return total
        }

        private mutating func append(_ count: Int) {
            kept.append(contentsOf: buffer[0..<count])
            if kept.count > 2 * CommandRunner.outputLimit {
                let excess = kept.count - CommandRunner.outputLimit
                kept.removeFirst(excess)
                dropped += excess
            }
        }

        var text: String {
            let tail = kept.suffix(CommandRunner.outputLimit)
            let skipped = dropped + kept.count - tail.count
            let marker = skipped > 0 ? "[… \(skipped) earlier bytes of output dropped]\n" : ""
            return marker + String(decoding: tail, as: UTF8.self)
        }
    }
}
