import FlotillaCore
import Foundation

/// The Swarm part of the Engine API (`/services`, `/tasks`, `/nodes`, `/swarm`), for
/// `--orchestrator swarm`. Same transport, timeouts and typed errors as the container calls.
extension EngineClient {
    /// True when the engine is a Swarm manager (services can be created through it).
    public func isSwarmManager() async throws -> Bool {
        let response = try await call(.GET, "/info", timeout: Timeouts.inspect)
        let info = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        let swarm = info?["Swarm"] as? [String: Any]
        return (swarm?["ControlAvailable"] as? Bool) == true
    }

    /// The Swarm services carrying `label=value`.
    public func listSwarmServices(label: String, value: String) async throws -> [ObservedSwarmService] {
        let filters = try JSONSerialization.data(withJSONObject: ["label": ["\(label)=\(value)"]])
        let response = try await call(.GET, "/services?filters=" + Self.percentEncode(String(decoding: filters, as: UTF8.self)), timeout: Timeouts.list)
        let services = try JSONSerialization.jsonObject(with: Data(response.body)) as? [[String: Any]] ?? []
        return services.compactMap { service in
            guard let id = service["ID"] as? String, let spec = service["Spec"] as? [String: Any],
                  let name = spec["Name"] as? String, let version = (service["Version"] as? [String: Any])?["Index"] as? Int else { return nil }
            let labels = spec["Labels"] as? [String: String] ?? [:]
            guard labels[label] == value else { return nil }
            let update = (service["UpdateStatus"] as? [String: Any])?["State"] as? String
            return ObservedSwarmService(id: id, name: name, version: version, labels: labels, updateState: update)
        }
    }

    public func createSwarmService(_ blueprint: SwarmServiceBlueprint, secretIDs: [String: String] = [:]) async throws -> String {
        let response = try await call(.POST, "/services/create", body: try JSONSerialization.data(withJSONObject: Self.serviceSpec(blueprint, secretIDs: secretIDs)), timeout: Timeouts.create)
        let object = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        guard let id = object?["ID"] as? String else { throw EngineError.malformedResponse("service create without an ID") }
        return id
    }

    public func updateSwarmService(id: String, version: Int, _ blueprint: SwarmServiceBlueprint, secretIDs: [String: String] = [:]) async throws {
        _ = try await call(.POST, "/services/\(Self.percentEncode(id))/update?version=\(version)",
                           body: try JSONSerialization.data(withJSONObject: Self.serviceSpec(blueprint, secretIDs: secretIDs)), timeout: Timeouts.create)
    }

    public func removeSwarmService(id: String) async throws {
        _ = try await call(.DELETE, "/services/\(Self.percentEncode(id))", timeout: Timeouts.remove)
    }

    /// A task of a service: where it runs and in which state.
    public struct SwarmTask: Sendable, Hashable {
        public var id: String
        public var nodeID: String
        public var state: String
        public var desiredState: String
        /// Swarm's error for a failed task.
        public var error: String?
    }

    public func listSwarmTasks(serviceName: String) async throws -> [SwarmTask] {
        let filters = try JSONSerialization.data(withJSONObject: ["service": [serviceName]])
        let response = try await call(.GET, "/tasks?filters=" + Self.percentEncode(String(decoding: filters, as: UTF8.self)), timeout: Timeouts.list)
        let tasks = try JSONSerialization.jsonObject(with: Data(response.body)) as? [[String: Any]] ?? []
        return tasks.compactMap { task in
            guard let id = task["ID"] as? String else { return nil }
            let status = task["Status"] as? [String: Any]
            return SwarmTask(id: id, nodeID: task["NodeID"] as? String ?? "", state: status?["State"] as? String ?? "",
                             desiredState: task["DesiredState"] as? String ?? "", error: (status?["Err"] as? String).flatMap { $0.isEmpty ? nil : $0 })
        }
    }

    /// The project's Swarm secrets (name → id).
    public func listSwarmSecrets(label: String, value: String) async throws -> [String: String] {
        let filters = try JSONSerialization.data(withJSONObject: ["label": ["\(label)=\(value)"]])
        let response = try await call(.GET, "/secrets?filters=" + Self.percentEncode(String(decoding: filters, as: UTF8.self)), timeout: Timeouts.list)
        let secrets = try JSONSerialization.jsonObject(with: Data(response.body)) as? [[String: Any]] ?? []
        var result: [String: String] = [:]
        for secret in secrets {
            guard let id = secret["ID"] as? String, let spec = secret["Spec"] as? [String: Any], let name = spec["Name"] as? String,
                  (spec["Labels"] as? [String: String])?[label] == value else { continue }
            result[name] = id
        }
        return result
    }

    /// Creates a Swarm secret; the value travels in this request only.
    public func createSwarmSecret(name: String, labels: [String: String], value: SecretValue) async throws -> String {
        let body: [String: Any] = ["Name": name, "Labels": labels, "Data": Data(value.value.utf8).base64EncodedString()]
        let response = try await call(.POST, "/secrets/create", body: try JSONSerialization.data(withJSONObject: body), timeout: Timeouts.create)
        guard let id = (try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])?["ID"] as? String else {
            throw EngineError.malformedResponse("secret create without an ID")
        }
        return id
    }

    public func removeSwarmSecret(id: String) async throws {
        _ = try await call(.DELETE, "/secrets/\(Self.percentEncode(id))", timeout: Timeouts.remove)
    }

    /// The service spec document (`ServiceSpec` of the Engine API); `secretIDs` maps the
    /// blueprint's Swarm secret names to their ids.
    static func serviceSpec(_ b: SwarmServiceBlueprint, secretIDs: [String: String] = [:]) -> [String: Any] {
        var container: [String: Any] = ["Image": b.image, "Env": b.env, "Labels": b.containerLabels,
                                        "StopGracePeriod": b.stopGracePeriodNanoseconds]
        if let entrypoint = b.entrypoint { container["Command"] = entrypoint }
        if let args = b.args { container["Args"] = args }
        if !b.secrets.isEmpty {
            container["Secrets"] = b.secrets.map { secret -> [String: Any] in
                ["SecretID": secretIDs[secret.swarmName] ?? "", "SecretName": secret.swarmName,
                 "File": ["Name": secret.fileName, "UID": "0", "GID": "0", "Mode": 0o444] as [String: Any]]
            }
        }
        if !b.mounts.isEmpty {
            container["Mounts"] = b.mounts.map { ["Type": $0.type, "Source": $0.source, "Target": $0.target, "ReadOnly": $0.readOnly] as [String: Any] }
        }
        var limits: [String: Any] = [:]
        if let memory = b.memoryBytes { limits["MemoryBytes"] = memory }
        if let cpus = b.nanoCPUs { limits["NanoCPUs"] = cpus }
        var restart: [String: Any] = ["Condition": b.restartCondition]
        if let attempts = b.restartMaxAttempts { restart["MaxAttempts"] = attempts }
        var task: [String: Any] = ["ContainerSpec": container, "RestartPolicy": restart, "Resources": ["Limits": limits]]
        var placement: [String: Any] = [:]
        if !b.placement.constraints.isEmpty { placement["Constraints"] = b.placement.constraints }
        if let max = b.placement.maxPerNode { placement["MaxReplicas"] = max }
        if !placement.isEmpty { task["Placement"] = placement }
        if !b.networks.isEmpty { task["Networks"] = b.networks.map { ["Target": $0.name, "Aliases": $0.aliases] as [String: Any] } }
        return [
            "Name": b.name,
            "Labels": b.labels,
            "TaskTemplate": task,
            "Mode": b.placement.mode == .global ? ["Global": [String: Any]()] : ["Replicated": ["Replicas": b.replicas]],
            "UpdateConfig": ["Parallelism": b.updateParallelism, "Order": b.updateOrder, "FailureAction": "rollback"],
        ]
    }
}
