/// Resource limits passed to the engine: `memory: 256Mi` (bytes) and `cpus: 0.5` (cores).
public struct Resources: Sendable, Hashable, Codable {
    /// Memory limit in bytes; nil: unlimited.
    public var memoryBytes: Int64?
    /// CPU limit in billionths of a core (the engine's `NanoCpus`); nil: unlimited.
    public var nanoCPUs: Int64?

    public init(memoryBytes: Int64? = nil, nanoCPUs: Int64? = nil) {
        self.memoryBytes = memoryBytes
        self.nanoCPUs = nanoCPUs
    }

    public var isEmpty: Bool { memoryBytes == nil && nanoCPUs == nil }

    enum CodingKeys: String, CodingKey { case memoryBytes = "memory_bytes", nanoCPUs = "nano_cpus" }

    /// Parses `256Mi`, `1Gi`, `512M`, `1g`, `64MiB`, `1GB`, `1048576`: binary (Ki, Mi, Gi, KiB…)
    /// and decimal (K, M, G, KB…) suffixes; lowercase `k`/`m`/`g` mean binary, as Docker reads them.
    public static func parseMemory(_ text: String) -> Int64? {
        // Longest suffixes first, so that "MiB" is not read as "B".
        let units: [(String, Int64)] = [
            ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("TiB", 1 << 40),
            ("KB", 1_000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("TB", 1_000_000_000_000),
            ("Ki", 1 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30), ("Ti", 1 << 40),
            ("k", 1 << 10), ("m", 1 << 20), ("g", 1 << 30), ("b", 1),
            ("K", 1_000), ("M", 1_000_000), ("G", 1_000_000_000), ("T", 1_000_000_000_000),
        ]
        var number = Substring(text)
        var factor: Int64 = 1
        if let unit = units.first(where: { text.hasSuffix($0.0) }) {
            number = number.dropLast(unit.0.count)
            factor = unit.1
        }
        guard !number.isEmpty, number.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int64(number) else { return nil }
        let (bytes, overflow) = value.multipliedReportingOverflow(by: factor)
        return overflow ? nil : bytes
    }
}
