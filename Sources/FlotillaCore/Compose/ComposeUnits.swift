/// Compose's value formats, read as Compose (Go) reads them.
public enum ComposeUnits {
    /// A Go duration (`1m30s`, `500ms`, `10s`, `1h`, `300us`) or a bare number of seconds, in
    /// milliseconds. Nil when malformed or longer than a year.
    public static func milliseconds(_ text: String) -> Int? {
        if let seconds = Double(text), seconds >= 0 { return seconds <= 31_536_000 ? Int((seconds * 1000).rounded()) : nil }
        return TimeSpan.milliseconds(text, units: [("ns", 1e-6), ("us", 1e-3), ("µs", 1e-3), ("μs", 1e-3), ("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)])
    }

    /// A Compose byte size (`512m`, `1g`, `50M`, `1.5g`, `1024`): binary, case-insensitive, as
    /// Docker's `RAMInBytes` reads it. Nil when malformed.
    public static func bytes(_ text: String) -> Int64? {
        let lower = text.lowercased().replacingOccurrences(of: " ", with: "")
        let (k, m, g, t) = (1024.0, 1_048_576.0, 1_073_741_824.0, 1_099_511_627_776.0)
        let units: [(String, Double)] = [("kib", k), ("mib", m), ("gib", g), ("tib", t), ("kb", k), ("mb", m), ("gb", g), ("tb", t),
                                         ("k", k), ("m", m), ("g", g), ("t", t), ("b", 1)]
        var number = Substring(lower)
        var factor = 1.0
        if let unit = units.first(where: { lower.hasSuffix($0.0) }) {
            number = number.dropLast(unit.0.count)
            factor = unit.1
        }
        guard !number.isEmpty, number.allSatisfy({ $0.isNumber || $0 == "." }), let value = Double(number) else { return nil }
        let bytes = value * factor
        guard bytes >= 0, bytes < 9e18 else { return nil }
        return Int64(bytes.rounded())
    }

    /// Flotilla's shortest exact spelling of a byte size (`256Mi`, `1Gi`, `1536Ki`, `1000`).
    public static func memoryText(_ bytes: Int64) -> String {
        for (suffix, factor) in [("Gi", Int64(1) << 30), ("Mi", Int64(1) << 20), ("Ki", Int64(1) << 10)] where bytes != 0 && bytes % factor == 0 {
            return "\(bytes / factor)\(suffix)"
        }
        return String(bytes)
    }
}
