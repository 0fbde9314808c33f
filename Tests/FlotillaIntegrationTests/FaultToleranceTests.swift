import FlotillaAgent
import FlotillaCore
import FlotillaEngine
import Foundation
import Testing

/// Faults injected under a real `flotilla run` (or `apply`/`down`) on a real engine: the
/// per-service work queue's promises, each measured and bounded loosely (about 2–3× the
/// contract; the bound catches a regression to a watchdog-paced or blocked daemon, not noise).
/// The watchdog is 10 minutes away, so every reaction comes from inotify, engine events or the
/// controller's own requeues. Ports 26000–26499, one block of 100 per test.
@Suite("Fault tolerance on a real engine", .enabled(if: TestEngine.available, "needs FLOTILLA_TEST_ENGINE (run scripts/test)"), .serialized)
struct FaultToleranceTests {
    func start(_ s: Scenario, extra: [String] = []) throws -> DaemonProcess {
        try DaemonProcess([s.directory, "--engine", TestEngine.endpoint!, "--project", s.project, "--state-dir", s.stateDirectory,
                           "--port-range", "\(s.portRange.lowerBound)-\(s.portRange.upperBound)", "--resync-interval", "10m"] + extra)
    }

    /// SIGKILL through the engine API, as a crash would.
    func kill(_ s: Scenario, _ id: String) async throws {
        let response = try await s.engine.transport.send(.POST, "/v\(s.engine.apiVersion)/containers/\(id)/kill?signal=KILL")
        #expect((200..<300).contains(response.status), "kill: \(response.status) \(String(decoding: response.body, as: UTF8.self))")
    }

    static func nowMS() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    static func seconds(_ d: Duration) -> String { String(format: "%.2fs", d.fractionalSeconds) }

    /// The daemon's log lines that mention `needle` (for failure messages).
    static func lines(_ daemon: DaemonProcess, _ needles: [String]) -> String {
        daemon.lines.filter { line in needles.contains { line.contains($0) } }.joined(separator: "\n")
    }

    // MARK: - 1

    /// `slow` answers /ready only `readyAfter` seconds after it starts.
    static func slowService(readyAfter: Int) -> String {
        """
        name: slow
        image: \(TestEngine.image)
        command: ["/bin/sh", "-c", "mkdir -p /w && echo ok > /w/index.html; (sleep \(readyAfter); echo ok > /w/ready) & exec /bin/httpd -f -p ${PORT} -h /w"]
        replicas: 1
        port: 8080
        network: host
        health: { readiness: { http: /ready, interval: 1s, timeout: 1s, retries: 60 } }
        update: { order: start-first }
        stop_timeout: 1s
        """
    }

    @Test func slowRolloutDoesNotDelayAnotherServicesHealing() async throws {
        let s = try await Scenario("fault-slow", ports: 26000...26099)
        try s.write("slow.yaml", Self.slowService(readyAfter: 0))
        try s.write("fast.yaml", Scenario.httpService("fast", replicas: 2))
        let daemon = try start(s)
        defer { if FileManager.default.fileExists(atPath: s.directory) { Task { _ = await daemon.stop(); await s.cleanup() } } }  // on an early exit

        let running = { (service: String) in try await s.containers(service).filter { $0.state == .running } }
        #expect(try await daemon.waitUntil(timeout: .seconds(40)) {
            let slow = try await running("slow"), fast = try await running("fast")
            guard slow.count == 1, fast.count == 2, let port = slow[0].hostPort else { return false }
            return await httpGet(port: port, path: "/ready")?.0 == 200
        }, "\(daemon.log)")
        try await Task.sleep(for: .seconds(1))
        let slowOld = try #require(try await s.containers("slow").first)

        // The new version of slow becomes ready only after 25 s: start-first waits for it.
        try s.write("slow.yaml", Self.slowService(readyAfter: 25))
        let clock = ContinuousClock(), edited = clock.now
        #expect(try await daemon.waitUntil(timeout: .seconds(15)) { try await running("slow").count == 2 }, "\(daemon.log)")
        let slowNew = try #require(try await s.containers("slow").first { $0.id != slowOld.id })
        try await Task.sleep(for: .milliseconds(1500))  // the rollout is now waiting on slow's readiness

        // Meanwhile a replica of fast crashes.
        let victim = try #require(try await running("fast").first)
        let killed = clock.now
        try await kill(s, victim.id)
        print("the engine's kill call took \(Self.seconds(clock.now - killed))")
        // Bounds that tell "delays nothing" from "waits for the hook" (75 s) on a loaded CI
        // machine too, where the engine's own create and start can take seconds; the measured
        // times are printed (typically 0.3-0.5 s and 0.05 s).
        let replaced = try await daemon.waitUntil(timeout: .seconds(40)) {
            let live = try await s.containers("fast")
            return live.count == 2 && !live.contains { $0.id == victim.id } && live.allSatisfy { $0.state == .running }
        }
        let healedAfter = clock.now - killed
        print("fast's killed replica was replaced (running) \(Self.seconds(healedAfter)) after the kill, while slow's rollout waited (contract < 2s)")
        #expect(replaced, "\(daemon.log)")
        // Measured 0.5-1.2 s idle (printed above); on loaded CI cores Podman's create call alone
        // took 6 s once (healed after 10.6 s, the step began 1.5 s after the death). What proves
        // that fast did not wait for slow is below: it healed while slow's rollout still waited.
        #expect(healedAfter < .seconds(20), "\(Self.lines(daemon, ["service=fast", "service=slow", "slow:", "fast:"]))")

        // And slow's rollout was still waiting: the old replica is there, the new one not ready.
        #expect(clock.now - edited < .seconds(24), "the measurement must fall inside slow's wait\n\(Self.lines(daemon, ["service=fast", "service=slow", "slow:", "fast:"]))")
        let slowNow = try await s.containers("slow")
        #expect(slowNow.contains { $0.id == slowOld.id && $0.state == .running }, "old replica of slow gone: \(slowNow.map(\.name))")
        #expect(slowNow.contains { $0.id == slowNew.id })
        let newPort = try #require(slowNew.hostPort)
        #expect(await httpGet(port: newPort, path: "/ready")?.0 != 200, "slow's new replica was already ready")
        #expect(daemon.log.contains("reason=\"engine event: fast die") || daemon.log.contains("reason=\"engine event: fast died"), "\(daemon.log)")

        // The rollout still finishes once the new replica is ready (~25 s after it started).
        #expect(try await daemon.waitUntil(timeout: .seconds(60)) {
            let slow = try await s.containers("slow")
            return slow.count == 1 && slow[0].id == slowNew.id
        }, "\(daemon.log)")
        print("slow's start-first rollout finished \(Self.seconds(clock.now - edited)) after the edit (new replica ready after 25s)")
        #expect(await daemon.stop() == 0)
        await s.cleanup()
    }

    // MARK: - 2

    @Test func engineRestartPolicyIsNotACrash() async throws {
        let s = try await Scenario("fault-restart", ports: 26100...26199)
        try s.write("flaky.yaml", """
            name: flaky
            image: \(TestEngine.image)
            command: ["/bin/sh", "-c", "sleep 2; exit 1"]
            replicas: 1
            restart_policy: always
            stop_timeout: 1s
            """)
        let daemon = try start(s)
        defer { if FileManager.default.fileExists(atPath: s.directory) { Task { _ = await daemon.stop(); await s.cleanup() } } }  // on an early exit
        #expect(try await daemon.waitUntil { try await s.containers("flaky").contains { $0.state == .running } }, "\(daemon.log)")
        let first = try #require(try await s.containers("flaky").first)

        // ~15 s: the engine restarts it every couple of seconds; Flotilla keeps its hands off.
        var violations: [String] = []
        var states: [String: Int] = [:]
        for _ in 0..<30 {
            try await Task.sleep(for: .milliseconds(500))
            let now = try await s.containers("flaky")
            for c in now { states[c.state.rawValue, default: 0] += 1 }
            if Set(now.map(\.id)) != [first.id] {
                violations.append("\(Self.nowMS()): \(now.map { "\($0.shortID) \($0.state.rawValue)" })")
            }
        }
        guard let inspect = try? await s.engine.inspectContainer(first.id) else {
            Issue.record("\(first.shortID) is gone: \(violations.joined(separator: "\n"))\n\(daemon.log)")
            _ = await daemon.stop(); await s.cleanup(); return
        }
        let restarts = inspect["RestartCount"] as? Int ?? -1
        print("restart_policy always: \(restarts) engine restarts of \(first.shortID) in 15s, states seen \(states), \(violations.count) samples with another container set")
        #expect(violations.isEmpty, "\(violations.joined(separator: "\n"))\n\(daemon.log)")
        #expect(restarts >= 2, "the engine did not restart the container: \(inspect["State"] ?? "?")")
        #expect(daemon.count("removed") == 0, "\(Self.lines(daemon, ["removed", "crash loop"]))")
        #expect(!daemon.log.contains("crash loop"), "\(Self.lines(daemon, ["crash loop"]))")
        #expect(await daemon.stop() == 0)
        await s.cleanup()
    }

    // MARK: - 3

    @Test func hangingReloadHookDelaysNothing() async throws {
        let s = try await Scenario("fault-hook", ports: 26200...26299)
        let routesDir = NSTemporaryDirectory() + s.project + "-routes"
        try FileManager.default.createDirectory(atPath: routesDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: routesDir) }
        // The project name makes the hook's process findable afterwards.
        let hook = "/bin/sh -c 'sleep 75; echo \(s.project)'"
        try s.write("web.yaml", Scenario.httpService("web", replicas: 2, extra: "routes: [{host: web.test}]"))
        let daemon = try start(s, extra: ["--routes", routesDir + "/routes.json", "--routes-format", "json", "--routes-reload", hook])
        defer { if FileManager.default.fileExists(atPath: s.directory) { Task { _ = await daemon.stop(); await s.cleanup() } } }  // on an early exit
        let running = { try await s.containers("web").filter { $0.state == .running } }
        #expect(try await daemon.waitUntil(timeout: .seconds(30)) { try await running().count == 2 }, "\(daemon.log)")
        // The first route file is written, and its reload hook now hangs ("routes updated" is
        // logged only once the hook returns, 30 s later).
        let hookRunning = { try shell("ps -eo pid,args | grep -F 'sleep 75; echo \(s.project)' | grep -v grep || true").1.contains("sleep 75") }
        #expect(try await daemon.waitUntil {
            guard FileManager.default.fileExists(atPath: routesDir + "/routes.json") else { return false }
            return try hookRunning()
        }, "\(daemon.log)")
        try await Task.sleep(for: .milliseconds(500))

        let victim = try #require(try await running().first)
        let clock = ContinuousClock(), killed = clock.now
        try await kill(s, victim.id)
        print("the engine's kill call took \(Self.seconds(clock.now - killed))")
        // Bounds that tell "delays nothing" from "waits for the hook" (75 s) on a loaded CI
        // machine too, where the engine's own create and start can take seconds; the measured
        // times are printed (typically 0.3-0.5 s and 0.05 s).
        // Replaced: two replicas running again, neither the victim (which may still be listed,
        // exited, while its removal waits for the route pass).
        let replaced = try await daemon.waitUntil(timeout: .seconds(40)) {
            let running = try await s.containers("web").filter { $0.state == .running }
            return running.count == 2 && !running.contains { $0.id == victim.id }
        }
        let healedAfter = clock.now - killed
        #expect(try await daemon.waitUntil(timeout: .seconds(40)) { try await s.containers("web").count == 2 }, "the dead replica was not removed\n\(daemon.log)")
        print("with a hanging reload hook, a killed replica was replaced (running) \(Self.seconds(healedAfter)) after the kill (contract < 2s)")
        #expect(replaced, "\(daemon.log)")
        #expect(healedAfter < .seconds(25), "\(daemon.log)")

        let stopping = clock.now
        let code = await daemon.stop()
        let stoppedAfter = clock.now - stopping
        print("with the reload hook still hanging, SIGTERM → exit \(code) took \(Self.seconds(stoppedAfter)) (contract < 5s)")
        #expect(code == 0, "\(daemon.log)")
        #expect(stoppedAfter < .seconds(15), "\(daemon.log)")  // in-flight steps: cancelled after 10 s
        // The hook's process group went with the daemon.
        let hookLeft = try hookRunning()
        #expect(!hookLeft, "the reload hook was left running after the daemon exited")
        await s.cleanup()
    }

    // MARK: - 4

    /// Each replica writes `start-PORT-RANDOM` when it starts and `term-PORT-RANDOM` when it gets
    /// SIGTERM. The hostname is no marker: under host networking both engines give every
    /// container the host's name; the replica's host port (unique among live replicas) is.
    static func markerService(_ name: String, replicas: Int, marks: String, mark: String = "one") -> String {
        """
        name: \(name)
        image: \(TestEngine.image)
        command: ["/bin/sh", "-c", "id=${PORT}-$(cat /proc/sys/kernel/random/uuid 2>/dev/null || echo $RANDOM$RANDOM); trap 'echo term > /marks/term-$id; exit 0' TERM; echo start > /marks/start-$id; while true; do sleep 0.2; done"]
        replicas: \(replicas)
        port: 8080
        network: host
        volumes: ["\(marks):/marks"]
        env: { MARK: \(mark) }
        stop_timeout: 5s
        """
    }

    @Test func everyRemovalIsAGracefulStop() async throws {
        let s = try await Scenario("fault-graceful", ports: 26300...26399)
        let marks = NSTemporaryDirectory() + s.project + "-marks"
        try FileManager.default.createDirectory(atPath: marks, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: marks) }
        defer { if FileManager.default.fileExists(atPath: s.directory) { Task { await s.cleanup() } } }  // on an early exit
        func files(_ prefix: String) -> Set<String> {
            Set(((try? FileManager.default.contentsOfDirectory(atPath: marks)) ?? []).filter { $0.hasPrefix(prefix) })
        }
        /// The host port in a marker's name.
        func port(_ file: String) -> Int? { Int(file.split(separator: "-")[1]) }
        var everCreated = Set<String>()
        func apply() async throws -> [ObservedContainer] {
            // The operator allows bind mounts under the markers folder only.
            let (code, out, err) = try s.cli("apply", ["--allow-host-mounts=\(marks)"])
            #expect(code == 0, "\(out)\n\(err)")
            let now = try await s.containers()
            everCreated.formUnion(now.map(\.id))
            // Every replica has installed its trap (wrote its start marker) before the next removal.
            #expect(await DaemonProcess.poll { files("start-").count >= everCreated.count }, "start markers: \(files("start-")), containers \(everCreated.count)")
            return now
        }
        /// Runs `removal`; the replicas it removed must each have left a term marker.
        func expectGraceful(_ what: String, _ removal: () async throws -> Void) async throws {
            let before = try await s.containers(), termsBefore = files("term-")
            try await removal()
            let after = Set(try await s.containers().map(\.id))
            let removed = before.filter { !after.contains($0.id) }
            // The stop returns once the process exited, so the marker is written; allow for the bind mount.
            _ = await DaemonProcess.poll(timeout: .seconds(3)) { files("term-").count - termsBefore.count >= removed.count }
            let newTerms = files("term-").subtracting(termsBefore)
            print("\(what): \(removed.count) container(s) removed, \(newTerms.count) SIGTERM marker(s) written")
            #expect(!removed.isEmpty, "\(what): nothing was removed")
            #expect(newTerms.compactMap(port).sorted() == removed.compactMap(\.hostPort).sorted(),
                    "\(what): removed \(removed.map { "\($0.name) port \($0.hostPort ?? 0)" }), SIGTERM markers \(newTerms.sorted())")
        }

        try s.write("keep.yaml", Self.markerService("keep", replicas: 1, marks: marks))
        try s.write("mark.yaml", Self.markerService("mark", replicas: 2, marks: marks))
        #expect(try await apply().count == 3)

        // (a) scale-down 2 → 1.
        try await expectGraceful("scale-down 2→1") {
            try s.write("mark.yaml", Self.markerService("mark", replicas: 1, marks: marks))
            let now = try await apply()
            #expect(now.filter { $0.service == "mark" }.count == 1)
        }
        // (b) replacement (a changed env value).
        try await expectGraceful("replacement") {
            try s.write("mark.yaml", Self.markerService("mark", replicas: 1, marks: marks, mark: "two"))
            let now = try await apply()
            #expect(now.filter { $0.service == "mark" && $0.canonicalSpec?.contains("env.MARK=\"two\"") == true }.count == 1)
        }
        // (c) orphan removal (keep.yaml stays, so the directory is not empty).
        try await expectGraceful("orphan removal") {
            try s.remove("mark.yaml")
            let now = try await apply()
            #expect(now.filter { $0.service == "mark" }.isEmpty)
        }
        // (d) flotilla down.
        try s.write("mark.yaml", Self.markerService("mark", replicas: 2, marks: marks))
        #expect(try await apply().count == 3)
        try await expectGraceful("flotilla down") {
            let (code, out, err) = try s.cli("down")
            #expect(code == 0, "\(out)\n\(err)")
            #expect(try await s.containers().isEmpty)
        }
        await s.cleanup()
    }

    // MARK: - 5

    @Test func replicaWithoutHealthCheckIsRoutedAfterItsSettleTime() async throws {
        let s = try await Scenario("fault-settle", ports: 26400...26499)
        let routesDir = NSTemporaryDirectory() + s.project + "-routes"
        try FileManager.default.createDirectory(atPath: routesDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: routesDir) }
        let routeFile = routesDir + "/routes.json"
        func manifest(replicas: Int) -> String {
            """
            name: a
            image: \(TestEngine.image)
            command: ["/bin/sh", "-c", "mkdir -p /w && echo a > /w/index.html && exec /bin/httpd -f -p ${PORT} -h /w"]
            replicas: \(replicas)
            port: 8080
            network: host
            routes: [{host: a.test}]
            stop_timeout: 1s
            """
        }
        /// The container names routed in the JSON file.
        func routed() -> Set<String> {
            guard let data = FileManager.default.contents(atPath: routeFile),
                  let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let routes = json["routes"] as? [[String: Any]] else { return [] }
            return Set(routes.flatMap { ($0["targets"] as? [[String: Any]] ?? []).compactMap { $0["container"] as? String } })
        }
        var firstRouted: [String: Int64] = [:]
        /// Polls the route file every 25 ms until `count` replicas of `a` exist and each is routed.
        func watch(count: Int, timeout: Duration) async throws -> [ObservedContainer] {
            let deadline = ContinuousClock.now + timeout
            var containers: [ObservedContainer] = []
            var lastList = ContinuousClock.now - .seconds(1)
            while ContinuousClock.now < deadline {
                let now = Self.nowMS()
                for name in routed() where firstRouted[name] == nil { firstRouted[name] = now }
                if ContinuousClock.now - lastList >= .milliseconds(250) {
                    containers = try await s.containers("a")
                    lastList = ContinuousClock.now
                }
                if containers.count == count && containers.allSatisfy({ firstRouted[$0.name] != nil }) { break }
                try await Task.sleep(for: .milliseconds(25))
            }
            return try await s.containers("a")
        }
        func report(_ c: ObservedContainer, _ what: String) {
            guard let at = firstRouted[c.name] else {
                print("\(what) \(c.name): not routed within the wait (created \(c.created), settle time ends \(c.created + 1000))")
                Issue.record("\(what) \(c.name) was never routed")
                return
            }
            let late = at - c.created - 1000
            print("\(what) \(c.name): in the route file \(late) ms after its settle time (contract < 2000 ms)")
            #expect(late < 4000, "\(what) routed \(late) ms after its settle time")
        }

        try s.write("a.yaml", manifest(replicas: 1))
        let daemon = try start(s, extra: ["--routes", routeFile, "--routes-format", "json"])
        defer { if FileManager.default.fileExists(atPath: s.directory) { Task { _ = await daemon.stop(); await s.cleanup() } } }  // on an early exit
        let one = try await watch(count: 1, timeout: .seconds(15))
        #expect(one.count == 1, "\(daemon.log)")
        for c in one { report(c, "first replica") }

        try s.write("a.yaml", manifest(replicas: 2))
        let two = try await watch(count: 2, timeout: .seconds(15))
        #expect(two.count == 2, "\(daemon.log)")
        for c in two where !one.contains(where: { $0.id == c.id }) { report(c, "scaled-up replica") }
        if two.contains(where: { firstRouted[$0.name] == nil }) || one.contains(where: { firstRouted[$0.name] == nil }) {
            print("route file now: \((try? String(contentsOfFile: routeFile, encoding: .utf8)) ?? "none")")
            print(Self.lines(daemon, ["routes updated", "service=a", "manifests loaded"]))
        }
        #expect(await daemon.stop() == 0)
        await s.cleanup()
    }
}
