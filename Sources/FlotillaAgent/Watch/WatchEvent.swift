/// What the manifest watcher tells the daemon. Each one means "the desired state may have
/// changed"; the daemon debounces them into one full reconcile.
public struct WatchEvent: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// A manifest file was written, created, deleted or renamed.
        case manifestChanged
        /// A folder appeared inside the tree (now watched too).
        case directoryAdded
        /// The watched root was replaced (symlink swap, deleted and recreated) or the kernel queue
        /// overflowed: the whole tree was re-watched.
        case rescanned
        /// The root directory is gone.
        case rootRemoved
    }

    public var kind: Kind
    /// The path that changed, relative to the manifest directory where known.
    public var path: String

    public init(_ kind: Kind, path: String) {
        self.kind = kind
        self.path = path
    }
}

/// Decides what one inotify event means, without touching the file system (unit-tested).
public enum WatchEventClassifier {
    public enum Decision: Sendable, Equatable {
        case ignore
        case changed(String)
        case addDirectory(String)
        case rescan(String)
        case rootRemoved
    }

    /// inotify's mask bits (the kernel ABI, fixed across architectures).
    public enum Mask {
        public static let modify: UInt32 = 0x0000_0002
        public static let attrib: UInt32 = 0x0000_0004
        public static let closeWrite: UInt32 = 0x0000_0008
        public static let movedFrom: UInt32 = 0x0000_0040
        public static let movedTo: UInt32 = 0x0000_0080
        public static let create: UInt32 = 0x0000_0100
        public static let delete: UInt32 = 0x0000_0200
        public static let deleteSelf: UInt32 = 0x0000_0400
        public static let moveSelf: UInt32 = 0x0000_0800
        public static let overflow: UInt32 = 0x0000_4000
        public static let ignored: UInt32 = 0x0000_8000
        public static let isDirectory: UInt32 = 0x4000_0000

        /// What tree watches ask for: close-after-write, create, delete, both halves of a rename.
        public static let tree: UInt32 = closeWrite | create | delete | movedFrom | movedTo | deleteSelf | moveSelf
        /// What the parent of the root is watched for: the root's own name appearing or vanishing.
        public static let parent: UInt32 = create | delete | movedFrom | movedTo
    }

    /// - Parameters:
    ///   - directory: the watched folder's path relative to the root ("" for the root itself),
    ///     or nil when this is the watch on the root's parent.
    ///   - rootName: the root's own name in its parent (for parent-watch events).
    public static func classify(mask: UInt32, name: String, directory: String?, rootName: String) -> Decision {
        if mask & Mask.overflow != 0 { return .rescan("inotify queue overflow") }
        if mask & Mask.ignored != 0 { return .ignore }
        guard let directory else {
            // The parent of the root: only the root's own name matters (symlink swap, recreate).
            guard name == rootName else { return .ignore }
            if mask & (Mask.create | Mask.movedTo) != 0 { return .rescan("\(rootName) replaced") }
            return .rootRemoved
        }
        if mask & (Mask.deleteSelf | Mask.moveSelf) != 0 {
            return directory.isEmpty ? .rootRemoved : .ignore  // a subfolder's own event: its parent reports it too
        }
        let path = directory.isEmpty ? name : directory + "/" + name
        if name.isEmpty || ManifestDirectoryLoader.isIgnored(name) { return .ignore }
        if mask & Mask.isDirectory != 0 {
            if mask & (Mask.create | Mask.movedTo) != 0 { return .addDirectory(path) }
            if mask & (Mask.delete | Mask.movedFrom) != 0 { return .changed(path) }
            return .ignore
        }
        guard ManifestDirectoryLoader.isManifestName(name) else { return .ignore }
        // A plain create is followed by close-after-write; only a create of a symlink or an
        // empty file comes alone, so it counts too (the debounce folds the pair into one).
        if mask & (Mask.closeWrite | Mask.create | Mask.delete | Mask.movedFrom | Mask.movedTo) != 0 { return .changed(path) }
        return .ignore
    }
}

/// What tells the daemon that the manifest directory changed: inotify (``ManifestWatcher``), or
/// the simulator's commits.
///
/// Contract: after ``start()`` returns, every later change under the root yields at least one
/// event on ``events`` (several changes may fold into one); ``stop()`` ends the stream.
public protocol ManifestChangeSource: AnyObject, Sendable {
    var events: AsyncStream<WatchEvent> { get }
    func start() throws
    func stop()
}

extension ManifestWatcher: ManifestChangeSource {}
