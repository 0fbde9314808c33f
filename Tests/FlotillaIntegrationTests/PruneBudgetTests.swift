import FlotillaAgent
import FlotillaCore
import Foundation
import Testing

/// A `git rm` of most manifests (or another directory swapped in) must not wipe the project.
@Suite("The prune budget", .enabled(if: TestEngine.available, "needs FLOTILLA_TEST_ENGINE (run scripts/test)"))
struct PruneBudgetTests {
    @Test func removingMostServicesAtOnceNeedsAllowMassPrune() async throws {
        let s = try await Scenario("prune-budget", ports: 27400...27499)
        defer { Task { await s.cleanup() } }
        for name in ["a", "b", "c", "d"] { try s.write("\(name).yaml", Scenario.httpService(name)) }
        let first = try s.cli("apply")
        #expect(first.0 == 0, "\(first.2)")
        for name in ["b", "c", "d"] { try s.remove("\(name).yaml") }

        let held = try s.cli("apply")
        #expect(held.0 == 1, "the host does not match the manifests: exit 1")
        #expect(held.2.contains("3 of the project's 4 services would be removed") && held.2.contains("not removed (prune budget): b, c, d"), "\(held.2)")
        #expect(Set(try await s.containers().map(\.service)) == ["a", "b", "c", "d"])

        let forced = try s.cli("apply", ["--allow-mass-prune"])
        #expect(forced.0 == 0, "\(forced.2)")
        #expect(Set(try await s.containers().map(\.service)) == ["a"])
        await s.cleanup()
    }
}
