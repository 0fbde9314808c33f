/// A value read from a file (`env_file`, `secrets`). It reaches the container's environment and
/// nothing else: its description, its encoding (plan output, labels) and the spec hash use only
/// a keyed digest (``SecretDigestKey``), so a changed secret replaces the container without the
/// value ever being shown, and the digest cannot be brute-forced without the host's key.
public struct SecretValue: Sendable, Hashable, Codable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The clear value. Read it only to hand it to the engine.
    public let value: String
    /// Where it came from (`secrets/db-password`, `app.env`), for messages.
    public let source: String

    /// The keyed digest that stands for the value.
    public let digest: String

    public init(value: String, source: String, key: SecretDigestKey = .ephemeral) {
        self.value = value
        self.source = source
        self.digest = key.digest(of: value)
    }

    public var description: String { "<secret \(digest) from \(source)>" }
    public var debugDescription: String { description }

    enum CodingKeys: String, CodingKey { case digest, source }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(digest, forKey: .digest)
        try c.encode(source, forKey: .source)
    }

    /// Decoding cannot recover the value; it exists only so that specs stay `Codable`.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        value = ""
        source = try c.decode(String.self, forKey: .source)
        digest = try c.decode(String.self, forKey: .digest)
    }
}

/// Reads the files that `env_file` and `secrets` name. The decoder stays pure: the loader passes
/// a reader that touches the disk, tests pass one backed by a dictionary.
public protocol SecretReader: Sendable {
    /// The content of `path` (relative paths are relative to the manifest `file`'s folder), or
    /// a message saying why it cannot be read.
    func read(_ path: String, from file: String) -> Result<String, SecretReadError>
}

public struct SecretReadError: Error, Sendable, Hashable {
    public var message: String
    public init(_ message: String) { self.message = message }
}

/// A reader that has nothing: every `env_file`/`secrets` entry is an error. The default when no
/// reader is given.
public struct NoSecretReader: SecretReader {
    public init() {}
    public func read(_ path: String, from file: String) -> Result<String, SecretReadError> {
        .failure(SecretReadError("secret files cannot be read here"))
    }
}
