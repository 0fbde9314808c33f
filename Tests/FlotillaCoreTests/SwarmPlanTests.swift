@testable import FlotillaCore
import Testing

/// Swarm mode's planner: desired services + the project's Swarm services → create, update, remove.
@Suite("Swarm plan")
struct SwarmPlanTests {
    static func state(_ specs: [ServiceSpec], failed: [String: [String]] = [:]) -> DesiredState {
        var state = DesiredState(files: [])
        state.setForTesting(services: specs, failedFiles: failed)
        return state
    }

    static func observed(_ spec: ServiceSpec, project: String = "p", hash: String? = nil, id: String? = nil) -> ObservedSwarmService {
        ObservedSwarmService(id: id ?? "id-\(spec.name)", name: "\(project)_\(spec.name)", version: 7,
                             labels: [OwnershipLabel.project: project, OwnershipLabel.service: spec.name, OwnershipLabel.specHash: hash ?? spec.swarmHash])
    }

    @Test func createsUpdatesAndLeavesUnchangedAlone() {
        let web = ServiceSpec(name: "web", image: "nginx", replicas: 3)
        var api = ServiceSpec(name: "api", image: "api:1")
        let db = ServiceSpec(name: "db", image: "postgres")
        let before = Self.observed(api)
        api.env = ["MARK": "2"]
        let plan = SwarmPlan(desired: Self.state([web, api, db]), observed: [before, Self.observed(db)], project: "p")
        #expect(plan.unchanged == ["db"])
        #expect(plan.actions.count == 2)
        #expect(plan.actions.contains(.create(SwarmServiceBlueprint(spec: web, project: "p"))))
        #expect(plan.actions.contains(.update(id: "id-api", version: 7, SwarmServiceBlueprint(spec: api, project: "p"))))
    }

    @Test func replicasAndUpdateSettingsAreSwarmUpdatesButRoutesAreNot() {
        let web = ServiceSpec(name: "web", image: "nginx", replicas: 2)
        var scaled = web; scaled.replicas = 5
        var routed = web; routed.routes = [Route(host: "a.example", path: "/", stripPrefix: false)]
        #expect(scaled.swarmHash != web.swarmHash)
        #expect(routed.swarmHash == web.swarmHash)
        // Placement is Swarm's business: it updates the Swarm service, never replaces a container on one host.
        var placed = web; placed.placement = Placement(constraints: ["node.role==manager"], maxPerNode: 1, mode: .replicated)
        #expect(placed.swarmHash != web.swarmHash && placed.specHash == web.specHash)
        let blueprint = SwarmServiceBlueprint(spec: scaled, project: "p")
        #expect(blueprint.name == "p_web" && blueprint.replicas == 5 && blueprint.updateOrder == "start-first")
        #expect(blueprint.labels[OwnershipLabel.project] == "p" && blueprint.labels[OwnershipLabel.specHash] == scaled.swarmHash)
    }

    @Test func removalsFollowTheSameSafetyAsContainers() {
        let a = ServiceSpec(name: "a", image: "x"), b = ServiceSpec(name: "b", image: "x"), c = ServiceSpec(name: "c", image: "x")
        let all = [Self.observed(a), Self.observed(b), Self.observed(c)]
        // One orphan of three: removed.
        #expect(SwarmPlan(desired: Self.state([a, b]), observed: all, project: "p").actions == [.remove(id: "id-c", name: "p_c")])
        // Two of three at once: held back unless allowed.
        let mass = SwarmPlan(desired: Self.state([a]), observed: all, project: "p")
        #expect(mass.actions.isEmpty && mass.heldBack == ["p_b", "p_c"])
        #expect(SwarmPlan(desired: Self.state([a]), observed: all, project: "p", allowMassPrune: true).actions.count == 2)
        // An empty directory removes nothing without allowEmpty.
        #expect(SwarmPlan(desired: Self.state([]), observed: all, project: "p").actions.isEmpty)
        // A failing file: its service is kept, and nothing is removed.
        let failing = SwarmPlan(desired: Self.state([a], failed: ["b.yaml": ["b"]]), observed: all, project: "p")
        #expect(failing.actions.isEmpty && failing.heldBack == ["p_c"])
    }
}
