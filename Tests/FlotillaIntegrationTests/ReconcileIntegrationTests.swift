import FlotillaAgent
import FlotillaCore
import FlotillaEngine
import Foundation
import Synchronization
import Testing

/// Flotilla against the real engine (Podman's Docker API, started by scripts/test).
@Suite("Reconcile on a real engine", .enabled(if: TestEngine.available, "needs FLOTILLA_TEST_ENGINE (run scripts/test)"), .serialized)
struct ReconcileIntegrationTests {
    @Test func engineAnswersAndVersionIsNegotiated() async throws {
        let engine = try await TestEngine.client()
        #expect(engine.apiVersion >= EngineClient.minimumAPIVersion && engine.apiVersion <= EngineClient.maximumAPIVersion)
        let raw = try await engine.transport.send(.GET, "/version")
        #expect(raw.status == 200)
    }

    @Test func unreachableEngineNamesWhatWasTried() async {
        await #expect {
            _ = try await EngineClient.connect(candidates: ["unix:///nonexistent/docker.sock", "tcp://1.2.3.4:2375"])
        } throws: { error in
            let text = "\(error)"
            return text.contains("/nonexistent/docker.sock: no such socket") && text.contains("tcp://1.2.3.4:2375: not a unix:// endpoint")
        }
    }

    @Test func createScaleUpAndDown() async throws {
        let s = try await Scenario("scale", ports: 21000...21099)
        defer { Task { await s.cleanup() } }
        try s.write("web.yaml", Scenario.httpService("web", replicas: 2))
        var report = try await s.apply()
        #expect(report.succeeded && report.created == 2)
        var live = try await s.containers("web")
        #expect(live.count == 2 && live.allSatisfy { $0.state == .running })
        for c in live { #expect(await httpGet(port: c.hostPort!)?.1 == "v1\n") }

        try s.write("web.yaml", Scenario.httpService("web", replicas: 4))
        report = try await s.apply()
        #expect(report.created == 2)
        #expect(try await s.containers("web").count == 4)

        try s.write("web.yaml", Scenario.httpService("web", replicas: 1))
        let oldest = live.sorted(by: ObservedContainer.olderFirst).first!
        report = try await s.apply()
        #expect(report.removed == 3)
        live = try await s.containers("web")
        #expect(live.map(\.id) == [oldest.id])  // newest removed first

        // Idempotent: a second apply changes nothing.
        #expect(!(try await s.plan().hasChanges))
        report = try await s.apply()
        #expect(report.created == 0 && report.removed == 0 && report.replaced == 0)
        await s.cleanup()
    }

    /// A one-shot apply lists the project once and then looks at its own replicas by inspection:
    /// Podman's list walks every container on the engine, so a list per step (and one per port
    /// allocation) made a cold start of 500 services take 4.7 times the engine's own time.
    @Test func applyListsTheEngineAboutOnceHoweverManyServicesItStarts() async throws {
        let lists = Mutex(0)
        let calls = Mutex<[String]>([])
        var engine = try await TestEngine.client()
        engine.onRequest = { operation, _ in
            calls.withLock { $0.append(operation) }
            if operation == "GET /containers/json" { lists.withLock { $0 += 1 } }
        }
        let s = try await Scenario("lists", ports: 22800...22899, engine: engine)
        defer { Task { await s.cleanup() } }
        for i in 0..<12 { try s.write("s\(i).yaml", Scenario.httpService("s\(i)", replicas: i % 3 == 0 ? 2 : 1)) }
        let report = try await s.apply()
        #expect(report.succeeded && report.created == 16, "\(report)")
        // The plan's list, the port allocator's, and at most two more (a port list is reused
        // for a few seconds); a list per step was 30 and more.
        #expect(lists.withLock { $0 } <= 4, "\(lists.withLock { $0 }) lists")
        let live = try await s.containers()
        #expect(live.count == 16 && live.allSatisfy { $0.state == .running } && Set(live.compactMap(\.hostPort)).count == 16)
        // Scaled and rolled the same way, and converged (nothing left to do).
        lists.withLock { $0 = 0 }
        calls.withLock { $0 = [] }
        for i in 0..<12 { try s.write("s\(i).yaml", Scenario.httpService("s\(i)", replicas: i % 3 == 0 ? 1 : 2, body: i % 2 == 0 ? "v2" : "v1")) }
        let second = try await s.apply()
        #expect(second.succeeded, "\(second)")
        #expect(lists.withLock { $0 } <= 4, "\(lists.withLock { $0 }) lists: \(calls.withLock { $0 })")
        #expect(!(try await s.plan().hasChanges))
        let after = try await s.containers()
        #expect(after.count == 20 && after.allSatisfy { $0.state == .running }, "\(after.count)")
        await s.cleanup()
    }

    @Test func rollingUpdateNeverDropsToZeroHealthyReplicas() async throws {
        let s = try await Scenario("rolling", ports: 21100...21199)
        defer { Task { await s.cleanup() } }
        try s.write("web.yaml", Scenario.httpService("web", replicas: 2, body: "v1"))
        #expect(try await s.apply().succeeded)

        // Watch the service the whole time the update runs: at every sample, at least one
        // running replica answers its health endpoint.
        let watcher = Task { () -> (samples: Int, zeroHealthy: Int, detail: String) in
            var samples = 0, zero = 0, detail = ""
            while !Task.isCancelled {
                let all: [ObservedContainer]
                do { all = try await s.containers("web") } catch { detail += "list failed: \(error); "; continue }
                let live = all.filter { $0.state == .running }
                var healthy = 0
                var seen: [String] = []
                for c in live {
                    let answer = await httpGet(port: c.hostPort!, path: "/healthz")
                    if answer?.0 == 200 { healthy += 1 }
                    seen.append("\(c.name):\(c.hostPort!):\(answer?.0 ?? -1)")
                }
                if Task.isCancelled { break }  // probes cut short by the cancellation prove nothing
                samples += 1
                if healthy == 0 { zero += 1; detail += "sample \(samples): \(all.map { "\($0.name)=\($0.state)" }) probes \(seen); " }
                try? await Task.sleep(for: .milliseconds(30))
            }
            return (samples, zero, detail)
        }
        try s.write("web.yaml", Scenario.httpService("web", replicas: 2, body: "v2"))
        let report = try await s.apply()
        watcher.cancel()
        let watched = await watcher.value
        #expect(report.succeeded && report.replaced == 2)
        #expect(watched.samples > 5)
        #expect(watched.zeroHealthy == 0, "samples with no healthy replica: \(watched.zeroHealthy) of \(watched.samples): \(watched.detail)")
        let live = try await s.containers("web")
        #expect(live.count == 2)
        for c in live { #expect(await httpGet(port: c.hostPort!)?.1 == "v2\n") }
        await s.cleanup()
    }

    @Test func failingNewVersionLeavesTheOldOneServing() async throws {
        let s = try await Scenario("failing", ports: 21200...21299)
        defer { Task { await s.cleanup() } }
        try s.write("web.yaml", Scenario.httpService("web", replicas: 1, body: "v1"))
        #expect(try await s.apply().succeeded)
        let before = try await s.containers("web")

        // v2 never passes its health check (wrong path).
        try s.write("web.yaml", Scenario.httpService("web", replicas: 1, body: "v2").replacingOccurrences(of: "http: /healthz", with: "http: /missing"))
        let report = try await s.apply()
        #expect(!report.succeeded)
        #expect(report.failures["web"]?.contains("old replicas keep serving") == true)
        let after = try await s.containers("web")
        #expect(after.map(\.id) == before.map(\.id))
        #expect(await httpGet(port: after[0].hostPort!)?.1 == "v1\n")
        await s.cleanup()
    }

    @Test func killedContainerIsReplacedByTheNextApply() async throws {
        let s = try await Scenario("kill", ports: 21300...21399)
        defer { Task { await s.cleanup() } }
        try s.write("web.yaml", Scenario.httpService("web", replicas: 2))
        try await s.apply()
        let victim = try await s.containers("web")[0]
        let kill = try await s.engine.transport.send(.POST, "/v1.41/containers/\(victim.id)/kill?signal=KILL")
        #expect(kill.status == 204)
        try await Task.sleep(for: .milliseconds(300))
        let plan = try await s.plan()
        #expect(plan.services[0].prune.map(\.id) == [victim.id] && plan.services[0].create == 1)
        let report = try await s.apply()
        #expect(report.succeeded && report.created == 1 && report.removed == 1)
        let live = try await s.containers("web")
        #expect(live.count == 2 && !live.contains { $0.id == victim.id } && live.allSatisfy { $0.state == .running })
        await s.cleanup()
    }

    @Test func foreignContainersSurviveEverything() async throws {
        let s = try await Scenario("foreign", ports: 21400...21499)
        defer { Task { await s.cleanup() } }
        let unlabelled = try await createForeign(s.engine, labels: [:])
        let otherProject = try await createForeign(s.engine, labels: [OwnershipLabel.project: s.project + "-other", OwnershipLabel.service: "web"])
        try s.write("web.yaml", Scenario.httpService("web"))
        try await s.apply()
        try s.remove("web.yaml")
        try s.write("other.yaml", Scenario.httpService("other"))
        try await s.apply()  // removes the orphaned web
        _ = try await s.reconciler.down()
        for id in [unlabelled, otherProject] {
            let inspect = try await s.engine.inspectContainer(id)
            #expect((inspect["State"] as? [String: Any])?["Running"] as? Bool == true)
            try await s.engine.removeContainer(id)
        }
        #expect(try await s.containers().isEmpty)
    }

    @Test func restartedFlotillaAdoptsWithoutDuplicates() async throws {
        let s = try await Scenario("adopt", ports: 21500...21599)
        defer { Task { await s.cleanup() } }
        try s.write("web.yaml", Scenario.httpService("web", replicas: 3))
        try await s.apply()
        // A new Scenario value with the same project stands for a restarted process: it has
        // nothing but the engine's labels to go on.
        let again = try runFlotilla(["apply", s.directory, "--engine", TestEngine.endpoint!, "--project", s.project, "--state-dir", s.stateDirectory, "--port-range", "21500-21599"])
        #expect(again.0 == 0, "\(again.2)")
        #expect(again.1.contains("created 0, replaced 0, removed 0, unchanged 1"))
        #expect(try await s.containers("web").count == 3)
        await s.cleanup()
    }

    @Test func removedManifestFileMakesItsServiceAnOrphan() async throws {
        let s = try await Scenario("orphan", ports: 21600...21699)
        defer { Task { await s.cleanup() } }
        try s.write("a.yaml", Scenario.httpService("a"))
        try s.write("b.yaml", Scenario.httpService("b"))
        try await s.apply()
        try s.remove("b.yaml")
        let report = try await s.apply()
        #expect(report.removed == 1)
        #expect(try await s.containers().map(\.service) == ["a"])
        await s.cleanup()
    }

    @Test func brokenManifestNeverPrunesARunningService() async throws {
        let s = try await Scenario("broken", ports: 21700...21799)
        defer { Task { await s.cleanup() } }
        try s.write("a.yaml", Scenario.httpService("a"))
        try s.write("b.yaml", Scenario.httpService("b"))
        try await s.apply()
        try s.write("b.yaml", "name: b\nimage: [unterminated\n")
        try s.write("a.yaml", Scenario.httpService("a", replicas: 2))
        let report = try await s.apply()
        #expect(report.created == 1 && report.removed == 0)
        #expect(try await s.containers("b").count == 1)
        // Emptying the directory prunes nothing without --allow-empty.
        try s.remove("a.yaml")
        try s.remove("b.yaml")
        #expect(try await s.apply().removed == 0)
        #expect(try await s.containers().count == 3)
        await s.cleanup()
    }

    @Test func dependenciesStartFirstAndFailuresBlockDependents() async throws {
        let s = try await Scenario("deps", ports: 21800...21899)
        defer { Task { await s.cleanup() } }
        try s.write("db.yaml", Scenario.httpService("db"))
        try s.write("web.yaml", Scenario.httpService("web", extra: "depends_on: [db]"))
        #expect(try await s.apply().succeeded)
        let db = try await s.containers("db")[0], web = try await s.containers("web")[0]
        #expect(db.created <= web.created)
        await s.cleanup()

        let t = try await Scenario("deps-fail", ports: 21900...21999)
        defer { Task { await t.cleanup() } }
        try t.write("db.yaml", Scenario.httpService("db").replacingOccurrences(of: "http: /healthz", with: "http: /nope"))
        try t.write("web.yaml", Scenario.httpService("web", extra: "depends_on: [db]"))
        let report = try await t.apply()
        #expect(report.failures["web"]?.contains("dependency db") == true)
        #expect(try await t.containers().isEmpty)
        await t.cleanup()
    }

    @Test func missingImageWithPullNeverIsAClearFailure() async throws {
        let s = try await Scenario("pullnever", ports: 22000...22099)
        defer { Task { await s.cleanup() } }
        try s.write("x.yaml", "name: x\nimage: localhost/does-not-exist:1\npull: never\n")
        let report = try await s.apply()
        #expect(report.failures["x"]?.contains("pull policy is never") == true)
        await s.cleanup()
    }

    @Test func downLeavesNothingBehind() async throws {
        let s = try await Scenario("down", ports: 22100...22199)
        defer { Task { await s.cleanup() } }
        try s.write("a.yaml", Scenario.httpService("a", replicas: 2))
        try s.write("b.yaml", Scenario.httpService("b"))
        try await s.apply()
        let result = try runFlotilla(["down", s.directory, "--engine", TestEngine.endpoint!, "--project", s.project, "--state-dir", s.stateDirectory])
        #expect(result.0 == 0 && result.1.contains("removed 3 containers"))
        #expect(try await s.containers().isEmpty)
        let all = try await s.engine.transport.send(.GET, "/v1.41/containers/json?all=true")
        #expect(!String(decoding: all.body, as: UTF8.self).contains(s.project + "-"))
    }

    /// Bridge networking is checked through the engine's inspect data only (no traffic to bridge
    /// addresses). Podman only: the Docker Engine here runs with --bridge=none.
    @Test(.enabled(if: TestEngine.isPodman, "bridge networking: Podman only (dockerd runs with --bridge=none here)"))
    func bridgeNetworkPublishesTheServicePortOnLoopbackOnly() async throws {
        let s = try await Scenario("bridge", ports: 22400...22499)
        defer { Task { await s.cleanup() } }
        try s.write("b.yaml", "name: b\nimage: \(TestEngine.image)\ncommand: [\"/bin/httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\nport: 8080\nstop_timeout: 1s\n")
        #expect(try await s.apply().succeeded)
        let c = try #require(try await s.containers("b").first)
        let inspect = try await s.engine.inspectContainer(c.id)
        let hostConfig = inspect["HostConfig"] as? [String: Any]
        #expect(hostConfig?["NetworkMode"] as? String == "bridge")
        let bindings = (hostConfig?["PortBindings"] as? [String: Any])?["8080/tcp"] as? [[String: Any]]
        #expect(bindings?.first?["HostIp"] as? String == "127.0.0.1")
        let published = try await s.engine.publishedPort(of: c.id, containerPort: 8080)
        #expect(published != nil && c.hostPort == published)
        #expect(c.canonicalSpec?.contains("network=\"bridge\"") == true)
        await s.cleanup()
    }

    @Test func cliApplyThenPlanReportsNoChanges() async throws {
        let s = try await Scenario("cli", ports: 22200...22299)
        defer { Task { await s.cleanup() } }
        try s.write("web.yaml", Scenario.httpService("web", replicas: 2))
        let args = [s.directory, "--engine", TestEngine.endpoint!, "--port-range", "22200-22299"]
        let before = try runFlotilla(["plan"] + args)
        #expect(before.0 == 2 && before.1.contains("+ create 2"))
        let json = try runFlotilla(["plan", "--format", "json"] + args)
        #expect(json.0 == 2 && json.1.contains("\"changes\" : true"))
        let apply = try runFlotilla(["apply"] + args)
        #expect(apply.0 == 0 && apply.1.contains("created 2"), "\(apply.2)")
        #expect(apply.2.contains("created") && apply.2.contains("service=web"))
        let after = try runFlotilla(["plan"] + args)
        #expect(after.0 == 0 && after.1.contains("No changes"))
        // `--orchestrator auto` on an engine that is no Swarm manager: containers mode, said on stderr.
        let auto = try runFlotilla(["plan", "--orchestrator", "auto"] + args)
        #expect(auto.0 == 0 && auto.1.contains("No changes") && auto.2.contains("using containers mode"), "\(auto.1)\n\(auto.2)")
        try s.write("web.yaml", Scenario.httpService("web", replicas: 2, body: "v9"))
        let changed = try runFlotilla(["plan"] + args)
        #expect(changed.0 == 2 && changed.1.contains("~ replace 2") && changed.1.contains("command"))
        let invalid = try runFlotilla(["plan", "/nonexistent/dir", "--engine", TestEngine.endpoint!])
        #expect(invalid.0 == 1 && invalid.2.contains("does not exist"))
        _ = try runFlotilla(["down"] + args)
        try? FileManager.default.removeItem(atPath: s.directory)
    }
}

func createForeign(_ engine: EngineClient, labels: [String: String]) async throws -> String {
    let body: [String: Any] = ["Image": TestEngine.image, "Cmd": ["/bin/sleep", "600"], "Labels": labels, "HostConfig": ["NetworkMode": "host"]]
    let created = try await engine.transport.send(.POST, "/v\(engine.apiVersion)/containers/create", body: [UInt8](try JSONSerialization.data(withJSONObject: body)))
    let id = (try JSONSerialization.jsonObject(with: Data(created.body)) as? [String: Any])?["Id"] as! String
    _ = try await engine.transport.send(.POST, "/v\(engine.apiVersion)/containers/\(id)/start")
    return id
}

@Suite("Image pulls from a real local registry", .enabled(if: TestEngine.available && ProcessInfo.processInfo.environment["FLOTILLA_TEST_REGISTRY"] != nil, "needs the test registry (run scripts/test)"))
struct RegistryPullTests {
    @Test func missingImageIsPulledThenUsed() async throws {
        let registry = ProcessInfo.processInfo.environment["FLOTILLA_TEST_REGISTRY"]!
        let s = try await Scenario("pull", ports: 22300...22399)
        defer { Task { await s.cleanup() } }
        let image = "\(registry)/flotilla/busybox:1"
        _ = try? await s.engine.transport.send(.DELETE, "/v\(s.engine.apiVersion)/images/\(image)?force=true")
        #expect(try await s.engine.imageExists(image) == false)
        try s.write("web.yaml", Scenario.httpService("web").replacingOccurrences(of: TestEngine.image, with: image))
        let report = try await s.apply()
        #expect(report.succeeded, "\(report.failures)")
        #expect(try await s.engine.imageExists(image))
        #expect(try await s.containers("web").count == 1)

        // A tag the registry does not have is a clear, typed failure.
        try s.write("web.yaml", Scenario.httpService("web").replacingOccurrences(of: TestEngine.image, with: "\(registry)/flotilla/busybox:missing"))
        let failed = try await s.apply()
        #expect(failed.failures["web"]?.contains("flotilla/busybox:missing") == true)
        #expect(try await s.containers("web").count == 1)  // the running replica stays
        await s.cleanup()
    }
}
