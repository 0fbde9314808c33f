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
            let previous = ((service["PreviousSpec"] as? [String: Any])?["Labels"] as? [String: String])?[OwnershipLabel.specHash]
            let replicas = ((spec["Mode"] as? [String: Any])?["Replicated"] as? [String: Any])?["Replicas"] as? Int
            let image = ((spec["TaskTemplate"] as? [String: Any])?["ContainerSpec"] as? [String: Any])?["Image"] as? String
            var observed = ObservedSwarmService(id: id, name: name, version: version, labels: labels, updateState: update, previousSpecHash: previous,
                                                replicas: replicas, image: image)
            observed.updateMessage = (service["UpdateStatus"] as? [String: Any])?["Message"] as? String
            return observed
        }
    }

    /// The port blocks (``SwarmPorts``) every Swarm service on the cluster holds, by service name.
    public func swarmPortBlocks() async throws -> [String: Int] {
        let filters = try JSONSerialization.data(withJSONObject: ["label": [SwarmPorts.blockLabel]])
        let response = try await call(.GET, "/services?filters=" + Self.percentEncode(String(decoding: filters, as: UTF8.self)), timeout: Timeouts.list)
        let services = try JSONSerialization.jsonObject(with: Data(response.body)) as? [[String: Any]] ?? []
        var blocks: [String: Int] = [:]
        for service in services {
            guard let spec = service["Spec"] as? [String: Any], let name = spec["Name"] as? String,
                  let block = ((spec["Labels"] as? [String: String])?[SwarmPorts.blockLabel]).flatMap({ Int($0) }) else { continue }
            blocks[name] = block
        }
        return blocks
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

    /// Sets labels of a Swarm service without touching its tasks (only the service's own labels
    /// change, so Swarm does not roll it).
    public func setSwarmServiceLabels(id: String, _ labels: [String: String]) async throws {
        let response = try await call(.GET, "/services/\(Self.percentEncode(id))", timeout: Timeouts.inspect)
        guard let service = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
              let version = (service["Version"] as? [String: Any])?["Index"] as? Int, var spec = service["Spec"] as? [String: Any] else {
            throw EngineError.malformedResponse("service inspect")
        }
        var current = spec["Labels"] as? [String: String] ?? [:]
        for (key, value) in labels { current[key] = value }
        spec["Labels"] = current
        _ = try await call(.POST, "/services/\(Self.percentEncode(id))/update?version=\(version)", body: try JSONSerialization.data(withJSONObject: spec), timeout: Timeouts.create)
    }

    public func removeSwarmService(id: String) async throws {
        _ = try await call(.DELETE, "/services/\(Self.percentEncode(id))", timeout: Timeouts.remove)
    }

    /// The tasks of one Swarm service.
    public func listSwarmTasks(serviceName: String) async throws -> [ObservedSwarmTask] {
        let filters = try JSONSerialization.data(withJSONObject: ["service": [serviceName]])
        return try await swarmTasks(query: "?filters=" + Self.percentEncode(String(decoding: filters, as: UTF8.self)), project: nil)
    }

    /// Every task of the project's Swarm services (told by their container's project label), in one call.
    public func listSwarmTasks(project: String) async throws -> [ObservedSwarmTask] {
        try await swarmTasks(query: "", project: project)
    }

    func swarmTasks(query: String, project: String?) async throws -> [ObservedSwarmTask] {
        let response = try await call(.GET, "/tasks" + query, timeout: Timeouts.list)
        let tasks = try JSONSerialization.jsonObject(with: Data(response.body)) as? [[String: Any]] ?? []
        // Service names by id: a task names its service by id only.
        var names: [String: String] = [:]
        let services = try JSONSerialization.jsonObject(with: Data(try await call(.GET, "/services", timeout: Timeouts.list).body)) as? [[String: Any]] ?? []
        for service in services {
            if let id = service["ID"] as? String, let name = (service["Spec"] as? [String: Any])?["Name"] as? String { names[id] = name }
        }
        return tasks.compactMap { task in
            guard let id = task["ID"] as? String else { return nil }
            let labels = ((task["Spec"] as? [String: Any])?["ContainerSpec"] as? [String: Any])?["Labels"] as? [String: String] ?? [:]
            if let project, labels[OwnershipLabel.project] != project { return nil }
            let status = task["Status"] as? [String: Any]
            return ObservedSwarmTask(
                id: id, serviceName: names[task["ServiceID"] as? String ?? ""] ?? "", service: labels[OwnershipLabel.service],
                slot: task["Slot"] as? Int ?? 0, nodeID: task["NodeID"] as? String ?? "", state: status?["State"] as? String ?? "",
                desiredState: task["DesiredState"] as? String ?? "", portHalf: labels[SwarmPorts.halfLabel].flatMap { Int($0) },
                error: (status?["Err"] as? String).flatMap { $0.isEmpty ? nil : $0 },
                since: (status?["Timestamp"] as? String).flatMap(Self.parseTimestamp), specHash: labels[OwnershipLabel.specHash])
        }
    }

    /// A Swarm event: a service or node changed (Swarm reports no task states in `/events`).
    public struct SwarmEvent: Sendable, Hashable {
        /// `service` or `node`.
        public var type: String
        /// `create`, `update`, `remove`.
        public var action: String
        /// The service's or node's name (or id when the engine sends no name).
        public var name: String
    }

    /// Follows the manager's service and node events until the stream ends, fails or the task
    /// is cancelled.
    public func streamSwarmEvents(onConnected: () -> Void, onEvent: (SwarmEvent) -> Void) async throws {
        let filters = #"{"type":["service","node"]}"#
        var lines = EventLines()
        var failure: Int?
        try await transport.stream(.GET, prefix + "/events?filters=" + Self.percentEncode(filters)) { status, _ in
            if status == 200 { onConnected() } else { failure = status }
        } onChunk: { chunk in
            if failure != nil { return }
            for line in try lines.append(chunk) {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                      let type = object["Type"] as? String, let action = object["Action"] as? String else { continue }
                let actor = object["Actor"] as? [String: Any]
                let name = (actor?["Attributes"] as? [String: String])?["name"] ?? actor?["ID"] as? String ?? ""
                onEvent(SwarmEvent(type: type, action: action, name: name))
            }
        }
        if let failure { throw EngineError.server(status: failure, message: "event stream refused") }
    }

    /// The Swarm's nodes.
    public func listSwarmNodes() async throws -> [ObservedSwarmNode] {
        let response = try await call(.GET, "/nodes", timeout: Timeouts.list)
        let nodes = try JSONSerialization.jsonObject(with: Data(response.body)) as? [[String: Any]] ?? []
        return nodes.compactMap { node in
            guard let id = node["ID"] as? String else { return nil }
            let status = node["Status"] as? [String: Any] ?? [:]
            let spec = node["Spec"] as? [String: Any] ?? [:]
            let description = node["Description"] as? [String: Any] ?? [:]
            // A manager reports 0.0.0.0 for itself in some versions: its manager address says where it is.
            var address = status["Addr"] as? String ?? ""
            if address.isEmpty || address == "0.0.0.0", let manager = (node["ManagerStatus"] as? [String: Any])?["Addr"] as? String {
                address = String(manager.split(separator: ":").first ?? "")
            }
            return ObservedSwarmNode(id: id, hostname: description["Hostname"] as? String ?? id, address: address,
                                     state: status["State"] as? String ?? "unknown", availability: spec["Availability"] as? String ?? "active")
        }
    }

    /// Sets a node's availability (`active`, `pause`, `drain`).
    public func setSwarmNodeAvailability(id: String, _ availability: String) async throws {
        let response = try await call(.GET, "/nodes/\(Self.percentEncode(id))", timeout: Timeouts.inspect)
        guard let node = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
              let version = (node["Version"] as? [String: Any])?["Index"] as? Int, var spec = node["Spec"] as? [String: Any] else {
            throw EngineError.malformedResponse("node inspect")
        }
        spec["Availability"] = availability
        _ = try await call(.POST, "/nodes/\(Self.percentEncode(id))/update?version=\(version)", body: try JSONSerialization.data(withJSONObject: spec))
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
        if let check = b.healthcheck {
            container["Healthcheck"] = ["Test": check.test, "Interval": check.intervalNanoseconds, "Timeout": check.timeoutNanoseconds,
                                        "Retries": check.retries, "StartPeriod": check.startPeriodNanoseconds] as [String: Any]
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
        if !b.networks.isEmpty {
            task["Networks"] = b.networks.map { $0.aliases.isEmpty ? ["Target": $0.name] : ["Target": $0.name, "Aliases": $0.aliases] as [String: Any] }
        }
        return [
            "Name": b.name,
            "Labels": b.labels,
            "TaskTemplate": task,
            "Mode": b.placement.mode == .global ? ["Global": [String: Any]()] : ["Replicated": ["Replicas": b.replicas]],
            "UpdateConfig": ["Parallelism": b.updateParallelism, "Order": b.updateOrder, "FailureAction": "rollback"],
        ]
    }
}
