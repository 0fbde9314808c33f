/// A manifest duration such as `500ms`, `5s`, `2m` or `1h`, kept in whole milliseconds.
public struct TimeSpan: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    public var milliseconds: Int

    public init(milliseconds: Int) { self.milliseconds = milliseconds }
    public static func seconds(_ s: Int) -> TimeSpan { TimeSpan(milliseconds: s * 1000) }

    /// Parses `<number><unit>` with unit `ms`, `s`, `m` or `h`; the number may have a fraction
    /// (`1.5s`). Several parts may be joined (`1m30s`). Returns nil for anything else.
    public init?(parsing text: String) {
        guard let total = Self.milliseconds(text, units: [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]) else { return nil }
        self.milliseconds = total
    }

    /// `NUMBER UNIT` pairs summed (`1m30s`), in milliseconds, with `units` as each unit's worth;
    /// nil when malformed or longer than a year. Compose's Go durations use it with more units.
    static func milliseconds(_ text: String, units: [(String, Double)]) -> Int? {
        var rest = Substring(text)
        var total = 0.0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            let unitText = rest.prefix { !($0.isASCII && ($0.isNumber || $0 == ".")) }
            guard let unit = units.first(where: { $0.0 == unitText }) else { return nil }
            rest = rest.dropFirst(unitText.count)
            total += value * unit.1
        }
        guard total <= 365 * 24 * 3_600_000 else { return nil }
        return Int(total.rounded())
    }

    public var seconds: Double { Double(milliseconds) / 1000 }

    /// The shortest exact form: `1500ms`, `5s`, `2m`, `1h`.
    public var description: String {
        let ms = milliseconds
        if ms != 0, ms % 3_600_000 == 0 { return "\(ms / 3_600_000)h" }
        if ms != 0, ms % 60_000 == 0 { return "\(ms / 60_000)m" }
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        return "\(ms)ms"
    }

    public static func < (a: TimeSpan, b: TimeSpan) -> Bool { a.milliseconds < b.milliseconds }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let span = TimeSpan(parsing: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad duration \(text)"))
        }
        self = span
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
