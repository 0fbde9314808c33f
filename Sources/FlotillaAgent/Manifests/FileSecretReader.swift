import FlotillaCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

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
        let data: [UInt8]
        switch Self.readRegularFile(full, maxSize: maxSize) {
        case .success(let bytes): data = bytes
        case .failure(let problem): return .failure(problem)
        }
        guard let text = String(validating: data, as: UTF8.self) else { return .failure(SecretReadError("\(full) is not UTF-8 text")) }
        return .success(text)
    }

    /// Reads a regular file of at most `maxSize` bytes (an empty one is fine). Anything else (a
    /// FIFO, a device such as /dev/kmsg or /dev/stdin, a folder) is refused without blocking: the
    /// file is opened non-blocking and checked with fstat before a single byte is read.
    static func readRegularFile(_ path: String, maxSize: Int) -> Result<[UInt8], SecretReadError> {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else {
            let why = errno
            if why == ENOENT { return .failure(SecretReadError("\(path) does not exist")) }
            return .failure(SecretReadError("cannot read \(path): \(String(cString: strerror(why)))"))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return .failure(SecretReadError("cannot read \(path): \(String(cString: strerror(errno)))")) }
        guard info.st_mode & S_IFMT == S_IFREG else {
            return .failure(SecretReadError("\(path) is not a regular file (secrets and env files must be plain files)"))
        }
        guard Int(info.st_size) <= maxSize else { return .failure(SecretReadError("\(path) is larger than \(maxSize) bytes")) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while bytes.count <= maxSize {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return .failure(SecretReadError("cannot read \(path): \(String(cString: strerror(errno)))"))
            }
            if n == 0 { break }
            bytes += buffer[0..<n]
        }
        guard bytes.count <= maxSize else { return .failure(SecretReadError("\(path) is larger than \(maxSize) bytes")) }
        return .success(bytes)
    }
}
