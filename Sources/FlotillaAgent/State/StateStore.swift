import FlotillaCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The daemon's small state directory (`--state-dir`, default `/var/lib/flotilla/<project>`):
/// what must survive every container and every Flotilla process. Each file is JSON, written
/// atomically (temp file, fsync, rename), readable only by its owner.
///
/// - `decisions.json`: ``ReleaseDecisions`` (rollbacks, canaries waiting, promotions under way);
/// - `routes.json`: the last route table written, so services of a broken manifest file keep
///   their routes across a restart;
/// - `swarm-updates.json`: swarm mode's last spec hash sent to each Swarm service, so that an
///   update Swarm rolled back (which clears its own record of it) is not sent again.
///
/// A missing or unreadable file reads as empty: a lost state directory degrades safely (the
/// rollback markers on the engine still hold; a canary is never shipped because of it).
public struct StateStore: Sendable {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    public static func defaultDirectory(project: String) -> String { "/var/lib/flotilla/" + project }

    /// Creates the directory (mode 0700) if needed; throws with a clear message when it cannot.
    public func prepare() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        guard access(directory, W_OK) == 0 else {
            throw AtomicFile.WriteError(description: "state directory \(directory) is not writable")
        }
    }

    public func loadDecisions() -> ReleaseDecisions { read("decisions.json") ?? ReleaseDecisions() }
    public func save(_ decisions: ReleaseDecisions) throws { try write(decisions, to: "decisions.json") }

    public func loadRoutes() -> RouteTable? { read("routes.json") }

    /// The host's key for secret digests (`secret-digest.key`, 32 random bytes, mode 0600),
    /// created on first use. Two processes creating it at once agree on one key: the new key is
    /// linked into place only if none exists yet, and otherwise the existing one is read.
    public func loadOrCreateDigestKey() throws -> SecretDigestKey {
        let path = directory + "/secret-digest.key"
        if let key = loadDigestKey() { return key }
        try prepare()
        let temp = path + ".new-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try AtomicFile.write(Data(SecretDigestKey.random().bytes), to: temp, mode: 0o600)
        defer { unlink(temp) }
        if link(temp, path) != 0 && errno != EEXIST {
            throw AtomicFile.WriteError(description: "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        guard let key = loadDigestKey() else {
            throw AtomicFile.WriteError(description: "\(path) is not a key of 32 bytes; remove it and Flotilla creates a new one")
        }
        return key
    }

    /// Where a running daemon's HTTP endpoint listens (`daemon-address`), for `flotilla status`.
    public func saveDaemonAddress(_ address: String) {
        try? prepare()
        try? AtomicFile.write(Data(address.utf8), to: directory + "/daemon-address", mode: 0o600)
    }

    public func loadDaemonAddress() -> String? {
        FileManager.default.contents(atPath: directory + "/daemon-address").map { String(decoding: $0, as: UTF8.self) }
    }

    /// The daemon's bearer token for its endpoint (`daemon-token`, mode 0600), so that
    /// `flotilla status` run by the same user finds it; removed when the daemon has none.
    public func saveDaemonToken(_ token: String?) {
        let path = directory + "/daemon-token"
        guard let token else { unlink(path); return }
        try? AtomicFile.write(Data(token.utf8), to: path, mode: 0o600)
    }

    public func loadDaemonToken() -> String? {
        FileManager.default.contents(atPath: directory + "/daemon-token").map { String(decoding: $0, as: UTF8.self) }
    }

    /// When the key was created (its file's modification time, Unix ms).
    public func digestKeyCreated() -> Int64? {
        var info = stat()
        guard stat(directory + "/secret-digest.key", &info) == 0 else { return nil }
        return Int64(info.st_mtim.tv_sec) * 1000 + Int64(info.st_mtim.tv_nsec) / 1_000_000
    }

    /// The key if it exists (never creates it).
    public func loadDigestKey() -> SecretDigestKey? {
        FileManager.default.contents(atPath: directory + "/secret-digest.key").flatMap { SecretDigestKey(bytes: [UInt8]($0)) }
    }
    public func save(_ routes: RouteTable) throws { try write(routes, to: "routes.json") }

    /// Swarm service name → the spec hash last sent to it.
    public func loadSwarmUpdates() -> [String: String] { read("swarm-updates.json") ?? [:] }
    public func saveSwarmUpdates(_ updates: [String: String]) throws {
        try prepare()
        try write(updates, to: "swarm-updates.json")
    }

    func read<T: Decodable>(_ name: String) -> T? {
        guard let data = FileManager.default.contents(atPath: directory + "/" + name) else { return nil }
        return try? JSONDecoder().decode(T.self, from: data)
    }

    func write<T: Encodable>(_ value: T, to name: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try AtomicFile.write(try encoder.encode(value), to: directory + "/" + name, mode: 0o600)
    }
}
