@testable import FlotillaCore
import Testing

@Suite("Work queue decisions")
struct WorkQueueStateTests {
    @Test func aKeyIsQueuedOnceAndHandedToOneWorkerAtATime() {
        var q = WorkQueueState<String>()
        q.add("web"); q.add("web"); q.add("db")
        #expect(q.queuedCount == 2)
        #expect(q.take() == "web")
        q.add("web")  // while a worker has it: not handed out again
        #expect(q.take() == "db")
        #expect(q.take() == nil)
        q.done("web")  // … but queued again once done
        #expect(q.take() == "web")
        q.done("web"); q.done("db")
        #expect(q.isIdle)
    }

    @Test func delayedKeysComeDueAndTheEarliestRequestWins() {
        var q = WorkQueueState<String>()
        q.addAfter("web", due: 5000)
        q.addAfter("web", due: 2000)
        q.addAfter("db", due: 3000)
        #expect(q.promoteDue(now: 1000) == 2000)
        #expect(q.take() == nil && !q.isIdle)
        #expect(q.promoteDue(now: 2500) == 3000)
        #expect(q.take() == "web")
        q.add("db")  // an immediate add replaces the delay
        #expect(q.delayedCount == 0 && q.take() == "db")
    }

    @Test func nothingIsHandedOutAfterShutdown() {
        var q = WorkQueueState<String>()
        q.add("web")
        q.shutDown()
        #expect(q.take() == nil)
        q.add("db")
        #expect(q.queuedCount == 1)  // the earlier key stays counted; nothing new is queued
    }
}
