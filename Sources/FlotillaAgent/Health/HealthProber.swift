import FlotillaCore
import FlotillaEngine

/// How a replica's health check is carried out: the seam between the probes' bookkeeping
/// (``ProbeMonitor``, the route writer) and the network, or the simulator's replicas.
///
/// Contract: ``run(_:port:)`` answers within about the check's timeout (a replica that does not
/// answer is unhealthy, never a hang) and never throws; `detail` is what an operator reads.
public protocol HealthProbing: Sendable {
    func run(_ check: HealthCheck, port: Int) async -> (healthy: Bool, detail: String)
}

extension HealthProbing {
    public func probe(_ check: HealthCheck, port: Int) async -> Bool {
        await run(check, port: port).healthy
    }
}

/// Probes a replica from the host, as the manifest's `health` says: `http` is a GET on
/// 127.0.0.1:<host port><path> (2xx and 3xx healthy), `tcp` a connect.
public struct HealthProber: HealthProbing {
    public init() {}

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
