/// One service of the desired state: the validated form of one manifest document.
///
/// Every field has its default filled in, so two manifests that mean the same thing produce
/// equal specs (and equal ``specHash``es) however they were written.
public struct ServiceSpec: Sendable, Hashable, Codable {
    public var name: String
    public var image: String
    public var command: [String]?
    public var replicas: Int
    public var port: Int?
    public var network: NetworkMode
    public var env: [String: String]
    public var routes: [Route]
    public var health: HealthCheck?
    public var update: UpdatePolicy
    public var stopTimeout: TimeSpan
    public var dependsOn: [String]
    public var labels: [String: String]
    public var volumes: [String]
    public var pull: PullPolicy

    public init(
        name: String, image: String, command: [String]? = nil, replicas: Int = 1, port: Int? = nil,
        network: NetworkMode = .bridge, env: [String: String] = [:], routes: [Route] = [],
        health: HealthCheck? = nil, update: UpdatePolicy = UpdatePolicy(),
        stopTimeout: TimeSpan = .seconds(10), dependsOn: [String] = [], labels: [String: String] = [:],
        volumes: [String] = [], pull: PullPolicy = .missing
    ) {
        self.name = name
        self.image = image
        self.command = command
        self.replicas = replicas
        self.port = port
        self.network = network
        self.env = env
        self.routes = routes
        self.health = health
        self.update = update
        self.stopTimeout = stopTimeout
        self.dependsOn = dependsOn
        self.labels = labels
        self.volumes = volumes
        self.pull = pull
    }

    enum CodingKeys: String, CodingKey {
        case name, image, command, replicas, port, network, env, routes, health, update
        case stopTimeout = "stop_timeout", dependsOn = "depends_on", labels, volumes, pull
    }
}

/// How a service's containers are networked.
public enum NetworkMode: String, Sendable, Hashable, Codable, CaseIterable {
    /// The engine's default network; `port` is published on 127.0.0.1 at an engine-chosen host port.
    case bridge
    /// Host networking; each replica gets its own host port from Flotilla's port range (env `PORT`).
    case host
}

/// When the engine should pull a service's image.
public enum PullPolicy: String, Sendable, Hashable, Codable, CaseIterable {
    case missing, always, never
}

/// One `host` + `path` that the reverse proxy serves from a service.
public struct Route: Sendable, Hashable, Codable {
    public var host: String
    public var path: String

    public init(host: String, path: String = "/") {
        self.host = host
        self.path = path
    }
}

/// A health check that Flotilla runs from the host against a replica's host port.
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

/// How replicas are replaced when a service's spec changes.
public struct UpdatePolicy: Sendable, Hashable, Codable {
    public enum Order: String, Sendable, Hashable, Codable, CaseIterable {
        /// Start the new replica, wait until it is healthy, then stop an old one: no gap in service.
        case startFirst = "start-first"
        /// Stop an old replica first, then start its replacement: for services that cannot run twice.
        case stopFirst = "stop-first"
    }

    public var order: Order
    public var parallelism: Int

    public init(order: Order = .startFirst, parallelism: Int = 1) {
        self.order = order
        self.parallelism = parallelism
    }
}
