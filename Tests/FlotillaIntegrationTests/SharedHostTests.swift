import FlotillaAgent
import FlotillaCore
import FlotillaEngine
import Foundation
import Testing

/// One host, several projects and strangers: a project is touched only from the manifest
/// directory that manages it, and containers that merely carry its labels are left alone.
@Suite("Sharing a host", .enabled(if: TestEngine.available, "needs FLOTILLA_TEST_ENGINE (run scripts/test)"))
struct SharedHostTests {
    /// Rollback markers of project `P` with service `api-v2` and of project `P-api` with service
    /// `v2` had one volume name: one project's rollback was not recorded, and clearing it removed
    /// the other's.
    @Test func rollbackMarkersOfTwoProjectsNeverShareAVolume() async throws {
        let engine = try await TestEngine.client()
        let p = "mark\(UInt32.random(in: 0...UInt32.max))"
        let q = p + "-api"
        defer { Task { for (project, service) in [(p, "api-v2"), (q, "v2")] { try? await engine.clearRollbackMarker(project: project, service: service) } } }
        try await engine.setRollbackMarker(project: p, service: "api-v2", hash: "h1")
        try await engine.setRollbackMarker(project: q, service: "v2", hash: "h2")
        #expect(try await engine.rollbackMarkers(project: p) == ["api-v2": "h1"])
        #expect(try await engine.rollbackMarkers(project: q) == ["v2": "h2"])
        try await engine.clearRollbackMarker(project: q, service: "v2")
        #expect(try await engine.rollbackMarkers(project: q) == [:])
        #expect(try await engine.rollbackMarkers(project: p) == ["api-v2": "h1"], "clearing one project's marker removed the other's")
        try await engine.clearRollbackMarker(project: p, service: "api-v2")
        #expect(try await engine.rollbackMarkers(project: p) == [:])
    }

    /// Two checkouts with the same folder name got the same default project and pruned each
    /// other's containers as orphans.
    @Test func twoCheckoutsWithOneProjectNameNeverTouchEachOther() async throws {
        let s = try await Scenario("owner", ports: 27500...27549)
        let base = NSTemporaryDirectory() + s.project
        // Same last component (the default project name), different folders.
        let a = base + "-a/" + s.project, b = base + "-b/" + s.project
        for dir in [a, b] { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        defer { for dir in [base + "-a", base + "-b"] { try? FileManager.default.removeItem(atPath: dir) } }
        try Scenario.httpService("web").write(toFile: a + "/web.yaml", atomically: true, encoding: .utf8)
        try Scenario.httpService("api").write(toFile: b + "/api.yaml", atomically: true, encoding: .utf8)
        func run(_ command: String, _ dir: String, _ extra: [String] = []) throws -> (Int32, String, String) {
            // No --project: the default (the folder's name) is what collides.
            try runFlotilla([command, dir, "--engine", TestEngine.endpoint!, "--state-dir", s.stateDirectory, "--port-range", "27500-27549"] + extra)
        }
        var finished = false
        defer { if !finished { Task { _ = try? run("down", b, ["--take-over"]); await s.cleanup() } } }  // on an early exit

        let first = try run("apply", a)
        #expect(first.0 == 0, "\(first.2)")
        let web = try #require(try await s.containers("web").first)

        // B is refused by every command, with both directories named, and changes nothing.
        for command in ["apply", "plan", "down"] {
            let refused = try run(command, b)
            #expect(refused.0 == 1, "\(command): \(refused.1)\(refused.2)")
            #expect(refused.2.contains("managed from \(a)") && refused.2.contains("not from \(b)") && refused.2.contains("--take-over"), "\(command): \(refused.2)")
        }
        #expect(try await s.containers().map(\.id) == [web.id], "B's refused commands touched A's containers")

        // --take-over moves it on purpose: B's manifests win (web is B's orphan now), and A is refused.
        let moved = try run("apply", b, ["--take-over", "--allow-mass-prune"])
        #expect(moved.0 == 0, "\(moved.2)")
        #expect(try await s.containers().map(\.service) == ["api"])
        #expect(try await s.containers("api").first?.name.hasPrefix(s.project + "-api-") == true)
        let back = try run("apply", a)
        #expect(back.0 == 1 && back.2.contains("managed from \(b)"), "\(back.2)")
        #expect(try await s.containers().map(\.service) == ["api"])
        let down = try run("down", b)
        #expect(down.0 == 0, "\(down.2)")
        #expect(try await s.engine.projectOwner(project: s.project) == nil, "down forgets the owner")
        finished = true
        await s.cleanup()
    }

    /// A container with a copied label set was adopted as a replica (and the real one removed as
    /// surplus); one with only the project label survived `down`, which still said success.
    @Test func impostorsAreNeitherAdoptedNorRemovedAndDownSaysWhatItLeft() async throws {
        let s = try await Scenario("impostor", ports: 27550...27599)
        var strangers: [String] = []
        func cleanup() async {
            for id in strangers { try? await s.engine.removeContainer(id) }
            await s.cleanup()
        }
        try s.write("web.yaml", Scenario.httpService("web"))
        #expect(try s.cli("apply").0 == 0)
        let real = try #require(try await s.containers("web").first)
        let inspect = try await s.engine.inspectContainer(real.id)
        let labels = try #require((inspect["Config"] as? [String: Any])?["Labels"] as? [String: String])
        #expect(labels[OwnershipLabel.seal] != nil && labels[OwnershipLabel.source] != nil)

        // Three strangers: a full copy of the labels under Flotilla's naming scheme, one under
        // another name, and one with the project label only.
        func create(_ name: String, _ labels: [String: String]) async throws {
            let body = try JSONSerialization.data(withJSONObject: ["Image": TestEngine.image, "Cmd": ["/bin/sleep", "600"], "Labels": labels])
            let created = try await s.engine.transport.send(.POST, "/v\(s.engine.apiVersion)/containers/create?name=\(name)", body: [UInt8](body))
            let id = try #require((try JSONSerialization.jsonObject(with: Data(created.body)) as? [String: Any])?["Id"] as? String, "\(created.status)")
            strangers.append(id)
            try await s.engine.startContainer(id)
        }
        try await create("\(s.project)-web-0badc0de", labels)
        try await create("\(s.project)-lookalike", labels)
        try await create("\(s.project)-label-only", [OwnershipLabel.project: s.project])

        // Not adopted: plan sees one replica and names the strangers; apply keeps the real one.
        let plan = try s.cli("plan")
        #expect(plan.0 == 0 && plan.1.contains("No changes"), "\(plan.1)\(plan.2)")
        #expect(plan.2.contains("\(s.project)-web-0badc0de") && plan.2.contains("\(s.project)-lookalike") && plan.2.contains("is not one of its replicas"), "\(plan.2)")
        let apply = try s.cli("apply")
        #expect(apply.0 == 0, "\(apply.2)")
        #expect(try await s.containers("web").map(\.id) == [real.id])
        for id in strangers { #expect(try await s.engine.inspectContainer(id)["Id"] as? String == id, "a stranger was removed") }

        // down removes the replica, leaves the strangers, names each, and exits 1.
        let down = try s.cli("down")
        #expect(down.0 == 1, "\(down.1)\(down.2)")
        #expect(down.1.contains("removed 1 containers"), "\(down.1)")
        for name in ["\(s.project)-web-0badc0de", "\(s.project)-lookalike", "\(s.project)-label-only"] {
            #expect(down.2.contains("left: \(name)"), "\(name): \(down.2)")
        }
        #expect(down.2.contains("3 containers still carry the label"), "\(down.2)")
        #expect(try await s.containers().isEmpty)
        await cleanup()
    }

    /// Two projects applied at once from the same port range got the same 8 ports: both said
    /// "created 8" and exited 0, and half of the 16 containers had exited.
    @Test func twoProjectsAppliedAtOnceFromOneRangeGetDistinctPorts() async throws {
        let one = try await Scenario("ports-one", ports: 27800...27829)
        let two = try await Scenario("ports-two", ports: 27800...27829)
        // The service itself answers on its port, so a shared port would make one of each pair exit.
        for s in [one, two] { try s.write("web.yaml", Scenario.httpService("web", replicas: 8)) }
        async let first = Task.detached { try one.cli("apply") }.value
        async let second = Task.detached { try two.cli("apply") }.value
        let results = try await [first, second]
        for (code, out, err) in results { #expect(code == 0, "\(out)\n\(err)") }
        let containers = try await one.containers() + two.containers()
        let ports = containers.compactMap(\.hostPort)
        #expect(containers.count == 16 && ports.count == 16 && Set(ports).count == 16, "\(ports.sorted())")
        #expect(containers.allSatisfy { $0.state == .running }, "\(containers.map { "\($0.name) \($0.state)" })")
        // Each port answers (a few tries: 16 httpd on 2 loaded cores can miss one 2 s request).
        for port in ports {
            var status: Int?
            for _ in 0..<5 where status != 200 {
                status = await httpGet(port: port)?.0
                if status != 200 { try await Task.sleep(for: .milliseconds(300)) }
            }
            #expect(status == 200, "port \(port)")
        }
        await one.cleanup()
        await two.cleanup()
    }

    /// `--take-over` from another directory while a daemon runs on the old one: the daemon
    /// notices at its next watchdog tick and stops (exit 1) instead of fighting over the project.
    @Test func aDaemonWhoseProjectIsTakenOverStops() async throws {
        let s = try await Scenario("owner-daemon", ports: 27830...27849)
        let base = NSTemporaryDirectory() + s.project
        let a = base + "-a/" + s.project, b = base + "-b/" + s.project
        for dir in [a, b] { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        defer { for dir in [base + "-a", base + "-b"] { try? FileManager.default.removeItem(atPath: dir) } }
        try Scenario.httpService("web").write(toFile: a + "/web.yaml", atomically: true, encoding: .utf8)
        try Scenario.httpService("web", body: "v2").write(toFile: b + "/web.yaml", atomically: true, encoding: .utf8)
        let common = ["--engine", TestEngine.endpoint!, "--state-dir", s.stateDirectory, "--port-range", "27830-27849"]
        let daemon = try DaemonProcess([a, "--resync-interval", "1s"] + common)
        var finished = false
        defer { if !finished { Task { _ = await daemon.stop(); _ = try? runFlotilla(["down", b, "--take-over"] + common); await s.cleanup() } } }
        #expect(try await daemon.waitUntil(timeout: .seconds(30)) { try await s.containers("web").contains { $0.state == .running } }, "\(daemon.log)")

        let moved = try runFlotilla(["apply", b, "--take-over"] + common)
        #expect(moved.0 == 0, "\(moved.2)")
        #expect(await daemon.waitUntil(timeout: .seconds(15)) { !daemon.process.isRunning }, "\(daemon.log)")
        #expect(!daemon.process.isRunning && daemon.process.terminationStatus == 1, "\(daemon.log)")
        #expect(daemon.log.contains("project taken over by another manifest directory; stopping") && daemon.log.contains("owner=\(b)"), "\(daemon.log)")
        // B's version stays: the stopped daemon did not put A's back.
        try await Task.sleep(for: .seconds(2))
        let web = try await s.containers("web")
        #expect(!web.isEmpty && web.allSatisfy { $0.canonicalSpec?.contains("echo v2") == true }, "\(web.map(\.name))")
        finished = true
        _ = try runFlotilla(["down", b] + common)
        await s.cleanup()
    }
}
