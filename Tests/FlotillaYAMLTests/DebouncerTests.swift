@testable import FlotillaAgent
import Foundation
import Testing

@Suite("Debouncer")
struct DebouncerTests {
    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var times: [ContinuousClock.Instant] = []
        func add() { lock.withLock { times.append(.now) } }
        var all: [ContinuousClock.Instant] { lock.withLock { times } }
    }

    @Test func aBurstIsOneCallAndConstantWritesCannotPostponeItForever() async throws {
        let counter = Counter()
        let debouncer = Debouncer(window: .milliseconds(100), maxWait: .milliseconds(500)) { counter.add() }
        // A burst: one call after it has stopped.
        for _ in 0..<10 { await debouncer.fire() }
        try await Task.sleep(for: .milliseconds(400))
        #expect(counter.all.count == 1)
        // Writes every 50 ms for 2 s (never a 100 ms pause): still at most ~500 ms between calls.
        let start = ContinuousClock.now
        while ContinuousClock.now - start < .seconds(2) {
            await debouncer.fire()
            try await Task.sleep(for: .milliseconds(50))
        }
        await debouncer.cancel()
        let during = counter.all.dropFirst().filter { $0 > start }
        #expect(during.count >= 2, "constant writes postponed the action: \(during.count) calls in 2 s")
    }
}
