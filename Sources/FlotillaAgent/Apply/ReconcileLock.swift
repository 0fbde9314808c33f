import Dispatch
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// One changer at a time per project on this host, across processes: `apply`, `promote`,
/// `rollback` and `down` take it exclusively for their whole run; each step of `flotilla run`
/// takes it shared and without waiting (a step that finds it held is requeued), so the daemon's
/// services still reconcile concurrently, a `promote` typed while the daemon runs never races
/// it, and the daemon never blocks on a CLI command.
///
/// An advisory `flock(2)` on `/run/flotilla/<project>.lock` (or the temp folder when /run is
/// not writable): the kernel releases it when the process dies, so a crash leaves no stale lock.
public struct ReconcileLock: Sendable {
    public let path: String

    public init(project: String, directory: String? = nil) {
        let folder = directory ?? Self.defaultDirectory()
        path = folder + "/flotilla-" + project + ".lock"
    }

    /// Takes the lock shared, if no one holds it exclusively: the descriptor to ``release(_:)``,
    /// or nil when it is held, or when the lock file cannot be opened (a symlink planted there,
    /// a folder made read-only): then nothing may run unlocked, as ``withLock`` refuses too.
    public func trySharedLock() -> Int32? {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { return nil }
        guard flock(fd, LOCK_SH | LOCK_NB) == 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    public func release(_ fd: Int32) {
        if fd >= 0 { close(fd) }
    }

    /// How many times a CLI command has let go of the project (read from the lock file, which
    /// every exclusive holder bumps as it lets go): the daemon, seeing it change, knows another
    /// process may have changed the project, and trusts none of its earlier observations.
    /// Nil when it cannot be read.
    public static func generation(_ fd: Int32) -> UInt64? {
        guard fd >= 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 24)
        let count = pread(fd, &buffer, buffer.count, 0)
        guard count >= 0 else { return nil }
        return UInt64(String(decoding: buffer.prefix(count), as: UTF8.self)) ?? 0
    }

    /// ``generation(_:)`` now, without taking the lock. No lock file yet: no command has let go
    /// of the project, generation 0 (not "unknown": the first command's bump must be noticed).
    public func currentGeneration() -> UInt64? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        if fd < 0 && errno == ENOENT { return 0 }
        defer { if fd >= 0 { close(fd) } }
        return Self.generation(fd)
    }

    /// Held exclusively: one more generation.
    static func bump(_ fd: Int32) {
        let next = Array(String((generation(fd) ?? 0) &+ 1).utf8)
        _ = next.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        _ = ftruncate(fd, off_t(next.count))
    }

    /// Held for the daemon's lifetime: a second `flotilla run` of the same project is refused.
    /// Returns the descriptor to keep open, or nil when another daemon holds it; throws when the
    /// lock files cannot be opened (the steps' shared lock would silently not work either).
    public func acquireDaemonLock() throws -> Int32? {
        for file in [path, path + ".daemon"] {
            let probe = open(file, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
            guard probe >= 0 else { throw OpenError(path: file, reason: String(cString: strerror(errno))) }
            close(probe)
        }
        let fd = open(path + ".daemon", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw OpenError(path: path + ".daemon", reason: String(cString: strerror(errno))) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    /// `/run/flotilla` (made 0700), or, where `/run` is not this user's to write (not root),
    /// `$XDG_RUNTIME_DIR/flotilla`: a folder of this user's own that no one else may write to.
    /// Never a world-writable folder such as `/tmp`, where another local user could make the
    /// folder first, or hold the lock and the port claims. When neither can be used, the path
    /// under `/run` is returned anyway: opening the lock there fails with ``OpenError``, which
    /// says what to fix.
    static func defaultDirectory() -> String {
        let bases = ["/run", ProcessInfo.processInfo.environment["XDG_RUNTIME_DIR"]].compactMap { $0 }.filter { !$0.isEmpty }
        for base in bases {
            let folder = base + "/flotilla"
            if mkdir(folder, 0o700) == 0 || errno == EEXIST, isPrivate(folder) { return folder }
        }
        return "/run/flotilla"
    }

    /// A real folder (not a link) owned by this user, that no one else may write to.
    static func isPrivate(_ folder: String) -> Bool {
        var info = stat()
        guard lstat(folder, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR, info.st_uid == geteuid(), info.st_mode & 0o022 == 0 else { return false }
        return access(folder, W_OK) == 0
    }

    /// The lock file cannot be opened (a symlink planted there, a read-only folder): an error, never
    /// a silent "no lock" (two changers racing is what the lock exists to prevent).
    public struct OpenError: Error, CustomStringConvertible {
        public var path: String
        public var reason: String
        public var description: String {
            let folder = (path as NSString).deletingLastPathComponent
            let fix = ReconcileLock.isPrivate(folder) ? "fix its folder (or remove what is there) and try again"
                : "the folder \(folder) must be a folder of this user's own that no one else may write to: run as the daemon's user (root), or set XDG_RUNTIME_DIR"
            return "cannot open the project lock \(path): \(reason); \(fix)"
        }
    }

    /// Runs `body` holding the lock; waits (logging once) while another process holds it.
    public func withLock<T: Sendable>(logger: Logger, _ body: () async throws -> T) async throws -> T {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw OpenError(path: path, reason: String(cString: strerror(errno))) }
        defer {
            Self.bump(fd)  // the daemon's observations from before this are not to be trusted
            close(fd)  // closing releases the lock
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            logger.info("waiting for another flotilla working on this project", metadata: ["lock": "\(path)"])
            // Polled on the agent's clock (never a blocked thread, and the simulator can run it).
            while flock(fd, LOCK_EX | LOCK_NB) != 0 {
                try await AgentClock.sleep(for: .milliseconds(50))
            }
        }
        return try await body()
    }
}
