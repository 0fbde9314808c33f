import FlotillaCore
import Foundation

/// Reads `env_file` and `secrets` files from disk: a relative path is taken from the folder of
/// the manifest file that names it (inside the manifest directory), an absolute path as it is.
public struct FileSecretReader: SecretReader {
    public let root: String
    public let maxSize: Int

    public init(root: String, maxSize: Int = 1 << 20) {
        self.root = root
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
        guard let handle = FileHandle(forReadingAtPath: full) else {
            let exists = FileManager.default.fileExists(atPath: full)
            return .failure(SecretReadError(exists ? "cannot read \(full) (permission denied?)" : "\(full) does not exist"))
        }
        defer { try? handle.close() }
        guard let data = try? handle.read(upToCount: maxSize + 1) else { return .failure(SecretReadError("cannot read \(full)")) }
        guard data.count <= maxSize else { return .failure(SecretReadError("\(full) is larger than \(maxSize) bytes")) }
        guard let text = String(data: data, encoding: .utf8) else { return .failure(SecretReadError("\(full) is not UTF-8 text")) }
        return .success(text)
    }
}
