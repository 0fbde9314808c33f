import FlotillaCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Real paths on the host, symlinks followed.
enum HostPath {
    /// `realpath(3)`: nil (with `errno` set) when the path does not exist.
    static func real(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The real path of the longest existing ancestor with the rest appended, as a bind mount
    /// would resolve it once the engine creates the missing folders.
    @Sendable static func realOrLexical(_ path: String) -> String {
        var head = path
        var tail: [String] = []
        while head != "/" && !head.isEmpty {
            if let real = real(head) {
                return tail.isEmpty ? real : (real == "/" ? "" : real) + "/" + tail.reversed().joined(separator: "/")
            }
            tail.append((head as NSString).lastPathComponent)
            head = (head as NSString).deletingLastPathComponent
        }
        return "/" + tail.reversed().joined(separator: "/")
    }

    /// The real path, and which components of `path` as written are symbolic links (`lstat`),
    /// as far as the path exists.
    @Sendable static func inspect(_ path: String) -> MountPolicy.PathFacts {
        var links: [String] = []
        var prefix = ""
        for component in path.split(separator: "/") {
            prefix += "/" + component
            var info = stat()
            guard lstat(prefix, &info) == 0 else { break }
            if (info.st_mode & S_IFMT) == S_IFLNK { links.append(prefix) }
        }
        return MountPolicy.PathFacts(real: realOrLexical(path), links: links)
    }
}
