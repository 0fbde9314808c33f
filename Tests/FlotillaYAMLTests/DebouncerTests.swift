@testable import FlotillaAgent
import Foundation
import Testing

/// (Bursts folding into one call are covered end to end: `gitCheckoutIsOneReconcile`. A timed
/// burst check here is at the mercy of the whole suite blocking the cooperative pool.)
@Suite("Debouncer")
struct DebouncerTests {
    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var times: [ContinuousClock.Instant] = []
        func add() { lock.withLock { times.append(.now) } }
        var all: [ContinuousClock.Instant] { lock.withLock { times } }
    }

    @Test func constantWritesCannotPostponeTheActionForever() async throws {
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
