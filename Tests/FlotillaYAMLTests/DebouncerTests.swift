@testable import FlotillaAgent
import Foundation
import Testing

/// (Bursts folding into one call are covered end to end: `gitCheckoutIsOneReconcile`. A timed
/// burst check here is at the mercy of the whole suite blocking the cooperative pool.)
@Suite("Debouncer")
struct DebouncerTests {
    @Test func constantWritesCannotPostponeTheActionForever() {
        // The decision, without timing: each call moves the deadline to `now + window`, but
        // never past the burst's first call + maxWait (before: always `now + window`, so calls
        // every 50 ms with a 100 ms window postponed the action forever).
        let t0 = AgentClock.now
        let latest = t0 + .seconds(1)
        var deadlines: [AgentClock.Instant] = []
        for i in 0..<100 {  // a call every 50 ms for 5 s
            deadlines.append(Debouncer.deadline(now: t0 + .milliseconds(50 * i), window: .milliseconds(100), latest: latest))
        }
        #expect(deadlines.allSatisfy { $0 <= latest })
        #expect(deadlines.first == t0 + .milliseconds(100))
        #expect(Debouncer.deadline(now: t0, window: .milliseconds(100), latest: t0 + .seconds(5)) == t0 + .milliseconds(100))
    }
}
