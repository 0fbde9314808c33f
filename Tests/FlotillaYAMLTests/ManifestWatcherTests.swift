import FlotillaAgent
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The inotify watcher on real temp folders, plus its pure event classification.
@Suite("Manifest watcher", .serialized)
struct ManifestWatcherTests {
    typealias M = WatchEventClassifier.Mask

    final class Collector: @unchecked Sendable {
        private let lock = NSLock()
        private var events: [WatchEvent] = []
        func add(_ e: WatchEvent) { lock.withLock { events.append(e) } }
        /// What was reported, in order, with immediate repeats folded (under load the kernel may
        /// report one rename as two events for the same path; the daemon debounces them anyway).
        var all: [WatchEvent] {
            lock.withLock { events.reduce(into: [WatchEvent]()) { if $0.last != $1 { $0.append($1) } } }
        }
        func clear() { lock.withLock { events.removeAll() } }
    }

    /// Starts a watcher on `root`, runs `body`, and collects what it reported.
    func watch(_ root: String, _ body: (Collector) async throws -> Void) async throws {
        let watcher = ManifestWatcher(root: root)
        try watcher.start()
        let collector = Collector()
        let pump = Task { for await e in watcher.events { collector.add(e) } }
        try await body(collector)
        watcher.stop()
        pump.cancel()
    }

    func settle() async throws { try await Task.sleep(for: .milliseconds(150)) }

    func tempDir() throws -> String {
        let path = NSTemporaryDirectory() + "flotilla-watch-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path + "/root", withIntermediateDirectories: true)
        return path
    }

    @Test func writesCreatesDeletesAndRenamesAreReported() async throws {
        let base = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let root = base + "/root"
        try await watch(root) { c in
            try "name: a\n".write(toFile: root + "/a.yaml", atomically: false, encoding: .utf8)
            try await settle()
            #expect(c.all.contains(WatchEvent(.manifestChanged, path: "a.yaml")))
            c.clear()
            // An editor-style save: write a temp file, rename it over the manifest.
            try "x".write(toFile: root + "/.a.yaml.tmp", atomically: false, encoding: .utf8)
            try FileManager.default.moveItem(atPath: root + "/.a.yaml.tmp", toPath: root + "/b.yaml")
            try await settle()
            #expect(c.all == [WatchEvent(.manifestChanged, path: "b.yaml")])
            c.clear()
            try FileManager.default.moveItem(atPath: root + "/b.yaml", toPath: root + "/c.yml")
            try await settle()
            #expect(c.all == [WatchEvent(.manifestChanged, path: "b.yaml"), WatchEvent(.manifestChanged, path: "c.yml")])
            c.clear()
            try FileManager.default.removeItem(atPath: root + "/c.yml")
            try await settle()
            #expect(c.all == [WatchEvent(.manifestChanged, path: "c.yml")])
            c.clear()
            // Hidden files, editor leftovers and non-manifests are ignored.
            for name in ["notes.txt", ".hidden.yaml", "a.yaml~", ".#a.yaml", "a.yaml.swp"] {
                try "x".write(toFile: root + "/" + name, atomically: false, encoding: .utf8)
            }
            try await settle()
            #expect(c.all.isEmpty)
        }
    }

    @Test func newSubdirectoriesAreWatchedToo() async throws {
        let base = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let root = base + "/root"
        try await watch(root) { c in
            try FileManager.default.createDirectory(atPath: root + "/team/deep", withIntermediateDirectories: true)
            try await settle()
            #expect(c.all.contains(WatchEvent(.directoryAdded, path: "team")))
            c.clear()
            try "name: a\n".write(toFile: root + "/team/deep/x.yaml", atomically: false, encoding: .utf8)
            try await settle()
            #expect(c.all.contains(WatchEvent(.manifestChanged, path: "team/deep/x.yaml")))
        }
    }

    @Test func swappedSymlinkIsFollowedToTheNewTree() async throws {
        let base = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let fm = FileManager.default
        try fm.createDirectory(atPath: base + "/rev-a", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: base + "/rev-b", withIntermediateDirectories: true)
        try fm.createSymbolicLink(atPath: base + "/current", withDestinationPath: "rev-a")
        try await watch(base + "/current") { c in
            // git-sync: a new link, renamed over the old one.
            try fm.createSymbolicLink(atPath: base + "/.current.tmp", withDestinationPath: "rev-b")
            #expect(rename(base + "/.current.tmp", base + "/current") == 0)
            try await settle()
            #expect(c.all.contains { $0.kind == .rescanned })
            c.clear()
            // The new tree is now the watched one; the old one is not.
            try "x".write(toFile: base + "/rev-b/new.yaml", atomically: false, encoding: .utf8)
            try "x".write(toFile: base + "/rev-a/old.yaml", atomically: false, encoding: .utf8)
            try await settle()
            // (create and close-after-write: two events, folded by the daemon's debounce)
            #expect(!c.all.isEmpty && c.all.allSatisfy { $0 == WatchEvent(.manifestChanged, path: "new.yaml") })
        }
    }

    @Test func deletedAndRecreatedRootIsWatchedAgain() async throws {
        let base = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let root = base + "/root"
        try await watch(root) { c in
            try FileManager.default.removeItem(atPath: root)
            try await settle()
            #expect(c.all.contains { $0.kind == .rootRemoved })
            c.clear()
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            try await settle()
            #expect(c.all.contains { $0.kind == .rescanned })
            c.clear()
            try "x".write(toFile: root + "/again.yaml", atomically: false, encoding: .utf8)
            try await settle()
            #expect(c.all.contains(WatchEvent(.manifestChanged, path: "again.yaml")))
        }
    }

    /// The watch limit (ENOSPC) used to be ignored silently: folders went unwatched.
    @Test func aWatchLimitIsReportedOnceWithTheSysctlToRaise() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for sub in ["a", "b"] { try FileManager.default.createDirectory(atPath: dir + "/root/" + sub, withIntermediateDirectories: true) }
        let problems = Collector()
        // The kernel's limit, as the sub-folders would meet it.
        let watcher = ManifestWatcher(root: dir + "/root", onProblem: { problems.add(WatchEvent(.rescanned, path: $0)) }) { fd, path, mask in
            if path.hasSuffix("/a") || path.hasSuffix("/b") { errno = ENOSPC; return -1 }
            return inotify_add_watch(fd, path, mask)
        }
        try watcher.start()
        defer { watcher.stop() }
        let messages = problems.all.map(\.path)
        #expect(messages.count == 2, "\(messages)")
        #expect(messages.allSatisfy { $0.contains("inotify watch limit") && $0.contains("fs.inotify.max_user_watches") && $0.contains("sysctl -w") }, "\(messages)")
        #expect(watcher.watchedDirectoryCount == 1)
    }

    @Test func classification() {
        func classify(_ mask: UInt32, _ name: String, _ dir: String? = "") -> WatchEventClassifier.Decision {
            WatchEventClassifier.classify(mask: mask, name: name, directory: dir, rootName: "current")
        }
        #expect(classify(M.overflow, "") == .rescan("inotify queue overflow"))
        #expect(classify(M.closeWrite, "a.yaml") == .changed("a.yaml"))
        #expect(classify(M.movedFrom, "a.yaml", "sub") == .changed("sub/a.yaml"))
        #expect(classify(M.movedTo, "b.yml") == .changed("b.yml"))
        #expect(classify(M.modify, "a.yaml") == .ignore)
        #expect(classify(M.closeWrite, "a.txt") == .ignore)
        #expect(classify(M.closeWrite, ".a.yaml") == .ignore)
        #expect(classify(M.create | M.isDirectory, "sub") == .addDirectory("sub"))
        #expect(classify(M.create | M.isDirectory, ".git") == .ignore)
        #expect(classify(M.delete | M.isDirectory, "sub") == .changed("sub"))
        #expect(classify(M.deleteSelf, "") == .rootRemoved)
        #expect(classify(M.deleteSelf, "", "sub") == .ignore)
        #expect(classify(M.ignored, "") == .ignore)
        // The parent watch: only the root's own name.
        #expect(classify(M.movedTo, "current", nil) == .rescan("current replaced"))
        #expect(classify(M.create, "current", nil) == .rescan("current replaced"))
        #expect(classify(M.delete, "current", nil) == .rootRemoved)
        #expect(classify(M.movedTo, "other", nil) == .ignore)
    }
}
