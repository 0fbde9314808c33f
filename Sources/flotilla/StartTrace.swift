import Foundation
import Synchronization

/// Where a one-shot command's time goes, piece by piece (issue 27: no-op `apply` against a bare
/// list call). Off unless `FLOTILLA_TRACE_START` holds the `CLOCK_MONOTONIC` time, in
/// nanoseconds, at which the caller started the process (`time.monotonic_ns()` in Python); then
/// the command prints one line on stderr as it exits:
///   start trace: exec→main 14.1 ms, parse 0.9 ms, engine 3.2 ms, owner 2.0 ms, …, total 41.3 ms
/// `exec→main` is the dynamic loader, the Swift runtime, Foundation and every library's start-up.
enum StartTrace {
    static let origin: UInt64? = ProcessInfo.processInfo.environment["FLOTILLA_TRACE_START"].flatMap(UInt64.init)
    static let marks = Mutex<[(String, UInt64)]>([])

    static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// The piece that ends now is called `name`.
    static func mark(_ name: String) {
        guard origin != nil else { return }
        let t = now()
        marks.withLock { $0.append((name, t)) }
    }

    /// The line, once, at exit.
    static func report() {
        guard let origin else { return }
        let end = now()
        var pieces: [String] = []
        var last = origin
        marks.withLock { marks in
            for (name, t) in marks {
                pieces.append(String(format: "%@ %.1f ms", name, Double(t &- last) / 1e6))
                last = t
            }
            marks = []
        }
        pieces.append(String(format: "rest %.1f ms, total %.1f ms", Double(end &- last) / 1e6, Double(end &- origin) / 1e6))
        FileHandle.standardError.write(Data("start trace: \(pieces.joined(separator: ", "))\n".utf8))
    }
}
