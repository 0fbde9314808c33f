#if canImport(Glibc)
import Glibc
#endif

/// glibc heap settings for a long-running daemon, which keep its resident memory small:
/// fewer malloc arenas (glibc makes one per thread that contends, each holding freed memory)
/// and `malloc_trim` after each reconcile. Looked up at run time: Glibc's module map leaves out
/// malloc.h, and on another libc these are no-ops.
public enum HeapTuning {
    /// `mallopt(M_ARENA_MAX, n)`; call before threads start allocating.
    public static func limitArenas(to n: Int32) {
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        let arenaMax: Int32 = -8  // M_ARENA_MAX
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
        _ = unsafeBitCast(symbol, to: Mallopt.self)(arenaMax, n)
    }

    /// `malloc_trim(0)`: returns freed heap pages to the system.
    public static func trim() {
        typealias Trim = @convention(c) (Int) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return }
        _ = unsafeBitCast(symbol, to: Trim.self)(0)
    }
}
