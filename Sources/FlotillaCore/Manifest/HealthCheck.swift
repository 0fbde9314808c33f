/// A health check that Flotilla runs from the host against a replica's host port, in the
/// readiness role (gates routes and rollouts) or the liveness role (replaces a failing replica).
public struct HealthCheck: Sendable, Hashable, Codable {
    public enum Probe: Sendable, Hashable, Codable {
        /// `GET 127.0.0.1:<host port><path>`; 2xx and 3xx are healthy.
        case http(path: String)
        /// A TCP connect to `127.0.0.1:<host port>`.
        case tcp
    }

    public var probe: Probe
    public var interval: TimeSpan
    public var timeout: TimeSpan
    public var retries: Int
    public var startPeriod: TimeSpan

    public init(
        probe: Probe, interval: TimeSpan = .seconds(5), timeout: TimeSpan = .seconds(2),
        retries: Int = 3, startPeriod: TimeSpan = .seconds(0)
    ) {
        self.probe = probe
        self.interval = interval
        self.timeout = timeout
        self.retries = retries
        self.startPeriod = startPeriod
    }

    // Encoded the way the manifest writes it: `http: /path` or `tcp: true`.
    enum CodingKeys: String, CodingKey {
        case http, tcp, interval, timeout, retries, startPeriod = "start_period"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let path = try c.decodeIfPresent(String.self, forKey: .http) { probe = .http(path: path) } else { probe = .tcp }
        interval = try c.decode(TimeSpan.self, forKey: .interval)
        timeout = try c.decode(TimeSpan.self, forKey: .timeout)
        retries = try c.decode(Int.self, forKey: .retries)
        startPeriod = try c.decode(TimeSpan.self, forKey: .startPeriod)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch probe {
        case .http(let path): try c.encode(path, forKey: .http)
        case .tcp: try c.encode(true, forKey: .tcp)
        }
        try c.encode(interval, forKey: .interval)
        try c.encode(timeout, forKey: .timeout)
        try c.encode(retries, forKey: .retries)
        try c.encode(startPeriod, forKey: .startPeriod)
    }
}

