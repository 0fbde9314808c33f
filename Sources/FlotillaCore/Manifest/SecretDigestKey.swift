/// The key of the digests that stand for secret values wherever a secret must be recognisable
/// but not readable: container labels, the spec hash, `plan` and `validate --format json`.
///
/// A plain SHA-256 of a low-entropy secret (a short password) can be brute-forced offline by
/// anyone who can run `docker inspect`; an HMAC under a per-host key cannot, without the key.
/// The agent keeps the key in the state directory (created on first use, readable by root
/// only). A new key changes every secret's digest, so services with secrets are replaced once
/// (rolling, like any change).
public struct SecretDigestKey: Sendable, Hashable {
    public let bytes: [UInt8]

    /// Keys shorter than 32 bytes are refused (nil).
    public init?(bytes: [UInt8]) {
        guard bytes.count >= 32 else { return nil }
        self.bytes = bytes
    }

    /// A fresh random key (the system's cryptographic generator).
    public static func random() -> SecretDigestKey {
        var generator = SystemRandomNumberGenerator()
        return SecretDigestKey(bytes: (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })!
    }

    /// A key for this process only: digests are stable within one run and mean nothing outside
    /// it. The default where no key was loaded (pure decoding, `validate` without a state dir).
    public static let ephemeral = random()

    /// `hmac-sha256:` and the first 12 hex digits of the value's HMAC-SHA-256.
    public func digest(of value: String) -> String {
        "hmac-sha256:" + Digests.hmacSHA256Hex(key: bytes, Array(value.utf8)).prefix(12)
    }
}
