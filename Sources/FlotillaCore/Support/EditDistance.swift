/// "Did you mean" suggestions for misspelt keys and values.
public enum EditDistance {
    /// Levenshtein distance between two short strings.
    static func between(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = Swift.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }

    /// The closest candidate within a distance that still looks like a typo, if any.
    public static func suggestion(for word: String, in candidates: [String]) -> String? {
        let lowered = String(word.lowercased().map { $0 == "-" ? "_" : $0 })
        var best: (String, Int)?
        let length = lowered.count
        for candidate in candidates {
            // The distance is at least the difference in length: skip what cannot qualify.
            let limit = Swift.max(2, candidate.count / 3)
            if abs(candidate.count - length) > limit { continue }
            let d = between(lowered, candidate)
            if d <= limit, d < (best?.1 ?? .max) { best = (candidate, d) }
        }
        return best?.0
    }

    static func hint(for word: String, in candidates: [String]) -> String {
        if let s = suggestion(for: word, in: candidates) { return "; did you mean \"\(s)\"?" }
        return "; expected one of: " + candidates.joined(separator: ", ")
    }
}
