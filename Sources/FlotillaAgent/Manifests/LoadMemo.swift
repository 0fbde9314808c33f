import FlotillaCore
import Synchronization

/// The last load of a manifest directory and everything it read: the files' bytes, each secret
/// file's content and each host path's real path and links (the mount policy checks those). A load that reads exactly the same again gets the same desired state
/// without parsing or validating anything: the watchdog loads the directory at every tick (a
/// safety net for missed file events and for secret files outside the watched folder), and at
/// 500 services parsing and validating was a sixth of its cycle, every cycle the same answer.
public final class LoadMemo: Sendable {
    struct Entry: Sendable {
        var directory: String
        var files: [RawManifest]
        var secretReads: [SecretRead]
        var resolved: [(path: String, facts: MountPolicy.PathFacts)]
        var claimed: ClaimedRoutes
        var state: DesiredState
    }

    private let last = Mutex<Entry?>(nil)
    /// Loads answered from memory.
    let hits = Mutex(0)
    /// Manifest files whose bytes were taken from the last load instead of read (``bytes(of:identity:)``).
    let reused = Mutex(0)
    /// Every this many loads, every file is read again whatever `stat` says.
    static let fullReadEvery = 10
    private let loads = Mutex(0)

    /// Starts a load; true when this one must read every file (the first, then every
    /// ``fullReadEvery``th): a safety net for a write `stat` cannot see.
    func beginLoad() -> Bool {
        loads.withLock { count in
            defer { count += 1 }
            return count % Self.fullReadEvery == 0
        }
    }

    /// The last load's bytes of `path` when the file is as it was then (same identity): the
    /// watchdog then does not read every manifest at every tick.
    func bytes(of path: String, identity: FileIdentity) -> [UInt8]? {
        guard let entry = last.withLock({ $0 }),
              let file = entry.files.first(where: { $0.path == path }), file.identity == identity,
              case .bytes(let bytes) = file.content else { return nil }
        reused.withLock { $0 += 1 }
        return bytes
    }

    public init() {}

    /// The remembered state when `files` are what it was loaded from, every secret file it read
    /// still reads the same and every host path it resolved still resolves the same.
    func state(directory: String, files: [RawManifest], secrets: any SecretReader, mounts: MountPolicy, claimed: ClaimedRoutes = ClaimedRoutes()) -> DesiredState? {
        guard let entry = last.withLock({ $0 }), entry.directory == directory, entry.files == files, entry.claimed == claimed else { return nil }
        for read in entry.secretReads where secrets.read(read.path, from: read.file) != read.result { return nil }
        for (path, facts) in entry.resolved where mounts.inspect(path) != facts { return nil }
        hits.withLock { $0 += 1 }
        // Same bytes; a file touched since is known by its new identity from now on.
        last.withLock { if $0?.directory == directory { $0?.files = files } }
        return entry.state
    }

    func remember(_ state: DesiredState, directory: String, files: [RawManifest], secretReads: [SecretRead], resolved: [(path: String, facts: MountPolicy.PathFacts)],
                  claimed: ClaimedRoutes = ClaimedRoutes()) {
        last.withLock { $0 = Entry(directory: directory, files: files, secretReads: secretReads, resolved: resolved, claimed: claimed, state: state) }
    }
}

/// One manifest file as read from disk, before parsing: its bytes, or why it could not be read.
struct RawManifest: Sendable, Equatable {
    enum Content: Sendable, Equatable {
        case bytes([UInt8])
        case unreadable(String)
    }

    var path: String
    var content: Content
    /// The file as stat'ed just before it was read (nil: unreadable). Not part of equality: a
    /// file touched but not changed loads to the same state.
    var identity: FileIdentity? = nil

    static func == (a: RawManifest, b: RawManifest) -> Bool { a.path == b.path && a.content == b.content }
}

/// One secret file read while validating, and what it gave.
struct SecretRead: Sendable, Equatable {
    var path: String
    var file: String
    var result: Result<String, SecretReadError>
}

/// Passes host paths through to a mount policy's resolver and keeps a record of each.
final class RecordingResolver: Sendable {
    let resolved = Mutex<[(path: String, facts: MountPolicy.PathFacts)]>([])

    /// `policy` with its inspections recorded here.
    func recording(_ policy: MountPolicy) -> MountPolicy {
        var recorded = policy
        let inner = policy.inspect
        recorded.inspect = { [self] path in
            let facts = inner(path)
            resolved.withLock { $0.append((path, facts)) }
            return facts
        }
        return recorded
    }
}

/// Passes reads through to another reader and keeps a record of each (for ``LoadMemo``).
final class RecordingSecretReader: SecretReader {
    let inner: any SecretReader
    let reads = Mutex<[SecretRead]>([])

    init(_ inner: any SecretReader) { self.inner = inner }

    func read(_ path: String, from file: String) -> Result<String, SecretReadError> {
        let result = inner.read(path, from: file)
        reads.withLock { $0.append(SecretRead(path: path, file: file, result: result)) }
        return result
    }
}
