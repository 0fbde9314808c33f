import Foundation
import Testing

extension EndToEndSuites {
    /// Flotilla's routes served by a real Caddy on loopback: each candidate checked with `caddy
    /// validate` before it goes live, loaded with `caddy reload` through the admin API.
    @Suite("Routes end to end through a real Caddy",
           .enabled(if: TestEngine.available && ProxyStack.Proxy.installed(.caddy), "needs the engine and caddy (run scripts/test)"),
           .serialized)
    struct CaddyEndToEndTests {
        @Test func caddyServesEverySegmentStripsAnswers503AndSplitsACanary() async throws {
            let s = try await Scenario("caddy", ports: 27650...27699)
            let stack = try ProxyStack(.caddy, s, port: 27600, adminPort: 27601)
            defer { Task { await stack.stop(); await s.cleanup() } }
            try await ProxyRoutingScenario.run(stack, s)
            // Here, not only in the defer: its Task may not run before the test process ends.
            await s.cleanup()
        }
    }
}
