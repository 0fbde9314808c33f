/// Docker Engine API payloads, only the fields Flotilla reads or writes. Both Docker and
/// Podman's compat API produce these; fields one of them omits are optional.
public struct EngineVersion: Codable, Sendable {
    public var version: String?
    public var apiVersion: String
    public var minAPIVersion: String?
    public var os: String?
    public var components: [Component]?

    public struct Component: Codable, Sendable {
        public var name: String
        public var version: String?
        enum CodingKeys: String, CodingKey { case name = "Name", version = "Version" }
    }

    /// "Docker Engine - Community 20.10.24" or "Podman Engine 4.3.1".
    public var engineName: String {
        let name = components?.first { $0.name.contains("Engine") }?.name ?? "Engine"
        return "\(name) \(version ?? "?")"
    }

    enum CodingKeys: String, CodingKey {
        case version = "Version", apiVersion = "ApiVersion", minAPIVersion = "MinAPIVersion", os = "Os", components = "Components"
    }
}

struct ContainerSummaryDTO: Decodable, Sendable {
    struct Port: Decodable, Sendable {
        var privatePort: Int?
        var publicPort: Int?
        var ip: String?
        enum CodingKeys: String, CodingKey { case privatePort = "PrivatePort", publicPort = "PublicPort", ip = "IP" }
    }

    var id: String
    var names: [String]?
    var labels: [String: String]?
    var state: String?
    var created: Int64?
    var ports: [Port]?

    enum CodingKeys: String, CodingKey {
        case id = "Id", names = "Names", labels = "Labels", state = "State", created = "Created", ports = "Ports"
    }
}

/// The part of a container's inspect document that ``EngineClient/observeContainer(_:label:value:)`` reads.
struct ContainerInspectDTO: Decodable, Sendable {
    struct State: Decodable, Sendable {
        var status: String?
        enum CodingKeys: String, CodingKey { case status = "Status" }
    }
    struct Config: Decodable, Sendable {
        var labels: [String: String]?
        enum CodingKeys: String, CodingKey { case labels = "Labels" }
    }
    struct NetworkSettings: Decodable, Sendable {
        struct Binding: Decodable, Sendable {
            var hostPort: String?
            enum CodingKeys: String, CodingKey { case hostPort = "HostPort" }
        }
        var ports: [String: [Binding]?]?
        enum CodingKeys: String, CodingKey { case ports = "Ports" }
    }

    var id: String
    var name: String
    var created: String?
    var state: State?
    var config: Config?
    var networkSettings: NetworkSettings?

    enum CodingKeys: String, CodingKey {
        case id = "Id", name = "Name", created = "Created", state = "State", config = "Config", networkSettings = "NetworkSettings"
    }
}

struct ContainerCreateDTO: Encodable, Sendable {
    struct HostConfig: Encodable, Sendable {
        struct Binding: Encodable, Sendable {
            var hostIp: String
            var hostPort: String
            enum CodingKeys: String, CodingKey { case hostIp = "HostIp", hostPort = "HostPort" }
        }
        struct Restart: Encodable, Sendable {
            var name: String
            var maximumRetryCount: Int?
            enum CodingKeys: String, CodingKey { case name = "Name", maximumRetryCount = "MaximumRetryCount" }
        }
        var networkMode: String
        var portBindings: [String: [Binding]]?
        var binds: [String]?
        var memory: Int64?
        var nanoCpus: Int64?
        var restartPolicy: Restart?
        enum CodingKeys: String, CodingKey {
            case networkMode = "NetworkMode", portBindings = "PortBindings", binds = "Binds", memory = "Memory", nanoCpus = "NanoCpus"
            case restartPolicy = "RestartPolicy"
        }
    }

    struct NetworkingConfig: Encodable, Sendable {
        var endpointsConfig: [String: EndpointConfig]
        enum CodingKeys: String, CodingKey { case endpointsConfig = "EndpointsConfig" }
    }

    var image: String
    var entrypoint: [String]?
    var cmd: [String]?
    var env: [String]
    var labels: [String: String]
    var stopTimeout: Int
    var exposedPorts: [String: [String: String]]?
    var hostConfig: HostConfig
    var networkingConfig: NetworkingConfig?

    enum CodingKeys: String, CodingKey {
        case image = "Image", entrypoint = "Entrypoint", cmd = "Cmd", env = "Env", labels = "Labels", stopTimeout = "StopTimeout"
        case exposedPorts = "ExposedPorts", hostConfig = "HostConfig", networkingConfig = "NetworkingConfig"
    }
}

struct EndpointConfig: Encodable, Sendable {
    var aliases: [String]
    enum CodingKeys: String, CodingKey { case aliases = "Aliases" }
}

struct NetworkConnectDTO: Encodable, Sendable {
    var container: String
    var endpointConfig: EndpointConfig
    enum CodingKeys: String, CodingKey { case container = "Container", endpointConfig = "EndpointConfig" }
}

struct NetworkCreateDTO: Encodable, Sendable {
    var name: String
    var driver: String
    var labels: [String: String]
    var checkDuplicate: Bool
    /// Overlay networks in swarm mode: standalone containers may join too (`docker run --network`).
    var attachable: Bool = false
    enum CodingKeys: String, CodingKey { case name = "Name", driver = "Driver", labels = "Labels", checkDuplicate = "CheckDuplicate", attachable = "Attachable" }
}

/// A network or volume in a list: its name and labels.
struct NamedObjectDTO: Decodable, Sendable {
    var name: String
    var labels: [String: String]?
    enum CodingKeys: String, CodingKey { case name = "Name", labels = "Labels" }
}

struct VolumeListDTO: Decodable, Sendable {
    var volumes: [NamedObjectDTO]?
    enum CodingKeys: String, CodingKey { case volumes = "Volumes" }
}

struct VolumeCreateDTO: Encodable, Sendable {
    var name: String
    var labels: [String: String]
    enum CodingKeys: String, CodingKey { case name = "Name", labels = "Labels" }
}

struct ContainerCreatedDTO: Decodable, Sendable {
    var id: String
    enum CodingKeys: String, CodingKey { case id = "Id" }
}

/// Docker sends `{"message": …}`; Podman sends `{"cause": …, "message": …, "response": N}`.
struct EngineErrorDTO: Decodable, Sendable {
    var message: String?
    var cause: String?
}

/// One line of a pull progress stream.
struct PullProgressDTO: Decodable, Sendable {
    var status: String?
    var error: String?
    var errorDetail: Detail?
    struct Detail: Decodable, Sendable { var message: String? }
}
