import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes a file so that no reader (and no crash) ever sees half of it: a temp file in the same
/// folder, fsynced, renamed over the target, and the folder fsynced so the rename is durable.
public enum AtomicFile {
    struct WriteError: Error, CustomStringConvertible {
        var description: String
    }

    public static func write(_ data: Data, to path: String, mode: mode_t = 0o644) throws {
        try commit(stage(data, nextTo: path, mode: mode), to: path)
    }

    /// Writes `data` to a new temp file in `path`'s folder, fsynced, and returns the temp file's
    /// path: a hidden name ending in `.tmp` (`.routes.conf.flotilla-PID-N.tmp`), so that an
    /// `include *.conf` never picks it up. ``commit(_:to:)`` puts it in place; the caller removes
    /// it otherwise.
    public static func stage(_ data: Data, nextTo path: String, mode: mode_t = 0o644) throws -> String {
        let directory = (path as NSString).deletingLastPathComponent
        let temp = (directory.isEmpty ? "." : directory) + "/.\((path as NSString).lastPathComponent).flotilla-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).tmp"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw WriteError(description: "cannot create \(temp): \(String(cString: strerror(errno)))") }
        var ok = data.withUnsafeBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n <= 0 { return false }
                offset += n
            }
            return true
        }
        ok = ok && fsync(fd) == 0
        let message = String(cString: strerror(errno))
        close(fd)
        guard ok else {
            unlink(temp)
            throw WriteError(description: "cannot write \(temp): \(message)")
        }
        return temp
    }

    /// Removes the staged files a killed writer left in `directory` (a process killed between
    /// ``stage(_:nextTo:mode:)`` and ``commit(_:to:)``: `import compose` under SIGKILL, a daemon
    /// lost mid-write); only those whose process is gone, never another writer's in flight.
    /// Returns the names removed.
    @discardableResult
    public static func removeLeftovers(in directory: String) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.isEmpty ? "." : directory) else { return [] }
        var removed: [String] = []
        for name in names.sorted() where name.hasPrefix(".") && name.hasSuffix(".tmp") {
            // .NAME.flotilla-PID-N.tmp
            let parts = name.dropLast(".tmp".count).components(separatedBy: ".flotilla-")
            guard parts.count >= 2, let tail = parts.last?.split(separator: "-"), tail.count == 2,
                  let pid = Int32(tail[0]), UInt32(tail[1]) != nil, pid > 0 else { continue }
            guard kill(pid, 0) == -1 && errno == ESRCH else { continue }  // its writer still runs
            if unlink((directory.isEmpty ? "." : directory) + "/" + name) == 0 { removed.append(name) }
        }
        return removed
    }

    /// Renames a ``stage(_:nextTo:mode:)`` file over `path` (atomic: a reader sees the old file or
    /// the new one) and fsyncs the folder so the rename is durable. On failure the temp file is
    /// removed.
    public static func commit(_ temp: String, to path: String) throws {
        guard rename(temp, path) == 0 else {
            let message = String(cString: strerror(errno))
            unlink(temp)
            throw WriteError(description: "cannot write \(path): \(message)")
        }
        let directory = (path as NSString).deletingLastPathComponent
        let dirFD = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirFD >= 0 { fsync(dirFD); close(dirFD) }
    }
}
