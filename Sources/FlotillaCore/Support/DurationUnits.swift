import Foundation

extension Duration {
    /// Whole milliseconds (truncated).
    public var wholeMilliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }

    /// Seconds, with the fraction.
    public var fractionalSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// Wall-clock time in Unix milliseconds: what creation labels, backoff and probe states use.
public enum WallClock {
    public static func nowMS() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}
