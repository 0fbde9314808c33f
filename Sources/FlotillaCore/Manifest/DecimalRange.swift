/// A regular expression for the decimal numbers in a range, so that the JSON Schema can state a
/// numeric bound on text such as `256Mi` (a JSON Schema's `minimum` applies to numbers only).
enum DecimalRange {
    /// Matches the numbers `low...high` written without leading zeros (no anchors).
    static func pattern(_ low: UInt64, _ high: UInt64) -> String {
        precondition(low <= high)
        var alternatives: [String] = []
        var width = String(low).count
        while width <= String(high).count {
            let first: UInt64 = width == 1 ? 0 : power(width - 1)
            let last: UInt64 = width >= 20 ? UInt64.max : power(width) - 1
            let from = max(low, first), to = min(high, last)
            if from <= to {
                // Whole widths between the ends are one term: [1-9][0-9]{a,b}.
                if from == first, to == last, width > 1 {
                    var upto = width
                    while upto + 1 < String(high).count || (upto + 1 == String(high).count && high == power(upto + 1) - 1) { upto += 1 }
                    alternatives.append("[1-9][0-9]{\(width - 1),\(upto - 1)}")
                    width = upto + 1
                    continue
                }
                alternatives.append(sameWidth(Array(String(from)), Array(String(to))))
            }
            width += 1
        }
        return alternatives.joined(separator: "|")
    }

    /// `a...b`, both of the same number of digits.
    static func sameWidth(_ a: [Character], _ b: [Character]) -> String {
        guard let x = a.first, let y = b.first else { return "" }
        if a.count == 1 { return x == y ? String(x) : "[\(x)-\(y)]" }
        let restA = Array(a.dropFirst()), restB = Array(b.dropFirst())
        if x == y { return String(x) + group(sameWidth(restA, restB)) }
        let n = a.count - 1
        var terms: [String] = []
        var lowDigit = x.wholeNumberValue!, highDigit = y.wholeNumberValue!
        if !restA.allSatisfy({ $0 == "0" }) {
            terms.append(String(x) + group(sameWidth(restA, Array(repeating: "9", count: n))))
            lowDigit += 1
        }
        var tail: String?
        if !restB.allSatisfy({ $0 == "9" }) {
            tail = String(y) + group(sameWidth(Array(repeating: "0", count: n), restB))
            highDigit -= 1
        }
        if lowDigit <= highDigit {
            terms.append((lowDigit == highDigit ? "\(lowDigit)" : "[\(lowDigit)-\(highDigit)]") + "[0-9]{\(n)}")
        }
        if let tail { terms.append(tail) }
        return terms.joined(separator: "|")
    }

    static func group(_ s: String) -> String { s.contains("|") ? "(" + s + ")" : s }

    static func power(_ n: Int) -> UInt64 { (0..<n).reduce(1) { r, _ in r * 10 } }
}
