@testable import FlotillaAgent
import Foundation
import Testing

/// The revision a manifest load reports, with a real `git`: read HEAD, then ask git whether the
/// files differ from it. A commit may land between the two steps.
@Suite("The manifests' git revision", .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/git"), "needs git"))
struct GitRevisionTests {
    func git(_ directory: String, _ arguments: String) throws -> String {
        let (code, out) = try shell("git -C '\(directory)' -c user.email=t@t -c user.name=t " + arguments)
        #expect(code == 0, "git \(arguments): \(out)")
        return out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Found in CI on a loaded host: the daemon read HEAD (`first`) and the new files, then
    /// `git commit` finished before `git diff HEAD` ran; the tree matched the new HEAD, so the new
    /// replicas were labelled as a clean `first`, a commit that never had those files.
    @Test func filesWrittenAfterTheCommitReadAreDirtyEvenWhenACommitLandsBeforeTheCheck() async throws {
        let directory = NSTemporaryDirectory() + "flotilla-revision-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = try git(directory, "init -q")
        try "replicas: 1\n".write(toFile: directory + "/web.yaml", atomically: true, encoding: .utf8)
        _ = try git(directory, "add -A")
        _ = try git(directory, "commit -qm one")
        let first = try git(directory, "rev-parse HEAD")
        #expect(await GitRevision.read(directory: directory)?.description == String(first.prefix(12)))

        // The daemon reads HEAD and the edited file...
        try "replicas: 3\n".write(toFile: directory + "/web.yaml", atomically: true, encoding: .utf8)
        let read = try #require(await GitRevision.read(directory: directory, checkDirty: false))
        #expect(read.commit == first)
        // ...the commit lands, and only then does the dirty check run.
        _ = try git(directory, "commit -qam two")
        #expect(await GitRevision.isDirty(directory: directory, comparedWith: read.commit) == true)
        // Read afresh, the tree is the new commit, clean.
        let second = try git(directory, "rev-parse HEAD")
        #expect(await GitRevision.read(directory: directory)?.description == String(second.prefix(12)))
    }
}
