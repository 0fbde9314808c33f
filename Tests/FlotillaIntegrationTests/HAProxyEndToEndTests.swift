import Foundation
import Testing

extension EndToEndSuites {
    /// Flotilla's routes served by a real HAProxy on loopback (master-worker): each candidate
    /// checked with `haproxy -c` before it goes live, loaded by SIGUSR2 to the master.
    @Suite("Routes end to end through a real HAProxy",
           .enabled(if: TestEngine.available && ProxyStack.Proxy.installed(.haproxy), "needs the engine and haproxy (run scripts/test)"),
           .serialized)
    struct HAProxyEndToEndTests {
        @Test func haproxyServesEverySegmentStripsAnswers503AndSplitsACanary() async throws {
            let s = try await Scenario("haproxy", ports: 27750...27799)
            let stack = try ProxyStack(.haproxy, s, port: 27700, adminPort: 27701)
            defer { Task { await stack.stop(); await s.cleanup() } }
            try await ProxyRoutingScenario.run(stack, s)
            // Here, not only in the defer: its Task may not run before the test process ends.
            await s.cleanup()
        }
    }
}
