import FlotillaCore
import Testing

/// The controller's release decisions are written through to the state directory.
struct WriteThroughTests {
    struct DiskFull: Error {}

    /// Found by reading (issue 25): a write that failed on a full state directory was never
    /// tried again while the decisions stayed the same, so after space came back the file kept
    /// the older decisions and a restart read them (a canary waiting could be shipped at full scale).
    @Test func aFailedWriteIsTriedAgainAtTheNextSaveEvenWhenNothingChanged() {
        var saved = WriteThrough(ReleaseDecisions())
        var disk: ReleaseDecisions? = nil
        var full = true
        var next = ReleaseDecisions()
        next.record(service: "web", hash: "h2", phase: .canary)

        #expect(saved.save(next) { value in if full { throw DiskFull() }; disk = value } is DiskFull)
        #expect(saved.value == next && saved.unsaved && disk == nil)

        full = false
        #expect(saved.save(next) { disk = $0 } == nil)
        #expect(disk == next && !saved.unsaved)
    }

    @Test func anUnchangedValueIsNotWrittenAgainAfterASuccessfulWrite() {
        var saved = WriteThrough(ReleaseDecisions())
        var writes = 0
        saved.save(ReleaseDecisions()) { _ in writes += 1 }
        #expect(writes == 0)
        var next = ReleaseDecisions()
        next.record(service: "web", hash: "h1", phase: .canary)
        saved.save(next) { _ in writes += 1 }
        saved.save(next) { _ in writes += 1 }
        #expect(writes == 1 && saved.value == next)
    }
}
