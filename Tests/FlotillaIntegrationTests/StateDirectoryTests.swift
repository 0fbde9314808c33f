import FlotillaAgent
import FlotillaCore
import Foundation
import Testing

/// What the state directory keeps across processes: the last route table (so services of a
/// broken manifest file keep their routes across a restart and through `apply --routes`).
@Suite("The state directory keeps routes of broken files", .enabled(if: TestEngine.available, "needs FLOTILLA_TEST_ENGINE (run scripts/test)"), .serialized)
struct StateDirectoryTests {
    static func routed(_ name: String, host: String) -> String {
        Scenario.httpService(name, extra: "routes: [{ host: \(host) }]")
    }

    @Test func routesOfABrokenFileSurviveARestartAndApply() async throws {
        let s = try await Scenario("state-routes", ports: 27300...27399)
        defer { Task { await s.cleanup() } }
        let routes = s.directory + "-routes.json"
        defer { try? FileManager.default.removeItem(atPath: routes) }
        try s.write("a.yaml", Self.routed("a", host: "a.test"))
        try s.write("b.yaml", Self.routed("b", host: "b.test"))
        func daemon() throws -> DaemonProcess {
            try DaemonProcess([s.directory, "--engine", TestEngine.endpoint!, "--project", s.project, "--state-dir", s.stateDirectory,
                               "--port-range", "\(s.portRange.lowerBound)-\(s.portRange.upperBound)", "--resync-interval", "10m",
                               "--routes", routes, "--routes-format", "json"])
        }
        func table() -> String { (try? String(contentsOfFile: routes, encoding: .utf8)) ?? "" }
        func targets(_ host: String) -> Int {
            guard let data = try? Data(contentsOf: URL(fileURLWithPath: routes)),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let list = object["routes"] as? [[String: Any]] else { return -1 }
            return list.first { $0["host"] as? String == host }.map { ($0["targets"] as? [Any])?.count ?? 0 } ?? -1
        }
        var d = try daemon()
        #expect(await d.waitUntil(timeout: .seconds(30)) { targets("a.test") == 1 && targets("b.test") == 1 }, "\(table()) \(d.log)")
        #expect(await d.stop() == 0)
        // Stopping never rewrites the routes (a stopping daemon's probes are gone: it would route to nothing).
        #expect(targets("a.test") == 1 && targets("b.test") == 1, "SIGTERM emptied the routes: \(table())")

        // b.yaml breaks while no daemon runs: the new process never saw b's spec, yet b keeps
        // its route (from the state directory), and so does a one-shot apply.
        try s.write("b.yaml", "name: b\nimage: \(TestEngine.image)\nreplicas: lots\n")
        try s.write("a.yaml", Self.routed("a", host: "a.test").replacingOccurrences(of: "replicas: 1", with: "replicas: 2"))
        d = try daemon()
        #expect(await d.waitUntil(timeout: .seconds(30)) { targets("a.test") == 2 }, "\(table()) \(d.log)")
        #expect(targets("b.test") == 1, "b lost its route after a restart: \(table())")
        #expect(await d.stop() == 0)
        let (code, _, err) = try s.cli("apply", ["--routes", routes, "--routes-format", "json"])
        #expect(code == 1, "apply exits 1 on an invalid manifest: \(err)")
        #expect(targets("b.test") == 1 && targets("a.test") == 2, "apply --routes dropped b: \(table())")
        #expect(try await s.containers("b").count == 1)  // and b's replica was left alone
        await s.cleanup()
    }
}
