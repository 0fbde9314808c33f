@testable import FlotillaAgent
import FlotillaCore
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The watchdog loads the manifest directory at every tick; an unchanged directory is answered
/// from memory, and a change to anything the load read (a manifest, a secret file, where a
/// mounted host path leads) is loaded and validated again.
@Suite("Loading an unchanged directory again")
struct LoadMemoTests {
    @Test func anUnchangedDirectoryIsNotParsedAgainAndEveryInputIsChecked() throws {
        let root = NSTemporaryDirectory() + "flotilla-memo-\(UUID().uuidString)"
        let allowed = root + "-allowed"
        for folder in [root, allowed + "/data", allowed + "/other"] { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        defer { for folder in [root, allowed] { try? FileManager.default.removeItem(atPath: folder) } }
        #expect(symlink(allowed + "/data", allowed + "/current") == 0)
        try "one".write(toFile: root + "/db.secret", atomically: false, encoding: .utf8)
        let manifest = "name: web\nimage: x\nsecrets:\n  DB: { file: db.secret }\nvolumes:\n  - \"\(allowed)/current:/d\"\n"
        try manifest.write(toFile: root + "/web.yaml", atomically: false, encoding: .utf8)
        let loader = ManifestDirectoryLoader(access: HostAccess(hostMounts: .under([allowed + "/data"])))

        let first = try loader.load(directory: root)
        #expect(first.diagnostics.isEmpty && first.services.count == 1, "\(first.diagnostics)")
        let again = try loader.load(directory: root)
        #expect(loader.memo.hits.withLock { $0 } == 1)
        #expect(again.services == first.services)

        // A secret file's new content: loaded again, with the new digest.
        try "two".write(toFile: root + "/db.secret", atomically: false, encoding: .utf8)
        let rotated = try loader.load(directory: root)
        #expect(loader.memo.hits.withLock { $0 } == 1)
        #expect(rotated.services.first?.secrets["DB"] != first.services.first?.secrets["DB"])

        // The mounted path now leads outside what the operator allows: refused, not remembered.
        #expect(unlink(allowed + "/current") == 0 && symlink(allowed + "/other", allowed + "/current") == 0)
        let moved = try loader.load(directory: root)
        #expect(loader.memo.hits.withLock { $0 } == 1)
        #expect(moved.services.isEmpty && moved.diagnostics.first?.message.contains("outside the host paths") == true, "\(moved.diagnostics)")

        // The manifest's bytes: a one-character edit is loaded again.
        try manifest.replacingOccurrences(of: "image: x", with: "image: y").write(toFile: root + "/web.yaml", atomically: false, encoding: .utf8)
        #expect(unlink(allowed + "/current") == 0 && symlink(allowed + "/data", allowed + "/current") == 0)
        let edited = try loader.load(directory: root)
        #expect(loader.memo.hits.withLock { $0 } == 1)
        #expect(edited.services.first?.image == "y")
        _ = try loader.load(directory: root)
        #expect(loader.memo.hits.withLock { $0 } == 2)
    }

    /// A spec's hash is computed once per version of the spec, and any change makes a new one.
    /// Issue 27: the watchdog's load does not read a manifest that `stat` says is unchanged
    /// (device, inode, size, mtime, ctime), and every tenth load reads them all anyway. An edit
    /// of the same size with the modification time set back is still seen (the change time moves).
    @Test func unchangedFilesAreNotReadAgainAndASameSizeEditIsStillSeen() throws {
        let root = NSTemporaryDirectory() + "flotilla-stat-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        for name in ["a", "b", "c"] { try "name: \(name)\nimage: x\nreplicas: 1\n".write(toFile: root + "/\(name).yaml", atomically: false, encoding: .utf8) }
        let loader = ManifestDirectoryLoader()
        _ = try loader.load(directory: root)
        #expect(loader.memo.reused.withLock { $0 } == 0, "the first load reads everything")
        _ = try loader.load(directory: root)
        #expect(loader.memo.reused.withLock { $0 } == 3)

        // Same size, modification time restored: ctime still differs, so b is read again.
        var before = stat()
        stat(root + "/b.yaml", &before)
        try "name: b\nimage: x\nreplicas: 2\n".write(toFile: root + "/b.yaml", atomically: false, encoding: .utf8)
        var times = [before.st_atim, before.st_mtim]
        #expect(utimensat(AT_FDCWD, root + "/b.yaml", &times, 0) == 0)
        let edited = try loader.load(directory: root)
        #expect(edited.services.first { $0.name == "b" }?.replicas == 2)
        #expect(loader.memo.reused.withLock { $0 } == 5, "a and c reused, b read")

        // Every tenth load reads every file whatever stat says.
        let reusedBefore = loader.memo.reused.withLock { $0 }
        for _ in 0..<LoadMemo.fullReadEvery { _ = try loader.load(directory: root) }
        #expect(loader.memo.reused.withLock { $0 } - reusedBefore == 3 * (LoadMemo.fullReadEvery - 1))
    }

    @Test func aSpecHashFollowsEveryChangeOfItsSpec() {
        var spec = ServiceSpec(name: "web", image: "a")
        let first = spec.specHash
        #expect(spec.specHash == first)
        let copy = spec
        spec.env["X"] = "1"
        #expect(spec.specHash != first && copy.specHash == first)
        spec.env["X"] = nil
        #expect(spec.specHash == first)
        spec.update.order = spec.update.order == .startFirst ? .stopFirst : .startFirst
        #expect(spec.specHash == first, "update is not part of the container's form")
        spec.image = "b"
        #expect(spec.specHash != first && spec == spec && copy != spec)
    }
}
