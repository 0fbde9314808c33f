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
        // A burst: one call after it has stopped (a wide window: the whole suite runs at once).
        let burst = Counter()
        let slow = Debouncer(window: .seconds(1), maxWait: .seconds(10)) { burst.add() }
        for _ in 0..<10 { await slow.fire() }
        try await Task.sleep(for: .milliseconds(2500))
        #expect(burst.all.count == 1)
        // Writes every 50 ms for 3 s (never a 300 ms pause): still at most ~600 ms between calls.
        let counter = Counter()
        let debouncer = Debouncer(window: .milliseconds(300), maxWait: .milliseconds(600)) { counter.add() }
        let start = ContinuousClock.now
        while ContinuousClock.now - start < .seconds(3) {
            await debouncer.fire()
            try await Task.sleep(for: .milliseconds(50))
        }
        await debouncer.cancel()
        #expect(counter.all.count >= 2, "constant writes postponed the action: \(counter.all.count) calls in 3 s")
    }
}
