#if canImport(Glibc)
import Glibc
#endif

/// What `stat(2)` says of a file, enough to know it was not written since it was read: device,
/// inode, size, modification time and change time (nanoseconds). The change time moves on any
/// write or `touch` and cannot be set back by a user, so an edit of the same size that restores
/// the modification time is still seen.
struct FileIdentity: Sendable, Hashable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modified: Int64
    var changed: Int64

    /// The file at `path`, links followed; nil when it cannot be stat'ed.
    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        modified = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        changed = Int64(info.st_ctim.tv_sec) * 1_000_000_000 + Int64(info.st_ctim.tv_nsec)
    }
}
