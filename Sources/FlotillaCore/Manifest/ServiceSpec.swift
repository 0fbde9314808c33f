import Synchronization

/// One service of the desired state: the validated form of one manifest document.
///
/// Every field has its default filled in, so two manifests that mean the same thing produce
/// equal specs (and equal ``specHash``es) however they were written.
public struct ServiceSpec: Sendable, Hashable, Codable {
    public var name: String { didSet { memo = SpecHashMemo() } }
    public var image: String { didSet { memo = SpecHashMemo() } }
    /// Replaces the image's entrypoint (`command` then gives its arguments).
    public var entrypoint: [String]? { didSet { memo = SpecHashMemo() } }
    /// Where replicas may run in Swarm mode (no effect on one host).
    public var placement: Placement? { didSet { memo = SpecHashMemo() } }
    public var command: [String]? { didSet { memo = SpecHashMemo() } }
    public var replicas: Int { didSet { memo = SpecHashMemo() } }
    public var port: Int? { didSet { memo = SpecHashMemo() } }
    public var network: NetworkMode { didSet { memo = SpecHashMemo() } }
    public var env: [String: String] { didSet { memo = SpecHashMemo() } }
    /// Values read from files (`env_file`, `secrets`): passed to the container as environment
    /// variables, shown and hashed only as digests.
    public var secrets: [String: SecretValue] { didSet { memo = SpecHashMemo() } }
    public var routes: [Route] { didSet { memo = SpecHashMemo() } }
    /// Gates routes: a replica failing it leaves the route table until it passes again. Also
    /// what a new replica must pass before a rolling update goes on.
    public var readiness: HealthCheck? { didSet { memo = SpecHashMemo() } }
    /// A replica failing it `retries` times in a row is replaced.
    public var liveness: HealthCheck? { didSet { memo = SpecHashMemo() } }
    public var update: UpdatePolicy { didSet { memo = SpecHashMemo() } }
    public var stopTimeout: TimeSpan { didSet { memo = SpecHashMemo() } }
    public var dependsOn: [String] { didSet { memo = SpecHashMemo() } }
    public var labels: [String: String] { didSet { memo = SpecHashMemo() } }
    public var volumes: [String] { didSet { memo = SpecHashMemo() } }
    public var pull: PullPolicy { didSet { memo = SpecHashMemo() } }
    public var resources: Resources { didSet { memo = SpecHashMemo() } }
    public var restartPolicy: RestartPolicy { didSet { memo = SpecHashMemo() } }
    /// For `on-failure:N`: how many restarts the engine tries; nil: no limit.
    public var restartMaxRetries: Int? { didSet { memo = SpecHashMemo() } }
    /// Extra published ports, beyond the routed `port`.
    public var ports: [PortMapping] { didSet { memo = SpecHashMemo() } }
    /// Named networks to join (created by Flotilla when missing); empty: the engine's default.
    public var networks: [NetworkAttachment] { didSet { memo = SpecHashMemo() } }
    /// ``specHash``, once computed (every change above starts a new memo). Equal to every other
    /// memo, and not encoded: it never changes what the spec is or how it compares.
    var memo = SpecHashMemo()

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

/// A spec's ``ServiceSpec/specHash``, computed at most once per version of the spec: it is asked
/// for many times in every step of every service (planner, rollout, readiness, routes), and each
/// time it built the canonical form and hashed it (a tenth of a watchdog cycle at 500 services).
final class SpecHashMemo: Sendable, Hashable {
    private let value = Mutex<String?>(nil)

    func get(_ compute: () -> String) -> String {
        if let known = value.withLock({ $0 }) { return known }
        let computed = compute()
        value.withLock { $0 = computed }
        return computed
    }

    static func == (a: SpecHashMemo, b: SpecHashMemo) -> Bool { true }
    func hash(into hasher: inout Hasher) {}
}
