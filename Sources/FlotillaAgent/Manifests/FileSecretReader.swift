import FlotillaCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads `env_file` and `secrets` files from disk: a relative path is taken from the folder of
/// the manifest file that names it, an absolute path as it is.
///
/// Only files that really are (symlinks followed) inside the manifest directory or inside the
/// operator's secrets directory can be read: a committer must not be able to copy
/// `/etc/shadow` or the daemon's own `/proc/self/environ` into a container. The check is made
/// before the file is opened (opening a device can have effects) and again on the opened file
/// (`/proc/self/fd`), so swapping a path component in between does not get past it.
public struct FileSecretReader: SecretReader {
    public let root: String
    public let secretsDirectory: String
    public let maxSize: Int

    public init(root: String, secretsDirectory: String = HostAccess.defaultSecretsDirectory, maxSize: Int = 1 << 20) {
        self.root = root
        self.secretsDirectory = secretsDirectory
        self.maxSize = maxSize
    }

    public func read(_ path: String, from file: String) -> Result<String, SecretReadError> {
        let full: String
        if path.hasPrefix("/") {
            full = path
        } else {
            let folder = (file as NSString).deletingLastPathComponent
            full = ((root as NSString).appendingPathComponent(folder) as NSString).appendingPathComponent(path)
        }
        guard let real = HostPath.real(full) else {
            let why = errno
            if why == ENOENT || why == ENOTDIR { return .failure(SecretReadError("\(full) does not exist")) }
            return .failure(SecretReadError("cannot read \(full): \(String(cString: strerror(why)))"))
        }
        let roots = [root, secretsDirectory].compactMap(HostPath.real)
        guard roots.contains(where: { MountPolicy.path(real, isInside: $0) }) else {
            return .failure(SecretReadError(outside(full, real: real)))
        }
        let data: [UInt8]
        switch Self.readRegularFile(real, maxSize: maxSize, allowedRoots: roots) {
        case .success(let bytes): data = bytes
        case .failure(let problem): return .failure(problem)
        }
        guard let text = String(validating: data, as: UTF8.self) else { return .failure(SecretReadError("\(full) is not UTF-8 text")) }
        return .success(text)
    }

    func outside(_ full: String, real: String) -> String {
        let shown = real == full ? full : "\(full) (really \(real))"
        return "\(shown) is outside the manifest directory and the secrets directory \(secretsDirectory); "
            + "keep secret files in the secrets directory (out of git; the operator sets it with --secrets-dir) or beside the manifests"
    }

    /// Reads a regular file of at most `maxSize` bytes (``RegularFile``), worded for secrets.
    static func readRegularFile(_ path: String, maxSize: Int, allowedRoots: [String]? = nil) -> Result<[UInt8], SecretReadError> {
        RegularFile.read(path, maxSize: maxSize, insideAny: allowedRoots).mapError { problem in
            switch problem {
            case .open(ENOENT): return SecretReadError("\(path) does not exist")
            case .open(let why), .read(let why): return SecretReadError("cannot read \(path): \(String(cString: strerror(why)))")
            case .changed: return SecretReadError("\(path) changed while it was opened; refusing to read it")
            case .notRegular: return SecretReadError("\(path) is not a regular file (secrets and env files must be plain files)")
            case .tooLarge: return SecretReadError("\(path) is larger than \(maxSize) bytes")
            }
        }
    }
}
