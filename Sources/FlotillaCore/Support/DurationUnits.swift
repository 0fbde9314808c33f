import Foundation

extension Duration {
    /// Whole milliseconds (truncated).
    public var wholeMilliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }

    /// Seconds, with the fraction.
    public var fractionalSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
