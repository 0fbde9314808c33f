import FlotillaAgent
import FlotillaCore
import FlotillaEngine
import Foundation
import Testing

/// `flotilla status` on a real engine: counts are what runs, never what the manifest says; the
/// git revision of the manifests follows a commit into the labels and the status. Ports 25000–25049.
@Suite("Status on a real engine", .enabled(if: TestEngine.available, "needs FLOTILLA_TEST_ENGINE (run scripts/test)"))
struct StatusTests {
    func git(_ directory: String, _ arguments: String) throws -> String {
        let (code, out) = try shell("git -C '\(directory)' -c user.email=t@t -c user.name=t " + arguments)
        #expect(code == 0, "git \(arguments): \(out)")
        return out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func status(_ s: Scenario) throws -> (Int32, ProjectStatus?, String) {
        let (code, out, err) = try s.cli("status", ["--format", "json"])
        return (code, try? JSONDecoder().decode(ProjectStatus.self, from: Data(out.utf8)), err)
    }

    @Test func statusCountsWhatRunsAndShowsTheCommit() async throws {
        let s = try await Scenario("status", ports: 25000...25049)
        defer { if FileManager.default.fileExists(atPath: s.directory) { Task { await s.cleanup() } } }  // on an early exit
        _ = try git(s.directory, "init -q")
        try s.write("web.yaml", Scenario.httpService("web", replicas: 2, extra: "routes: [{ host: web.test }]"))
        _ = try git(s.directory, "add -A")
        _ = try git(s.directory, "commit -qm one")
        let first = try git(s.directory, "rev-parse HEAD")
        #expect(try s.cli("apply").0 == 0)

        // Converged: exit 0, counts from the engine, the commit on the replicas.
        let (code, converged, err) = try status(s)
        #expect(code == 0, "\(err)")
        let web = try #require(converged?.services.first, "\(err)")
        #expect((web.desired, web.running, web.ready, web.current) == (2, 2, 2, 2))
        #expect(web.phase == "steady" && web.routes == ["web.test/"])
        #expect(web.revision == String(first.prefix(12)) && converged?.manifestRevision == String(first.prefix(12)))
        let labels = try await s.containers("web").map(\.revision)
        #expect(labels == [String(first.prefix(12)), String(first.prefix(12))])

        // A killed replica shows as missing (the manifest still says 2): exit 2, text and JSON agree.
        let victim = try #require(try await s.containers("web").first)
        _ = try await s.engine.transport.send(.POST, "/v\(s.engine.apiVersion)/containers/\(victim.id)/kill?signal=KILL")
        #expect(await DaemonProcess.poll { (try? await s.containers("web").filter { $0.state == .running }.count) == 1 })
        let (code2, degraded, _) = try status(s)
        #expect(code2 == 2)
        let after = try #require(degraded?.services.first)
        #expect((after.desired, after.running, after.ready) == (2, 1, 1) && after.phase == "converging" && degraded?.converged == false)
        let (textCode, text, _) = try s.cli("status")
        #expect(textCode == 2)
        #expect(text.split(separator: "\n").contains { $0.split(separator: " ", omittingEmptySubsequences: true).prefix(5) == ["web", "2", "1", "1", "1"] }, "\(text)")

        // A manifest change committed to git: the new commit reaches the new replicas and status;
        // an uncommitted edit says -dirty.
        try s.write("web.yaml", Scenario.httpService("web", replicas: 2, body: "v2", extra: "routes: [{ host: web.test }]"))
        _ = try git(s.directory, "commit -qam two")
        let second = try git(s.directory, "rev-parse HEAD")
        let applied = try s.cli("apply")
        #expect(applied.0 == 0, "\(applied.2)")
        #expect(applied.2.contains("revision=\(second.prefix(12))"), "\(applied.2)")
        #expect(try await s.containers("web").map(\.revision) == [String(second.prefix(12)), String(second.prefix(12))])
        let (code3, moved, _) = try status(s)
        #expect(code3 == 0 && moved?.services.first?.revision == String(second.prefix(12)))
        try s.write("extra.yaml", "")
        try s.write("web.yaml", Scenario.httpService("web", replicas: 2, body: "v3", extra: "routes: [{ host: web.test }]"))
        #expect(try status(s).1?.manifestRevision == String(second.prefix(12)) + "-dirty")
        await s.cleanup()
    }
}
