import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Watches a manifest directory tree with inotify (no polling): every folder below the root,
/// new folders as they appear, and the root's parent so that a swapped symlink (git-sync's
/// `current -> rev-…` renamed over) or a deleted and recreated root is noticed and re-watched.
///
/// All state lives on one serial queue; events come out of ``events`` undebounced.
public final class ManifestWatcher: @unchecked Sendable {
    public let root: String
    public let events: AsyncStream<WatchEvent>
    private let continuation: AsyncStream<WatchEvent>.Continuation
    private let queue = DispatchQueue(label: "flotilla.watcher")
    private var fd: Int32 = -1
    private var source: DispatchSourceRead?
    /// wd → folder relative to the root; the parent watch maps to nil.
    private var directories: [Int32: String?] = [:]
    private let parentPath: String
    private let rootName: String
    /// Told when a folder cannot be watched (once per folder and reason, until it can be again).
    private let onProblem: @Sendable (String) -> Void
    private let addWatch: @Sendable (Int32, String, UInt32) -> Int32
    private var reported: Set<String> = []

    /// - Parameters:
    ///   - onProblem: a folder cannot be watched (its changes are then seen by the watchdog only).
    ///   - addWatch: `inotify_add_watch` (tests pass one that fails).
    public init(root: String, onProblem: @escaping @Sendable (String) -> Void = { _ in },
                addWatch: @escaping @Sendable (Int32, String, UInt32) -> Int32 = { inotify_add_watch($0, $1, $2) }) {
        let absolute = URL(fileURLWithPath: root).standardizedFileURL.path
        self.root = absolute
        self.parentPath = (absolute as NSString).deletingLastPathComponent
        self.rootName = (absolute as NSString).lastPathComponent
        self.onProblem = onProblem
        self.addWatch = addWatch
        (events, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(4096))
    }

    /// What to tell the operator when `inotify_add_watch(path)` failed with `error`.
    static func problem(path: String, error: Int32) -> String {
        if error == ENOSPC {
            let limit = (try? String(contentsOfFile: "/proc/sys/fs/inotify/max_user_watches", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
            return "cannot watch \(path): the inotify watch limit is reached (fs.inotify.max_user_watches = \(limit)); "
                + "raise it, e.g. `sysctl -w fs.inotify.max_user_watches=524288` (and in /etc/sysctl.d/), "
                + "or changes there are noticed only at the next watchdog tick"
        }
        return "cannot watch \(path): \(String(cString: strerror(error))); changes there are noticed only at the next watchdog tick"
    }

    /// Reports each failed watch once (per folder and reason).
    private func failed(_ path: String) {
        let message = Self.problem(path: path, error: errno)
        if reported.insert(message).inserted { onProblem(message) }
    }

    public enum WatchError: Error, CustomStringConvertible {
        case inotify(String)
        public var description: String { if case .inotify(let m) = self { return m }; return "" }
    }

    public func start() throws {
        try queue.sync {
            fd = inotify_init1(Int32(IN_NONBLOCK) | Int32(IN_CLOEXEC))
            guard fd >= 0 else { throw WatchError.inotify("inotify_init1 failed: \(String(cString: strerror(errno)))") }
            let parentWD = addWatch(fd, parentPath, WatchEventClassifier.Mask.parent)
            if parentWD >= 0 { directories[parentWD] = .some(nil) } else { failed(parentPath) }
            addTree()
            let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
            source.setEventHandler { [weak self] in self?.drain() }
            source.resume()
            self.source = source
        }
    }

    public func stop() {
        queue.sync {
            source?.cancel()
            source = nil
            if fd >= 0 { close(fd); fd = -1 }
            continuation.finish()
        }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Number of folders currently watched below (and including) the root.
    public var watchedDirectoryCount: Int { queue.sync { directories.values.filter { $0 != nil }.count } }

    // MARK: - On the queue

    private func addTree() {
        var pending = [""]
        while let relative = pending.popLast() {
            let full = relative.isEmpty ? root : root + "/" + relative
            let wd = addWatch(fd, full, WatchEventClassifier.Mask.tree)
            guard wd >= 0 else {
                if errno != ENOENT { failed(full) }  // ENOENT: removed meanwhile, nothing to watch
                continue
            }
            directories[wd] = .some(relative)
            guard let entries = try? FileManager.default.contentsOfDirectory(atPath: full) else { continue }
            for entry in entries where !ManifestDirectoryLoader.isIgnored(entry) {
                var isDirectory: ObjCBool = false
                let path = relative.isEmpty ? entry : relative + "/" + entry
                // Folders only, and not through symlinks (no loops); the root itself may be a link.
                if let attributes = try? FileManager.default.attributesOfItem(atPath: root + "/" + path),
                   attributes[.type] as? FileAttributeType == .typeDirectory,
                   FileManager.default.fileExists(atPath: root + "/" + path, isDirectory: &isDirectory), isDirectory.boolValue {
                    pending.append(path)
                }
            }
        }
    }

    private func rescan() {
        reported = []
        for (wd, dir) in directories where dir != nil { inotify_rm_watch(fd, wd) }
        directories = directories.filter { $0.value == nil }
        addTree()
    }

    private func drain() {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { return }
            var offset = 0
            let header = MemoryLayout<inotify_event>.size
            while offset + header <= n {
                let (wd, mask, length) = buffer.withUnsafeBytes { raw -> (Int32, UInt32, Int) in
                    let event = raw.loadUnaligned(fromByteOffset: offset, as: inotify_event.self)
                    return (event.wd, event.mask, Int(event.len))
                }
                // The flexible `name` member does not import: it follows the header.
                let nameBytes = buffer[(offset + header)..<min(offset + header + length, n)].prefix { $0 != 0 }
                let name = String(decoding: nameBytes, as: UTF8.self)
                offset += header + length
                handle(wd: wd, mask: mask, name: name)
            }
        }
    }

    private func handle(wd: Int32, mask: UInt32, name: String) {
        let directory: String?? = mask & WatchEventClassifier.Mask.overflow != 0 ? .some("") : directories[wd]
        guard let directory else { return }  // an event for a watch already removed
        if mask & WatchEventClassifier.Mask.ignored != 0 { directories[wd] = nil; return }
        switch WatchEventClassifier.classify(mask: mask, name: name, directory: directory, rootName: rootName) {
        case .ignore:
            break
        case .changed(let path):
            continuation.yield(WatchEvent(.manifestChanged, path: path))
        case .addDirectory(let path):
            // Watch the new folder (and anything already inside it) before reporting it.
            rescanSubtree(path)
            continuation.yield(WatchEvent(.directoryAdded, path: path))
        case .rescan(let reason):
            rescan()
            continuation.yield(WatchEvent(.rescanned, path: reason))
        case .rootRemoved:
            continuation.yield(WatchEvent(.rootRemoved, path: root))
        }
    }

    private func rescanSubtree(_ relative: String) {
        // Re-walking the whole tree is simple and cheap at manifest scale; existing watches are
        // returned with the same wd by the kernel, so nothing is watched twice.
        addTree()
        _ = relative
    }
}
