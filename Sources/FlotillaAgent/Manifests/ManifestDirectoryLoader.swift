import FlotillaCore
import FlotillaYAML
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads a manifest directory from disk: finds the manifest files, reads them with a size limit
/// and parses them with libyaml; the pure ``DesiredState`` does the validating.
public struct ManifestDirectoryLoader: Sendable {
    public var maxFileSize: Int { didSet { memo = LoadMemo() } }
    /// The most bytes all manifest files together may hold (the operator's
    /// `--max-manifest-bytes`): the files past it, in path order, are errors of their own, so
    /// nothing is pruned for them, and a tree grown by a commit cannot take the host's memory.
    public var maxTreeSize: Int = ManifestDirectoryLoader.defaultMaxTreeSize { didSet { memo = LoadMemo() } }
    public static let defaultMaxTreeSize = 64 << 20
    public var parser: YAMLDocumentParser { didSet { memo = LoadMemo() } }
    /// Where secret files may come from and which host paths may be mounted.
    public var access: HostAccess { didSet { memo = LoadMemo() } }
    /// Keys the digests that stand for secret values (the host's key, from the state directory).
    public var digestKey: SecretDigestKey { didSet { memo = LoadMemo() } }
    /// The register of hosts and paths the projects sharing this proxy serve (nil: no route
    /// files, nothing to share).
    public var routeClaims: RouteClaims? { didSet { memo = LoadMemo() } }
    /// The last load, reused while nothing it read changes (shared by copies of this loader;
    /// any change of the settings above starts a new one).
    var memo = LoadMemo()

    public init(maxFileSize: Int = 1 << 20, parser: YAMLDocumentParser = YAMLDocumentParser(), access: HostAccess = HostAccess(),
                digestKey: SecretDigestKey = .ephemeral) {
        self.maxFileSize = maxFileSize
        self.parser = parser
        self.access = access
        self.digestKey = digestKey
    }

    public enum LoadError: Error, CustomStringConvertible {
        case notADirectory(String)

        public var description: String {
            switch self {
            case .notADirectory(let path): return "manifest directory \(path) does not exist or is not a directory"
            }
        }
    }

    /// Loads every manifest file below `directory`. Throws only when the directory itself is
    /// missing; every problem inside it is a diagnostic of the returned state.
    public func load(directory: String) throws -> DesiredState {
        let raw = try readRaw(directory: directory)
        let secrets = FileSecretReader(root: directory, secretsDirectory: access.secretsRoot)
        let claimed = routeClaims?.snapshot() ?? ClaimedRoutes()
        if let same = memo.state(directory: directory, files: raw, secrets: secrets, mounts: access.mountPolicy, claimed: claimed) { return same }
        let reads = RecordingSecretReader(secrets), paths = RecordingResolver()
        // One file's YAML documents at a time: each is dropped once decoded.
        var builder = DesiredState.Builder(secrets: reads, mounts: paths.recording(access.mountPolicy), digestKey: digestKey)
        for file in raw { builder.add(Self.parse(file, with: parser)) }
        let state = builder.finish(claimedRoutes: claimed)
        memo.remember(state, directory: directory, files: raw, secretReads: reads.reads.withLock { $0 }, resolved: paths.resolved.withLock { $0 }, claimed: claimed)
        return state
    }

    public func readFiles(directory: String) throws -> [ManifestFile] {
        let parser = parser
        return try readRaw(directory: directory).map { Self.parse($0, with: parser) }
    }

    /// Every manifest file's bytes (or why it cannot be read), sorted by path.
    func readRaw(directory: String) throws -> [RawManifest] {
        guard Self.isDirectory(directory) else { throw LoadError.notADirectory(directory) }
        let (paths, problems) = Self.scan(directory)
        var left = maxTreeSize
        let fullRead = memo.beginLoad()
        let tree = Self.resolved(directory)  // once, not per file: realpath reads a link per component
        let files = paths.map { path -> RawManifest in
            let full = (directory as NSString).appendingPathComponent(path)
            let identity = FileIdentity(path: full)
            var file: RawManifest
            if !fullRead, left > 0, let identity, let bytes = memo.bytes(of: path, identity: identity), bytes.count <= left {
                file = RawManifest(path: path, content: .bytes(bytes))  // as the last load read it
            } else {
                file = read(relative: path, root: directory, treeLeft: left, tree: tree)
            }
            file.identity = identity
            if case .bytes(let bytes) = file.content { left -= bytes.count }
            return file
        }
        // What cannot be read is an error of its own (prune safety then holds), never "no services".
        return (files + problems.map { RawManifest(path: $0.path, content: .unreadable($0.message)) }).sorted { $0.path < $1.path }
    }

    func read(relative: String, root: String, treeLeft: Int = .max, tree: String? = nil) -> RawManifest {
        if treeLeft <= 0 { return RawManifest(path: relative, content: .unreadable(treeFull)) }
        let full = (root as NSString).appendingPathComponent(relative)
        // Checked again at the read (a link swapped since the scan): inside the tree, and a
        // regular file (opened without blocking: a FIFO put there never hangs the load).
        if let problem = Self.outsideTree(relative, root: root, tree: tree) { return RawManifest(path: relative, content: .unreadable(problem)) }
        switch RegularFile.read(full, maxSize: min(maxFileSize, treeLeft)) {
        case .success(let bytes):
            return RawManifest(path: relative, content: .bytes(bytes))
        case .failure(.notRegular):
            return RawManifest(path: relative, content: .unreadable(Self.notRegular))
        case .failure(.tooLarge) where treeLeft < maxFileSize:
            return RawManifest(path: relative, content: .unreadable(treeFull))
        case .failure(.tooLarge):
            return RawManifest(path: relative, content: .unreadable("file is larger than \(maxFileSize) bytes; split it into several manifest files"))
        case .failure:
            return RawManifest(path: relative, content: .unreadable("cannot read file (permission denied or removed while loading)"))
        }
    }

    var treeFull: String {
        "the manifest files together pass the tree's cap of \(maxTreeSize) bytes here (files are read in path order); remove manifests, or raise --max-manifest-bytes"
    }

    static func parse(_ raw: RawManifest, with parser: YAMLDocumentParser) -> ManifestFile {
        switch raw.content {
        case .unreadable(let message):
            return ManifestFile(path: raw.path, documents: [], diagnostics: [Diagnostic(file: raw.path, line: 1, column: 1, message: message)])
        case .bytes(let bytes):
            let (documents, diagnostics) = parser.parse(bytes, file: raw.path)
            return ManifestFile(path: raw.path, documents: documents, diagnostics: diagnostics)
        }
    }

    /// Manifest files below `root`, relative to it, sorted (see ``scan(_:)``).
    public static func manifestPaths(in root: String) -> [String] { scan(root).paths }

    /// Manifest files below `root`, relative to it, sorted; and what could not be read. Hidden
    /// files and folders and editor leftovers are skipped; symlinked files are followed,
    /// symlinked folders are not (no loops). Uses readdir's entry types, so only symlinks cost a
    /// stat. Never silent: a folder that cannot be opened, a name that is not UTF-8, or a manifest
    /// symlink whose target is missing is a problem (a file that would otherwise vanish, and its
    /// services be pruned as orphans).
    public static func scan(_ root: String) -> (paths: [String], problems: [(path: String, message: String)]) {
        var result: [String] = []
        var problems: [(path: String, message: String)] = []
        var queue = [""]
        while let relative = queue.popLast() {
            let dir = relative.isEmpty ? root : root + "/" + relative
            guard let handle = opendir(dir) else {
                let why = String(cString: strerror(errno))
                problems.append((relative.isEmpty ? "." : relative, "cannot open this folder (\(why)); its manifests cannot be read"))
                continue
            }
            defer { closedir(handle) }
            while let entry = readdir(handle) {
                let raw = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
                guard let name = String(validating: raw, as: UTF8.self) else {
                    let shown = String(decoding: raw, as: UTF8.self)
                    problems.append((relative.isEmpty ? shown : relative + "/" + shown, "name is not valid UTF-8; rename it"))
                    continue
                }
                if name == "." || name == ".." || isIgnored(name) { continue }
                let path = relative.isEmpty ? name : relative + "/" + name
                switch Int32(entry.pointee.d_type) {
                case Int32(DT_DIR) where isManifestName(name):
                    // Named like a manifest, it looks like one to whoever reads the tree: never a silent skip.
                    problems.append((path, notAFileButAFolder))
                case Int32(DT_DIR):
                    queue.append(path)
                case Int32(DT_REG):
                    if isManifestName(name) { result.append(path) }
                case Int32(DT_LNK), Int32(DT_UNKNOWN):
                    // Follow a link to a file inside the tree; never into a folder through a link.
                    var own = stat(), target = stat()
                    guard lstat(root + "/" + path, &own) == 0 else { continue }
                    if (own.st_mode & S_IFMT) == S_IFDIR {
                        if isManifestName(name) { problems.append((path, notAFileButAFolder)) } else { queue.append(path) }
                        continue
                    }
                    if (own.st_mode & S_IFMT) == S_IFREG { if isManifestName(name) { result.append(path) }; continue }
                    guard isManifestName(name) else { continue }
                    guard stat(root + "/" + path, &target) == 0 else {
                        problems.append((path, "symlink to a file that does not exist (\(String(cString: strerror(errno))))"))
                        continue
                    }
                    // Never read what a link points at outside the tree (`ln -s /etc/shadow x.yaml`
                    // printed its lines as unknown keys into logs and the status API).
                    if let problem = outsideTree(path, root: root) { problems.append((path, problem)); continue }
                    if (target.st_mode & S_IFMT) == S_IFREG { result.append(path) } else { problems.append((path, notRegular)) }
                default:
                    // A FIFO, socket or device with a manifest's name: an error, never a silent skip.
                    if isManifestName(name) { problems.append((path, notRegular)) }
                }
            }
        }
        return (result.sorted(), problems.sorted { $0.path < $1.path })
    }

    static let notAFileButAFolder = "a folder named like a manifest file; rename it (without .yaml/.yml), or move the manifests in it up"
    static let notRegular = "not a regular file (a FIFO, socket, device or a link to one); a manifest must be a file"

    /// Why `relative` (below `root`) may not be read as a manifest: its real path, links
    /// followed, is outside the manifest tree. Nil when it is inside (or does not exist).
    /// `tree`: `root` resolved (``resolved(_:)``), when the caller has it already.
    static func outsideTree(_ relative: String, root: String, tree: String? = nil) -> String? {
        guard let base = tree ?? resolved(root), let resolved = resolved(root + "/" + relative) else { return nil }
        if resolved.hasPrefix(base == "/" ? "/" : base + "/") { return nil }
        return "symlink to a file outside the manifest directory; manifests are read only from inside it (copy the file in, or link to one inside the tree)"
    }

    /// `path` with every symlink resolved (nil: it does not resolve).
    static func resolved(_ path: String) -> String? {
        guard let real = realpath(path, nil) else { return nil }
        defer { free(real) }
        return String(cString: real)
    }

    /// Whether `path` exists and is a folder (following symlinks, as git-sync's `current` is one).
    public static func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// Hidden entries and editor leftovers (`*~`, `.#*`, `*.swp`).
    public static func isIgnored(_ name: String) -> Bool {
        name.hasPrefix(".") || name.hasSuffix("~") || name.hasSuffix(".swp") || name.hasPrefix("#")
    }

    public static func isManifestName(_ name: String) -> Bool {
        !isIgnored(name) && (name.hasSuffix(".yaml") || name.hasSuffix(".yml"))
    }
}
