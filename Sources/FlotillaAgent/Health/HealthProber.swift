import FlotillaCore
import FlotillaEngine

/// How a replica's health check is carried out: the seam between the probes' bookkeeping
/// (``ProbeMonitor``, the route writer) and the network, or the simulator's replicas.
///
/// Contract: ``run(_:port:)`` answers within about the check's timeout (a replica that does not
/// answer is unhealthy, never a hang) and never throws; `detail` is what an operator reads.
/// `healthy` is nil when the probe could not be carried out for a reason of this host's (the
/// daemon out of file descriptors): no verdict on the replica, which must not be failed for it.
public protocol HealthProbing: Sendable {
    func run(_ check: HealthCheck, port: Int) async -> (healthy: Bool?, detail: String)
}

extension HealthProbing {
    /// Whether the replica passed (no verdict counts as not passed: nothing is routed on it).
    public func probe(_ check: HealthCheck, port: Int) async -> Bool {
        await run(check, port: port).healthy == true
    }
}

/// Probes a replica from the host, as the manifest's `health` says: `http` is a GET on
/// 127.0.0.1:<host port><path> (2xx and 3xx healthy), `tcp` a connect.
public struct HealthProber: HealthProbing {
    public init() {}

    /// The probe's outcome, and what the operator should read about it ("HTTP 503",
    /// "no answer within 2s", "connection refused").
    public func run(_ check: HealthCheck, port: Int) async -> (healthy: Bool?, detail: String) {
        let timeout = Duration.milliseconds(check.timeout.milliseconds)
        switch check.probe {
        case .tcp:
            switch await HTTP1Client.canConnect(host: "127.0.0.1", port: port, timeout: timeout) {
            case true?: return (true, "connected")
            case false?: return (false, "no TCP connection to port \(port) within \(check.timeout)")
            case nil: return (nil, "not probed: this process has no file descriptor for the connection")
            }
        case .http(let path):
            let client = HTTP1Client(target: .tcp(host: "127.0.0.1", port: port))
            do {
                let status = try await client.status(.GET, path, timeout: timeout)
                return ((200..<400).contains(status), "HTTP \(status) from GET \(path)")
            } catch let error as EngineError {
                if case .timeout = error { return (false, "no answer from GET \(path) within \(check.timeout)") }
                return (false, "GET \(path): \(error)")
            } catch where HTTP1Client.isLocalExhaustion(error) {
                return (nil, "not probed: this process has no file descriptor for the connection")
            } catch {
                return (false, "GET \(path) on port \(port): \(error)")
            }
        }
    }
}
