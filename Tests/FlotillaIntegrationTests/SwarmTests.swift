import FlotillaCore
import FlotillaEngine
import Foundation
import Testing

/// `--orchestrator swarm` on a real three-node Swarm on loopback (scripts/test starts it and sets
/// FLOTILLA_TEST_SWARM to the manager's socket).
@Suite("Swarm mode on a three-node Swarm", .enabled(if: ProcessInfo.processInfo.environment["FLOTILLA_TEST_SWARM"] != nil, "needs a Swarm (scripts/test starts one)"),
       .serialized)
struct SwarmTests {
    static let manager = ProcessInfo.processInfo.environment["FLOTILLA_TEST_SWARM"] ?? ""

    /// A new project name with `prefix` and its (empty) manifest folder; its state folder is `dir-state`.
    static func newProject(_ prefix: String) throws -> (project: String, dir: String) {
        let project = "\(prefix)\(UInt16.random(in: 0...UInt16.max))"
        let dir = NSTemporaryDirectory() + project
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return (project, dir)
    }

    func flotilla(_ command: String, _ dir: String, _ project: String) throws -> (Int32, String, String) {
        try runFlotilla([command, dir, "--orchestrator", "swarm", "--engine", Self.manager, "--project", project, "--state-dir", dir + "-state"])
    }

    func service(_ engine: EngineClient, _ name: String) async throws -> [String: Any]? {
        let response = try await engine.transport.send(.GET, "/v\(engine.apiVersion)/services/\(name)")
        guard response.status == 200 else { return nil }
        return try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
    }

    @Test func applySpreadsTasksRollsChangesRemovesOrphansAndNeverTouchesForeignServices() async throws {
        let engine = try await EngineClient.connect(candidates: [Self.manager])
        let (project, dir) = try Self.newProject("sw")
        func manifest(_ name: String, replicas: Int, mark: String) -> String {
            "name: \(name)\nimage: \(TestEngine.image)\ncommand: [\"/bin/sh\", \"-c\", \"exec sleep 100000\"]\nreplicas: \(replicas)\nenv: { MARK: \"\(mark)\" }\nstop_timeout: 1s\n"
        }
        try manifest("web", replicas: 3, mark: "1").write(toFile: dir + "/web.yaml", atomically: true, encoding: .utf8)
        try manifest("api", replicas: 1, mark: "1").write(toFile: dir + "/api.yaml", atomically: true, encoding: .utf8)
        // A service Flotilla does not own: same image, no project label.
        let foreign = "foreign-\(project)"
        let create = try JSONSerialization.data(withJSONObject: ["Name": foreign, "TaskTemplate": ["ContainerSpec": ["Image": TestEngine.image, "Args": ["sleep", "100000"]]],
                                                                  "Mode": ["Replicated": ["Replicas": 1]]])
        let created = try await engine.transport.send(.POST, "/v\(engine.apiVersion)/services/create", body: [UInt8](create))
        #expect(created.status == 201, "\(String(decoding: created.body, as: UTF8.self))")
        defer {
            _ = try? flotilla("down", dir, project)
            Task { _ = try? await engine.transport.send(.DELETE, "/v\(engine.apiVersion)/services/\(foreign)") }
        }

        // apply creates both services; Swarm spreads web's three tasks over the nodes.
        var (code, out, err) = try flotilla("apply", dir, project)
        #expect(code == 0, "\(out)\n\(err)")
        #expect(out.contains("created 2, updated 0, removed 0, unchanged 0"), "\(out)")
        var nodes = Set<String>()
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let tasks = try await engine.listSwarmTasks(serviceName: "\(project)_web").filter { $0.state == "running" && $0.desiredState == "running" }
            nodes = Set(tasks.map(\.nodeID))
            if tasks.count == 3 { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        #expect(nodes.count >= 2, "web's tasks run on \(nodes.count) node(s); Swarm spreads replicas")
        let web = try #require(try await service(engine, "\(project)_web"))
        let labels = (web["Spec"] as? [String: Any])?["Labels"] as? [String: String] ?? [:]
        #expect(labels[OwnershipLabel.project] == project && labels[OwnershipLabel.service] == "web" && labels[OwnershipLabel.specHash] != nil)

        // status counts Swarm's running tasks: 3 of 3 on several nodes, converged (exit 0).
        var status = (Int32(-1), "", "")
        let settled = ContinuousClock.now + .seconds(30)
        repeat {
            status = try flotilla("status", dir, project)
            if status.0 == 0 { break }
            try await Task.sleep(for: .milliseconds(500))
        } while ContinuousClock.now < settled
        #expect(status.0 == 0 && status.1.contains("3/3") && status.1.contains("converged"), "\(status.1)\n\(status.2)")
        let json = try runFlotilla(["status", dir, "--orchestrator", "swarm", "--engine", Self.manager, "--project", project, "--format", "json"])
        let parsed = try JSONSerialization.jsonObject(with: Data(json.1.utf8)) as? [String: Any]
        #expect(parsed?["converged"] as? Bool == true, "\(json.1)")

        // A second apply changes nothing; plan says so with exit 0.
        (code, out, err) = try flotilla("plan", dir, project)
        #expect(code == 0 && out.contains("No changes"), "\(out)\n\(err)")
        // `--orchestrator auto` sees a Swarm manager, says so, and plans in swarm mode.
        let auto = try runFlotilla(["plan", dir, "--orchestrator", "auto", "--engine", Self.manager, "--project", project, "--state-dir", dir + "-state"])
        #expect(auto.0 == 0 && auto.1.contains("No changes") && auto.2.contains("using swarm mode"), "\(auto.1)\n\(auto.2)")

        // An env change is an update Swarm rolls start-first.
        try manifest("web", replicas: 3, mark: "2").write(toFile: dir + "/web.yaml", atomically: true, encoding: .utf8)
        (code, out, err) = try flotilla("plan", dir, project)
        #expect(code == 2 && out.contains("~ \(project)_web"), "\(out)")
        (code, out, err) = try flotilla("apply", dir, project)
        #expect(code == 0 && out.contains("updated 1"), "\(out)\n\(err)")
        let updated = try #require(try await service(engine, "\(project)_web"))
        let spec = updated["Spec"] as? [String: Any] ?? [:]
        let env = ((spec["TaskTemplate"] as? [String: Any])?["ContainerSpec"] as? [String: Any])?["Env"] as? [String] ?? []
        #expect(env.contains("MARK=2"), "\(env)")
        #expect((spec["UpdateConfig"] as? [String: Any])?["Order"] as? String == "start-first")

        // Until the manifest's service exists again, status says so (exit 2).
        try manifest("cache", replicas: 1, mark: "1").write(toFile: dir + "/cache.yaml", atomically: true, encoding: .utf8)
        let missing = try flotilla("status", dir, project)
        #expect(missing.0 == 2 && missing.1.contains("missing"), "\(missing.1)")
        try FileManager.default.removeItem(atPath: dir + "/cache.yaml")

        // A removed manifest removes its service; the foreign one stays.
        try FileManager.default.removeItem(atPath: dir + "/api.yaml")
        (code, out, err) = try flotilla("apply", dir, project)
        #expect(code == 0 && out.contains("removed 1"), "\(out)\n\(err)")
        #expect(try await service(engine, "\(project)_api") == nil)
        #expect(try await service(engine, foreign) != nil, "a foreign service must never be touched")

        // down removes the project's services only.
        let down = try flotilla("down", dir, project)
        #expect(down.0 == 0 && down.1.contains("removed 1 Swarm services"), "\(down.1)\(down.2)")
        #expect(try await service(engine, "\(project)_web") == nil)
        #expect(try await service(engine, foreign) != nil)
        _ = try await engine.transport.send(.DELETE, "/v\(engine.apiVersion)/services/\(foreign)")
    }

    @Test func secretsAreSwarmSecretsAndARotationRollsTheService() async throws {
        let engine = try await EngineClient.connect(candidates: [Self.manager])
        let (project, dir) = try Self.newProject("sws")
        defer { _ = try? flotilla("down", dir, project) }
        try "first-s3cret-value\n".write(toFile: dir + "/pw", atomically: true, encoding: .utf8)
        try "name: db\nimage: \(TestEngine.image)\ncommand: [\"/bin/sh\", \"-c\", \"exec sleep 100000\"]\nsecrets: { DB_PASSWORD: { file: pw } }\nstop_timeout: 1s\n"
            .write(toFile: dir + "/db.yaml", atomically: true, encoding: .utf8)
        var (code, out, err) = try flotilla("apply", dir, project)
        #expect(code == 0, "\(out)\n\(err)")
        func inspect() async throws -> String {
            String(decoding: try await engine.transport.send(.GET, "/v\(engine.apiVersion)/services/\(project)_db").body, as: UTF8.self)
        }
        let first = try await inspect()
        #expect(first.contains("\"DB_PASSWORD_FILE=/run/secrets/DB_PASSWORD\""), "\(first)")
        #expect(first.contains("\"Name\":\"DB_PASSWORD\""), "mounted as /run/secrets/DB_PASSWORD: \(first)")
        #expect(!first.contains("first-s3cret-value"), "no secret value in the service spec")
        #expect(!out.contains("first-s3cret-value") && !err.contains("first-s3cret-value"))
        let secrets = try await engine.listSwarmSecrets(label: OwnershipLabel.project, value: project)
        #expect(secrets.count == 1, "\(secrets)")

        // Rotating the value is a new secret: plan shows an update (never the value), apply rolls it.
        try "second-s3cret-value\n".write(toFile: dir + "/pw", atomically: true, encoding: .utf8)
        (code, out, err) = try flotilla("plan", dir, project)
        #expect(code == 2 && out.contains("~ \(project)_db") && !out.contains("second-s3cret-value"), "\(out)")
        (code, out, err) = try flotilla("apply", dir, project)
        #expect(code == 0 && out.contains("updated 1") && !err.contains("second-s3cret-value"), "\(out)\n\(err)")
        let second = try await inspect()
        let names = try await engine.listSwarmSecrets(label: OwnershipLabel.project, value: project).keys
        #expect(names.contains { second.contains($0) } && !names.allSatisfy { secrets.keys.contains($0) }, "\(names) \(second)")
        #expect(!second.contains("second-s3cret-value"))
    }

    @Test func placementConstraintsAndGlobalModeDecideTheNodes() async throws {
        let engine = try await EngineClient.connect(candidates: [Self.manager])
        let (project, dir) = try Self.newProject("swp")
        defer { _ = try? flotilla("down", dir, project) }
        let run = "image: \(TestEngine.image)\ncommand: [\"/bin/sh\", \"-c\", \"exec sleep 100000\"]\nstop_timeout: 1s\n"
        try "name: pinned\nreplicas: 2\nplacement: { constraints: [\"node.role==manager\"] }\n\(run)".write(toFile: dir + "/pinned.yaml", atomically: true, encoding: .utf8)
        try "name: everywhere\nplacement: { mode: global }\n\(run)".write(toFile: dir + "/everywhere.yaml", atomically: true, encoding: .utf8)
        let (code, out, err) = try flotilla("apply", dir, project)
        #expect(code == 0, "\(out)\n\(err)")
        let info = try JSONSerialization.jsonObject(with: Data(try await engine.transport.send(.GET, "/v\(engine.apiVersion)/info").body)) as? [String: Any]
        let managerNode = ((info?["Swarm"] as? [String: Any])?["NodeID"] as? String) ?? ""
        var pinned: [ObservedSwarmTask] = [], everywhere: [ObservedSwarmTask] = []
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            pinned = try await engine.listSwarmTasks(serviceName: "\(project)_pinned").filter { $0.state == "running" }
            everywhere = try await engine.listSwarmTasks(serviceName: "\(project)_everywhere").filter { $0.state == "running" }
            if pinned.count == 2 && everywhere.count == 3 { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        #expect(pinned.count == 2 && pinned.allSatisfy { $0.nodeID == managerNode }, "node.role==manager keeps both on the manager: \(pinned.map(\.nodeID)) vs \(managerNode)")
        #expect(everywhere.count == 3 && Set(everywhere.map(\.nodeID)).count == 3, "global: one task per node")
    }

    @Test func statusWatchFollowsSwarmAndListenSaysItIsNotThereYet() async throws {
        let (project, dir) = try Self.newProject("sww")
        defer { _ = try? flotilla("down", dir, project) }
        try "name: idle\nimage: \(TestEngine.image)\ncommand: [\"/bin/sh\", \"-c\", \"exec sleep 100000\"]\nstop_timeout: 1s\n".write(toFile: dir + "/idle.yaml", atomically: true, encoding: .utf8)
        // --watch prints one JSON line per change: "missing" before apply, then running.
        let watch = Process()
        watch.executableURL = URL(fileURLWithPath: TestEngine.binary)
        watch.arguments = ["status", dir, "--orchestrator", "swarm", "--engine", Self.manager, "--project", project, "--watch", "--format", "json", "--interval", "200ms"]
        let out = Pipe()
        watch.standardOutput = out
        watch.standardError = FileHandle.nullDevice
        try watch.run()
        defer { kill(watch.processIdentifier, SIGKILL); watch.waitUntilExit() }
        let lines = LinesReader(out.fileHandleForReading)
        let first = try #require(await lines.next(timeout: .seconds(20)), "a first status line")
        #expect(first.contains("\"missing\""), "\(first)")
        let applied = try flotilla("apply", dir, project)
        #expect(applied.0 == 0, "\(applied.1)\(applied.2)")
        var converged = false
        let deadline = ContinuousClock.now + .seconds(60)
        while !converged, ContinuousClock.now < deadline, let line = await lines.next(timeout: .seconds(30)) {
            converged = line.contains("\"converged\":true")
        }
        #expect(converged, "a later line says converged")
        let listen = try runFlotilla(["run", dir, "--orchestrator", "swarm", "--engine", Self.manager, "--project", project, "--listen", "127.0.0.1:9999"])
        #expect(listen.0 == 64 && listen.2.contains("not available with --orchestrator swarm yet"), "\(listen.2)")
    }

    @Test func namedNetworksAreAttachableOverlayNetworksOfTheProject() async throws {
        let engine = try await EngineClient.connect(candidates: [Self.manager])
        let (project, dir) = try Self.newProject("swn")
        defer { _ = try? flotilla("down", dir, project) }
        let network = "\(project)-backend"
        try "name: api\nimage: \(TestEngine.image)\ncommand: [\"/bin/sh\", \"-c\", \"exec sleep 100000\"]\nnetworks: [{ name: \(network), aliases: [backend-api] }]\nstop_timeout: 1s\n"
            .write(toFile: dir + "/api.yaml", atomically: true, encoding: .utf8)
        let (code, out, err) = try flotilla("apply", dir, project)
        #expect(code == 0, "\(out)\n\(err)")
        let inspect = try await engine.transport.send(.GET, "/v\(engine.apiVersion)/networks/\(network)")
        let object = try JSONSerialization.jsonObject(with: Data(inspect.body)) as? [String: Any]
        #expect(object?["Driver"] as? String == "overlay" && object?["Attachable"] as? Bool == true && object?["Scope"] as? String == "swarm", "\(object ?? [:])")
        #expect((object?["Labels"] as? [String: String])?[OwnershipLabel.project] == project)
        let service = try #require(try await service(engine, "\(project)_api"))
        let attached = ((service["Spec"] as? [String: Any])?["TaskTemplate"] as? [String: Any])?["Networks"] as? [[String: Any]] ?? []
        #expect(attached.count == 1 && (attached.first?["Aliases"] as? [String])?.contains("backend-api") == true, "\(attached)")
        // down removes the project's services and, once their tasks are gone, its networks.
        let down = try flotilla("down", dir, project)
        #expect(down.0 == 0, "\(down.2)")
        let gone = try await engine.transport.send(.GET, "/v\(engine.apiVersion)/networks/\(network)")
        #expect(gone.status == 404, "the project's overlay network is removed by down")
    }

    @Test func anUpdateWhoseTasksFailIsRolledBackBySwarmAndNotRetried() async throws {
        let engine = try await EngineClient.connect(candidates: [Self.manager])
        let (project, dir) = try Self.newProject("swf")
        defer { _ = try? flotilla("down", dir, project) }
        func manifest(_ command: String) -> String {
            "name: api\nimage: \(TestEngine.image)\ncommand: [\"/bin/sh\", \"-c\", \"\(command)\"]\nreplicas: 2\nstop_timeout: 1s\n"
        }
        try manifest("exec sleep 100000").write(toFile: dir + "/api.yaml", atomically: true, encoding: .utf8)
        var (code, out, err) = try flotilla("apply", dir, project)
        #expect(code == 0, "\(out)\n\(err)")
        // A spec whose tasks exit at once: Swarm's update fails and rolls back (FailureAction
        // rollback); apply waits for the new tasks, sees it, and exits 1 saying so.
        try manifest("exit 3").write(toFile: dir + "/api.yaml", atomically: true, encoding: .utf8)
        (code, out, err) = try flotilla("apply", dir, project)
        #expect(code == 1 && out.contains("updated 1") && err.contains("failed: \(project)_api"), "\(out)\n\(err)")
        var observed: ObservedSwarmService?
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            observed = try await engine.listSwarmServices(label: OwnershipLabel.project, value: project).first
            if observed?.updateState == "rollback_completed" { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(observed?.updateState == "rollback_completed", "Swarm rolled the failing update back: \(String(describing: observed))")
        // Flotilla does not push the failed spec again: plan and apply say why and exit 1, and
        // the service keeps its version (no update sent).
        (code, out, err) = try flotilla("plan", dir, project)
        #expect(code == 1 && out.contains("rolled back the update"), "\(out)\n\(err)")
        let version = observed?.version
        (code, out, err) = try flotilla("apply", dir, project)
        #expect(code == 1 && err.contains("rolled back the update"), "\(out)\n\(err)")
        let after = try await engine.listSwarmServices(label: OwnershipLabel.project, value: project).first
        #expect(after?.version == version, "no new update: \(String(describing: after?.version)) vs \(String(describing: version))")
        // A fixed manifest goes out again.
        try manifest("exec sleep 200000").write(toFile: dir + "/api.yaml", atomically: true, encoding: .utf8)
        (code, out, err) = try flotilla("apply", dir, project)
        #expect(code == 0 && out.contains("updated 1"), "\(out)\n\(err)")
    }

    /// Issue 27: the project's own manifests (`manifests/`: `${PORT}` in httpd's command, host
    /// network, HTTP and TCP checks, a canary-ready service, `depends_on`), unchanged, on the
    /// 3-node Swarm: `apply` waits until every task runs and exits 0, and each task serves on its
    /// own port, the one in the route file. Before: every task crash-looped on the literal
    /// `${PORT}` while `apply` said 0 and `plan` "no changes". A manifest whose tasks crash-loop
    /// makes `apply` exit 1, naming the service.
    @Test func theProjectsOwnManifestsRunOnSwarmAndACrashLoopFailsApply() async throws {
        let engine = try await EngineClient.connect(candidates: [Self.manager])
        let (project, dir) = try Self.newProject("swman")
        defer { _ = try? flotilla("down", dir, project) }
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        for file in ["api.yaml", "shop.yaml", "web.yaml"] {
            try FileManager.default.copyItem(atPath: repository + "/manifests/" + file, toPath: dir + "/" + file)
        }
        let routes = dir + "-routes.json"
        let common = [dir, "--orchestrator", "swarm", "--engine", Self.manager, "--project", project, "--state-dir", dir + "-state",
                      "--port-range", "29000-29999", "--routes", routes, "--routes-format", "json"]
        let applied = try runFlotilla(["apply"] + common)
        #expect(applied.0 == 0, "\(applied.1)\(applied.2)")
        // apply returned once every task ran: 1 + 2 + 2.
        let tasks = try await engine.listSwarmTasks(project: project).filter(\.isLive)
        #expect(tasks.count == 5, "\(tasks.map { "\($0.serviceName) \($0.state)" })")
        for task in tasks {
            let port = try #require(task.port)
            let answer = await httpGet(port: port, path: "/")
            #expect(answer?.0 == 200 && answer?.1.contains("hello") == true, "\(task.serviceName) on \(port): \(String(describing: answer))")
        }
        let written = try runFlotilla(["routes"] + common)
        for task in tasks {
            #expect(written.1.contains(String(try #require(task.port))), "\(written.1)")
        }
        #expect(try runFlotilla(["plan"] + common).0 == 0)

        // A crash loop: apply waits, then exits 1 naming it (the others are unchanged).
        try "name: crash\nimage: \(TestEngine.image)\ncommand: [\"/bin/sh\", \"-c\", \"exit 3\"]\nreplicas: 2\nstop_timeout: 1s\n"
            .write(toFile: dir + "/crash.yaml", atomically: true, encoding: .utf8)
        let crashed = try runFlotilla(["apply"] + common + ["--wait-timeout", "3m"])
        #expect(crashed.0 == 1 && crashed.2.contains("failed: \(project)_crash"), "\(crashed.1)\(crashed.2)")
    }

    @Test func aTaskFailingItsHealthCheckIsNeverRouted() async throws {
        let engine = try await EngineClient.connect(candidates: [Self.manager])
        let (project, dir) = try Self.newProject("swh")
        defer { _ = try? flotilla("down", dir, project) }
        func manifest(_ name: String, health: String) -> String {
            """
            name: \(name)
            image: \(TestEngine.image)
            command: ["/bin/sh", "-c", "mkdir -p /w && echo \(name) > /w/index.html && echo ok > /w/healthz && exec httpd -f -p $PORT -h /w"]
            port: 8080
            network: host
            health: { http: \(health), interval: 1s, timeout: 10s, retries: 2 }  # a loaded machine slows the exec, not a 404
            stop_timeout: 1s
            routes: [{ host: \(name).test, path: / }]
            """
        }
        try manifest("good", health: "/healthz").write(toFile: dir + "/good.yaml", atomically: true, encoding: .utf8)
        try manifest("sick", health: "/missing").write(toFile: dir + "/sick.yaml", atomically: true, encoding: .utf8)
        let common = [dir, "--orchestrator", "swarm", "--engine", Self.manager, "--project", project, "--state-dir", dir + "-state", "--port-range", "26000-26399"]
        // apply waits for the tasks: the sick service's never pass, so it exits 1 naming it.
        let applied = try runFlotilla(["apply"] + common + ["--wait-timeout", "3m"])
        #expect(applied.0 == 1 && applied.2.contains("failed: \(project)_sick") && !applied.2.contains("failed: \(project)_good"), "\(applied.1)\(applied.2)")
        var good: [ObservedSwarmTask] = [], sick: [ObservedSwarmTask] = []
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let tasks = try await engine.listSwarmTasks(project: project)
            good = tasks.filter { $0.service == "good" && $0.isLive }
            sick = tasks.filter { $0.service == "sick" }
            // The sick task answers on its port but fails its check: Swarm keeps it out of
            // `running` and replaces it once it is unhealthy.
            if good.count == 1 && sick.contains(where: { $0.state == "failed" || $0.desiredState == "shutdown" }) { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(good.count == 1, "the healthy task runs")
        let sickLive = sick.filter(\.isLive).count
        #expect(sickLive == 0, "the sick task never counts as running: \(sick.map { "\($0.state)/\($0.desiredState)" })")
        let routes = try runFlotilla(["routes"] + common)
        let goodPort = try #require(good.first?.port)
        let lines = routes.1.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("good.test") && $0.contains("127.0.0.1:\(goodPort)") }, "\(routes.1)")
        #expect(lines.contains { $0.hasPrefix("sick.test") && $0.contains("(none: 503)") }, "\(routes.1)")
    }
}

/// Lines from a pipe, one at a time, each awaited with a timeout.
final class LinesReader: @unchecked Sendable {
    private let lock = NSLock()
    private var buffer = ""
    private var eof = false

    init(_ handle: FileHandle) {
        handle.readabilityHandler = { [weak self] h in
            let data = h.availableData
            self?.lock.withLock {
                if data.isEmpty { self?.eof = true } else { self?.buffer += String(decoding: data, as: UTF8.self) }
            }
            if data.isEmpty { h.readabilityHandler = nil }
        }
    }

    func next(timeout: Duration) async -> String? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let line: String? = lock.withLock {
                guard let newline = buffer.firstIndex(of: "\n") else { return nil }
                let line = String(buffer[..<newline])
                buffer.removeSubrange(...newline)
                return line
            }
            if let line { return line }
            if lock.withLock({ eof }) { return nil }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }
}
