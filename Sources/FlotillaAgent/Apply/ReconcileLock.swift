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

    /// Takes the lock shared, if no one holds it exclusively: the descriptor to ``release(_:)``
    /// (-1 when the lock file cannot be opened: work unlocked, as ``withLock`` does), nil when held.
    public func trySharedLock() -> Int32? {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { return -1 }
        guard flock(fd, LOCK_SH | LOCK_NB) == 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    public func release(_ fd: Int32) {
        if fd >= 0 { close(fd) }
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

    static func defaultDirectory() -> String {
        let run = "/run/flotilla"
        if mkdir(run, 0o755) == 0 || errno == EEXIST, access(run, W_OK) == 0 { return run }
        return (NSTemporaryDirectory() as NSString).standardizingPath
    }

    /// The lock file cannot be opened (a symlink planted there, a read-only folder): an error, never
    /// a silent "no lock" (two changers racing is what the lock exists to prevent).
    public struct OpenError: Error, CustomStringConvertible {
        public var path: String
        public var reason: String
        public var description: String {
            "cannot open the project lock \(path): \(reason); fix its folder (or remove what is there) and try again"
        }
    }

    /// Runs `body` holding the lock; waits (logging once) while another process holds it.
    public func withLock<T: Sendable>(logger: Logger, _ body: () async throws -> T) async throws -> T {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw OpenError(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }  // closing releases the lock
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            logger.info("waiting for another flotilla working on this project", metadata: ["lock": "\(path)"])
            // Blocking flock on a thread of its own, never on the cooperative pool.
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                DispatchQueue.global().async {
                    while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
                    done.resume()
                }
            }
        }
        return try await body()
    }
}
