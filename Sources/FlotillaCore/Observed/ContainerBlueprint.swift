/// Exactly what to ask the engine for when creating one replica of a service: the spec turned
/// into engine terms, with the ownership labels and (for host networking) the replica's port.
public struct ContainerBlueprint: Sendable, Hashable {
    public var image: String
    public var entrypoint: [String]?
    public var command: [String]?
    public var env: [String: String]
    public var labels: [String: String]
    public var network: NetworkMode
    /// The container port to publish on 127.0.0.1 (bridge networking only).
    public var publishedPort: Int?
    public var volumes: [String]
    public var stopTimeoutSeconds: Int
    public var hostPort: Int?
    public var resources: Resources
    public var restartPolicy: RestartPolicy
    public var restartMaxRetries: Int?
    /// Extra published ports.
    public var ports: [PortMapping]
    /// Named networks, each with its aliases (the service name among them).
    public var networks: [NetworkAttachment]

    public init(spec: ServiceSpec, project: String, hostPort: Int?, role: ReplicaRole = .regular) {
        image = spec.image
        entrypoint = spec.entrypoint
        network = spec.network
        volumes = spec.volumes
        stopTimeoutSeconds = max(1, (spec.stopTimeout.milliseconds + 999) / 1000)
        env = spec.env
        for (key, secret) in spec.secrets { env[key] = secret.value }
        resources = spec.resources
        restartPolicy = spec.restartPolicy
        restartMaxRetries = spec.restartMaxRetries
        ports = spec.ports
        // Like compose: every replica answers to its service name on each network it joins.
        networks = spec.networks.map { NetworkAttachment(name: $0.name, aliases: [spec.name] + $0.aliases.filter { $0 != spec.name }) }
        self.hostPort = hostPort
        var labels = spec.labels
        labels[OwnershipLabel.project] = project
        labels[OwnershipLabel.service] = spec.name
        labels[OwnershipLabel.specHash] = spec.specHash
        labels[OwnershipLabel.canonicalSpec] = spec.canonicalContainerForm
        if let port = spec.port { labels[OwnershipLabel.containerPort] = String(port) }
        if role == .canary { labels[OwnershipLabel.role] = ReplicaRole.canary.rawValue }
        if let checks = ReplicaChecks(spec).label { labels[OwnershipLabel.checks] = checks }
        if spec.network == .host, let hostPort {
            labels[OwnershipLabel.hostPort] = String(hostPort)
            // Host networking: the replica listens on its own host port, told through PORT.
            env["PORT"] = String(hostPort)
            command = spec.command?.map { Self.substitute(port: hostPort, in: $0) }
        } else {
            command = spec.command?.map { arg in spec.port.map { Self.substitute(port: $0, in: arg) } ?? arg }
            if let port = spec.port { env["PORT"] = env["PORT"] ?? String(port) }
        }
        publishedPort = spec.network == .bridge ? spec.port : nil
        self.labels = labels
    }

    /// Replaces `${PORT}` (and only that variable) in a command argument.
    static func substitute(port: Int, in argument: String) -> String {
        let token = Array("${PORT}".utf8), bytes = Array(argument.utf8), value = Array(String(port).utf8)
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            if bytes[i...].starts(with: token) {
                out += value
                i += token.count
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
