import FlotillaCore
import FlotillaEngine
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `flotilla run --listen`: metrics read by a real Prometheus text parser (`prometheus_client`),
/// health and readiness, the status and events APIs, and the status page in a real headless
/// Chromium, following a committed change without a reload. Ports 25100–25199.
@Suite("The daemon's HTTP endpoint", .enabled(if: TestEngine.available, "needs FLOTILLA_TEST_ENGINE (run scripts/test)"))
struct StatusEndpointTests {
    struct Sample { var name: String; var labels: [String: String]; var value: Double }

    /// Parses Prometheus text with `prometheus_client`'s parser (PyPI): a format error fails here.
    static func parseMetrics(_ text: String) throws -> [Sample] {
        let file = NSTemporaryDirectory() + "flotilla-metrics-\(UUID().uuidString.prefix(8)).txt"
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let script = "import json,sys; from prometheus_client.parser import text_string_to_metric_families as parse; "
            + "print(json.dumps([[s.name, s.labels, s.value] for f in parse(open(sys.argv[1]).read()) for s in f.samples]))"
        let (code, out) = try shell("python3 -c '\(script)' '\(file)'")
        try #require(code == 0, "prometheus_client could not parse /metrics: \(out)\n\(text)")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[Any]])
        return rows.map { Sample(name: $0[0] as! String, labels: $0[1] as! [String: String], value: ($0[2] as! NSNumber).doubleValue) }
    }

    /// A loaded CI machine may keep one answer past the client's 2 s (met for /metrics and
    /// /api/v1/events): a request without an answer is made again, up to five times in all.
    func get(_ port: Int, _ path: String) async -> (Int, String)? {
        for _ in 0..<4 { if let answer = await httpGet(port: port, path: path) { return answer } }
        return await httpGet(port: port, path: path)
    }

    func git(_ directory: String, _ arguments: String) throws -> String {
        let (code, out) = try shell("git -C '\(directory)' -c user.email=t@t -c user.name=t " + arguments)
        #expect(code == 0, "git \(arguments): \(out)")
        return out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test(.enabled(if: HeadlessPage.available, "needs Debian's chromium (scripts/test installs it)"))
    func metricsHealthApisAndALiveStatusPage() async throws {
        let s = try await Scenario("endpoint", ports: 25100...25189)
        let port = 25199
        _ = try git(s.directory, "init -q")
        try s.write("web.yaml", Scenario.httpService("web", replicas: 2, extra: "routes: [{ host: web.test }]"))
        _ = try git(s.directory, "add -A")
        _ = try git(s.directory, "commit -qm one")
        let first = String(try git(s.directory, "rev-parse HEAD").prefix(12))
        let daemon = try DaemonProcess([s.directory, "--engine", TestEngine.endpoint!, "--project", s.project, "--state-dir", s.stateDirectory,
                                        "--port-range", "25100-25189", "--listen", "127.0.0.1:\(port)", "--resync-interval", "5s"])
        var stopped = false
        defer { if !stopped { Task { _ = await daemon.stop(); await s.cleanup() } } }

        // /readyz once the first reconcile is done; /healthz while the loop answers.
        #expect(await daemon.waitUntil(timeout: .seconds(40)) { await get(port, "/readyz")?.0 == 200 }, "\(daemon.log)")
        // A loaded CI machine can make the loop miss one liveness beat: /healthz must answer 200
        // within a few seconds, not on the very first request.
        #expect(await daemon.waitUntil(timeout: .seconds(10)) { await get(port, "/healthz")?.0 == 200 }, "\(daemon.log)")
        #expect(daemon.log.contains("serving status and metrics"), "\(daemon.log)")

        // /api/v1/status is what `flotilla status --format json` prints (it asks the daemon).
        let api: () async -> ProjectStatus? = {
            guard let (code, body) = await get(port, "/api/v1/status"), code == 200 else { return nil }
            return try? JSONDecoder().decode(ProjectStatus.self, from: Data(body.utf8))
        }
        // The converged answer itself is kept: one more request could miss its timeout on loaded cores.
        var converged: ProjectStatus?
        #expect(await daemon.waitUntil(timeout: .seconds(40)) {
            converged = await api()
            return converged?.converged == true
        }, "\(daemon.log)")
        let fromAPI = try #require(converged)
        let web = try #require(fromAPI.services.first)
        #expect((web.desired, web.running, web.ready, web.current, web.revision) == (2, 2, 2, 2, first))
        #expect(web.replicas.map(\.health) == ["ready", "ready"])
        let (cliCode, cliOut, cliErr) = try s.cli("status", ["--format", "json"])
        #expect(cliCode == 0, "\(cliErr)")
        #expect(try JSONDecoder().decode(ProjectStatus.self, from: Data(cliOut.utf8)) == fromAPI)

        // /api/v1/events: the two replicas created, with the commit.
        let (_, eventsBody) = try #require(await get(port, "/api/v1/events"))
        let events = try #require((try JSONSerialization.jsonObject(with: Data(eventsBody.utf8)) as? [String: Any])?["events"] as? [[String: Any]])
        let created = events.filter { $0["action"] as? String == "created" && $0["service"] as? String == "web" }
        #expect(created.count == 2 && created.allSatisfy { $0["revision"] as? String == first && $0["container"] is String }, "\(events)")

        // /metrics parses with a real Prometheus parser and says what runs.
        let metrics = { () async throws -> [Sample] in
            let (code, body) = try #require(await get(port, "/metrics"))
            try #require(code == 200)
            return try Self.parseMetrics(body)
        }
        var samples = try await metrics()
        let value = { (samples: [Sample], name: String, labels: [String: String]) in
            samples.first { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }?.value
        }
        #expect(value(samples, "flotilla_replicas_ready", ["service": "web"]) == 2)
        #expect(value(samples, "flotilla_replicas_desired", ["service": "web"]) == 2)
        #expect(value(samples, "flotilla_replicas_running", ["service": "web"]) == 2)
        #expect(value(samples, "flotilla_manifest_revision_info", ["revision": first]) == 1)
        #expect(value(samples, "flotilla_manifest_files_failing", [:]) == 0)
        #expect(samples.contains { $0.name == "flotilla_build_info" && $0.labels["version"] != nil })
        #expect((value(samples, "flotilla_reconcile_duration_seconds_count", [:]) ?? 0) > 0)
        #expect((value(samples, "flotilla_last_successful_reconcile_timestamp_seconds", [:]) ?? 0) > Date().timeIntervalSince1970 - 300)
        #expect(samples.contains { $0.name == "flotilla_engine_requests_total" && $0.labels["operation"] == "POST /containers/{id}/start" && $0.labels["result"] == "ok" },
                "\(samples.filter { $0.name == "flotilla_engine_requests_total" }.map(\.labels))")
        let reconciles = { (samples: [Sample], trigger: String) in
            samples.filter { $0.name == "flotilla_reconciles_total" && $0.labels["trigger"] == trigger && $0.labels["result"] != nil }.reduce(0) { $0 + $1.value }
        }
        #expect(reconciles(samples, "startup") > 0, "\(samples.filter { $0.name == "flotilla_reconciles_total" })")

        // SIGHUP: the reconcile counter moves, with trigger="signal".
        let beforeHUP = reconciles(samples, "signal")
        kill(daemon.process.processIdentifier, SIGHUP)
        #expect(await daemon.waitUntil { ((try? await metrics()).map { reconciles($0, "signal") } ?? 0) > beforeHUP }, "\(daemon.log)")

        // The status page, in a real headless Chromium: services, ready counts, a recent action.
        let page = try HeadlessPage("http://127.0.0.1:\(port)/", screenshot: ProcessInfo.processInfo.environment["FLOTILLA_STATUS_SCREENSHOT"])
        let webReady = { (n: Int) in
            "(() => { const e = document.querySelector('.svc[data-service=\"web\"] .ready'); return !!e && e.textContent === '\(n)/\(n) ready'; })()"
        }
        let shownFirst = await page.waitFor(webReady(2))
        let shownText = shownFirst ? "" : "\(await page.evaluate("document.body.innerText") ?? "no answer")"
        #expect(shownFirst, "\(shownText)")
        #expect(await page.waitFor("document.querySelectorAll('.svc[data-service=\"web\"] .dot.d-ready').length === 2"))
        #expect(await page.waitFor("Array.from(document.querySelectorAll('tr.event')).some(r => r.textContent.includes('created') && r.textContent.includes('\(first)'))"))
        #expect(await page.waitFor("Array.from(document.querySelectorAll('tr.route')).some(r => r.textContent.includes('web.test/'))"))
        _ = await page.evaluate("window.__flotillaTestMarker = 'same page'")

        // A committed change: the open page follows it without a reload.
        try s.write("web.yaml", Scenario.httpService("web", replicas: 3, extra: "routes: [{ host: web.test }]"))
        _ = try git(s.directory, "commit -qam two")
        let second = String(try git(s.directory, "rev-parse HEAD").prefix(12))
        let followed = await page.waitFor(webReady(3), timeout: .seconds(60))
        let shown = followed ? "" : "\(await page.evaluate("document.body.innerText") ?? "no answer")\n\(daemon.log)"
        #expect(followed, "\(shown)")
        // The new replica's event names the revision it was created from: the commit, or (when the
        // daemon read the written file before `git commit` finished, as a loaded host allows) the
        // previous commit with uncommitted changes.
        let attributed = await page.waitFor("Array.from(document.querySelectorAll('tr.event')).some(r => r.textContent.includes('created') && (r.textContent.includes('\(second)') || r.textContent.includes('\(first)-dirty')))")
        let eventTable = attributed ? "" : "\(await page.evaluate("document.getElementById('events').innerText") ?? "no answer")"
        #expect(attributed, "\(eventTable)")
        // A commit that changes no manifest file (the daemon may have read the file before the
        // commit) is seen at the next watchdog tick, which reads the revision again.
        #expect(await page.waitFor("document.getElementById('sub').textContent.includes('\(second)')", timeout: .seconds(30)))
        #expect(await page.evaluate("window.__flotillaTestMarker") as? String == "same page", "the page was reloaded")
        #expect(await page.evaluate("performance.getEntriesByType('navigation').length") as? Int == 1)
        await page.close()

        samples = try await metrics()
        for _ in 0..<20 where value(samples, "flotilla_manifest_revision_info", ["revision": second]) != 1 {
            try await Task.sleep(for: .milliseconds(500))
            samples = try await metrics()
        }
        #expect(value(samples, "flotilla_replicas_ready", ["service": "web"]) == 3)
        #expect(value(samples, "flotilla_manifest_revision_info", ["revision": second]) == 1)
        #expect(value(samples, "flotilla_manifest_revision_info", ["revision": first]) == nil, "the previous revision's series stays")

        stopped = true
        #expect(await daemon.stop() == 0)
        await s.cleanup()
    }

    /// A `--listen` address another process holds: the daemon stops with exit 1 and says why. (It
    /// used to keep its reconcile loop spinning on a cancelled task, "engine unavailable:
    /// CancellationError" every 10 s, and never exit: seen when a benchmark's container held the port.)
    @Test func aListenAddressThatIsTakenStopsTheDaemonWithAnError() async throws {
        let s = try await Scenario("endpoint-taken", ports: 25199...25199)
        defer { Task { await s.cleanup() } }
        try s.write("web.yaml", "name: web\nimage: \(TestEngine.image)\ncommand: [\"sleep\", \"100000\"]\nstop_timeout: 1s\n")
        // Something else listens there first.
        let holder = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(holder) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(holder, $0, length) == 0 && listen(holder, 4) == 0 && getsockname(holder, $0, &length) == 0 }
        }
        try #require(bound)
        let port = Int(UInt16(bigEndian: address.sin_port))
        let daemon = try DaemonProcess([s.directory, "--engine", TestEngine.endpoint!, "--project", s.project, "--state-dir", s.stateDirectory,
                                        "--port-range", "25199-25199", "--listen", "127.0.0.1:\(port)"])
        // A hang guard: the daemon must end on its own, well before this.
        let ended = await daemon.waitUntil(timeout: .seconds(60)) { !daemon.process.isRunning }
        #expect(ended, "the daemon should stop when its --listen address is taken\n\(daemon.log)")
        let code = await daemon.stop()
        #expect(code == 1, "\(daemon.log)")
        #expect(daemon.log.contains("error:") && daemon.log.contains("127.0.0.1:\(port)"), "\(daemon.log)")
        #expect(!daemon.log.contains("CancellationError"), "\(daemon.log)")
        _ = try? s.cli("down")
    }

    @Test func unixSocketEndpointAndStatusAsksTheDaemon() async throws {
        let s = try await Scenario("endpoint-unix", ports: 25190...25198)
        let socket = NSTemporaryDirectory() + "flotilla-\(s.project).sock"
        try s.write("web.yaml", Scenario.httpService("web", replicas: 1).replacingOccurrences(
            of: "health: { http: /healthz, interval: 1s, timeout: 1s, retries: 5 }",
            with: "health: { readiness: { http: /healthz, interval: 1s, timeout: 1s, retries: 2 } }"))
        let arguments = [s.directory, "--engine", TestEngine.endpoint!, "--project", s.project, "--state-dir", s.stateDirectory,
                         "--port-range", "25190-25198", "--listen", "unix://\(socket)"]
        // Something other than a socket at the path: refused and left alone (before: unlinked).
        try "keep".write(toFile: socket, atomically: true, encoding: .utf8)
        let refused = try DaemonProcess(arguments)
        #expect(await refused.waitUntil(timeout: .seconds(30)) { refused.log.contains("something other than a socket") }, "\(refused.log)")
        #expect(await refused.stop() == 1, "\(refused.log)")
        #expect((try? String(contentsOfFile: socket, encoding: .utf8)) == "keep")
        try FileManager.default.removeItem(atPath: socket)
        let daemon = try DaemonProcess(arguments)
        var stopped = false
        defer { if !stopped { Task { _ = await daemon.stop(); await s.cleanup() } } }
        let client = HTTP1Client(target: .unixSocket(socket))
        #expect(await daemon.waitUntil(timeout: .seconds(40)) { (try? await client.send(.GET, "/readyz", timeout: .seconds(3)))?.status == 200 }, "\(daemon.log)")
        // As over TCP: the loop may miss one liveness beat on loaded cores (seen in CI), so /healthz
        // must answer 200 within a few seconds, not on the very first request.
        #expect(await daemon.waitUntil(timeout: .seconds(10)) { (try? await client.send(.GET, "/healthz", timeout: .seconds(3)))?.status == 200 }, "\(daemon.log)")
        #expect(await daemon.waitUntil(timeout: .seconds(30)) { (try? s.cli("status").0) == 0 })
        // The daemon's view: a replica failing readiness is "failing" (a one-shot status has no
        // probe history and can only say "starting").
        // `status --watch --format json` prints one line per change (and none while nothing changes).
        let watchFile = NSTemporaryDirectory() + "flotilla-watch-\(s.project).jsonl"
        _ = FileManager.default.createFile(atPath: watchFile, contents: nil)
        let watch = Process()
        watch.executableURL = URL(fileURLWithPath: TestEngine.binary)
        watch.arguments = ["status", s.directory, "--engine", TestEngine.endpoint!, "--project", s.project, "--state-dir", s.stateDirectory,
                           "--watch", "--format", "json", "--interval", "200ms"]
        watch.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: watchFile))
        watch.standardError = FileHandle.nullDevice
        try watch.run()
        // `--watch` runs until told to stop: a failed expectation below must not leave it behind.
        defer { if watch.isRunning { watch.terminate() } }
        try await Task.sleep(for: .seconds(2))

        let victim = try #require(try await s.containers("web").first)
        try await s.exec(victim.id, ["/bin/busybox", "rm", "/w/healthz"])
        #expect(await daemon.waitUntil(timeout: .seconds(30)) {
            let (_, out, _) = (try? s.cli("status", ["--format", "json"])) ?? (1, "", "")
            let status = try? JSONDecoder().decode(ProjectStatus.self, from: Data(out.utf8))
            return status?.services.first?.replicas.contains { $0.health == "failing" } == true
        }, "\(daemon.log)")
        try await Task.sleep(for: .seconds(1))
        watch.terminate()
        watch.waitUntilExit()
        let watched = try String(contentsOfFile: watchFile, encoding: .utf8).split(separator: "\n").map(String.init)
        try? FileManager.default.removeItem(atPath: watchFile)
        let states = watched.compactMap { try? JSONDecoder().decode(ProjectStatus.self, from: Data($0.utf8)) }
        #expect(states.count == watched.count && states.count >= 2, "\(watched)")
        #expect(states.first?.converged == true && states.last?.services.first?.replicas.first?.health == "failing", "\(watched)")
        #expect(zip(watched, watched.dropFirst()).allSatisfy { $0 != $1 }, "a line repeated without a change")
        // Polled every 200 ms for ~4 s: only changes are printed, not ~20 lines.
        #expect(watched.count < 10, "\(watched.count) lines")

        stopped = true
        #expect(await daemon.stop() == 0)
        await s.cleanup()
    }
}
