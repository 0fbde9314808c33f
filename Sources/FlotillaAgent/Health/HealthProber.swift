import FlotillaCore
import FlotillaEngine

/// Probes a replica from the host, as the manifest's `health` says: `http` is a GET on
/// 127.0.0.1:<host port><path> (2xx and 3xx healthy), `tcp` a connect.
public struct HealthProber: Sendable {
    public init() {}

    public func probe(_ check: HealthCheck, port: Int) async -> Bool {
        let timeout = Duration.milliseconds(check.timeout.milliseconds)
        switch check.probe {
        case .tcp:
            return await HTTP1Client.canConnect(host: "127.0.0.1", port: port, timeout: timeout)
        case .http(let path):
            let client = HTTP1Client(target: .tcp(host: "127.0.0.1", port: port))
            guard let status = try? await client.status(.GET, path, timeout: timeout) else { return false }
            return (200..<400).contains(status)
        }
    }
}
