@testable import FlotillaCore
import Testing

/// The controller's observation cache: when a remembered observation may stand in for asking
/// the engine again (each rule below is a bug the simulator or a test found without it).
@Suite("Observation cache freshness")
struct ObservationCacheTests {
    static let a = RolloutTests.replica(RolloutTests.v1, 1)
    static let b = RolloutTests.replica(RolloutTests.v1, 2)

    @Test func anObservationServesOneStep() {
        var cache = ObservationCache()
        let r1 = cache.takeFresh("web")
        #expect(r1 == nil)  // never observed
        cache.observedProject([Self.a], startedAt: 100, known: [])
        let r2 = cache.takeFresh("web")
        #expect(r2?.containers == [Self.a])
        let r3 = cache.takeFresh("web")
        #expect(r3?.at == nil)  // served once: the next step asks again
    }

    @Test func aStepsOwnListIsServedToItNotToTheNext() {
        var cache = ObservationCache()
        cache.observed("web", [Self.a], at: 100, byList: true)
        #expect(cache.containers("web") == [Self.a])
        let r4 = cache.takeFresh("web")
        #expect(r4 == nil)
    }

    @Test func anObservationOlderThanTheLastChangeIsNotTrusted() {
        var cache = ObservationCache()
        cache.changed("web", at: 200)
        cache.observedProject([Self.a], startedAt: 150, known: [])  // began before the change
        #expect(!cache.isCurrent("web"))
        let r5 = cache.takeFresh("web")
        #expect(r5 == nil)
        cache.observedProject([Self.a, Self.b], startedAt: 250, known: [])
        let r6 = cache.takeFresh("web")
        #expect(r6?.containers == [Self.a, Self.b])
    }

    @Test func anOlderObservationNeverReplacesANewerOne() {
        var cache = ObservationCache()
        cache.observed("web", [Self.a, Self.b], at: 300, byList: true)
        cache.observed("web", [Self.a], at: 200, byList: true)  // an overlapping list that began earlier
        cache.observedProject([], startedAt: 250, known: ["web"])
        #expect(cache.containers("web") == [Self.a, Self.b])
        #expect(cache["web"].observedAt == 300)
    }

    @Test func aProjectListSaysAnAbsentServiceHasNoContainer() {
        var cache = ObservationCache()
        cache.observedProject([Self.a], startedAt: 100, known: ["api"])
        #expect(cache.containers("api") == [])
        // A service new to the manifests afterwards: none as of that list, unless changed since.
        cache.absentFromProjectList("shop")
        let r7 = cache.takeFresh("shop")
        #expect(r7?.containers == [])
        cache.changed("cache", at: 150)
        cache.absentFromProjectList("cache")
        #expect(cache.containers("cache") == nil)
    }

    @Test func aTrackedChangeIsCurrentUntilAnEventComes() {
        var cache = ObservationCache()
        cache.observed("web", [Self.a], at: 100, byList: true)
        cache.changed("web", at: 120)
        let r13 = cache.track("web", containers: [Self.a, Self.b], observedAt: 100)
        #expect(r13)
        #expect(cache.isCurrent("web"))
        let r8 = cache.takeFresh("web")
        #expect(r8?.containers == [Self.a, Self.b])
        // An event after the step looked: the tracked state is not taken.
        cache.changed("web", at: 140)
        cache.eventCame("web", at: 130)
        let r14 = cache.track("web", containers: [Self.b], observedAt: 125)
        #expect(!r14)
        let r9 = cache.takeFresh("web")
        #expect(r9 == nil)
    }

    @Test func aTrackedChangeNeverReplacesAListTakenAfterIt() {
        var cache = ObservationCache()
        cache.changed("web", at: 100)
        cache.observed("web", [Self.b], at: 150, byList: true)  // another step listed meanwhile
        let r15 = cache.track("web", containers: [Self.a], observedAt: 90)
        #expect(!r15)
        #expect(cache.containers("web") == [Self.b])
    }

    @Test func anEngineEventMakesTheObservationStale() {
        var cache = ObservationCache()
        cache.observedProject([Self.a], startedAt: 100, known: [])
        cache.eventCame("web", at: 110)
        let r10 = cache.takeFresh("web")
        #expect(r10 == nil)
        #expect(cache.eventSince("web", 105))
        #expect(!cache.eventSince("web", 111))
    }

    @Test func anotherProcessChangingTheProjectDistrustsEverything() {
        var cache = ObservationCache()
        cache.observedProject([Self.a], startedAt: 100, known: ["api"])
        cache.distrustAll()
        let r11 = cache.takeFresh("web")
        #expect(r11 == nil)
        let r12 = cache.takeFresh("api")
        #expect(r12 == nil)
        #expect(cache.projectListedAt == nil)
        cache.absentFromProjectList("shop")  // no project list since: nothing is known of it
        #expect(cache.containers("shop") == nil)
    }

    @Test func forgettingKeepsWhenItWasObserved() {
        var cache = ObservationCache()
        cache.observed("web", [Self.a], at: 100, byList: true)
        cache.forget("web")
        #expect(cache.containers("web") == nil)
        #expect(cache["web"].observedAt == 100)
        #expect(!cache.isCurrent("web"))
    }
}
