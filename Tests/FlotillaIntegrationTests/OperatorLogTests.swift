import FlotillaAgent
import FlotillaCore
import FlotillaEngine
import Foundation
import Testing

/// What the operator paged at 3 a.m. reads in the daemon's log: why a container died (its exit
/// code), why a probe failed (the HTTP status), one warning per failure rather than one per
/// event. Ports 27850–27899.
@Suite("Logs an operator can trust", .enabled(if: TestEngine.available, "needs FLOTILLA_TEST_ENGINE (run scripts/test)"), .serialized)
struct OperatorLogTests {
    @Test func deathsSayTheirExitCodeProbesTheirStatusAndFailuresAreSaidOnce() async throws {
        let s = try await Scenario("oplog", ports: 27850...27899)
        // Exits with 3 after a second, again and again (the engine does not restart it).
        try s.write("dies.yaml", """
            name: dies
            image: \(TestEngine.image)
            command: ["/bin/sh", "-c", "sleep 1; exit 3"]
            stop_timeout: 1s
            """)
        // Runs, but its readiness endpoint answers 503 once the file is removed.
        try s.write("web.yaml", Scenario.httpService("web"))
        let daemon = try DaemonProcess([s.directory, "--engine", TestEngine.endpoint!, "--project", s.project, "--state-dir", s.stateDirectory,
                                        "--port-range", "27850-27899", "--resync-interval", "10m"])
        var stopped = false
        defer { if !stopped { Task { _ = await daemon.stop(); await s.cleanup() } } }  // on an early exit
        #expect(await daemon.waitUntil(timeout: .seconds(30)) { daemon.log.contains("exit_code=3") }, "\(daemon.log)")
        let line = daemon.lines.first { $0.contains("container exited") && $0.contains("exit_code=3") } ?? ""
        #expect(line.contains("warning") && line.contains("service=dies"), "\(line)")

        let web = try #require(try await s.containers("web").first)
        try await s.exec(web.id, ["/bin/busybox", "rm", "/w/healthz"])  // busybox httpd answers 404 for a missing file
        #expect(await daemon.waitUntil(timeout: .seconds(20)) { daemon.log.contains("readiness failing") }, "\(daemon.log)")
        let failing = daemon.lines.first { $0.contains("readiness failing") } ?? ""
        #expect(failing.contains("probe=\"HTTP 404 from GET /healthz\""), "\(failing)")

        // Several deaths (each an event and a step): the crash loop is said once per reason.
        try await Task.sleep(for: .seconds(6))
        let deaths = daemon.count("container exited")
        let warnings = daemon.lines.filter { ($0.contains("crash loop") || $0.contains("did not converge")) && $0.contains("service=dies") }
        print("\(deaths) deaths logged, \(warnings.count) crash-loop warnings:\n" + warnings.joined(separator: "\n"))
        #expect(deaths >= 2, "\(daemon.log)")
        // Each warning is a new backoff decision (a death): never the same one counted down again.
        #expect(warnings.count <= deaths + 1, "one warning per decision, not per step:\n\(warnings.joined(separator: "\n"))")
        let delays = warnings.compactMap { $0.split(separator: " ").last.flatMap { Int($0.dropLast()) } }
        // Backoff only grows while it keeps dying: a shrinking delay is one decision counted down.
        #expect(zip(delays, delays.dropFirst()).allSatisfy { $0.0 <= $0.1 }, "\(delays)")
        stopped = true
        #expect(await daemon.stop() == 0)
        await s.cleanup()
    }
}
