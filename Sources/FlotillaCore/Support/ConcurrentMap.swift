import Dispatch

extension Array where Element: Sendable {
    /// `map`, with the elements spread over the cores in a few chunks; results in order.
    /// For pure, independent work on many elements (parsing and validating thousands of manifest
    /// files); a single element runs on the caller's thread.
    public func concurrentMap<T: Sendable>(_ transform: @Sendable (Element) -> T) -> [T] {
        guard count > 1 else { return map(transform) }
        var results = [T?](repeating: nil, count: count)
        let chunks = Swift.min(count, 16)
        results.withUnsafeMutableBufferPointer { buffer in
            nonisolated(unsafe) let slots = buffer  // each chunk writes only its own slots
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                for i in (chunk * count / chunks)..<((chunk + 1) * count / chunks) { slots[i] = transform(self[i]) }
            }
        }
        return results.map { $0! }
    }
}
