/// What to ask a Swarm manager for, for one Flotilla service: the manifest in Swarm's terms
/// (`POST /services/create`), labelled like containers are, so that only the project's services
/// are ever touched and a changed manifest is told from an unchanged one by its spec hash.
///
/// Swarm does the scheduling and the rolling update itself (`UpdateConfig`: order, parallelism,
/// failure action rollback); Flotilla only says what should run.
public struct SwarmServiceBlueprint: Sendable, Hashable {
    public var name: String
    public var labels: [String: String]
    public var image: String
    /// Swarm's `ContainerSpec.Command` is the entrypoint, `Args` the command.
    public var entrypoint: [String]?
    public var args: [String]?
    public var env: [String]
    public var containerLabels: [String: String]
    public var replicas: Int
    public var stopGracePeriodNanoseconds: Int64
    public var updateParallelism: Int
    /// `start-first` or `stop-first`.
    public var updateOrder: String
    public var memoryBytes: Int64?
    public var nanoCPUs: Int64?
    /// Swarm's restart condition, `on-failure` or `any`.
    public var restartCondition: String
    public var restartMaxAttempts: Int?
    /// Named volumes and host paths (`SOURCE:TARGET[:ro]`), as `Mounts`.
    public var mounts: [Mount]
    public var networks: [NetworkAttachment]
    public var placement: Placement
    /// The service's secrets as Swarm secrets, mounted at `/run/secrets/NAME` (never in `env`).
    public var secrets: [Secret]
    /// The task container's health check (Swarm's `HealthConfig`), from `readiness` (or
    /// `liveness`): a task counts as running only once it passes, and Swarm replaces a task
    /// that fails it. Run inside the container, so the image needs `wget` (http) or `nc` (tcp).
    public var healthcheck: Healthcheck?

    public struct Healthcheck: Sendable, Hashable {
        /// `["CMD-SHELL", "…"]`.
        public var test: [String]
        public var intervalNanoseconds: Int64
        public var timeoutNanoseconds: Int64
        public var retries: Int
        public var startPeriodNanoseconds: Int64
    }

    /// A Swarm secret: its name carries the value's keyed digest, so a rotated value is a new
    /// secret, the service spec changes and Swarm rolls the service.
    public struct Secret: Sendable, Hashable, CustomStringConvertible {
        public var swarmName: String
        /// The file under /run/secrets (the manifest's secret name).
        public var fileName: String
        /// The value, handed to the engine only when the secret is created.
        public var value: SecretValue
        public var description: String { "\(swarmName) (\(value))" }
    }

    public struct Mount: Sendable, Hashable {
        public var type: String  // volume or bind
        public var source: String
        public var target: String
        public var readOnly: Bool
    }

    /// The Swarm service name of a Flotilla service: `<project>_<service>`, as `docker stack` names them.
    public static func serviceName(project: String, service: String) -> String { "\(project)_\(service)" }

    /// On a Swarm service: the container-level spec hash of its spec (``ServiceSpec/specHash``).
    public static let containerHashLabel = "io.flotilla.swarm.container-hash"

    /// The Swarm service of a canary release: `<project>_<service>-canary`.
    public static func canaryName(project: String, service: String) -> String { serviceName(project: project, service: service) + "-canary" }

    /// - Parameter ports: the service's port block and the half this spec's tasks use
    ///   (``SwarmPorts``), for a `network: host` service with a `port`.
    /// - Parameter role: `.canary` for the second service of a canary release: named
    ///   ``canaryName(project:service:)``, `update.canary.replicas` tasks, labelled as the canary.
    public init(spec: ServiceSpec, project: String, ports: (block: Int, half: Int)? = nil, role: ReplicaRole = .regular) {
        name = role == .canary ? Self.canaryName(project: project, service: spec.name) : Self.serviceName(project: project, service: spec.name)
        labels = [OwnershipLabel.project: project, OwnershipLabel.service: spec.name, OwnershipLabel.specHash: spec.swarmHash]
        labels[Self.containerHashLabel] = spec.specHash
        if role == .canary { labels[OwnershipLabel.role] = ReplicaRole.canary.rawValue }
        image = spec.image
        entrypoint = spec.entrypoint
        args = spec.command
        var environment = spec.env
        // Secrets are files in Swarm mode; NAME_FILE says where, as official images expect.
        secrets = spec.secrets.keys.sorted().map { key in
            let secret = spec.secrets[key]!
            let digest = secret.digest.split(separator: ":").last.map { String($0.prefix(12)) } ?? "0"
            return Secret(swarmName: "\(project)_\(spec.name)_\(key)_\(digest)", fileName: key, value: secret)
        }
        for secret in secrets { environment[secret.fileName + "_FILE"] = "/run/secrets/" + secret.fileName }
        containerLabels = spec.labels.merging([OwnershipLabel.project: project, OwnershipLabel.service: spec.name]) { $1 }
        // Each task says which spec it runs (Swarm keeps a few finished tasks of older specs).
        containerLabels[OwnershipLabel.specHash] = spec.swarmHash
        if role == .canary { containerLabels[OwnershipLabel.role] = ReplicaRole.canary.rawValue }
        if let ports, SwarmPorts.needsPorts(spec) {
            // Each task its own port: Swarm expands the template per task (half + slot).
            // Global tasks have no slot (Swarm's template gives the node id): one per node, the half itself.
            environment["PORT"] = spec.placement?.mode == .global ? String(ports.half) : SwarmPorts.portTemplate(half: ports.half)
            labels[SwarmPorts.blockLabel] = String(ports.block)
            labels[SwarmPorts.halfLabel] = String(ports.half)
            containerLabels[SwarmPorts.halfLabel] = String(ports.half)
        } else if let port = spec.port {
            environment["PORT"] = environment["PORT"] ?? String(port)
        }
        env = environment.keys.sorted().map { "\($0)=\(environment[$0]!)" }
        healthcheck = (spec.readiness ?? spec.liveness).map { check in
            // $PORT: the task's own port (host network), or the container's port.
            let port = SwarmPorts.needsPorts(spec) ? "$PORT" : spec.port.map(String.init) ?? "$PORT"
            let command: String
            switch check.probe {
            case .http(let path): command = "wget -q -O /dev/null http://127.0.0.1:\(port)\(path) || exit 1"
            case .tcp: command = "nc -z 127.0.0.1 \(port) || exit 1"
            }
            func ns(_ span: TimeSpan) -> Int64 { Int64(span.milliseconds) * 1_000_000 }
            return Healthcheck(test: ["CMD-SHELL", command], intervalNanoseconds: ns(check.interval), timeoutNanoseconds: ns(check.timeout),
                               retries: check.retries, startPeriodNanoseconds: ns(check.startPeriod))
        }
        replicas = role == .canary ? spec.update.canary.replicas : spec.replicas
        placement = spec.placement ?? Placement()
        stopGracePeriodNanoseconds = Int64(spec.stopTimeout.milliseconds) * 1_000_000
        updateParallelism = spec.update.parallelism
        updateOrder = spec.update.order.rawValue
        memoryBytes = spec.resources.memoryBytes
        nanoCPUs = spec.resources.nanoCPUs
        switch spec.restartPolicy {
        // On one host Flotilla replaces a dead replica itself (policy `no`); in Swarm mode the
        // orchestrator does it, so `no` keeps the replica count as `any` does.
        case .no, .always, .unlessStopped: restartCondition = "any"
        case .onFailure: restartCondition = "on-failure"
        }
        restartMaxAttempts = spec.restartMaxRetries
        mounts = spec.volumes.map { volume in
            let parts = volume.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            return Mount(type: parts[0].hasPrefix("/") ? "bind" : "volume", source: parts[0], target: parts[1], readOnly: parts.count > 2 && parts[2].split(separator: ",").contains("ro"))
        }
        networks = spec.network == .host
            // The node's own network stack: Swarm's `host` network (no aliases there).
            ? [NetworkAttachment(name: "host", aliases: [])]
            : spec.networks.map { NetworkAttachment(name: $0.name, aliases: [spec.name] + $0.aliases.filter { $0 != spec.name }) }
    }
}

extension ServiceSpec {
    /// The spec hash as Swarm mode sees it: the container form plus the replica count and the
    /// update settings (Swarm applies those to the service, so changing them is an update).
    public var swarmHash: String {
        var form = canonicalContainerForm + "swarm.replicas=\(replicas)\nswarm.update=\(update.order.rawValue)/\(update.parallelism)\n"
        if let placement { form += "swarm." + placement.canonicalForm + "\n" }
        return String(Digests.sha256Hex(Array(form.utf8)).prefix(16))
    }
}
