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
