@testable import FlotillaCore
import Testing

/// Builds a desired state without YAML: the planner only sees validated specs.
func state(_ specs: [ServiceSpec], failedFiles: [String: [String]] = [:]) -> DesiredState {
    var state = DesiredState(files: [])
    state.setForTesting(services: specs, failedFiles: failedFiles)
    return state
}

func container(_ service: ServiceSpec, _ n: Int, state: ContainerState = .running, hash: String? = nil, created: Int64? = nil) -> ObservedContainer {
    ObservedContainer(id: "\(service.name)-\(n)", name: "p-\(service.name)-\(n)", service: service.name, specHash: hash ?? service.specHash,
                      state: state, created: created ?? Int64(n), canonicalSpec: service.canonicalContainerForm)
}

@Suite("Planner: desired + observed → plan, no engine")
struct PlannerTests {
    let web = ServiceSpec(name: "web", image: "img:1", replicas: 2, port: 80)
    let db = ServiceSpec(name: "db", image: "pg:1")

    @Test func createsMissingReplicas() {
        let plan = Planner.plan(desired: state([web]), observed: [container(web, 1)])
        #expect(plan.services.map(\.create) == [1])
        #expect(plan.hasChanges)
        #expect(plan.actions == [.create(service: "web", count: 1)])
    }

    @Test func matchingHostHasNoChanges() {
        let plan = Planner.plan(desired: state([web, db]), observed: [container(web, 1), container(web, 2), container(db, 1)])
        #expect(!plan.hasChanges && plan.actions.isEmpty)
        #expect(plan.services.first { $0.name == "web" }?.keep.count == 2)
    }

    /// Two replicas claiming one host port passed `plan` as "No changes".
    @Test func twoReplicasOnOneHostPortAreNotInSync() {
        var a = container(web, 1, created: 10), b = container(web, 2, created: 20), other = container(db, 1, created: 5)
        (a.hostPort, b.hostPort, other.hostPort) = (20001, 20001, 20002)
        let plan = Planner.plan(desired: state([web, db]), observed: [a, b, other])
        #expect(plan.hasChanges)
        #expect(plan.services.first { $0.name == "web" }?.unhealthy.map(\.id) == ["web-2"])
        // Across services too: the newer claimant goes.
        other.hostPort = 20001
        let across = Planner.plan(desired: state([web, db]), observed: [a, other])
        #expect(across.services.first { $0.name == "web" }?.unhealthy.map(\.id) == ["web-1"])
        b.hostPort = 20003
        #expect(!Planner.plan(desired: state([web, db]), observed: [a, b, container(db, 1)]).hasChanges)
    }

    @Test func scalesDownNewestFirst() {
        var three = web
        three.replicas = 1
        let plan = Planner.plan(desired: state([three]), observed: [container(web, 5, created: 50), container(web, 1, created: 10), container(web, 3, created: 30)])
        #expect(plan.services[0].keep.map(\.id) == ["web-1"])
        #expect(plan.services[0].removeSurplus.map(\.id) == ["web-5", "web-3"])
    }

    @Test func replicasZeroRemovesAllButKeepsTheService() {
        var zero = web
        zero.replicas = 0
        let plan = Planner.plan(desired: state([zero]), observed: [container(web, 1)])
        #expect(plan.services[0].removeSurplus.count == 1 && plan.orphans.isEmpty)
    }

    @Test func prunesNonRunningContainersAndReplacesThem() {
        let observed = [container(web, 1), container(web, 2, state: .exited), container(web, 3, state: .dead), container(web, 4, state: .created)]
        let plan = Planner.plan(desired: state([web]), observed: observed)
        #expect(plan.services[0].prune.map(\.id) == ["web-2", "web-3", "web-4"])
        #expect(plan.services[0].create == 1)
    }

    @Test func changedSpecIsARollingReplacementWithFieldChanges() {
        var v2 = web
        v2.env = ["LOG": "debug"]
        let plan = Planner.plan(desired: state([v2]), observed: [container(web, 1), container(web, 2)])
        let service = plan.services[0]
        #expect(service.replace.map(\.id) == ["web-1", "web-2"])  // oldest first
        #expect(service.create == 0)
        #expect(service.changes == [FieldChange(field: "env.LOG", old: nil, new: "\"debug\"")])
        #expect(plan.actions == [.replace(service: "web", container: "p-web-1", order: .startFirst), .replace(service: "web", container: "p-web-2", order: .startFirst)])
    }

    @Test func outdatedBeyondReplicasAreSurplusNotReplaced() {
        var v2 = web
        v2.image = "img:2"
        v2.replicas = 1
        let plan = Planner.plan(desired: state([v2]), observed: [container(web, 1), container(web, 2)])
        #expect(plan.services[0].replace.map(\.id) == ["web-1"])
        #expect(plan.services[0].removeSurplus.map(\.id) == ["web-2"])
    }

    @Test func mixOfCurrentAndOutdated() {
        var v2 = web
        v2.image = "img:2"
        v2.replicas = 3
        let plan = Planner.plan(desired: state([v2]), observed: [container(web, 1), container(v2, 2), container(web, 3)])
        #expect(plan.services[0].keep.map(\.id) == ["web-2"])
        #expect(plan.services[0].replace.map(\.id) == ["web-1", "web-3"])
        #expect(plan.services[0].create == 0)
    }

    @Test func changesOutsideTheContainerDoNotReplace() {
        var routed = web
        routed.routes = [Route(host: "a.test")]
        routed.readiness = HealthCheck(probe: .http(path: "/"))
        routed.update = UpdatePolicy(order: .stopFirst, parallelism: 2)
        let plan = Planner.plan(desired: state([routed]), observed: [container(web, 1), container(web, 2)])
        #expect(!plan.hasChanges)
    }

    @Test func orphansAreRemoved() {
        let gone = ServiceSpec(name: "old", image: "x")
        let plan = Planner.plan(desired: state([web]), observed: [container(web, 1), container(web, 2), container(gone, 1), container(gone, 2, state: .exited)])
        #expect(plan.orphans.map(\.id) == ["old-1", "old-2"])
        #expect(plan.actions.filter { if case .remove(_, _, .orphan) = $0 { true } else { false } }.count == 2)
    }

    @Test func thePruneBudgetHoldsBackRemovingMostServices() {
        // `git rm` of 9 of 10 manifests: nothing is removed, and the note says what and why.
        let all = (0..<10).map { ServiceSpec(name: "s\($0)", image: "x") }
        let observed = all.map { container($0, 1) }
        let plan = Planner.plan(desired: state([all[0]]), observed: observed)
        #expect(plan.orphans.isEmpty)
        #expect(plan.notes.contains { $0.contains("9 of the project's 10 services would be removed") && $0.contains("--allow-mass-prune") })
        // Kept running, and never "converged" while held back (before: status said converged, exit 0).
        #expect(plan.heldOrphans.count == 9)
        let status = ProjectStatus(project: "p", desired: state([all[0]]), plan: plan, ready: { _ in true })
        #expect(!status.converged)
        #expect(status.orphans.count == 9 && status.orphans.allSatisfy { $0.heldBack == true })
        #expect(Planner.resolve(state([all[0]]), lastGoodSpecs: [:], allowEmpty: false, ownedContainers: 10, ownedServices: Set(all.map(\.name))).heldBack.count == 9)
        // On purpose: removed.
        #expect(Planner.plan(desired: state([all[0]]), observed: observed, options: .init(allowMassPrune: true)).orphans.count == 9)
        // Half or fewer, or a single service: no budget in the way.
        #expect(Planner.plan(desired: state(Array(all[0..<5])), observed: observed).orphans.count == 5)
        #expect(Planner.plan(desired: state([all[0]]), observed: Array(observed[0..<2])).orphans.count == 1)
    }

    @Test func dependenciesComeFirst() {
        var api = ServiceSpec(name: "api", image: "x")
        api.dependsOn = ["db"]
        var front = web
        front.dependsOn = ["api"]
        let plan = Planner.plan(desired: state([front, api, db]), observed: [])
        #expect(plan.levels == [["db"], ["api"], ["web"]])
        #expect(plan.services.map(\.name) == ["db", "api", "web"])
    }

    // MARK: - Prune safety

    @Test func aFailedFileWithUnknownServicesSuspendsOrphanRemoval() {
        let other = ServiceSpec(name: "other", image: "x")
        let plan = Planner.plan(desired: state([web], failedFiles: ["broken.yaml": []]), observed: [container(web, 1), container(web, 2), container(other, 1)])
        #expect(plan.orphans.isEmpty)
        #expect(plan.notes.contains { $0.contains("orphan removal suspended") })
    }

    @Test func servicesOfAFailedFileAreLeftUntouched() {
        var changed = db
        changed.image = "pg:2"
        // db's file failed; its containers (even with an old hash, even dead) are not touched.
        let plan = Planner.plan(desired: state([web], failedFiles: ["db.yaml": ["db"]]), observed: [container(web, 1), container(web, 2), container(db, 1), container(db, 2, state: .exited)])
        #expect(!plan.services.contains { $0.name == "db" })
        #expect(plan.orphans.isEmpty)
        #expect(plan.notes.contains { $0.contains("left untouched") && $0.contains("db") })
    }

    @Test func lastGoodSpecOfAFailedFileKeepsBeingManaged() {
        let other = ServiceSpec(name: "other", image: "x")
        let plan = Planner.plan(
            desired: state([web], failedFiles: ["db.yaml": ["db"]]),
            observed: [container(web, 1), container(web, 2), container(db, 1, state: .exited), container(other, 1)],
            options: .init(lastGoodSpecs: ["db.yaml": [db]])
        )
        let dbPlan = plan.services.first { $0.name == "db" }
        #expect(dbPlan?.prune.count == 1 && dbPlan?.create == 1)
        #expect(plan.orphans.map(\.service) == ["other"])  // every failed file has a known last good state
    }

    @Test func emptyDesiredStatePrunesNothingUnlessAllowed() {
        let observed = [container(web, 1), container(db, 1)]
        let plan = Planner.plan(desired: state([]), observed: observed)
        #expect(plan.orphans.isEmpty && !plan.hasChanges)
        #expect(plan.notes.contains { $0.contains("--allow-empty") })
        let allowed = Planner.plan(desired: state([]), observed: observed, options: .init(allowEmpty: true))
        #expect(allowed.orphans.count == 2)
    }

    // MARK: - Crash-loop backoff

    @Test func crashLoopBackoffGrowsCapsAndResets() {
        var backoff = CrashLoopBackoff(initialDelay: 1000, maximumDelay: 8000, stablePeriod: 60_000)
        var now: Int64 = 0
        var delays: [Int64] = []
        for _ in 0..<6 {
            backoff.recordFailure("web", now: now)
            delays.append(backoff.delay("web"))
            now += 100
        }
        #expect(delays == [1000, 2000, 4000, 8000, 8000, 8000])
        #expect(backoff.blockedUntil("web", now: now) == now - 100 + 8000)
        // Stable for longer than the stable period: the next failure starts from the beginning.
        now += 120_000
        #expect(backoff.blockedUntil("web", now: now) == nil)
        backoff.recordFailure("web", now: now)
        #expect(backoff.delay("web") == 1000)
    }

    @Test func plannerHoldsCreationsDuringBackoff() {
        var backoff = CrashLoopBackoff()
        backoff.recordFailure("web", now: 10_000)
        let observed = [container(web, 1, state: .exited)]
        let held = Planner.plan(desired: state([web]), observed: observed, options: .init(backoff: backoff, now: 10_500))
        #expect(held.services[0].create == 0 && held.services[0].prune.count == 1)
        #expect(held.services[0].backoffUntil == 11_000)
        #expect(held.notes.contains { $0.contains("crash loop") })
        let later = Planner.plan(desired: state([web]), observed: observed, options: .init(backoff: backoff, now: 11_001))
        #expect(later.services[0].create == 2)
    }

    @Test func blueprintCarriesOwnershipAndPort() {
        var spec = web
        spec.network = .host
        spec.command = ["/bin/httpd", "-p", "${PORT}", "-x${PORT}y"]
        let blueprint = ContainerBlueprint(spec: spec, project: "demo", hostPort: 20005)
        #expect(blueprint.command == ["/bin/httpd", "-p", "20005", "-x20005y"])
        #expect(blueprint.env["PORT"] == "20005")
        #expect(blueprint.labels[OwnershipLabel.project] == "demo" && blueprint.labels[OwnershipLabel.service] == "web")
        #expect(blueprint.labels[OwnershipLabel.specHash] == spec.specHash && blueprint.labels[OwnershipLabel.hostPort] == "20005")
        #expect(blueprint.publishedPort == nil)
        let bridge = ContainerBlueprint(spec: web, project: "demo", hostPort: nil)
        #expect(bridge.publishedPort == 80 && bridge.labels[OwnershipLabel.hostPort] == nil)
    }
}
