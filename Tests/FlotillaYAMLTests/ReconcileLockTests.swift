@testable import FlotillaAgent
import FlotillaCore
import Foundation
import Logging
import Testing

@Suite("Project lock")
struct ReconcileLockTests {
    @Test func aLockFileThatCannotBeOpenedIsAnErrorNotSilentlyNoLock() async throws {
        let dir = NSTemporaryDirectory() + "flotilla-lock-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let lock = ReconcileLock(project: "web", directory: dir)
        // Someone planted a symlink where the lock goes (O_NOFOLLOW refuses it).
        try FileManager.default.createSymbolicLink(atPath: lock.path, withDestinationPath: "/etc/passwd")
        var ran = false
        await #expect(throws: ReconcileLock.OpenError.self) {
            try await lock.withLock(logger: Logger(label: "test")) { ran = true }
        }
        #expect(!ran)
        // The daemon's steps take it shared: refused too (before: they ran unlocked).
        #expect(lock.trySharedLock() == nil)
        #expect(throws: ReconcileLock.OpenError.self) { _ = try lock.acquireDaemonLock() }
        // A sane lock works, and a second daemon is refused.
        try FileManager.default.removeItem(atPath: lock.path)
        let fd = try #require(try lock.acquireDaemonLock())
        #expect(try lock.acquireDaemonLock() == nil)
        close(fd)
        let shared = try #require(lock.trySharedLock())
        lock.release(shared)
        // No command has let go of the project yet: generation 0, not "unknown" (simulator
        // seed 139: a daemon started before the file existed missed the first command's bump).
        try FileManager.default.removeItem(atPath: lock.path)
        #expect(lock.currentGeneration() == 0)
    }
}

extension ReconcileLockTests {
    /// The lock and the port claims never live in a folder another user may write to (before:
    /// /tmp when /run was not writable, where another local user could make the folder first).
    @Test func theLockFolderIsThisUsersOwnAndNoOneElseMayWriteToIt() throws {
        let base = NSTemporaryDirectory() + "flotilla-lockdir-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        #expect(mkdir(base + "/private", 0o700) == 0 && mkdir(base + "/open", 0o700) == 0)
        chmod(base + "/open", 0o777)
        #expect(symlink(base + "/private", base + "/link") == 0)
        #expect(ReconcileLock.isPrivate(base + "/private"))
        #expect(!ReconcileLock.isPrivate(base + "/open"))
        #expect(!ReconcileLock.isPrivate(base + "/link"))
        #expect(ReconcileLock.isPrivate(ReconcileLock.defaultDirectory()))
        // A lock in a folder others may write to: the error says what to fix.
        let error = ReconcileLock.OpenError(path: base + "/open/flotilla-p.lock", reason: "refused")
        #expect(error.description.contains("of this user's own"))
    }
}

@Suite("Secret digest key in the state directory")
struct SecretDigestKeyFileTests {
    @Test func createdOnceOwnerOnlyAndSharedByConcurrentCreators() async throws {
        let directory = NSTemporaryDirectory() + "flotilla-key-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = StateStore(directory: directory)
        #expect(store.loadDigestKey() == nil)
        // Eight creators at once agree on one key.
        let keys = await withTaskGroup(of: SecretDigestKey?.self) { group in
            for _ in 0..<8 { group.addTask { try? store.loadOrCreateDigestKey() } }
            return await group.reduce(into: [SecretDigestKey?]()) { $0.append($1) }
        }
        #expect(keys.count == 8 && Set(keys.compactMap { $0 }).count == 1 && !keys.contains(nil))
        #expect(try store.loadOrCreateDigestKey() == keys.first!)
        var info = stat()
        #expect(stat(directory + "/secret-digest.key", &info) == 0 && info.st_mode & 0o777 == 0o600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["secret-digest.key"])
        // A damaged key is an error that says what to do, never a silent new key.
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: directory + "/secret-digest.key"))
        #expect(throws: (any Error).self) { try store.loadOrCreateDigestKey() }
    }
}
