import Foundation
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

    // MARK: per-task ports and routes

    static func hostService(_ name: String, replicas: Int = 3, routed: Bool = true) -> ServiceSpec {
        var spec = ServiceSpec(name: name, image: "busybox", replicas: replicas, port: 8080, network: .host)
        if routed { spec.routes = [Route(host: "\(name).test", path: "/", stripPrefix: false)] }
        return spec
    }

    @Test func portBlocksAreStableDistinctAndSkipBlocksOthersHold() {
        // Kept from the labels; new ones take the lowest free block; a block held by another
        // project's service is never given out, nor one overlapping it.
        let blocks = SwarmPorts.assign(needing: ["a", "b", "c"], current: ["b": 24000], taken: [24400], range: 24000...24999)
        #expect(blocks == ["b": 24000, "a": 24200, "c": 24600])
        // Ranges not on a hundred start at the next hundred; a full range leaves services out.
        #expect(SwarmPorts.assign(needing: ["a", "b"], current: [:], taken: [], range: 24050...24450) == ["a": 24100])
        // Overlap is checked both ways: a block at 24300 also excludes 24200 (it would reach 24399).
        #expect(SwarmPorts.assign(needing: ["a"], current: [:], taken: [24300], range: 24200...24999) == ["a": 24500])
    }

    @Test func eachUpdateMovesToTheOtherHalfOfTheBlock() {
        var web = Self.hostService("web")
        let created = SwarmPlan(desired: Self.state([web]), observed: [], project: "p", portBlocks: ["web": 24200])
        guard case .create(let first)? = created.actions.first else { Issue.record("no create"); return }
        #expect(first.labels[SwarmPorts.halfLabel] == "24200" && first.labels[SwarmPorts.blockLabel] == "24200")
        #expect(first.containerLabels[SwarmPorts.halfLabel] == "24200")
        #expect(first.env.contains("PORT=242{{if lt (len .Task.Slot) 2}}0{{end}}{{.Task.Slot}}"))
        var live = Self.observed(web)
        live.labels[SwarmPorts.blockLabel] = "24200"
        live.labels[SwarmPorts.halfLabel] = "24200"
        web.env = ["V": "2"]
        let updated = SwarmPlan(desired: Self.state([web]), observed: [live], project: "p", portBlocks: ["web": 24200])
        guard case .update(_, _, let second)? = updated.actions.first else { Issue.record("no update"); return }
        #expect(second.labels[SwarmPorts.halfLabel] == "24300")
        #expect(second.env.contains("PORT=243{{if lt (len .Task.Slot) 2}}0{{end}}{{.Task.Slot}}"))
        // And back again on the next update.
        #expect(SwarmPorts.nextHalf(block: 24200, current: 24300) == 24200)
    }

    @Test func hostServicesWithoutABlockOrWithTooManyReplicasAreProblemsNotActions() {
        let plan = SwarmPlan(desired: Self.state([Self.hostService("web"), Self.hostService("big", replicas: 100)]), observed: [], project: "p", portBlocks: ["big": 24000])
        #expect(plan.actions.isEmpty)
        #expect(plan.problems["web"]?.contains("--port-range") == true)
        #expect(plan.problems["big"]?.contains("at most 99 replicas") == true)
    }

    /// Issue 27: the check is exec form, the path one argument: `/healthz?a=1&b=2` in a
    /// `CMD-SHELL` string put wget in the background, so the check always passed.
    @Test func healthBecomesTheTaskContainersCheckOnItsOwnPort() throws {
        var web = Self.hostService("web")
        web.readiness = HealthCheck(probe: .http(path: "/healthz?a=1&b=2"), interval: .seconds(1), timeout: .seconds(1), retries: 2)
        let b = SwarmServiceBlueprint(spec: web, project: "p", ports: (24000, 24000))
        #expect(b.healthcheck?.test == ["CMD", "/bin/sh", "-c", #"exec wget -q -O /dev/null "http://127.0.0.1:$PORT$1""#, "flotilla-health", "/healthz?a=1&b=2"])
        #expect(b.healthcheck?.intervalNanoseconds == 1_000_000_000 && b.healthcheck?.retries == 2)
        #expect(b.healthcheck?.timeoutNanoseconds == 1_000_000_000 + SwarmServiceBlueprint.execAllowanceNanoseconds, "the exec's start is not the program's time")
        // A fixed port needs no shell at all.
        var bridge = web
        bridge.network = .bridge
        let fixed = SwarmServiceBlueprint(spec: bridge, project: "p")
        #expect(fixed.healthcheck?.test == ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/healthz?a=1&b=2"])
        // TCP: busybox's nc has no -z; the check connects with whichever nc the image has.
        bridge.readiness = HealthCheck(probe: .tcp)
        let tcp = try #require(SwarmServiceBlueprint(spec: bridge, project: "p").healthcheck?.test)
        #expect(tcp.first == "CMD" && tcp.last == "8080")
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) } }
        listen(listener, 4)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        let open = String(UInt16(bigEndian: address.sin_port))
        // Run through busybox (nc without -z) and only busybox's tools, as the test image would: a
        // port that is listening passes (even one that never accepts), a closed one fails.
        func check(_ port: String) throws -> Int32 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/busybox")
            process.arguments = ["sh", "-c", "PATH=/tmp/flotilla-bb-\(getpid()); " + tcp[3], "flotilla-health", port]
            try process.run()
            process.waitUntilExit()
            return process.terminationStatus
        }
        let bin = "/tmp/flotilla-bb-\(getpid())"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: bin) }
        for tool in ["nc", "sleep"] { try? FileManager.default.createSymbolicLink(atPath: bin + "/" + tool, withDestinationPath: "/bin/busybox") }
        if FileManager.default.isExecutableFile(atPath: "/bin/busybox") {
            #expect(try check(open) == 0)
            #expect(try check("1") != 0)
        }
    }

    /// Issue 27: `${PORT}` in `command` on Swarm. A task's own port is in its env only; the
    /// entrypoint puts it into the arguments. Run here through the host's real /bin/sh (dash)
    /// and busybox's (the test image's): every `${PORT}` replaced, nothing else expanded.
    @Test func portInTheCommandReachesEachTasksArguments() throws {
        var web = Self.hostService("web")
        web.command = ["/bin/httpd", "-f", "-p", "${PORT}", "-h", "/www", "x${PORT}y${PORT}", "$HOME *", ""]
        let b = SwarmServiceBlueprint(spec: web, project: "p", ports: (24000, 24000))
        #expect(b.entrypoint == SwarmServiceBlueprint.portExpander && b.args == web.command)
        for shell in [["/bin/sh"], ["/bin/busybox", "sh"]] where FileManager.default.isExecutableFile(atPath: shell[0]) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: shell[0])
            process.arguments = Array(shell.dropFirst()) + Array(b.entrypoint!.dropFirst()) + ["printf", "[%s]"] + b.args!
            process.environment = ["PORT": "24007", "HOME": "/root"]
            let out = Pipe()
            process.standardOutput = out
            try process.run()
            let printed = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(printed == "[/bin/httpd][-f][-p][24007][-h][/www][x24007y24007][$HOME *][]", "\(shell)")
        }
        // A fixed port (bridge network): replaced when the spec is made, as on one host.
        web.network = .bridge
        let fixed = SwarmServiceBlueprint(spec: web, project: "p")
        #expect(fixed.entrypoint == nil && fixed.args?[3] == "8080")
    }

    @Test func routesFollowLiveTasksOnServingNodes() {
        let web = Self.hostService("web")
        let nodes = [ObservedSwarmNode(id: "n1", hostname: "one", address: "10.0.0.1", state: "ready", availability: "active"),
                     ObservedSwarmNode(id: "n2", hostname: "two", address: "10.0.0.2", state: "ready", availability: "drain"),
                     ObservedSwarmNode(id: "n3", hostname: "three", address: "10.0.0.3", state: "down", availability: "active")]
        func task(_ slot: Int, _ node: String, state: String = "running", desired: String = "running", half: Int = 24000) -> ObservedSwarmTask {
            ObservedSwarmTask(id: "t\(slot)\(node)", serviceName: "p_web", service: "web", slot: slot, nodeID: node, state: state, desiredState: desired, portHalf: half)
        }
        let tasks = [
            task(1, "n1"),                                  // live
            task(2, "n2"),                                  // on a drained node
            task(3, "n3"),                                  // on a node that is down
            task(4, "n1", state: "starting"),               // not past its health check
            task(5, "n1", desired: "shutdown"),             // being replaced
            task(6, "n1", half: 24100),                     // live, of the next spec (other half)
        ]
        let table = RouteTable.build(services: [web], project: "p", tasks: tasks, nodes: nodes)
        #expect(table.entries.count == 1)
        #expect(table.entries[0].targets.map { "\($0.address):\($0.port)" } == ["10.0.0.1:24001", "10.0.0.1:24106"])
        // Another project's tasks and unrouted services add nothing.
        let other = ObservedSwarmTask(id: "x", serviceName: "q_web", service: "web", slot: 1, nodeID: "n1", state: "running", desiredState: "running", portHalf: 25000)
        #expect(RouteTable.build(services: [web], project: "p", tasks: [other], nodes: nodes).entries[0].targets.isEmpty)
        #expect(RouteTable.build(services: [Self.hostService("web", routed: false)], project: "p", tasks: tasks, nodes: nodes).entries.isEmpty)
        // A routed service without per-task ports is said, not silently a 503.
        var bridged = web; bridged.network = .bridge
        #expect(SwarmPlan(desired: Self.state([bridged]), observed: [], project: "p").warnings["web"]?.contains("network: host") == true)
    }

    // MARK: canary releases

    static func canaryService() -> ServiceSpec {
        var web = hostService("web", replicas: 2)
        web.update = UpdatePolicy(strategy: .canary, canary: CanaryPolicy(replicas: 1, weight: 25))
        return web
    }

    static func live(_ spec: ServiceSpec, canary: Bool = false, hash: String? = nil, rolledBack: String? = nil) -> ObservedSwarmService {
        var service = observed(spec, hash: hash, id: canary ? "id-\(spec.name)-canary" : nil)
        if canary {
            service.name += "-canary"
            service.labels[OwnershipLabel.role] = "canary"
        }
        if let rolledBack { service.labels[OwnershipLabel.rolledBackHash] = rolledBack }
        return service
    }

    @Test func aChangedCanaryServiceStartsASecondSwarmServiceAndLeavesTheStableOne() {
        var web = Self.canaryService()
        let stable = Self.live(web)
        web.env = ["V": "2"]
        let blocks = ["web": 24000, SwarmPlan.canaryKey("web"): 24200]
        let plan = SwarmPlan(desired: Self.state([web]), observed: [stable], project: "p", portBlocks: blocks)
        #expect(plan.canaries["web"] == .waiting)
        guard plan.actions.count == 1, case .create(let canary) = plan.actions[0] else { Issue.record("\(plan.actions)"); return }
        #expect(canary.name == "p_web-canary" && canary.replicas == 1 && canary.labels[OwnershipLabel.role] == "canary")
        #expect(canary.labels[SwarmPorts.halfLabel] == "24200", "the canary's tasks use its own block")
        // Waiting: a second plan has nothing to do.
        let waiting = SwarmPlan(desired: Self.state([web]), observed: [stable, Self.live(web, canary: true)], project: "p", portBlocks: blocks)
        #expect(waiting.actions.isEmpty && waiting.unchanged == ["web"] && waiting.canaries["web"] == .waiting)
        // A rolling service updates in place instead.
        var rolling = web; rolling.update.strategy = .rolling
        let inPlace = SwarmPlan(desired: Self.state([rolling]), observed: [stable], project: "p", portBlocks: blocks)
        #expect(inPlace.actions.count == 1 && { if case .update = inPlace.actions[0] { return true }; return false }())
    }

    @Test func promoteRollsTheStableServiceThenRemovesTheCanary() {
        var web = Self.canaryService()
        let stable = Self.live(web)
        web.env = ["V": "2"]
        let canary = Self.live(web, canary: true)
        let blocks = ["web": 24000, SwarmPlan.canaryKey("web"): 24200]
        let plan = SwarmPlan(desired: Self.state([web]), observed: [stable, canary], project: "p", portBlocks: blocks, promote: ["web"])
        guard plan.actions.count == 2, case .update(let id, _, let blueprint) = plan.actions[0], case .remove(let removed, _) = plan.actions[1] else {
            Issue.record("\(plan.actions)"); return
        }
        #expect(id == "id-web" && blueprint.name == "p_web" && blueprint.replicas == 2 && removed == "id-web-canary")
        // Once the stable service carries the spec, a canary left over is removed.
        let after = SwarmPlan(desired: Self.state([web]), observed: [Self.live(web), canary], project: "p", portBlocks: blocks)
        #expect(after.actions == [.remove(id: "id-web-canary", name: "p_web-canary")])
    }

    @Test func rollbackRemovesTheCanaryAndNoNewOneStartsUntilTheManifestChanges() {
        var web = Self.canaryService()
        let stable = Self.live(web)
        web.env = ["V": "2"]
        let blocks = ["web": 24000, SwarmPlan.canaryKey("web"): 24200]
        let plan = SwarmPlan(desired: Self.state([web]), observed: [stable, Self.live(web, canary: true)], project: "p", portBlocks: blocks, rollback: ["web"])
        #expect(plan.actions == [.remove(id: "id-web-canary", name: "p_web-canary"), .markRolledBack(id: "id-web", name: "p_web", hash: web.swarmHash, canaryHalf: nil)])
        let marked = Self.live(Self.canaryService(), rolledBack: web.swarmHash)
        let after = SwarmPlan(desired: Self.state([web]), observed: [marked], project: "p", portBlocks: blocks)
        #expect(after.actions.isEmpty && after.canaries["web"] == .rolledBack)
        web.env = ["V": "3"]
        let next = SwarmPlan(desired: Self.state([web]), observed: [marked], project: "p", portBlocks: blocks)
        #expect(next.canaries["web"] == .waiting && next.actions.count == 1)
        // A canary is never an orphan of its own service, and goes with it when the manifest goes.
        let gone = SwarmPlan(desired: Self.state([Self.hostService("other")]), observed: [stable, Self.live(web, canary: true)], project: "p",
                             allowMassPrune: true, portBlocks: ["other": 24400])
        #expect(gone.actions.filter { if case .remove = $0 { return true }; return false }.count == 2)
    }

    @Test func canaryTasksGetTheirWeightInTheRouteTable() {
        let web = Self.canaryService()
        let node = ObservedSwarmNode(id: "n1", hostname: "one", address: "127.0.0.1", state: "ready", availability: "active")
        let tasks = [
            ObservedSwarmTask(id: "a", serviceName: "p_web", service: "web", slot: 1, nodeID: "n1", state: "running", desiredState: "running", portHalf: 24000),
            ObservedSwarmTask(id: "b", serviceName: "p_web", service: "web", slot: 2, nodeID: "n1", state: "running", desiredState: "running", portHalf: 24000),
            ObservedSwarmTask(id: "c", serviceName: "p_web-canary", service: "web", slot: 1, nodeID: "n1", state: "running", desiredState: "running", portHalf: 24200),
        ]
        let entry = RouteTable.build(services: [web], project: "p", tasks: tasks, nodes: [node]).entries[0]
        #expect(entry.canaryPercent == 25)
        let canaryWeight = entry.targets.filter(\.canary).map(\.weight).reduce(0, +)
        let total = entry.targets.map(\.weight).reduce(0, +)
        #expect(entry.targets.count == 3 && canaryWeight * 4 == total, "\(entry.targets)")
        // Without a live stable task the canary is simply a target (no split to make).
        let alone = RouteTable.build(services: [web], project: "p", tasks: [tasks[2]], nodes: [node]).entries[0]
        #expect(alone.canaryPercent == nil && alone.targets.map(\.port) == [24201])
    }

    @Test func anUpdateSwarmRolledBackIsNotRetriedUntilTheManifestChanges() {
        var api = ServiceSpec(name: "api", image: "api:1")
        let old = api.swarmHash
        api.env = ["BROKEN": "1"]
        var live = Self.observed(api, hash: old)
        live.updateState = "rollback_completed"
        live.previousSpecHash = api.swarmHash
        let plan = SwarmPlan(desired: Self.state([api]), observed: [live], project: "p")
        #expect(plan.actions.isEmpty && plan.problems["api"]?.contains("rolled back") == true)
        // Swarm clears the failed spec once the rollback completes: the hash Flotilla sent says it.
        live.previousSpecHash = nil
        let remembered = SwarmPlan(desired: Self.state([api]), observed: [live], project: "p", sent: ["p_api": api.swarmHash])
        #expect(remembered.actions.isEmpty && remembered.problems["api"] != nil)
        api.env = ["BROKEN": "0"]
        let fixed = SwarmPlan(desired: Self.state([api]), observed: [live], project: "p", sent: ["p_api": "something-else"])
        #expect(fixed.actions.count == 1 && fixed.problems.isEmpty)
    }

    @Test func theDaemonRollsBackAFailedCanaryAndPromotesAHealthyOneAfterItsTime() {
        var web = Self.canaryService()
        web.update.canary.autoPromoteAfter = .seconds(30)
        func task(_ id: String, _ state: String, since: Int64, hash: String? = nil) -> ObservedSwarmTask {
            ObservedSwarmTask(id: id, serviceName: "p_web-canary", service: "web", slot: 1, nodeID: "n1", state: state, desiredState: "running",
                              portHalf: 24200, error: state == "failed" ? "task: non-zero exit (3)" : nil, since: since, specHash: hash ?? web.swarmHash)
        }
        let now: Int64 = 1_000_000
        // Live for 10 s of 30: wait. For 31 s: promote. Not waiting: nothing.
        #expect(SwarmCanaryDecision.decide(services: [web], waiting: ["web"], project: "p", tasks: [task("a", "running", since: now - 10_000)], now: now).isEmpty)
        #expect(SwarmCanaryDecision.decide(services: [web], waiting: ["web"], project: "p", tasks: [task("a", "running", since: now - 31_000)], now: now).promote == ["web"])
        #expect(SwarmCanaryDecision.decide(services: [web], waiting: [], project: "p", tasks: [task("a", "running", since: now - 31_000)], now: now).isEmpty)
        // A failed canary task of this spec rolls back, with Swarm's error; one of an older canary spec does not.
        let failed = SwarmCanaryDecision.decide(services: [web], waiting: ["web"], project: "p", tasks: [task("b", "failed", since: now)], now: now)
        #expect(failed.rollback["web"]?.contains("non-zero exit (3)") == true && failed.promote.isEmpty)
        #expect(SwarmCanaryDecision.decide(services: [web], waiting: ["web"], project: "p", tasks: [task("c", "failed", since: now, hash: "older")], now: now).isEmpty)
    }

    @Test func aNewCanaryTakesTheOtherHalfThanTheLastOneWhoseTasksMayStillStop() {
        var web = Self.canaryService()
        var stable = Self.live(web)
        stable.labels[SwarmPorts.halfLabel] = "24000"
        stable.labels[SwarmPorts.blockLabel] = "24000"
        web.env = ["V": "2"]
        var canary = Self.live(web, canary: true)
        canary.labels[SwarmPorts.halfLabel] = "24200"
        canary.labels[SwarmPorts.blockLabel] = "24200"
        let blocks = ["web": 24000, SwarmPlan.canaryKey("web"): 24200]
        // Promote: the stable service remembers the half its canary used.
        let promote = SwarmPlan(desired: Self.state([web]), observed: [stable, canary], project: "p", portBlocks: blocks, promote: ["web"])
        guard case .update(_, _, let promoted)? = promote.actions.first else { Issue.record("\(promote.actions)"); return }
        #expect(promoted.labels[SwarmPorts.lastCanaryHalfLabel] == "24200" && promoted.labels[SwarmPorts.halfLabel] == "24100")
        // The next canary (the old one is gone, its tasks perhaps still stopping) takes 24300.
        var after = Self.live(web)
        after.labels = promoted.labels
        web.env = ["V": "3"]
        let next = SwarmPlan(desired: Self.state([web]), observed: [after], project: "p", portBlocks: blocks)
        guard case .create(let third)? = next.actions.first else { Issue.record("\(next.actions)"); return }
        #expect(third.labels[SwarmPorts.halfLabel] == "24300")
        // A rollback records it too.
        let rolled = SwarmPlan(desired: Self.state([web]), observed: [after, canary], project: "p", portBlocks: blocks, rollback: ["web"])
        #expect(rolled.actions.contains(.markRolledBack(id: "id-web", name: "p_web", hash: web.swarmHash, canaryHalf: 24200)))
    }

    // MARK: review findings

    @Test func scalingACanaryServiceUpdatesTheStableServiceInsteadOfStartingACanary() {
        var web = Self.canaryService()
        var stable = Self.live(web)
        stable.labels[SwarmServiceBlueprint.containerHashLabel] = web.specHash
        web.replicas = 4
        let plan = SwarmPlan(desired: Self.state([web]), observed: [stable], project: "p", portBlocks: ["web": 24000, SwarmPlan.canaryKey("web"): 24200])
        guard plan.actions.count == 1, case .update(_, _, let blueprint) = plan.actions[0] else { Issue.record("\(plan.actions)"); return }
        #expect(blueprint.name == "p_web" && blueprint.replicas == 4 && plan.canaries.isEmpty)
    }

    @Test func aCanaryWithoutPortsIsAProblemNotAWaitingRelease() {
        var web = Self.canaryService()
        let stable = Self.live(web)
        web.env = ["V": "2"]
        let plan = SwarmPlan(desired: Self.state([web]), observed: [stable], project: "p", portBlocks: ["web": 24000])
        #expect(plan.actions.isEmpty && plan.canaries["web"] == nil && plan.problems["web"] != nil)
    }

    @Test func editsBehindFlotillasBackAreUpdatedBack() {
        let web = ServiceSpec(name: "web", image: "nginx:1", replicas: 3)
        var scaled = Self.observed(web)
        scaled.replicas = 0
        scaled.image = "nginx:1"
        #expect(SwarmPlan(desired: Self.state([web]), observed: [scaled], project: "p").actions.count == 1)
        var retagged = Self.observed(web)
        retagged.replicas = 3
        retagged.image = "evil:1"
        #expect(SwarmPlan(desired: Self.state([web]), observed: [retagged], project: "p").actions.count == 1)
        // Swarm's own digest pinning is not drift.
        var pinned = Self.observed(web)
        pinned.replicas = 3
        pinned.image = "nginx:1@sha256:abc"
        #expect(SwarmPlan(desired: Self.state([web]), observed: [pinned], project: "p").actions.isEmpty)
    }

    @Test func globalHostServicesUseTheHalfAsTheirPortAndConvergeOnEveryNode() {
        var web = Self.hostService("web")
        web.placement = Placement(mode: .global)
        let b = SwarmServiceBlueprint(spec: web, project: "p", ports: (24000, 24100))
        #expect(b.env.contains("PORT=24100"))
        let tasks = (1...3).map { ObservedSwarmTask(id: "t\($0)", serviceName: "p_web", service: "web", slot: 0, nodeID: "n\($0)", state: "running", desiredState: "running", portHalf: 24100) }
        let status = SwarmStatus(project: "p", desired: Self.state([web]), observed: [Self.observed(web)], tasks: ["p_web": tasks])
        #expect(status.services[0].phase == "converged" && status.services[0].desired == 3)
    }

    @Test func aDecisionForOneSpecIsNotAppliedToANewerManifest() {
        var web = Self.canaryService()
        let decided = SwarmCanaryDecision.Decisions(promote: ["web"], rollback: [:], hashes: ["web": web.swarmHash])
        #expect(decided.current(for: [web]).promote == ["web"])
        web.env = ["V": "3"]
        #expect(decided.current(for: [web]).isEmpty)
    }

    @Test func aServiceNamedLikeAnotherOnesCanaryIsAProblem() {
        let web = Self.canaryService()
        let clash = ServiceSpec(name: "web-canary", image: "busybox")
        let plan = SwarmPlan(desired: Self.state([web, clash]), observed: [], project: "p", portBlocks: ["web": 24000])
        #expect(plan.problems["web-canary"]?.contains("rename it") == true)
        #expect(plan.actions.count == 1)
        // Without a canary strategy on `web` there is nothing to collide with.
        let plain = SwarmPlan(desired: Self.state([Self.hostService("web"), clash]), observed: [], project: "p", portBlocks: ["web": 24000])
        #expect(plain.problems.isEmpty && plain.actions.count == 2)
    }

    /// Issue 27: `apply` on Swarm waits for the new tasks; a crash loop is a failure, not "created".
    @Test func aRolloutRunsWaitsOrFailsByWhatItsNewTasksDo() {
        let expected = SwarmRollout.Expected(serviceName: "p_web", specHash: "new", replicas: 3)
        let service = ObservedSwarmService(id: "s", name: "p_web", version: 2, labels: [:])
        func task(_ slot: Int, _ state: String, hash: String = "new", desired: String = "running", error: String? = nil, since: Int64 = 0) -> ObservedSwarmTask {
            ObservedSwarmTask(id: "t\(slot)\(state)\(since)", serviceName: "p_web", service: "web", slot: slot, nodeID: "n", state: state, desiredState: desired,
                              error: error, since: since, specHash: hash)
        }
        // Old tasks running do not count; new ones starting (health check not passed yet) neither.
        let starting = [task(1, "running", hash: "old"), task(2, "running", hash: "old"), task(1, "starting"), task(2, "running")]
        #expect(SwarmRollout.verdict(expected, tasks: starting, service: service) == .waiting(running: 1, wanted: 3))
        #expect(SwarmRollout.verdict(expected, tasks: [task(1, "running"), task(2, "running"), task(3, "running")], service: service) == .running)
        // One failed start among three slots is not yet a crash loop; three are, with the last error.
        let once = [task(1, "failed", error: "exit 1"), task(1, "running"), task(2, "starting"), task(3, "starting")]
        #expect(SwarmRollout.verdict(expected, tasks: once, service: service) == .waiting(running: 1, wanted: 3))
        let loop = [task(1, "failed", error: "a", since: 1), task(2, "failed", error: "b", since: 3), task(3, "failed", error: "c", since: 2), task(1, "starting")]
        #expect(SwarmRollout.verdict(expected, tasks: loop, service: service) == .failed("3 of its new tasks failed: b"))
        // Swarm rolled the update back: failed at once.
        var rolledBack = service
        rolledBack.updateState = "rollback_completed"
        if case .failed(let why) = SwarmRollout.verdict(expected, tasks: [], service: rolledBack) { #expect(why.contains("rolled the update back")) } else { Issue.record("not failed") }
        // …but a rollback state left from an earlier update, on a service that has our spec now, is not ours.
        rolledBack.labels[OwnershipLabel.specHash] = "new"
        #expect(SwarmRollout.verdict(expected, tasks: [], service: rolledBack) == .waiting(running: 0, wanted: 3))
        #expect(SwarmRollout.verdict(expected, tasks: [], service: nil) == .failed("the Swarm service is gone"))
        // Global: every new task Swarm wants running runs.
        let global = SwarmRollout.Expected(serviceName: "p_web", specHash: "new", replicas: nil)
        #expect(SwarmRollout.verdict(global, tasks: [task(0, "running"), task(0, "starting")], service: service) == .waiting(running: 1, wanted: nil))
        #expect(SwarmRollout.verdict(global, tasks: [task(0, "running"), task(0, "running")], service: service) == .running)
    }
}
