import Foundation

/// Wall-clock time in Unix milliseconds: what creation labels, backoff and probe states use.
/// Read here, at the edge; the core takes "now" as an argument.
public enum WallClock {
    public static func nowMS() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}
