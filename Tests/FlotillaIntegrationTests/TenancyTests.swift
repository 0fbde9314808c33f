import FlotillaAgent
import FlotillaCore
import FlotillaEngine
import Foundation
import Testing

/// The trust model against a committer who attacks the host through what the operator allowed,
/// on a real engine. Ports 28100–28189.
@Suite("Tenancy: what a manifest may reach", .enabled(if: TestEngine.available, "needs FLOTILLA_TEST_ENGINE (run scripts/test)"), .serialized)
struct TenancyTests {
    /// Issue 26, critical: with `--allow-host-mounts=DATA`, service A mounts DATA/a read-write and
    /// service B mounts DATA/a/x. A's container replaces x with a link to `/`. B's next replica
    /// (one killed) must not get the host's `/`: the policy is checked again at the create, on
    /// the file system as it is then. B's running replica and A keep running; status says why.
    @Test func aLinkSwappedInByAContainerNeverReachesAnotherServicesMount() async throws {
        let s = try await Scenario("mount-swap", ports: 28100...28119)
        let data = NSTemporaryDirectory() + s.project + "-data"
        try FileManager.default.createDirectory(atPath: data + "/a/x", withIntermediateDirectories: true)
        try "inside\n".write(toFile: data + "/a/x/inside.txt", atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: data) }  // removes the link, not what it names
        func service(_ name: String, volume: String, script: String) -> String {
            """
            name: \(name)
            image: \(TestEngine.image)
            command: ["/bin/sh", "-c", "\(script)"]
            network: host
            stop_timeout: 1s
            volumes: ["\(volume)"]
            """
        }
        // A swaps x for a link to / once the test says so (a file `go` appears).
        try s.write("a.yaml", service("a", volume: data + "/a:/d", script: "while [ ! -f /d/go ]; do sleep 0.2; done; rm -rf /d/x; ln -s / /d/x; exec sleep 3600"))
        try s.write("b.yaml", service("b", volume: data + "/a/x:/x", script: "exec sleep 3600"))
        let daemon = try DaemonProcess([s.directory, "--engine", TestEngine.endpoint!, "--project", s.project, "--state-dir", s.stateDirectory,
                                        "--port-range", "28100-28119", "--allow-host-mounts=\(data)", "--resync-interval", "1s",
                                        "--listen", "127.0.0.1:28120"])
        var finished = false
        defer { if !finished { Task { _ = await daemon.stop(); await s.cleanup() } } }
        #expect(try await daemon.waitUntil(timeout: .seconds(60)) {
            let all = try await s.containers()
            return all.filter { $0.state == .running }.count == 2
        }, "\(daemon.log)")
        let a = try #require(try await s.containers("a").first)
        let b = try #require(try await s.containers("b").first)

        // The container swaps the folder for a link.
        #expect(FileManager.default.createFile(atPath: data + "/a/go", contents: Data()))
        #expect(await DaemonProcess.poll { (try? FileManager.default.destinationOfSymbolicLink(atPath: data + "/a/x")) == "/" }, "the container did not swap the folder")

        // B's replica dies; the daemon must not create one with the link.
        try await s.engine.stopContainer(b.id, timeout: 0)
        try await s.engine.removeContainer(b.id)
        // (The load at the next watchdog tick refuses b.yaml too, and b's last good spec stays in
        // force: the create is where the refusal must hold.)
        let refused = await daemon.waitUntil(timeout: .seconds(30)) {
            daemon.lines.contains { $0.contains("create failed") && $0.contains("service=b") && $0.contains("symbolic link \(data)/a/x below the allowed folder") }
        }
        #expect(refused, "\(daemon.log)")
        try await Task.sleep(for: .seconds(3))  // several watchdog ticks and retries
        let bNow = try await s.containers("b")
        #expect(bNow.isEmpty, "a replica of b was created with the swapped mount: \(bNow.map(\.name))")
        // A keeps running; status says why b is short.
        #expect(try await s.containers("a").map(\.id) == [a.id])
        let (_, out, err) = try s.cli("status", ["--format", "json"])
        let status = try? JSONDecoder().decode(ProjectStatus.self, from: Data(out.utf8))
        let bStatus = status?.services.first { $0.name == "b" }
        #expect(bStatus?.running == 0 && bStatus?.lastError?.contains("symbolic link") == true, "\(out)\n\(err)\n\(daemon.log)")

        // `validate` and `plan` say the same, at the file's position.
        let (code, _, validateErr) = try runFlotilla(["validate", s.directory, "--allow-host-mounts=\(data)"])
        #expect(code != 0 && validateErr.contains("b.yaml:") && validateErr.contains("symbolic link"), "\(validateErr)")

        finished = true
        _ = await daemon.stop()
        await s.cleanup()
    }

    /// Issue 26: two projects feeding one proxy (their route files side by side, as the proxy
    /// includes them) both route shop.test. The second is refused at its route, naming the first;
    /// the first keeps serving; once the first is taken down, the second gets it.
    @Test func aHostAndPathBelongToTheProjectThatClaimedItFirst() async throws {
        let first = try await Scenario("claim-a", ports: 28130...28139)
        let second = try await Scenario("claim-b", ports: 28140...28149)
        let proxy = NSTemporaryDirectory() + first.project + "-proxy"
        try FileManager.default.createDirectory(atPath: proxy, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: proxy) }
        var finished = false
        defer { if !finished { Task { await first.cleanup(); await second.cleanup() } } }
        let routes = { (s: Scenario) in ["--routes", proxy + "/" + s.project + ".json", "--routes-format", "json"] }
        func table(_ s: Scenario) -> [String] {
            guard let data = FileManager.default.contents(atPath: proxy + "/" + s.project + ".json"),
                  let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let entries = json["routes"] as? [[String: Any]] else { return [] }
            return entries.compactMap { entry in (entry["host"] as? String).map { $0 + ((entry["path"] as? String) ?? "") } }
        }
        try first.write("shop.yaml", Scenario.httpService("shop", extra: "routes: [{ host: shop.test }]"))
        try second.write("store.yaml", Scenario.httpService("store", extra: "routes: [{ host: shop.test }, { host: store.test }]"))

        // Commands that only look claim nothing.
        let claims = { (try? FileManager.default.contentsOfDirectory(atPath: proxy + "/.flotilla-route-claims").filter { $0.hasSuffix(".claim") }.count) ?? 0 }
        #expect(try second.cli("plan", routes(second)).0 == 2)
        #expect(try second.cli("routes", routes(second)).0 == 0)
        #expect(claims() == 0)

        let a = try first.cli("apply", routes(first))
        #expect(a.0 == 0, "\(a.2)")
        #expect(table(first) == ["shop.test/"])
        #expect(claims() == 1)

        // The second project: refused at the route, naming the first; nothing of it runs.
        let b = try second.cli("apply", routes(second))
        #expect(b.0 != 0, "\(b.1)\n\(b.2)")
        #expect(b.2.contains("store.yaml:9:") && b.2.contains("route shop.test/ is already served by project \"\(first.project)\""), "\(b.2)")
        #expect(try await second.containers().isEmpty)
        #expect(!table(second).contains("shop.test/"))
        // The first keeps serving, applied again.
        #expect(try first.cli("apply", routes(first)).0 == 0)
        let shops = try await first.containers("shop")
        #expect(table(first) == ["shop.test/"] && shops.count == 1)

        // Taken down, the first releases its claim; the second gets the host.
        let down = try first.cli("down", routes(first))
        #expect(down.0 == 0, "\(down.2)")
        let again = try second.cli("apply", routes(second))
        #expect(again.0 == 0, "\(again.2)")
        #expect(Set(table(second)) == ["shop.test/", "store.test/"])
        finished = true
        await first.cleanup()
        await second.cleanup()
    }

    /// Issue 26: the status endpoint with `--listen-token-file`, flooded by 3,000 idle
    /// connections (the daemon started with 1,024 descriptors, as systemd's default gives): the
    /// token guards everything but the probes, and a killed replica is still replaced at once.
    @Test func theEndpointWantsItsTokenAndAFloodOfIdleConnectionsStarvesNothing() async throws {
        let s = try await Scenario("endpoint-flood", ports: 28150...28169)
        let listenPort = 28170
        let tokenFile = s.stateDirectory + "-token"
        let token = "0123456789abcdef0123456789abcdef"
        try token.write(toFile: tokenFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: tokenFile) }
        try s.write("web.yaml", Scenario.httpService("web", replicas: 2))
        let common = [s.directory, "--engine", TestEngine.endpoint!, "--project", s.project, "--state-dir", s.stateDirectory,
                      "--port-range", "28150-28169", "--listen", "127.0.0.1:\(listenPort)", "--listen-token-file", tokenFile]

        // A token file others can read is refused.
        chmod(tokenFile, 0o644)
        let loose = try DaemonProcess(common)
        #expect(await loose.waitUntil(timeout: .seconds(30)) { !loose.process.isRunning }, "\(loose.log)")
        #expect(await loose.stop() == 1 && loose.log.contains("can be read by others"), "\(loose.log)")
        chmod(tokenFile, 0o600)

        // The daemon gets 1,024 descriptors, soft and hard, as a unit without LimitNOFILE= under
        // a strict host gives (it raises its soft limit to the hard one at start-up); the test
        // raises its own soft limit for the flood.
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let saved = limit
        let daemon = try DaemonProcess(common + ["--resync-interval", "30s"])
        limit.rlim_cur = min(saved.rlim_max, 8192)
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        var sockets: [Int32] = []
        var finished = false
        defer {
            for fd in sockets { close(fd) }
            var restore = saved
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &restore)
            if !finished { Task { _ = await daemon.stop(); await s.cleanup() } }
        }
        #expect(setDescriptorLimit(of: daemon.process.processIdentifier, soft: 1024, hard: 1024), "prlimit failed")
        #expect(await daemon.waitUntil(timeout: .seconds(60)) { await httpGet(port: listenPort, path: "/readyz")?.0 == 200 }, "\(daemon.log)")

        // The token: probes need none; the API, the metrics and the events do.
        #expect(await httpGet(port: listenPort, path: "/healthz")?.0 == 200)
        #expect(await httpGet(port: listenPort, path: "/api/v1/status")?.0 == 401)
        #expect(await httpGet(port: listenPort, path: "/metrics")?.0 == 401)
        var client = HTTP1Client(target: .tcp(host: "127.0.0.1", port: listenPort))
        client.authorization = "Bearer " + token
        #expect(try await client.send(.GET, "/api/v1/status", timeout: .seconds(5)).status == 200)
        client.authorization = "Bearer " + token.dropLast() + "x"
        #expect(try await client.send(.GET, "/api/v1/events", timeout: .seconds(5)).status == 401)
        // `flotilla status` on this host finds the token in the state directory.
        let (code, out, err) = try s.cli("status", ["--format", "json"])
        #expect(code == 0 && out.contains("\"ready\" : 2"), "\(out)\n\(err)")

        // 3,000 idle connections (non-blocking connects; those beyond the daemon's cap wait in
        // the listen backlog or are dropped there, costing the daemon nothing).
        sockets = idleConnections(3000, to: listenPort)
        #expect(sockets.count == 3000, "the test could open only \(sockets.count) sockets")
        try await Task.sleep(for: .seconds(1))

        // A replica dies; it is replaced within 5 s (the watchdog is 30 s away: the event does it).
        let victim = try #require(try await s.containers("web").first)
        try await s.engine.stopContainer(victim.id, timeout: 0)
        try await s.engine.removeContainer(victim.id)
        let replaced = try await daemon.waitUntil(timeout: .seconds(5)) {
            (try await s.containers("web")).filter { $0.state == .running }.count == 2
        }
        #expect(replaced, "\(daemon.log)")
        #expect(daemon.process.isRunning && !daemon.log.contains("Too many open files"), "\(daemon.log)")

        for fd in sockets { close(fd) }
        sockets = []
        // Once the flood ends, the endpoint answers again.
        #expect(await daemon.waitUntil(timeout: .seconds(30)) { await httpGet(port: listenPort, path: "/healthz")?.0 == 200 }, "\(daemon.log)")
        finished = true
        #expect(await daemon.stop() == 0)
        await s.cleanup()
    }

    /// Issue 26: the daemon's own descriptors run low (its limit lowered from outside to a few
    /// above what it holds, as a leak or a tight unit would): it says so in the log and on
    /// `/healthz`, lets its reserve go so that a killed replica is still replaced while 3,000
    /// clients knock, never fails a healthy replica's probe for want of a socket, and once the
    /// descriptors are back it says so and answers 200 again. Before: "Too many open files"
    /// everywhere, probes failing healthy replicas, then the process died.
    @Test func whenDescriptorsRunLowTheDaemonSaysSoKeepsReplacingAndHeals() async throws {
        let s = try await Scenario("fd-budget", ports: 28171...28178)
        let listenPort = 28179
        try s.write("web.yaml", Scenario.httpService("web", replicas: 2))
        let daemon = try DaemonProcess([s.directory, "--engine", TestEngine.endpoint!, "--project", s.project, "--state-dir", s.stateDirectory,
                                        "--port-range", "28171-28178", "--listen", "127.0.0.1:\(listenPort)", "--resync-interval", "30s"])
        let pid = daemon.process.processIdentifier
        var saved = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &saved)
        var sockets: [Int32] = []
        var finished = false
        defer {
            for fd in sockets { close(fd) }
            if !finished { Task { _ = await daemon.stop(); await s.cleanup() } }
        }
        #expect(await daemon.waitUntil(timeout: .seconds(60)) { await httpGet(port: listenPort, path: "/readyz")?.0 == 200 }, "\(daemon.log)")
        #expect(await httpGet(port: listenPort, path: "/healthz")?.0 == 200)

        // A few descriptors above what the daemon holds: below its low-water mark.
        let held = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count
        #expect(setDescriptorLimit(of: pid, soft: held + 8, hard: Int(saved.rlim_max)), "prlimit failed")
        let said = await daemon.waitUntil(timeout: .seconds(30)) {
            guard let (status, body) = await httpGet(port: listenPort, path: "/healthz") else { return false }
            return status == 503 && body.contains("file descriptors nearly exhausted")
        }
        let answer = await httpGet(port: listenPort, path: "/healthz")
        #expect(said, "/healthz: \(String(describing: answer))\n\(daemon.log)")
        #expect(daemon.log.contains("file descriptors nearly exhausted"), "\(daemon.log)")

        // 3,000 clients knock (the test's own limit raised for them).
        var mine = saved
        mine.rlim_cur = min(saved.rlim_max, 8192)
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &mine)
        sockets = idleConnections(3000, to: listenPort)
        try await Task.sleep(for: .seconds(1))

        // A replica dies; it is replaced (the event does it; the watchdog is 30 s away).
        let victim = try #require(try await s.containers("web").first)
        try await s.engine.stopContainer(victim.id, timeout: 0)
        try await s.engine.removeContainer(victim.id)
        let replaced = try await daemon.waitUntil(timeout: .seconds(20)) {
            (try await s.containers("web")).filter { $0.state == .running }.count == 2
        }
        #expect(replaced, "\(daemon.log)")
        // The other replica was never failed for a probe the daemon could not make.
        #expect(!daemon.log.contains("liveness failing"), "\(daemon.log)")
        #expect(daemon.process.isRunning, "\(daemon.log)")

        // Descriptors back: said so, and /healthz is 200 again.
        for fd in sockets { close(fd) }
        sockets = []
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &saved)
        #expect(setDescriptorLimit(of: pid, soft: 65536, hard: Int(saved.rlim_max)), "prlimit failed")
        #expect(await daemon.waitUntil(timeout: .seconds(30)) { await httpGet(port: listenPort, path: "/healthz")?.0 == 200 }, "\(daemon.log)")
        #expect(daemon.log.contains("file descriptors available again"), "\(daemon.log)")
        finished = true
        #expect(await daemon.stop() == 0)
        await s.cleanup()
    }

    /// Issue 26: project B names project A's database volume and private network. Each is refused
    /// at the create, naming A; A keeps running. A volume made by hand is refused too, and the
    /// operator's --allow-volume/--allow-network let a project use what it names.
    @Test func anotherProjectsVolumeAndNetworkAreRefused() async throws {
        let a = try await Scenario("res-a", ports: 28180...28184)
        let b = try await Scenario("res-b", ports: 28185...28189)
        let volume = a.project + "-pgdata", network = a.project + "-private", handmade = b.project + "-handmade"
        @Sendable func cleanup() async {
            await b.cleanup()
            await a.cleanup()
            for name in [volume, handmade] { _ = try? await a.engine.transport.send(.DELETE, "/v\(a.engine.apiVersion)/volumes/\(name)") }
        }
        var finished = false
        defer { if !finished { Task { await cleanup() } } }
        func service(_ name: String, _ extra: String) -> String {
            "name: \(name)\nimage: \(TestEngine.image)\ncommand: [\"/bin/sh\", \"-c\", \"exec sleep 3600\"]\nstop_timeout: 1s\n\(extra)\n"
        }
        try a.write("db.yaml", service("db", "volumes: [\"\(volume):/data\"]\nnetworks: [\(network)]"))
        let first = try a.cli("apply")
        #expect(first.0 == 0, "\(first.2)")
        let db = try #require(try await a.containers("db").first)

        // B mounts A's volume: refused, naming A; `plan` says so first, at the manifest line.
        try b.write("thief.yaml", service("thief", "volumes: [\"\(volume):/steal\"]"))
        let planned = try b.cli("plan")
        #expect(planned.0 == 1 && planned.2.contains("thief.yaml:5:11: error: volume \"\(volume)\" belongs to project \"\(a.project)\""), "\(planned.1)\n\(planned.2)")
        let stolen = try b.cli("apply")
        #expect(stolen.0 != 0 && stolen.2.contains("volume \"\(volume)\" belongs to project \"\(a.project)\""), "\(stolen.1)\n\(stolen.2)")
        #expect(try await b.containers().isEmpty)
        // B joins A's network: refused, naming A.
        try b.write("thief.yaml", service("thief", "networks: [\(network)]"))
        let plannedJoin = try b.cli("plan", ["--format", "json"])
        #expect(plannedJoin.0 == 1 && plannedJoin.1.contains("belongs to project") && plannedJoin.1.contains("\"valid\" : false"), "\(plannedJoin.1)\n\(plannedJoin.2)")
        let joined = try b.cli("apply")
        #expect(joined.0 != 0 && joined.2.contains("network \"\(network)\" belongs to project \"\(a.project)\""), "\(joined.1)\n\(joined.2)")
        #expect(try await b.containers().isEmpty)
        // A volume made by hand: refused until the operator allows it.
        _ = try await b.engine.transport.send(.POST, "/v\(b.engine.apiVersion)/volumes/create", body: Array(#"{"Name":"\#(handmade)"}"#.utf8))
        try b.write("thief.yaml", service("thief", "volumes: [\"\(handmade):/h\"]"))
        let refused = try b.cli("apply")
        #expect(refused.0 != 0 && refused.2.contains("was not created by Flotilla for this project") && refused.2.contains("--allow-volume \(handmade)"), "\(refused.2)")
        let allowed = try b.cli("apply", ["--allow-volume", handmade])
        #expect(allowed.0 == 0, "\(allowed.2)")
        #expect(try await b.containers("thief").count == 1)

        // A kept running, untouched.
        #expect(try await a.containers("db").map(\.id) == [db.id])
        finished = true
        await cleanup()
    }
}

/// Sets another process's descriptor limits with util-linux's `prlimit` (the test runs as root).
func setDescriptorLimit(of pid: Int32, soft: Int, hard: Int) -> Bool {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/prlimit")
    process.arguments = ["--pid", "\(pid)", "--nofile=\(min(soft, hard)):\(hard)"]
    guard (try? process.run()) != nil else { return false }
    process.waitUntilExit()
    return process.terminationStatus == 0
}

/// `count` idle TCP connections to 127.0.0.1:`port` (non-blocking connects: those beyond the
/// server's cap wait in its listen backlog); fewer when this process runs out of descriptors.
func idleConnections(_ count: Int, to port: Int) -> [Int32] {
    var sockets: [Int32] = []
    for _ in 0..<count {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { break }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        sockets.append(fd)
    }
    return sockets
}
