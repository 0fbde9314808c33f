import Dispatch
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// One reconcile at a time per project on this host, across processes: `flotilla run`,
/// `apply`, `promote`, `rollback` and `down` all take it, so a `promote` typed while the daemon
/// runs never races it (each would otherwise start or remove replicas the other is handling).
///
/// An advisory `flock(2)` on `/run/flotilla/<project>.lock` (or the temp folder when /run is
/// not writable): the kernel releases it when the process dies, so a crash leaves no stale lock.
public struct ReconcileLock: Sendable {
    public let path: String

    public init(project: String, directory: String? = nil) {
        let folder = directory ?? Self.defaultDirectory()
        path = folder + "/flotilla-" + project + ".lock"
    }

    static func defaultDirectory() -> String {
        let run = "/run/flotilla"
        if mkdir(run, 0o755) == 0 || errno == EEXIST, access(run, W_OK) == 0 { return run }
        return (NSTemporaryDirectory() as NSString).standardizingPath
    }

    /// Runs `body` holding the lock; waits (logging once) while another process holds it.
    /// If the lock file cannot be opened at all, `body` runs unlocked (logged): locking protects
    /// against races, it must not stop Flotilla from working.
    public func withLock<T: Sendable>(logger: Logger, _ body: () async throws -> T) async rethrows -> T {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            logger.warning("cannot open the reconcile lock; going on without it", metadata: ["lock": "\(path)", "error": "\(String(cString: strerror(errno)))"])
            return try await body()
        }
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
