@testable import FlotillaAgent
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
        #expect(throws: ReconcileLock.OpenError.self) { _ = try lock.acquireDaemonLock() }
        // A sane lock works, and a second daemon is refused.
        try FileManager.default.removeItem(atPath: lock.path)
        let fd = try #require(try lock.acquireDaemonLock())
        #expect(try lock.acquireDaemonLock() == nil)
        close(fd)
    }
}
