@testable import FlotillaCore
import Testing

@Suite("Probe state machine")
struct ProbeStateTests {
    let check = HealthCheck(probe: .tcp, interval: .seconds(1), retries: 3, startPeriod: .seconds(10))

    @Test func unknownUntilTheFirstVerdictThenPassingAtTheFirstSuccess() {
        var state = ProbeState(check: check, since: 0)
        #expect(state.status == .unknown)
        #expect(state.record(success: true, at: 500) == .passing)
        #expect(state.record(success: true, at: 1500) == nil)  // no change, no report
        #expect(state.status == .passing && state.changedAt == 500)
    }

    @Test func failuresDuringTheStartPeriodDoNotCount() {
        var state = ProbeState(check: check, since: 1000)
        for t in stride(from: 1000, to: 11_000, by: 1000) { #expect(state.record(success: false, at: Int64(t)) == nil) }
        #expect(state.status == .unknown && state.consecutiveFailures == 0)
        #expect(state.record(success: false, at: 11_000) == nil)
        #expect(state.record(success: false, at: 12_000) == nil)
        #expect(state.record(success: false, at: 13_000) == .failing)
    }

    @Test func failingNeedsRetriesInARowAndOneSuccessRecovers() {
        var state = ProbeState(check: HealthCheck(probe: .tcp, retries: 3), since: 0)
        state.record(success: true, at: 1)
        #expect(state.record(success: false, at: 2) == nil)
        #expect(state.record(success: false, at: 3) == nil)
        #expect(state.status == .passing)  // two dropped probes do not pull a replica out
        #expect(state.record(success: true, at: 4) == nil)
        #expect(state.consecutiveFailures == 0)
        for t: Int64 in 5...6 { state.record(success: false, at: t) }
        #expect(state.record(success: false, at: 7) == .failing)
        #expect(state.record(success: false, at: 8) == nil)
        #expect(state.consecutiveFailures == 4)
        #expect(state.record(success: true, at: 9) == .passing)
        #expect(state.changedAt == 9)
    }

    @Test func oneRetryFailsAtOnce() {
        var state = ProbeState(check: HealthCheck(probe: .tcp, retries: 1), since: 0)
        #expect(state.record(success: false, at: 1) == .failing)
    }
}
