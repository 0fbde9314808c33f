#if canImport(Glibc)
import Glibc
#endif

/// Keeps an idle daemon's resident memory to what it actually uses.
///
/// Start-up touches much code that the idle loop never runs again (argument parsing, the first
/// load, every library's initialisers), and the kernel maps a whole 64 KiB window of a binary
/// per page fault: a Swift daemon idles with 20–30 MiB of clean, file-backed pages it does not
/// need. ``release()`` hands the program's read-only file mappings back with
/// `madvise(MADV_PAGEOUT)` and returns freed heap to the system (`malloc_trim`); what the loop
/// uses is faulted back from the page cache at the next tick (minor faults, a few ms). Never
/// touches writable mappings or any holding anonymous pages, so nothing goes to swap.
public enum WorkingSet {
    /// `MADV_PAGEOUT` (Linux 5.4): reclaim these pages now. Older kernels answer EINVAL: a no-op.
    static let pageOut: Int32 = 21

    /// Returns how many bytes were advised.
    @discardableResult
    public static func release() -> Int {
        HeapTuning.trim()
        guard let smaps = readProcFile("/proc/self/smaps") else { return 0 }
        var advised = 0
        var candidate: (start: UInt, end: UInt)?
        func advise() {
            guard let range = candidate, let address = UnsafeMutableRawPointer(bitPattern: range.start) else { return }
            if madvise(address, Int(range.end - range.start), pageOut) == 0 { advised += Int(range.end - range.start) }
        }
        for line in smaps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let first = fields.first else { continue }
            if first.hasSuffix(":") {
                // A mapping's detail: one with anonymous pages (relocated read-only data, copied
                // on write at start-up) is left alone, or MADV_PAGEOUT would swap them.
                if first == "Anonymous:", fields.count > 1, fields[1] != "0" { candidate = nil }
                continue
            }
            advise()
            candidate = nil
            // address perms offset dev inode path: read-only (code or data), private, from a file.
            guard fields.count >= 6, fields[1] == "r-xp" || fields[1] == "r--p", fields[5].hasPrefix("/") else { continue }
            let bounds = first.split(separator: "-")
            guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16), end > start else { continue }
            candidate = (start, end)
        }
        advise()
        return advised
    }

    /// A /proc file, read to its end (its size says 0; one read returns only part of it).
    public static func readProcFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
