import FlotillaCore
import FlotillaEngine
import Foundation
import Testing

/// `flotilla run --orchestrator swarm` with a real nginx in front of host-network tasks on the
/// three-node Swarm: the route file follows the live tasks through a drain (no request lost) and
/// the loss of a worker. Run after ``SwarmTests`` (scripts/test), since it drains and stops nodes.
/// (Not serialized: each test has a project, a port range and an nginx of its own. The tests
/// that drain or stop nodes are ``SwarmNodeFaultTests``, run alone after these.)
@Suite("Swarm mode: routes follow the tasks", .enabled(if: ProcessInfo.processInfo.environment["FLOTILLA_TEST_SWARM"] != nil, "needs a Swarm (scripts/test starts one)"))
struct SwarmRoutingTests {
    static let manager = ProcessInfo.processInfo.environment["FLOTILLA_TEST_SWARM"] ?? ""

    /// Host-network httpd tasks answering `body` (a shell word) on `/` and `ok` on `/healthz`.
    /// The check's timeout is generous: Docker runs it with an exec inside the task, which took
    /// over 1 s three times in a row on a loaded CI machine and made Swarm roll the update back.
    static func web(body: String = "task-$PORT", replicas: Int = 3, extra: String = "") -> String {
        """
        name: web
        image: \(TestEngine.image)
        command: ["/bin/sh", "-c", "mkdir -p /w && echo \(body) > /w/index.html && echo ok > /w/healthz && exec httpd -f -p $PORT -h /w"]
        replicas: \(replicas)
        port: 8080
        network: host
        health: { http: /healthz, interval: 1s, timeout: 10s, retries: 3 }
        stop_timeout: 2s
        routes: [{ host: web.test, path: / }]\(extra)
        """
    }

    /// The ports in the route file's upstream (all tasks run on 127.0.0.1 here).
    static func routedPorts(_ routes: String) -> Set<Int> { NginxStack.upstreamPorts(routes) }

    /// Ports of the live tasks on serving nodes, as Swarm reports them.
    static func livePorts(_ engine: EngineClient, _ project: String) async throws -> Set<Int> {
        let nodes = Dictionary(try await engine.listSwarmNodes().map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        return Set(try await engine.listSwarmTasks(project: project).filter { $0.isLive && nodes[$0.nodeID]?.isServing == true }.compactMap(\.port))
    }

    func start(_ name: String, ports: ClosedRange<Int>) async throws -> (EngineClient, Scenario, NginxStack, DaemonProcess) {
        let engine = try await EngineClient.connect(candidates: [Self.manager])
        let scenario = try await Scenario(name, ports: ports, engine: engine)
        let stack = try await NginxStack(scenario)
        try stack.write("web.yaml", Self.web())
        try stack.startProxy()
        let daemon = try DaemonProcess(stack.daemonArguments + ["--orchestrator", "swarm"])
        return (engine, scenario, stack, daemon)
    }

    func stop(_ scenario: Scenario, _ stack: NginxStack, _ daemon: DaemonProcess) async {
        _ = await daemon.stop()
        await stack.stop()
        _ = try? runFlotilla(["down", stack.manifests, "--orchestrator", "swarm", "--engine", Self.manager, "--project", scenario.project, "--state-dir", scenario.stateDirectory])
    }

    @Test func routesAndPlanThroughTheCLI() async throws {
        let (engine, scenario, stack, daemon) = try await start("swcli", ports: 25400...25799)
        var stopped = false
        // The test process may end before a Task started in a defer runs: the normal path stops explicitly.
        defer { if !stopped { Task { await stop(scenario, stack, daemon) } } }
        let up = try await daemon.waitUntil(timeout: .seconds(90)) { try await Self.livePorts(engine, scenario.project).count == 3 }
        #expect(up, "\(daemon.log)")
        // `routes` prints what `run` writes; `plan` has nothing to do (exit 0).
        let common = [stack.manifests, "--orchestrator", "swarm", "--engine", Self.manager, "--project", scenario.project, "--port-range", "25400-25799"]
        let routes = try runFlotilla(["routes"] + common)
        #expect(routes.0 == 0 && routes.1.contains("web.test"), "\(routes.1)\(routes.2)")
        let live = try await Self.livePorts(engine, scenario.project)
        for port in live { #expect(routes.1.contains("127.0.0.1:\(port)"), "\(routes.1)") }
        let plan = try runFlotilla(["plan"] + common)
        #expect(plan.0 == 0 && plan.1.contains("No changes"), "\(plan.1)\(plan.2)")
        // An update moves every task to the other half of the block (start-first never meets
        // its predecessor's port), and the route file follows.
        try stack.write("web.yaml", Self.web(extra: "\nenv: { MARK: \"2\" }"))
        let moved = try await daemon.waitUntil(timeout: .seconds(90)) {
            let now = try await Self.livePorts(engine, scenario.project)
            return now.count == 3 && now.isDisjoint(with: live) && Self.routedPorts(stack.routes) == now
        }
        let liveMoved = try await Self.livePorts(engine, scenario.project)
        #expect(moved, "after the update: route file \(Self.routedPorts(stack.routes)), before \(live), live \(liveMoved)\n\(daemon.log)")
        // A YAML syntax error names no service: the service runs on, and so do its routes
        // (before: its routes went at the next task poll while its tasks kept running).
        try stack.write("web.yaml", "name: [unclosed\nimage: x\n")
        let noticed = await daemon.waitUntil(timeout: .seconds(30)) { daemon.log.contains("web.yaml:2:") }
        #expect(noticed, "\(daemon.log)")
        try await Task.sleep(for: .seconds(3))  // several task polls
        #expect(Self.routedPorts(stack.routes) == liveMoved, "a syntax error unrouted the service: \(stack.routes)\n\(daemon.log)")
        // The daemon claimed web.test/ on the proxy's register; `down` gives the claim up.
        let claims = stack.proxyDir + "/.flotilla-route-claims"
        func claimCount() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: claims).filter { $0.hasSuffix(".claim") }.count) ?? 0 }
        #expect(claimCount() >= 1)  // web.test/ (behind nginx, the whole host too)
        _ = await daemon.stop()
        let down = try runFlotilla(["down", stack.manifests, "--orchestrator", "swarm", "--engine", Self.manager, "--project", scenario.project,
                                    "--state-dir", scenario.stateDirectory, "--routes", stack.proxyDir + "/routes.conf"])
        #expect(down.0 == 0 && claimCount() == 0, "\(down.1)\(down.2)")
        await stop(scenario, stack, daemon)
        stopped = true
    }

    /// The folder of the node's private dockerd (`…/swarm/nN`), found by asking each node's socket.
    static func nodeFolder(of nodeID: String) async throws -> String? {
        let base = URL(fileURLWithPath: String(manager.dropFirst("unix://".count))).deletingLastPathComponent().deletingLastPathComponent().path
        for n in 1...3 {
            let folder = "\(base)/n\(n)"
            guard let engine = try? await EngineClient.connect(candidates: ["unix://\(folder)/docker.sock"]) else { continue }
            let info = try JSONSerialization.jsonObject(with: Data(try await engine.transport.send(.GET, "/v\(engine.apiVersion)/info").body)) as? [String: Any]
            if ((info?["Swarm"] as? [String: Any])?["NodeID"] as? String) == nodeID { return folder }
        }
        return nil
    }

    /// A host lost at once: SIGKILL to the node's dockerd, its containerd, its container shims
    /// and the containers' processes (whose command lines do not name the node).
    static func killNode(_ folder: String) {
        let table = processTable()
        // The node's processes and everything below them.
        let node = table.filter { $0.value.commandLine.contains(folder + "/") }.map(\.key)
        let doomed = Set(node.flatMap { processTree(of: $0, in: table).map(\.pid) })
        for pid in doomed { kill(pid, SIGKILL) }
    }

    /// Starts the node's dockerd again as scripts/lib/environment.sh did (it rejoins the Swarm).
    static func restartNode(_ folder: String) throws {
        _ = try spawn(["/usr/sbin/dockerd", "--host", "unix://\(folder)/docker.sock", "--data-root", "\(folder)/data", "--exec-root", "\(folder)/exec",
                       "--pidfile", "\(folder)/docker.pid", "--iptables=false", "--bridge=none"])
    }

    static func versioned(_ version: String) -> String {
        web(body: version, replicas: 2, extra: "\nupdate: { strategy: canary, canary: { replicas: 1, weight: 25 } }")
    }

    @Test func aCanaryIsASecondSwarmServiceWeightedThroughNginxThenPromotedOrRolledBack() async throws {
        let engine = try await EngineClient.connect(candidates: [Self.manager])
        let scenario = try await Scenario("swcanary", ports: 24000...24599, engine: engine)
        let stack = try await NginxStack(scenario)
        try stack.write("web.yaml", Self.versioned("v1"))
        try stack.startProxy()
        let daemon = try DaemonProcess(stack.daemonArguments + ["--orchestrator", "swarm"])
        var stopped = false
        // The test process may end before a Task started in a defer runs: the normal path stops explicitly.
        defer { if !stopped { Task { await stop(scenario, stack, daemon) } } }
        let common = [stack.manifests, "--orchestrator", "swarm", "--engine", Self.manager, "--project", scenario.project, "--port-range", "24000-24599"]
        func shares(_ n: Int) async -> [String: Int] {
            var counts: [String: Int] = [:]
            for body in await stack.replies("web.test", n) { counts[body, default: 0] += 1 }
            return counts
        }
        let v1 = await daemon.waitUntil(timeout: .seconds(90)) { await shares(10) == ["v1": 10] }
        #expect(v1, "\(daemon.log)")

        // A new spec starts the canary service beside the stable one; nginx gives it its weight.
        try stack.write("web.yaml", Self.versioned("v2"))
        let split = await daemon.waitUntil(timeout: .seconds(90)) {
            let seen = await shares(8)
            return stack.routes.contains("weight=") && seen["v2"] != nil
        }
        #expect(split, "routes:\n\(stack.routes)\n\(daemon.log)")
        let canary = try await engine.listSwarmServices(label: OwnershipLabel.project, value: scenario.project).first { $0.isCanary }
        #expect(canary?.name == "\(scenario.project)_web-canary")
        // The share, counted while the canary is in the route file: on loaded cores a node can
        // miss Swarm's heartbeat, and the tasks of a node that is down leave the route file
        // until it is back (a CI run counted 6 of 400 so). Up to three counts, each logged.
        var counted: [String: Int] = [:], share = 0.0, tries: [String] = []
        for _ in 0..<3 {
            _ = await daemon.waitUntil(timeout: .seconds(60)) { stack.routes.contains("weight=") }
            counted = await shares(400)
            share = Double(counted["v2"] ?? 0) / Double(max(1, counted.values.reduce(0, +)))
            tries.append("\(counted) (route file with the canary after: \(stack.routes.contains("weight=")))")
            print("swarm canary at weight 25 received \(counted["v2"] ?? 0) of \(counted.values.reduce(0, +)) requests")
            if share > 0.15 && share < 0.35 { break }
        }
        #expect(share > 0.15 && share < 0.35, "canary share \(share): \(tries)\nroutes:\n\(stack.routes)\n\(daemon.log)")
        let status = try runFlotilla(["status"] + common)
        #expect(status.0 == 2 && status.1.contains("canary"), "\(status.1)")

        // promote: the stable service rolls to v2 and the canary service goes.
        let promote = try runFlotilla(["promote", "web"] + common)
        #expect(promote.0 == 0 && promote.1.contains("promoted web"), "\(promote.1)\(promote.2)")
        let promoted = await daemon.waitUntil(timeout: .seconds(90)) {
            let services = (try? await engine.listSwarmServices(label: OwnershipLabel.project, value: scenario.project)) ?? []
            let seen = await shares(10)
            return services.count == 1 && !stack.routes.contains("weight=") && seen == ["v2": 10]
        }
        #expect(promoted, "routes:\n\(stack.routes)\n\(daemon.log)")

        // A third spec's canary rolled back: the canary goes, v2 keeps serving, and no new canary
        // starts until the manifest changes.
        try stack.write("web.yaml", Self.versioned("v3"))
        let third = await daemon.waitUntil(timeout: .seconds(90)) { (await shares(8))["v3"] != nil }
        #expect(third, "\(daemon.log)")
        let rollback = try runFlotilla(["rollback", "web"] + common)
        #expect(rollback.0 == 0, "\(rollback.1)\(rollback.2)")
        let back = await daemon.waitUntil(timeout: .seconds(60)) { (await shares(10)) == ["v2": 10] }
        #expect(back, "routes:\n\(stack.routes)")
        let plan = try runFlotilla(["plan"] + common)
        #expect(plan.0 == 0 && plan.1.contains("rolled back"), "\(plan.1)\(plan.2)")
        let again = try runFlotilla(["promote", "web"] + common)
        #expect(again.0 == 1 && again.2.contains("no canary release in progress"), "\(again.2)")
        await stop(scenario, stack, daemon)
        stopped = true
    }

    @Test func theDaemonRollsBackAFailingCanaryAndPromotesAHealthyOneAfterItsTime() async throws {
        let engine = try await EngineClient.connect(candidates: [Self.manager])
        let scenario = try await Scenario("swauto", ports: 28200...28599, engine: engine)
        let stack = try await NginxStack(scenario)
        let auto = "update: { strategy: canary, canary: { replicas: 1, weight: 25, auto_promote_after: 3s } }"
        func manifest(_ command: String) -> String {
            Self.versioned("v1").replacingOccurrences(of: "update: { strategy: canary, canary: { replicas: 1, weight: 25 } }", with: auto)
                .replacingOccurrences(of: "echo v1 > /w/index.html", with: command)
        }
        try stack.write("web.yaml", manifest("echo v1 > /w/index.html"))
        try stack.startProxy()
        let daemon = try DaemonProcess(stack.daemonArguments + ["--orchestrator", "swarm"])
        var stopped = false
        // The test process may end before a Task started in a defer runs: the normal path stops explicitly.
        defer { if !stopped { Task { await stop(scenario, stack, daemon) } } }
        func shares(_ n: Int) async -> [String: Int] {
            var counts: [String: Int] = [:]
            for body in await stack.replies("web.test", n) { counts[body, default: 0] += 1 }
            return counts
        }
        let v1 = await daemon.waitUntil(timeout: .seconds(90)) { await shares(10) == ["v1": 10] }
        #expect(v1, "\(daemon.log)")
        // A canary that exits at once: Swarm marks its task failed, the daemon rolls it back.
        try stack.write("web.yaml", manifest("exit 3; echo x > /w/index.html"))
        let rolledBack = await daemon.waitUntil(timeout: .seconds(90)) { daemon.log.contains("rolling the canary back") && daemon.log.contains("canary rolled back") }
        #expect(rolledBack, "\(daemon.log)")
        let noCanary = try await daemon.waitUntil(timeout: .seconds(30)) {
            try await engine.listSwarmServices(label: OwnershipLabel.project, value: scenario.project).allSatisfy { !$0.isCanary }
        }
        #expect(noCanary)
        #expect(await shares(10) == ["v1": 10])
        // A healthy canary is promoted by itself after auto_promote_after: v2 everywhere, one service.
        try stack.write("web.yaml", manifest("echo v2 > /w/index.html"))
        let promoted = await daemon.waitUntil(timeout: .seconds(120)) {
            let services = (try? await engine.listSwarmServices(label: OwnershipLabel.project, value: scenario.project)) ?? []
            let seen = await shares(10)
            return services.count == 1 && seen == ["v2": 10]
        }
        #expect(promoted, "\(daemon.log)")
        #expect(daemon.log.contains("promoting the canary"), "\(daemon.log)")
        await stop(scenario, stack, daemon)
        stopped = true
    }
}

/// The Swarm tests that drain or stop nodes: alone, one at a time (every other Swarm test would
/// see its tasks move).
@Suite("Swarm mode: routes through node faults", .enabled(if: ProcessInfo.processInfo.environment["FLOTILLA_TEST_SWARM"] != nil, "needs a Swarm (scripts/test starts one)"),
       .serialized)
struct SwarmNodeFaultTests {
    @Test func routeFileFollowsTasksThroughADrainWithoutLosingARequest() async throws {
        let (engine, scenario, stack, daemon) = try await SwarmRoutingTests().start("swroute", ports: 24600...24999)
        var drained: String?
        defer {
            let node = drained
            Task { if let node { try? await engine.setSwarmNodeAvailability(id: node, "active") } }
        }

        // Three tasks, each its own port (half + slot), all in the route file and answering.
        let converged = try await daemon.waitUntil(timeout: .seconds(90)) {
            let live = try await SwarmRoutingTests.livePorts(engine, scenario.project)
            return live.count == 3 && SwarmRoutingTests.routedPorts(stack.routes) == live
        }
        let liveNow = try await SwarmRoutingTests.livePorts(engine, scenario.project)
        #expect(converged, "route file \(SwarmRoutingTests.routedPorts(stack.routes)) vs live tasks \(liveNow)\n\(daemon.log)")
        let first = SwarmRoutingTests.routedPorts(stack.routes)
        #expect(first.count == 3 && first.allSatisfy { (24600...24999).contains($0) }, "\(first)")
        // Every task answers, and no worker of nginx's configuration before it (no target: 503)
        // still takes requests: `nginx -s reload` returns before the old worker stops accepting.
        let answering = await daemon.waitUntil(timeout: .seconds(20)) { Set(await stack.replies("web.test", 12)).count == 3 && stack.reloadSettled }
        let sample = await stack.replies("web.test", 12)
        #expect(answering, "every task answers through nginx: \(sample)")

        // A request loop through nginx while a worker with a task is drained.
        let workers = try await engine.listSwarmNodes().filter { $0.address == "127.0.0.1" }
        let tasks = try await engine.listSwarmTasks(project: scenario.project).filter(\.isLive)
        let info = try JSONSerialization.jsonObject(with: Data(try await engine.transport.send(.GET, "/v\(engine.apiVersion)/info").body)) as? [String: Any]
        let managerNode = ((info?["Swarm"] as? [String: Any])?["NodeID"] as? String) ?? ""
        let victim = try #require(tasks.first { $0.nodeID != managerNode } ?? tasks.first)
        #expect(workers.count == 3)
        // A request that is slow on loaded cores is not lost: each may take up to 15 s (the slowest
        // is printed); a lost one is an error status or no answer at all.
        let loop = Task { () -> (ok: Int, failed: [String], slowest: Duration) in
            var ok = 0, failed: [String] = [], slowest = Duration.zero
            let clock = ContinuousClock(), end = clock.now + .seconds(25)
            while clock.now < end {
                let sent = Date(), started = clock.now
                let answer = await stack.get("web.test", timeout: .seconds(15))
                slowest = max(slowest, clock.now - started)
                if let (status, _) = answer, status == 200 { ok += 1 } else {
                    failed.append("sent \(sent.timeIntervalSince1970), failed \(Date().timeIntervalSince1970): " + (answer.map { "status \($0.0): \($0.1.prefix(200))" } ?? "no answer"))
                }
                try? await Task.sleep(for: .milliseconds(20))
            }
            return (ok, failed, slowest)
        }
        try await Task.sleep(for: .seconds(2))
        let drainedAt = Date().timeIntervalSince1970
        try await engine.setSwarmNodeAvailability(id: victim.nodeID, "drain")
        drained = victim.nodeID

        // The drained node's tasks leave the route file; Swarm reschedules them elsewhere.
        let followed = try await daemon.waitUntil(timeout: .seconds(60)) {
            let live = try await SwarmRoutingTests.livePorts(engine, scenario.project)
            let onDrained = try await engine.listSwarmTasks(project: scenario.project).filter { $0.nodeID == victim.nodeID && $0.isLive }
            return onDrained.isEmpty && live.count == 3 && SwarmRoutingTests.routedPorts(stack.routes) == live
        }
        let liveAfter = try await SwarmRoutingTests.livePorts(engine, scenario.project)
        #expect(followed, "after the drain: route file \(SwarmRoutingTests.routedPorts(stack.routes)) vs live \(liveAfter)\n\(daemon.log)")
        let result = await loop.value
        let details = "\(result.failed); drain sent at \(drainedAt), victim task \(victim.id) port \(victim.port.map(String.init) ?? "-")\nroutes:\n\(stack.routes)\n\(stack.errorLog)\n\(daemon.log)"
        #expect(result.failed.isEmpty && result.ok > 50, "requests during the drain: \(result.ok) answered, \(result.failed.count) lost: \(details)")
        print("drain: \(result.ok) requests through nginx, \(result.failed.count) lost, slowest \(result.slowest); route file followed the tasks")

        try await engine.setSwarmNodeAvailability(id: victim.nodeID, "active")
        drained = nil
        await SwarmRoutingTests().stop(scenario, stack, daemon)
    }

    @Test func aLostWorkersTasksLeaveTheRouteFileAndComeBackElsewhere() async throws {
        let (engine, scenario, stack, daemon) = try await SwarmRoutingTests().start("swlost", ports: 25200...25399)
        let up = try await daemon.waitUntil(timeout: .seconds(90)) {
            let live = try await SwarmRoutingTests.livePorts(engine, scenario.project)
            return live.count == 3 && SwarmRoutingTests.routedPorts(stack.routes) == live
        }
        #expect(up, "\(daemon.log)")
        let info = try JSONSerialization.jsonObject(with: Data(try await engine.transport.send(.GET, "/v\(engine.apiVersion)/info").body)) as? [String: Any]
        let managerNode = ((info?["Swarm"] as? [String: Any])?["NodeID"] as? String) ?? ""
        let tasks = try await engine.listSwarmTasks(project: scenario.project).filter(\.isLive)
        let victim = try #require(tasks.first { $0.nodeID != managerNode }, "a task on a worker: \(tasks.map(\.nodeID))")
        let folder = try #require(try await SwarmRoutingTests.nodeFolder(of: victim.nodeID))
        let lostPorts = Set(tasks.filter { $0.nodeID == victim.nodeID }.compactMap(\.port))

        let loop = Task { () -> (ok: Int, lost: Int) in
            var ok = 0, lost = 0
            let end = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < end {
                if let (status, _) = await stack.get("web.test"), status == 200 { ok += 1 } else { lost += 1 }
                try? await Task.sleep(for: .milliseconds(20))
            }
            return (ok, lost)
        }
        SwarmRoutingTests.killNode(folder)
        var restarted = false
        defer { if !restarted { try? SwarmRoutingTests.restartNode(folder) } }
        // Swarm marks the node down, its tasks leave the route file, and their slots start on the
        // other nodes; the route file ends equal to the live tasks, none on the lost node.
        let followed = try await daemon.waitUntil(timeout: .seconds(90)) {
            let nodes = try await engine.listSwarmNodes()
            let live = try await SwarmRoutingTests.livePorts(engine, scenario.project)
            let onLost = try await engine.listSwarmTasks(project: scenario.project).filter { $0.isLive && $0.nodeID == victim.nodeID }
            return nodes.first { $0.id == victim.nodeID }?.state == "down" && onLost.isEmpty && live.count == 3 && SwarmRoutingTests.routedPorts(stack.routes) == live
        }
        let liveNow = try await SwarmRoutingTests.livePorts(engine, scenario.project)
        #expect(followed, "after losing a worker: route file \(SwarmRoutingTests.routedPorts(stack.routes)) vs live \(liveNow); lost ports \(lostPorts)\n\(daemon.log)")
        let result = await loop.value
        print("worker lost: \(result.ok) requests through nginx answered, \(result.lost) not (in flight on the killed host)")
        // A request in flight on the host that dies can die with it (as on a real crash); nginx
        // moves every later one on from the refused connection, so at most a stray few fail.
        #expect(result.lost * 100 <= result.ok + result.lost, "requests lost while a worker was lost: \(result.lost) of \(result.ok + result.lost)")

        // The node comes back (its dockerd restarted) and the Swarm is whole for what follows.
        try SwarmRoutingTests.restartNode(folder)
        restarted = true
        let back = try await daemon.waitUntil(timeout: .seconds(60)) { try await engine.listSwarmNodes().allSatisfy { $0.state == "ready" } }
        #expect(back, "the node rejoined")
        await SwarmRoutingTests().stop(scenario, stack, daemon)
    }
}
