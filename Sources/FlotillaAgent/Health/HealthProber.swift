import FlotillaCore
import FlotillaEngine

/// Probes a replica from the host, as the manifest's `health` says: `http` is a GET on
/// 127.0.0.1:<host port><path> (2xx and 3xx healthy), `tcp` a connect.
public struct HealthProber: Sendable {
    public init() {}

    public func probe(_ check: HealthCheck, port: Int) async -> Bool {
        await run(check, port: port).healthy
    }

    /// The probe's outcome, and what the operator should read about it ("HTTP 503",
    /// "no answer within 2s", "connection refused").
    public func run(_ check: HealthCheck, port: Int) async -> (healthy: Bool, detail: String) {
        let timeout = Duration.milliseconds(check.timeout.milliseconds)
        switch check.probe {
        case .tcp:
            let ok = await HTTP1Client.canConnect(host: "127.0.0.1", port: port, timeout: timeout)
            return (ok, ok ? "connected" : "no TCP connection to port \(port) within \(check.timeout)")
        case .http(let path):
            let client = HTTP1Client(target: .tcp(host: "127.0.0.1", port: port))
            do {
                let status = try await client.status(.GET, path, timeout: timeout)
                return ((200..<400).contains(status), "HTTP \(status) from GET \(path)")
            } catch let error as EngineError {
                if case .timeout = error { return (false, "no answer from GET \(path) within \(check.timeout)") }
                return (false, "GET \(path): \(error)")
            } catch {
                return (false, "GET \(path) on port \(port): \(error)")
            }
        }
    }
}
