import FlotillaCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads a regular file of bounded size, never blocking on what is not one: the file is opened
/// non-blocking and checked with `fstat` before a byte is read, so a FIFO, a device such as
/// `/dev/zero` or `/dev/kmsg`, or a folder put where a manifest, a Compose file or a secret is
/// expected is refused instead of hanging or exhausting the reader. Shared by the manifest
/// loader, the secret reader and `import compose`, which each word the problem for their user.
public enum RegularFile {
    public enum Problem: Error, Equatable {
        /// `open(2)` failed (its errno).
        case open(Int32)
        /// The opened file is not inside any of the allowed roots (a path component was swapped
        /// for a link between the caller's check and the open).
        case changed
        case notRegular
        case tooLarge
        /// `fstat(2)` or `read(2)` failed (its errno).
        case read(Int32)
    }

    /// The file's bytes, at most `maxSize` of them. `insideAny`: the real path of the opened file
    /// (`/proc/self/fd`) must be inside one of these folders.
    public static func read(_ path: String, maxSize: Int, insideAny roots: [String]? = nil) -> Result<[UInt8], Problem> {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else { return .failure(.open(errno)) }
        defer { close(fd) }
        if let roots {
            guard let opened = HostPath.real("/proc/self/fd/\(fd)"), roots.contains(where: { MountPolicy.path(opened, isInside: $0) }) else {
                return .failure(.changed)
            }
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return .failure(.read(errno)) }
        guard info.st_mode & S_IFMT == S_IFREG else { return .failure(.notRegular) }
        guard Int(info.st_size) <= maxSize else { return .failure(.tooLarge) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while bytes.count <= maxSize {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return .failure(.read(errno))
            }
            if n == 0 { break }
            bytes += buffer[0..<n]
        }
        guard bytes.count <= maxSize else { return .failure(.tooLarge) }
        return .success(bytes)
    }
}
