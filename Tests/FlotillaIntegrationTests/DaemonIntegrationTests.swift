import FlotillaAgent
import FlotillaCore
import FlotillaEngine
import Foundation
import Testing

/// `flotilla run` as users run it: the built binary, a real directory, the real engine. The
/// watchdog is set to 10 minutes so that every reaction here comes from inotify or engine events.
@Suite("The daemon on a real engine", .enabled(if: TestEngine.available, "needs FLOTILLA_TEST_ENGINE (run scripts/test)"), .serialized)
struct DaemonIntegrationTests {
    func start(_ s: Scenario, directory: String? = nil, engine: String? = nil, extra: [String] = []) throws -> DaemonProcess {
        try DaemonProcess([directory ?? s.directory, "--engine", engine ?? TestEngine.endpoint!, "--project", s.project, "--state-dir", s.stateDirectory,
                           "--port-range", "\(s.portRange.lowerBound)-\(s.portRange.upperBound)", "--resync-interval", "10m"] + extra)
    }

    func env(_ c: ObservedContainer) -> String? { c.canonicalSpec?.split(separator: "\n").first { $0.hasPrefix("env.MARK=") }.map(String.init) }

    @Test func manifestEditsAreAppliedAndInvalidOnesChangeNothing() async throws {
        let s = try await Scenario("daemon-edit", ports: 23000...23099)
        try s.write("web.yaml", Scenario.httpService("web", extra: "env: { MARK: one }"))
        let daemon = try start(s)
        defer { Task { _ = await daemon.stop(); await s.cleanup() } }
        #expect(try await daemon.waitUntil { try await s.containers("web").count == 1 })
        #expect(daemon.log.contains("flotilla starting") && daemon.log.contains("project=\(s.project)") && daemon.log.contains("engine=unix://"))

        // Edit env → replaced.
        try s.write("web.yaml", Scenario.httpService("web", extra: "env: { MARK: two }"))
        #expect(try await daemon.waitUntil { try await s.containers("web").map(env) == ["env.MARK=\"two\""] })

        // Add a file → a new service.
        try s.write("api.yaml", Scenario.httpService("api"))
        #expect(try await daemon.waitUntil { try await s.containers("api").count == 1 })

        // An invalid file → error logged with its position, nothing removed.
        try s.write("api.yaml", "name: api\nimage: \(TestEngine.image)\nreplicas: lots\n")
        #expect(await daemon.waitUntil { daemon.log.contains("api.yaml:3:11") })
        #expect(daemon.log.contains("replicas must be a whole number"))
        try await Task.sleep(for: .milliseconds(500))
        #expect(try await s.containers("api").count == 1)
        #expect(try await s.containers("web").count == 1)

        // Fixing it resumes normal work; deleting a file removes its service.
        try s.write("api.yaml", Scenario.httpService("api", replicas: 2))
        #expect(try await daemon.waitUntil { try await s.containers("api").count == 2 })
        try s.remove("api.yaml")
        #expect(try await daemon.waitUntil { try await s.containers("api").isEmpty })
        #expect(try await s.containers("web").count == 1)

        #expect(await daemon.stop() == 0)
        #expect(daemon.log.contains("containers left running"))
        #expect(try await s.containers("web").count == 1)  // SIGTERM leaves containers running
        await s.cleanup()
    }

    @Test func gitSyncSymlinkSwapAppliesTheNewTree() async throws {
        let s = try await Scenario("daemon-gitsync", ports: 23100...23199)
        let fm = FileManager.default
        let base = s.directory
        try fm.createDirectory(atPath: base + "/rev-a", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: base + "/rev-b", withIntermediateDirectories: true)
        try Scenario.httpService("web", extra: "env: { MARK: a }").write(toFile: base + "/rev-a/web.yaml", atomically: true, encoding: .utf8)
        try Scenario.httpService("web", replicas: 2, extra: "env: { MARK: b }").write(toFile: base + "/rev-b/web.yaml", atomically: true, encoding: .utf8)
        try Scenario.httpService("api").write(toFile: base + "/rev-b/api.yaml", atomically: true, encoding: .utf8)
        try fm.createSymbolicLink(atPath: base + "/current", withDestinationPath: "rev-a")
        let daemon = try start(s, directory: base + "/current")
        defer { Task { _ = await daemon.stop(); await s.cleanup() } }
        #expect(try await daemon.waitUntil { try await s.containers("web").count == 1 })

        try fm.createSymbolicLink(atPath: base + "/.current.tmp", withDestinationPath: "rev-b")
        #expect(rename(base + "/.current.tmp", base + "/current") == 0)
        #expect(try await daemon.waitUntil {
            let web = try await s.containers("web"), api = try await s.containers("api")
            return web.count == 2 && web.allSatisfy { env($0) == "env.MARK=\"b\"" } && api.count == 1
        })
        #expect(await daemon.stop() == 0)
        await s.cleanup()
    }

    @Test func gitCheckoutIsOneReconcile() async throws {
        let s = try await Scenario("daemon-git", ports: 23200...23299)
        let repo = s.directory
        func git(_ args: String) throws { let r = try shell("cd '\(repo)' && git -c user.email=t@t -c user.name=t \(args)"); #expect(r.0 == 0, "\(r.1)") }
        try git("init -q -b main")
        for i in 0..<20 { try s.write("svc\(i).yaml", Scenario.httpService("svc\(i)", replicas: 0)) }
        try s.write("web.yaml", Scenario.httpService("web"))
        try git("add -A && git -c user.email=t@t -c user.name=t commit -qm one")
        for i in 0..<20 { try s.write("svc\(i).yaml", Scenario.httpService("svc\(i)", replicas: 0, extra: "labels: { rev: two }")) }
        try s.write("web.yaml", Scenario.httpService("web", replicas: 2, extra: "env: { MARK: two }"))
        try s.write("api.yaml", Scenario.httpService("api"))
        try git("add -A && git -c user.email=t@t -c user.name=t commit -qm two && git checkout -q HEAD~1")

        let daemon = try start(s)
        defer { Task { _ = await daemon.stop(); await s.cleanup() } }
        #expect(try await daemon.waitUntil { try await s.containers("web").count == 1 && daemon.count("manifests loaded") == 1 })
        let before = daemon.count("manifests loaded")

        try git("checkout -q main")
        #expect(try await daemon.waitUntil {
            let web = try await s.containers("web"), api = try await s.containers("api")
            return web.count == 2 && web.allSatisfy { env($0) == "env.MARK=\"two\"" } && api.count == 1
        })
        try await Task.sleep(for: .seconds(1))
        #expect(daemon.count("manifests loaded") - before == 1, "\(daemon.log)")
        #expect(await daemon.stop() == 0)
        await s.cleanup()
    }

    @Test func killedContainerIsReplacedThroughTheEventStream() async throws {
        let s = try await Scenario("daemon-kill", ports: 23300...23399)
        try s.write("web.yaml", Scenario.httpService("web", replicas: 2))
        let daemon = try start(s)
        defer { Task { _ = await daemon.stop(); await s.cleanup() } }
        #expect(try await daemon.waitUntil { try await s.containers("web").filter { $0.state == .running }.count == 2 })
        try await Task.sleep(for: .milliseconds(500))
        let victim = try await s.containers("web")[0]
        _ = try await s.engine.transport.send(.POST, "/v\(s.engine.apiVersion)/containers/\(victim.id)/kill?signal=KILL")
        // The watchdog is 10 minutes away: only the event stream can explain a quick replacement.
        #expect(try await daemon.waitUntil(timeout: .seconds(15)) {
            let live = try await s.containers("web")
            return live.count == 2 && !live.contains { $0.id == victim.id } && live.allSatisfy { $0.state == .running }
        })
        // The event stream did it: the death's event, or (a stream that dropped and came back on
        // loaded cores, seen in CI) the relist after its reconnect; never the watchdog.
        #expect(daemon.log.contains("reason=\"engine event: web die") || daemon.log.contains("reason=\"engine reconnected\""), "\(daemon.log)")
        #expect(!daemon.log.contains("reason=watchdog"), "\(daemon.log)")
        #expect(await daemon.stop() == 0)
        await s.cleanup()
    }

    @Test(.enabled(if: TestEngine.isPodman, "restarts a private Podman API service"))
    func engineRestartIsSurvived() async throws {
        // A private API service on its own socket (same storage), so the test can stop it.
        let s = try await Scenario("daemon-engine", ports: 23400...23499)
        let socket = s.directory + "/api.sock"
        // It "crashes" with SIGKILL: a graceful stop would wait for the daemon's event stream.
        let engine = SpawnedProcess(["/usr/bin/podman", "system", "service", "--time=0", "unix://" + socket], stopSignal: SIGKILL)
        try? FileManager.default.removeItem(atPath: socket)
        try engine.start()
        let ready = await DaemonProcess.poll {
            guard FileManager.default.fileExists(atPath: socket) else { return false }
            return (try? await EngineClient.connect(candidates: ["unix://" + socket])) != nil
        }
        #expect(ready)
        try s.write("web.yaml", Scenario.httpService("web", replicas: 2))
        let daemon = try start(s, engine: "unix://" + socket)
        defer { Task { _ = await daemon.stop(); engine.stop(); await s.cleanup() } }
        #expect(try await daemon.waitUntil { try await s.containers("web").filter { $0.state == .running }.count == 2 })

        // Engine down; a container dies meanwhile; engine back.
        engine.stop()
        let victim = try await s.containers("web")[0]
        #expect(try shell("podman kill -s KILL \(victim.id)").0 == 0)
        try await Task.sleep(for: .seconds(1))
        try? FileManager.default.removeItem(atPath: socket)
        try engine.start()
        #expect(try await daemon.waitUntil(timeout: .seconds(30)) {
            let live = try await s.containers("web")
            return live.count == 2 && !live.contains { $0.id == victim.id } && live.allSatisfy { $0.state == .running }
        }, "\(daemon.log)")
        #expect(daemon.log.contains("engine event stream lost"))
        try await Task.sleep(for: .seconds(1))
        #expect(try await s.containers("web").count == 2)  // no duplicates
        #expect(await daemon.stop() == 0)
        await s.cleanup()
        engine.stop()
    }

    @Test(.enabled(if: TestEngine.kind == "docker" && ProcessInfo.processInfo.environment["FLOTILLA_RUN_DIR"] != nil, "restarts a private Docker Engine"))
    func dockerRestartIsSurvived() async throws {
        // A private dockerd with --live-restore, so that containers outlive the engine (as they
        // do in production); one container is killed while the engine is down.
        let s = try await Scenario("daemon-dockerd", ports: 23600...23699)
        let root = "/tmp/fl-dr-\(UInt16.random(in: 0...UInt16.max))"
        let socket = root + "/d.sock"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let dockerd = SpawnedProcess(["/usr/sbin/dockerd", "--host", "unix://" + socket, "--data-root", root + "/data", "--exec-root", root + "/exec",
                                      "--pidfile", root + "/d.pid", "--iptables=false", "--bridge=none", "--live-restore"], stopSignal: SIGTERM)
        try dockerd.start()
        let up = await DaemonProcess.poll(timeout: .seconds(30)) { (try? await EngineClient.connect(candidates: ["unix://" + socket])) != nil }
        #expect(up)
        let rootfs = ProcessInfo.processInfo.environment["FLOTILLA_RUN_DIR"]! + "/rootfs.tar"
        #expect(try shell("DOCKER_HOST=unix://\(socket) docker import \(rootfs) \(TestEngine.image)").0 == 0)
        let engine = try await EngineClient.connect(candidates: ["unix://" + socket])
        func web() async throws -> [ObservedContainer] {
            try await engine.listContainers(label: OwnershipLabel.project, value: s.project).filter { $0.service == "web" }
        }
        try s.write("web.yaml", Scenario.httpService("web", replicas: 2))
        let daemon = try start(s, engine: "unix://" + socket)
        defer { Task { _ = await daemon.stop(); dockerd.stop(); try? FileManager.default.removeItem(atPath: root) } }
        #expect(try await daemon.waitUntil { try await web().filter { $0.state == .running }.count == 2 })

        let victim = try await web()[0]
        let pid = ((try await engine.inspectContainer(victim.id))["State"] as? [String: Any])?["Pid"] as? Int ?? 0
        dockerd.stop()
        #expect(pid > 0 && kill(pid_t(pid), SIGKILL) == 0)
        try await Task.sleep(for: .seconds(1))
        try dockerd.start()
        #expect(await daemon.waitUntil(timeout: .seconds(40)) {
            let live = (try? await web()) ?? []
            return live.count == 2 && !live.contains { $0.id == victim.id } && live.allSatisfy { $0.state == .running }
        }, "\(daemon.log)")
        #expect(daemon.log.contains("engine event stream lost"))
        try await Task.sleep(for: .seconds(1))
        #expect(try await web().count == 2)  // no duplicates
        #expect(await daemon.stop() == 0)
        // Remove the containers before the engine goes (live-restore would keep them running).
        _ = try runFlotilla(["down", s.directory, "--engine", "unix://" + socket, "--project", s.project, "--state-dir", s.stateDirectory])
        dockerd.stop()
        // dockerd leaves its data root and netns bind-mounted.
        _ = try? shell("umount -R \(root)/exec/netns/default \(root)/data 2>/dev/null; rm -rf \(root)")
    }

    @Test func livenessFailuresReplaceAndBackOffLikeCrashes() async throws {
        let s = try await Scenario("daemon-liveness", ports: 23500...23599)
        // Serves / but not the liveness path: every replica fails liveness shortly after it starts.
        let manifest = Scenario.httpService("web").replacingOccurrences(
            of: "health: { http: /healthz, interval: 1s, timeout: 1s, retries: 5 }",
            with: "health: { liveness: { http: /missing, interval: 300ms, timeout: 300ms, retries: 1 } }")
        try s.write("web.yaml", manifest)
        let daemon = try start(s)
        defer { Task { _ = await daemon.stop(); await s.cleanup() } }
        #expect(await daemon.waitUntil(timeout: .seconds(30)) { daemon.count("liveness check failing") >= 3 }, "\(daemon.log)")
        // Replaced each time, with growing pauses (1 s, 2 s, 4 s…), never in a hot loop.
        #expect(daemon.log.contains("crash loop, next attempt in") || daemon.log.contains("waiting: crash-loop backoff"), "\(daemon.log)")
        try await Task.sleep(for: .seconds(3))
        #expect(daemon.count("liveness check failing") <= 6, "\(daemon.log)")
        #expect(await daemon.stop() == 0)
        await s.cleanup()
    }

    @Test func aHealthyCanaryIsPromotedAfterAutoPromoteAfter() async throws {
        let s = try await Scenario("daemon-autopromote", ports: 23600...23699)
        let canary = "update: { strategy: canary, canary: { replicas: 1, weight: 50, auto_promote_after: 2s } }"
        try s.write("web.yaml", Scenario.httpService("web", replicas: 2, extra: canary + "\nenv: { MARK: one }"))
        let daemon = try start(s)
        defer { Task { _ = await daemon.stop(); await s.cleanup() } }
        #expect(try await daemon.waitUntil { try await s.containers("web").count == 2 })
        try s.write("web.yaml", Scenario.httpService("web", replicas: 2, extra: canary + "\nenv: { MARK: two }"))
        #expect(try await daemon.waitUntil { try await s.containers("web").contains { $0.role == .canary } }, "\(daemon.log)")
        #expect(try await s.containers("web").count == 3)  // waiting beside the old ones
        #expect(try await daemon.waitUntil(timeout: .seconds(30)) {
            let web = try await s.containers("web")
            return web.count == 2 && web.allSatisfy { env($0) == "env.MARK=\"two\"" }
        }, "\(daemon.log)")
        #expect(daemon.log.contains("canary promoted"))
        #expect(await daemon.stop() == 0)
        await s.cleanup()
    }

    @Test func startupErrorsAreImmediateAndClear() async throws {
        let missing = try runFlotilla(["run", "/nonexistent/manifests", "--engine", TestEngine.endpoint!])
        #expect(missing.0 == 1 && missing.2.contains("does not exist"))
        let dir = NSTemporaryDirectory() + "flotilla-noengine"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let noEngine = try runFlotilla(["run", dir, "--engine", "unix:///nonexistent/engine.sock"])
        #expect(noEngine.0 == 1 && noEngine.2.contains("no container engine answered") && noEngine.2.contains("/nonexistent/engine.sock"))
    }

    @Test func runOnceIsApply() async throws {
        let s = try await Scenario("daemon-once", ports: 23500...23599)
        try s.write("web.yaml", Scenario.httpService("web"))
        let result = try runFlotilla(["run", "--once", s.directory, "--engine", TestEngine.endpoint!, "--project", s.project, "--state-dir", s.stateDirectory, "--port-range", "23500-23599"])
        #expect(result.0 == 0 && result.1.contains("created 1"))
        await s.cleanup()
    }
}

extension DaemonProcess {
    static func poll(timeout: Duration = .seconds(20), _ condition: () async -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }
}
