import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import FlotillaAgent

/// The proxy-hook runner on real processes: statuses and output, the whole-group kill at the
/// timeout and on cancellation (grandchildren included), never waiting on a grandchild that holds
/// the output pipe, the output cap, and what the hook inherits. Time bounds are generous: they
/// catch a hang (the hooks sleep 60 s), not a slow machine.
@Suite("Command runner")
struct CommandRunnerTests {
    typealias Result = CommandRunner.Result

    /// Runs `body` and measures it.
    func timed(_ body: () async -> Result) async -> (Result, Duration) {
        let clock = ContinuousClock()
        let start = clock.now
        let result = await body()
        return (result, clock.now - start)
    }

    /// A temp file path without spaces (command lines are split on whitespace).
    func tempPath() -> String { NSTemporaryDirectory() + "flotilla-cmd-\(UUID().uuidString.prefix(8))" }

    /// The pid a hook wrote to `path` (`echo $! > path`), waiting up to 5 s for it.
    func pid(in path: String) async throws -> pid_t {
        for _ in 0..<100 {
            if let text = try? String(contentsOfFile: path, encoding: .utf8), text.hasSuffix("\n"),
               let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                return pid
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("no pid in \(path)")
        throw CancellationError()
    }

    /// `/proc/PID/stat` as (state, process group); nil if there is no such process.
    static func stat(_ pid: pid_t) -> (state: Character, group: pid_t)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 3, let state = fields[0].first, let group = pid_t(fields[2]) else { return nil }
        return (state, group)
    }

    /// Whether `pid` is alive; a zombie waiting for its reaper (init, for an orphan) is not.
    static func isAlive(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0, let s = stat(pid) else { return false }
        return s.state != "Z"
    }

    /// The living members of a process group (kill(-group, 0) fails with ESRCH once it is empty
    /// and reaped; zombies not yet reaped by init are not counted).
    static func livingMembers(of group: pid_t) -> [pid_t] {
        if kill(-group, 0) == -1 && errno == ESRCH { return [] }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { pid_t($0) }.filter { pid in
            guard let s = stat(pid) else { return false }
            return s.group == group && s.state != "Z"
        }
    }

    /// Polls `condition` for up to 3 s (killed orphans are reaped by init, asynchronously).
    func eventually(_ condition: () -> Bool) async -> Bool {
        for _ in 0..<60 {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return condition()
    }

    /// Checks that nothing of the hook is left: its group, and the grandchild it reported.
    func expectAllDead(_ result: Result, grandchild: pid_t) async throws {
        let group = try #require(result.processGroup)
        #expect(await eventually { Self.livingMembers(of: group).isEmpty }, "process group \(group) still has \(Self.livingMembers(of: group))")
        #expect(await eventually { !Self.isAlive(grandchild) }, "grandchild \(grandchild) still alive")
    }

    @Test func succeedingCommandReturnsStatusZeroAndItsOutput() async {
        let result = await CommandRunner.run("/bin/echo hello", timeout: .seconds(20))
        #expect(result.status == 0 && result.output == "hello\n" && !result.timedOut && result.succeeded)
        // A bare name is looked up in PATH; there is no shell to expand or chain anything.
        let noShell = await CommandRunner.run("echo $HOME; rm -rf /", timeout: .seconds(20))
        #expect(noShell.succeeded && noShell.output == "$HOME; rm -rf /\n")
        // stdin is /dev/null: a hook that reads it sees EOF at once.
        let stdin = await CommandRunner.run("readlink /proc/self/fd/0", timeout: .seconds(20))
        #expect(stdin.succeeded && stdin.output == "/dev/null\n")
        let cat = await CommandRunner.run("/bin/cat", timeout: .seconds(20))
        #expect(cat.succeeded && cat.output.isEmpty)
    }

    @Test func failingCommandReturnsItsStatusAndStderr() async {
        let result = await CommandRunner.run("/bin/sh -c 'echo bad >&2; exit 3'", timeout: .seconds(20))
        #expect(result.status == 3 && result.output == "bad\n" && !result.timedOut && !result.succeeded)
        // stdout and stderr share one pipe, in order.
        let both = await CommandRunner.run("/bin/sh -c 'echo one; echo two >&2; echo three'", timeout: .seconds(20))
        #expect(both.output == "one\ntwo\nthree\n")
        // Closing its output does not end the hook: its exit does.
        let closed = await CommandRunner.run("/bin/sh -c 'echo before; exec >&- 2>&-; sleep 0.3; exit 4'", timeout: .seconds(20))
        #expect(closed.status == 4 && closed.output == "before\n" && !closed.timedOut)
        // Killed by a signal: 128 + N, like a shell.
        let killed = await CommandRunner.run("/bin/sh -c 'kill -9 $$'", timeout: .seconds(20))
        #expect(killed.status == 128 + SIGKILL && !killed.timedOut && !killed.succeeded)
    }

    @Test func hangingGrandchildIsKilledWithTheWholeGroupAtTheTimeout() async throws {
        let file = tempPath()
        defer { try? FileManager.default.removeItem(atPath: file) }
        // sh waits for a background sleep that holds the output pipe: killing only sh and then
        // reading to EOF would block for the full 60 s.
        let (result, elapsed) = await timed { await CommandRunner.run("/bin/sh -c 'echo started; sleep 60 & echo $! > \(file); wait'", timeout: .seconds(1)) }
        // Bounds are generous (the whole test suite runs at once on 2 cores); a hook that is
        // waited for through its grandchild takes the full 60 s.
        #expect(elapsed < .seconds(30), "returned after \(elapsed)")
        #expect(result.timedOut && !result.succeeded && !result.cancelled)
        #expect(result.output == "started\n")
        // SIGTERM reached them (not blocked or ignored in the hook), so no SIGKILL was needed.
        #expect(result.status == 128 + SIGTERM)
        try await expectAllDead(result, grandchild: try await pid(in: file))
    }

    @Test func groupIgnoringSIGTERMIsKilledAfterTheGrace() async throws {
        let file = tempPath()
        defer { try? FileManager.default.removeItem(atPath: file) }
        let (result, elapsed) = await timed { await CommandRunner.run("/bin/sh -c 'trap \"\" TERM; sleep 60 & echo $! > \(file); wait'", timeout: .seconds(1)) }
        #expect(elapsed < .seconds(30), "returned after \(elapsed)")
        #expect(result.timedOut && result.status == 128 + SIGKILL)
        try await expectAllDead(result, grandchild: try await pid(in: file))
    }

    @Test func hookThatExitedIsNotWaitedForThroughABackgroundGrandchild() async throws {
        let file = tempPath()
        defer { try? FileManager.default.removeItem(atPath: file) }
        // sh exits at once, but its background sleep keeps the pipe open for 60 s.
        let (result, elapsed) = await timed { await CommandRunner.run("/bin/sh -c 'sleep 60 & echo $! > \(file); echo done'", timeout: .seconds(30)) }
        #expect(elapsed < .seconds(30), "returned after \(elapsed)")
        #expect(result.succeeded && result.output == "done\n")
        // What it leaves behind after a normal exit is its own business: clean up here. The
        // sleep still holds the group id, so the group kill cannot hit anyone else.
        let grandchild = try await pid(in: file)
        if let group = result.processGroup { kill(-group, SIGKILL) } else { kill(grandchild, SIGKILL) }
    }

    @Test func cancellingTheTaskKillsTheWholeGroupAtOnce() async throws {
        let file = tempPath()
        defer { try? FileManager.default.removeItem(atPath: file) }
        let task = Task { await CommandRunner.run("/bin/sh -c 'sleep 60 & echo $! > \(file); wait'", timeout: .seconds(60)) }
        let grandchild = try await pid(in: file)
        let (result, elapsed) = await timed {
            task.cancel()
            return await task.value
        }
        #expect(elapsed < .seconds(30), "returned after \(elapsed)")
        #expect(result.timedOut && result.cancelled && !result.succeeded)
        try await expectAllDead(result, grandchild: grandchild)
        // Already cancelled: nothing is started.
        let early = await Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await CommandRunner.run("/bin/echo never", timeout: .seconds(20))
        }.value
        #expect(early.status == 125 && early.timedOut && early.cancelled && early.processGroup == nil)
    }

    @Test func runningHooksLeaveTheCooperativePoolFree() async {
        // Many more hooks than cores, all blocked in a wait: if those waits sat on the
        // cooperative pool (or on DispatchQueue.global(), which shares its threads on Linux and
        // only adds one about every second when they block), nothing else would run for
        // seconds, not even this task's sleep.
        // 40 more than cores: blocked waits would hold the pool for ~40 s; the bound below allows
        // for other suites blocking it meanwhile (the whole test suite runs at once).
        let count = ProcessInfo.processInfo.activeProcessorCount + 40
        let hooks = Task {
            await withTaskGroup(of: Result.self) { group in
                for _ in 0..<count { group.addTask { await CommandRunner.run("/bin/sleep 30", timeout: .seconds(30)) } }
                return await group.reduce(into: [Result]()) { $0.append($1) }
            }
        }
        let clock = ContinuousClock()
        let start = clock.now
        try? await Task.sleep(for: .milliseconds(500))
        let slept = clock.now - start
        hooks.cancel()
        let results = await hooks.value
        #expect(slept < .seconds(20), "a 500 ms sleep took \(slept)")
        #expect(results.count == count && results.allSatisfy { $0.cancelled && !$0.succeeded })
    }

    @Test func missingProgramGives127AndAMessage() async {
        let byName = await CommandRunner.run("flotilla-no-such-program --flag", timeout: .seconds(20))
        #expect(byName.status == 127 && !byName.succeeded && byName.output.contains("flotilla-no-such-program"))
        let byPath = await CommandRunner.run("/nonexistent/validator", timeout: .seconds(20))
        #expect(byPath.status == 127 && byPath.output.contains("/nonexistent/validator") && byPath.output.contains("No such file"))
        let empty = await CommandRunner.run("   ", timeout: .seconds(20))
        #expect(empty.status == 127 && !empty.succeeded)
        // Present but not executable: 126, like a shell.
        let notExecutable = await CommandRunner.run("/etc/passwd", timeout: .seconds(20))
        #expect(notExecutable.status == 126 && notExecutable.output.contains("/etc/passwd"))
    }

    @Test func outputKeepsOnlyItsTail() async {
        let result = await CommandRunner.run("/bin/sh -c 'yes | head -c 1000000; echo END'", timeout: .seconds(20))
        #expect(result.succeeded)
        #expect(result.output.utf8.count <= CommandRunner.outputLimit + 100)
        #expect(result.output.hasSuffix("y\ny\nEND\n"))
        #expect(result.output.hasPrefix("[… "))
    }

    @Test func hookStartsWithDefaultSignalsAndOnlyTheStandardDescriptors() async {
        // The daemon ignores SIGTERM and Dispatch threads block most signals; neither may reach
        // the hook (ignored and blocked signals survive exec). SIGUSR2 stands in for SIGTERM here
        // so that no other test's process is affected while it is ignored.
        let previous = signal(SIGUSR2, SIG_IGN)
        let fd = open("/dev/null", O_RDONLY)  // no O_CLOEXEC: must not leak into the hook
        let signals = await CommandRunner.run("/bin/grep -E ^Sig(Blk|Ign): /proc/self/status", timeout: .seconds(20))
        let fds = await CommandRunner.run("/bin/ls /proc/self/fd", timeout: .seconds(20))
        close(fd)
        signal(SIGUSR2, previous)
        // Masks as hex; bits 0-30 are signals 1-31. (glibc's posix_spawn itself leaves its
        // internal signals 32 and 33 ignored: not ours to check.)
        let masks = Dictionary(uniqueKeysWithValues: signals.output.split(separator: "\n").compactMap { line -> (String, UInt64)? in
            let parts = line.split(separator: ":")
            guard parts.count == 2, let mask = UInt64(parts[1].trimmingCharacters(in: .whitespaces), radix: 16) else { return nil }
            return (String(parts[0]), mask)
        })
        #expect(masks["SigBlk"] == 0, "\(signals.output)")
        #expect(masks["SigIgn"].map { $0 & 0x7fff_ffff } == 0, "\(signals.output)")
        // ls itself has its listing open as fd 3.
        #expect(fds.output.split(separator: "\n").allSatisfy { ["0", "1", "2", "3"].contains($0) }, "\(fds.output)")
    }

    @Test func splitGroupsQuotesAndSeparatesOnWhitespace() {
        #expect(CommandRunner.split("nginx -t -c '/etc/my nginx.conf' -g \"daemon off;\"") == ["nginx", "-t", "-c", "/etc/my nginx.conf", "-g", "daemon off;"])
        #expect(CommandRunner.split("  nginx \t -s\nreload  ") == ["nginx", "-s", "reload"])
        #expect(CommandRunner.split("a'b c'd \"it's\"") == ["ab cd", "it's"])
        #expect(CommandRunner.split("x '' \"\"") == ["x", "", ""])
        #expect(CommandRunner.split("echo $HOME; rm -rf /") == ["echo", "$HOME;", "rm", "-rf", "/"])
        #expect(CommandRunner.split("").isEmpty && CommandRunner.split("   ").isEmpty)
    }
}
