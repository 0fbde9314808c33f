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
        /// Exec form, `["CMD", …]` (``healthTest(_:taskPort:)``).
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

    /// Added to a check's timeout on Swarm: Docker runs it with an exec inside the task, whose
    /// start counts toward the timeout (on one host Flotilla probes from outside, and the
    /// timeout is the program's alone). On loaded cores that start took over a second, three
    /// times in a row, and Swarm rolled a healthy update back.
    public static let execAllowanceNanoseconds: Int64 = 4_000_000_000

    /// Whether the manifest's `command` names `${PORT}` (replaced by the port, as on one host).
    static func usesPort(_ spec: ServiceSpec) -> Bool { spec.command?.contains { $0.contains("${PORT}") } == true }

    /// The entrypoint that puts a task's `$PORT` into its arguments: POSIX sh replaces every
    /// `${PORT}` in each argument (never re-reading the result, so nothing else in an argument is
    /// expanded), then execs them. Needs /bin/sh in the image; replaces the image's ENTRYPOINT
    /// unless the manifest writes `entrypoint:` (which then follows it).
    public static let portExpander = ["/bin/sh", "-c",
        #"for a do shift; r=; while :; do case $a in *'${PORT}'*) r=$r${a%%'${PORT}'*}$PORT; a=${a#*'${PORT}'};; *) break;; esac; done; set -- "$@" "$r$a"; done; exec "$@""#,
        "flotilla-port"]

    /// A TCP connect to `$1` (or the task's `$PORT`): `nc -z` where nc has it, else busybox's
    /// form, a connect that runs `sleep 0` and closes (busybox's nc has no `-z`: every TCP check
    /// of a busybox image failed; reading stdin's end instead waits on a server that never closes).
    static let tcpScript = #"p=${1:-$PORT}; nc -z 127.0.0.1 "$p" 2>/dev/null || exec nc 127.0.0.1 "$p" -e sleep 0 2>/dev/null"#

    /// The health check in exec form: the path is one argument, so no character of it (`&`, `;`,
    /// a space) means anything to a shell. A task's own port (`taskPort` nil) is known only from
    /// its env: then sh reads `$PORT`, and the path still arrives as an argument (`$1`).
    static func healthTest(_ probe: HealthCheck.Probe, taskPort: Int?) -> [String] {
        switch (probe, taskPort) {
        case (.http(let path), let port?): return ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:\(port)\(path)"]
        case (.http(let path), nil): return ["CMD", "/bin/sh", "-c", #"exec wget -q -O /dev/null "http://127.0.0.1:$PORT$1""#, "flotilla-health", path]
        case (.tcp, let port?): return ["CMD", "/bin/sh", "-c", tcpScript, "flotilla-health", String(port)]
        case (.tcp, nil): return ["CMD", "/bin/sh", "-c", tcpScript, "flotilla-health"]
        }
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
        if Self.usesPort(spec) {
            if SwarmPorts.needsPorts(spec) {
                // Each task its own port, known only inside the task (Swarm expands templates in
                // env, hostname and mounts, never in arguments): the image's /bin/sh puts it in.
                entrypoint = Self.portExpander + (spec.entrypoint ?? [])
            } else if let port = spec.port {
                args = spec.command?.map { ContainerBlueprint.substitute(port: port, in: $0) }
            }
        }
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
            func ns(_ span: TimeSpan) -> Int64 { Int64(span.milliseconds) * 1_000_000 }
            return Healthcheck(test: Self.healthTest(check.probe, taskPort: SwarmPorts.needsPorts(spec) ? nil : spec.port),
                               intervalNanoseconds: ns(check.interval), timeoutNanoseconds: ns(check.timeout) + Self.execAllowanceNanoseconds,
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
        // How Swarm runs ${PORT} and health checks changed (they crash-looped, or always passed):
        // the services that use them are rolled once.
        if SwarmServiceBlueprint.usesPort(self) || readiness != nil || liveness != nil { form += "swarm.blueprint=2\n" }
        if let placement { form += "swarm." + placement.canonicalForm + "\n" }
        return String(Digests.sha256Hex(Array(form.utf8)).prefix(16))
    }
}
