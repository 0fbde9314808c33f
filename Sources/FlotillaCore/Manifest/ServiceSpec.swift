/// One service of the desired state: the validated form of one manifest document.
///
/// Every field has its default filled in, so two manifests that mean the same thing produce
/// equal specs (and equal ``specHash``es) however they were written.
public struct ServiceSpec: Sendable, Hashable, Codable {
    public var name: String
    public var image: String
    /// Replaces the image's entrypoint (`command` then gives its arguments).
    public var entrypoint: [String]?
    /// Where replicas may run in Swarm mode (no effect on one host).
    public var placement: Placement?
    public var command: [String]?
    public var replicas: Int
    public var port: Int?
    public var network: NetworkMode
    public var env: [String: String]
    /// Values read from files (`env_file`, `secrets`): passed to the container as environment
    /// variables, shown and hashed only as digests.
    public var secrets: [String: SecretValue]
    public var routes: [Route]
    /// Gates routes: a replica failing it leaves the route table until it passes again. Also
    /// what a new replica must pass before a rolling update goes on.
    public var readiness: HealthCheck?
    /// A replica failing it `retries` times in a row is replaced.
    public var liveness: HealthCheck?
    public var update: UpdatePolicy
    public var stopTimeout: TimeSpan
    public var dependsOn: [String]
    public var labels: [String: String]
    public var volumes: [String]
    public var pull: PullPolicy
    public var resources: Resources
    public var restartPolicy: RestartPolicy
    /// For `on-failure:N`: how many restarts the engine tries; nil: no limit.
    public var restartMaxRetries: Int?
    /// Extra published ports, beyond the routed `port`.
    public var ports: [PortMapping]
    /// Named networks to join (created by Flotilla when missing); empty: the engine's default.
    public var networks: [NetworkAttachment]

    public init(
        name: String, image: String, command: [String]? = nil, replicas: Int = 1, port: Int? = nil,
        network: NetworkMode = .bridge, env: [String: String] = [:], secrets: [String: SecretValue] = [:], routes: [Route] = [],
        readiness: HealthCheck? = nil, liveness: HealthCheck? = nil, update: UpdatePolicy = UpdatePolicy(),
        stopTimeout: TimeSpan = .seconds(10), dependsOn: [String] = [], labels: [String: String] = [:],
        volumes: [String] = [], pull: PullPolicy = .missing, resources: Resources = Resources(),
        restartPolicy: RestartPolicy = .no, ports: [PortMapping] = [], networks: [NetworkAttachment] = []
    ) {
        self.name = name
        self.image = image
        self.command = command
        self.replicas = replicas
        self.port = port
        self.network = network
        self.env = env
        self.secrets = secrets
        self.routes = routes
        self.readiness = readiness
        self.liveness = liveness
        self.update = update
        self.stopTimeout = stopTimeout
        self.dependsOn = dependsOn
        self.labels = labels
        self.volumes = volumes
        self.pull = pull
        self.resources = resources
        self.restartPolicy = restartPolicy
        self.ports = ports
        self.networks = networks
        self.entrypoint = nil
        self.placement = nil
    }

    enum CodingKeys: String, CodingKey {
        case name, image, command, replicas, port, network, env, secrets, routes, readiness, liveness, update
        case stopTimeout = "stop_timeout", dependsOn = "depends_on", labels, volumes, pull, resources
        case restartPolicy = "restart_policy", restartMaxRetries = "restart_max_retries", ports, networks, entrypoint, placement
    }
}

/// How a service's containers are networked.
public enum NetworkMode: String, Sendable, Hashable, Codable, CaseIterable {
    /// The engine's default network (or the named `networks`); `port` is published on 127.0.0.1
    /// at an engine-chosen host port.
    case bridge
    /// Host networking; each replica gets its own host port from Flotilla's port range (env `PORT`).
    case host
}

/// When the engine should pull a service's image.
public enum PullPolicy: String, Sendable, Hashable, Codable, CaseIterable {
    case missing, always, never
}

/// The engine's own restart policy for a container. Flotilla replaces dead replicas itself, so
/// `no` is the default; the others make the engine restart a replica before Flotilla notices.
public enum RestartPolicy: String, Sendable, Hashable, Codable, CaseIterable {
    case no
    case always
    case onFailure = "on-failure"
    case unlessStopped = "unless-stopped"
}
