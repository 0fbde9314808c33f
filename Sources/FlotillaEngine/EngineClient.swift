import FlotillaCore
import Foundation
import NIOHTTP1

/// The Docker Engine API, as much of it as Flotilla needs, over the engine's unix socket.
/// Docker and Podman both serve it; the differences between them stay inside this type.
public struct EngineClient: Sendable {
    /// The newest API version Flotilla knows and the oldest it supports.
    public static let maximumAPIVersion = APIVersion(1, 43)
    public static let minimumAPIVersion = APIVersion(1, 40)

    public let endpoint: String
    public let transport: HTTP1Client
    public let version: EngineVersion
    /// The version negotiated with the engine: the highest both sides support.
    public let apiVersion: APIVersion
    /// Told about every request that took longer than a second (operation, duration), so a
    /// slow or frozen engine shows in the logs.
    public var onSlowRequest: (@Sendable (String, Duration) -> Void)?
    /// Told of every request: its operation template (`POST /containers/{id}/start`) and whether
    /// the engine answered below 500.
    public var onRequest: (@Sendable (String, Bool) -> Void)?

    /// Tries each candidate endpoint and negotiates the API version with the first that answers.
    ///
    /// - Parameter details: read the engine's name and version (`GET /version`, which Podman
    ///   answers slowly, ~0.4 s). Without it, the fast `GET /_ping` and its `API-Version` header
    ///   are used, falling back to `/version` when the header is missing.
    public static func connect(candidates: [String], details: Bool = true) async throws -> EngineClient {
        var tried: [String: String] = [:]
        for endpoint in candidates {
            guard let path = EngineEndpoint.socketPath(of: endpoint) else {
                tried[endpoint] = "not a unix:// endpoint (only unix sockets are supported)"
                continue
            }
            guard FileManager.default.fileExists(atPath: path) else {
                tried[endpoint] = "no such socket"
                continue
            }
            let transport = HTTP1Client(socketPath: path)
            do {
                if !details {
                    let ping = try await transport.send(.GET, "/_ping", timeout: .seconds(10))
                    if ping.status == 200, let header = ping.headers["api-version"], let engineAPI = APIVersion(header) {
                        guard engineAPI >= minimumAPIVersion else {
                            throw EngineError.unsupportedVersion(engine: header, minimum: minimumAPIVersion.description)
                        }
                        let version = EngineVersion(version: nil, apiVersion: header, minAPIVersion: nil, os: nil, components: nil)
                        return EngineClient(endpoint: endpoint, transport: transport, version: version, apiVersion: min(engineAPI, maximumAPIVersion))
                    }
                }
                let response = try await transport.send(.GET, "/version", timeout: .seconds(10))
                guard response.status == 200 else { tried[endpoint] = "GET /version answered \(response.status)"; continue }
                let version = try JSONDecoder().decode(EngineVersion.self, from: Data(response.body))
                guard let engineAPI = APIVersion(version.apiVersion) else {
                    throw EngineError.malformedResponse("ApiVersion \"\(version.apiVersion)\"")
                }
                guard engineAPI >= minimumAPIVersion else {
                    throw EngineError.unsupportedVersion(engine: version.apiVersion, minimum: minimumAPIVersion.description)
                }
                return EngineClient(endpoint: endpoint, transport: transport, version: version, apiVersion: min(engineAPI, maximumAPIVersion))
            } catch let error as EngineError {
                if case .unsupportedVersion = error { throw error }
                tried[endpoint] = error.description
            } catch {
                tried[endpoint] = "\(error)"
            }
        }
        throw EngineError.unreachable(tried: tried)
    }

    var prefix: String { "/v\(apiVersion)" }

    // MARK: - Containers

    /// Every container carrying `label=value` (running or not), in one call; with `service`,
    /// only that service's.
    public func listContainers(label: String, value: String, service: String? = nil) async throws -> [ObservedContainer] {
        var labels = ["\(label)=\(value)"]
        if let service { labels.append("\(OwnershipLabel.service)=\(service)") }
        let filters = String(decoding: try JSONSerialization.data(withJSONObject: ["label": labels]), as: UTF8.self)
        let response = try await call(.GET, "/containers/json?all=true&filters=" + Self.percentEncode(filters), timeout: Timeouts.list)
        // One pass over the bytes, Flotilla's labels only (the watchdog reads this list of every
        // replica each cycle; see ``ContainerListDecoder``).
        return try ContainerListDecoder.decode(response.body, ownerLabel: label).compactMap { summary in
            let name = summary.name.map { $0.hasPrefix("/") ? String($0.dropFirst()) : $0 } ?? summary.id
            return Self.observed(id: summary.id, name: name, labels: summary.labels, state: summary.state,
                                 engineCreatedMS: summary.created * 1000, published: summary.published,
                                 owner: value, service: service)
        }
    }

    /// One container as ``listContainers(label:value:service:)`` would report it, from its inspect
    /// document (one cheap call, where a list walks every container on Podman); nil when it is
    /// gone or does not carry `label=value`.
    public func observeContainer(_ id: String, label: String, value: String) async throws -> ObservedContainer? {
        let response = try await send(.GET, "/containers/\(id)/json", timeout: Timeouts.inspect)
        if response.status == 404 { return nil }
        try Self.check(response)
        let inspect = try decode(ContainerInspectDTO.self, response)
        // In a stable order (a dictionary has none): the routed port is picked by its label
        // whenever the container has one.
        var published: [(privatePort: Int?, publicPort: Int)] = []
        for (key, bindings) in inspect.networkSettings?.ports ?? [:] {
            guard let privatePort = key.split(separator: "/").first.flatMap({ Int($0) }) else { continue }
            for binding in bindings ?? [] { if let port = binding.hostPort.flatMap(Int.init), port > 0 { published.append((privatePort, port)) } }
        }
        published.sort { ($0.privatePort ?? 0, $0.publicPort) < ($1.privatePort ?? 0, $1.publicPort) }
        let created = inspect.created.flatMap(Self.parseTimestamp).map { $0 / 1000 * 1000 } ?? 0
        return Self.observed(id: inspect.id, name: inspect.name.hasPrefix("/") ? String(inspect.name.dropFirst()) : inspect.name,
                             labels: inspect.config?.labels ?? [:], state: inspect.state?.status ?? "", engineCreatedMS: created,
                             published: published, owner: (label, value), service: nil)
    }

    /// A container from its labels and what the engine says of it; nil when it is not the owner's
    /// (or not `service`'s).
    public static func observed(id: String, name: String, labels: [String: String], state: String, engineCreatedMS: Int64,
                         published: [(privatePort: Int?, publicPort: Int)], owner: (label: String, value: String),
                         service wanted: String?) -> ObservedContainer? {
        observed(id: id, name: name, labels: OwnedLabels(labels, ownerLabel: owner.label), state: state, engineCreatedMS: engineCreatedMS,
                 published: published, owner: owner.value, service: wanted)
    }

    /// The same from Flotilla's labels alone; `owner`: the owner label's value this client wants.
    public static func observed(id: String, name: String, labels: OwnedLabels, state: String, engineCreatedMS: Int64,
                                published: [(privatePort: Int?, publicPort: Int)], owner: String, service wanted: String?) -> ObservedContainer? {
        guard labels.owner == owner, let service = labels.service else { return nil }
        if let wanted, wanted != service { return nil }
        let mainPort = labels.containerPort.flatMap(Int.init)
        let hostPort = labels.hostPort.flatMap(Int.init)
            ?? published.first { mainPort == nil || $0.privatePort == mainPort }?.publicPort
        var container = ObservedContainer(
            id: id, name: name, service: service, specHash: labels.specHash ?? "",
            state: ContainerState(engineState: state),
            created: labels.createdAt.flatMap(Int64.init) ?? engineCreatedMS, hostPort: hostPort,
            canonicalSpec: labels.canonicalSpec,
            role: labels.role.flatMap(ReplicaRole.init(rawValue:)) ?? .regular,
            checks: labels.checks.flatMap(ReplicaChecks.init(label:))
        )
        container.source = labels.source
        container.seal = labels.seal
        container.revision = labels.revision
        container.engineCreated = engineCreatedMS
        return container
    }

    /// Every host port that a container on this engine holds or will hold when it starts: the
    /// host-port labels of every Flotilla project, and every published port.
    public func hostPortsInUse() async throws -> Set<Int> {
        let response = try await call(.GET, "/containers/json?all=true", timeout: Timeouts.list)
        var ports = Set<Int>()
        for summary in try decode([ContainerSummaryDTO].self, response) {
            if let port = summary.labels?[OwnershipLabel.hostPort].flatMap(Int.init) { ports.insert(port) }
            for published in summary.ports ?? [] { if let port = published.publicPort, port > 0 { ports.insert(port) } }
        }
        return ports
    }

    /// Every container carrying `label=value`, well-formed or not: id, name and labels.
    public func labelledContainers(label: String, value: String) async throws -> [(id: String, name: String, labels: [String: String])] {
        let filters = String(decoding: try JSONSerialization.data(withJSONObject: ["label": ["\(label)=\(value)"]]), as: UTF8.self)
        let response = try await call(.GET, "/containers/json?all=true&filters=" + Self.percentEncode(filters), timeout: Timeouts.list)
        return try decode([ContainerSummaryDTO].self, response).compactMap { summary in
            let labels = summary.labels ?? [:]
            guard labels[label] == value else { return nil }
            let name = summary.names?.first.map { $0.hasPrefix("/") ? String($0.dropFirst()) : $0 } ?? summary.id
            return (summary.id, name, labels)
        }
    }

    /// Creates (does not start) a container and joins its named networks; returns its id.
    public func createContainer(name: String, blueprint: ContainerBlueprint) async throws -> String {
        var exposed: [String: [String: String]] = [:]
        var bindings: [String: [ContainerCreateDTO.HostConfig.Binding]] = [:]
        if let port = blueprint.publishedPort {
            exposed["\(port)/tcp"] = [:]
            bindings["\(port)/tcp"] = [.init(hostIp: "127.0.0.1", hostPort: "")]
        }
        for mapping in blueprint.ports {
            let key = "\(mapping.container)/\(mapping.proto.rawValue)"
            exposed[key] = [:]
            // Appended: an extra port may publish the routed port once more (compose's "8080:80"
            // beside `port: 80`), and the loopback binding the probes and the proxy use must stay.
            bindings[key, default: []].append(.init(hostIp: mapping.address, hostPort: mapping.host.map(String.init) ?? ""))
        }
        let first = blueprint.networks.first
        let body = ContainerCreateDTO(
            image: blueprint.image,
            entrypoint: blueprint.entrypoint,
            cmd: blueprint.command,
            env: blueprint.env.keys.sorted().map { "\($0)=\(blueprint.env[$0]!)" },
            labels: blueprint.labels,
            stopTimeout: blueprint.stopTimeoutSeconds,
            exposedPorts: exposed.isEmpty ? nil : exposed,
            hostConfig: .init(
                networkMode: blueprint.network == .host ? "host" : first?.name ?? "bridge",
                portBindings: bindings.isEmpty ? nil : bindings,
                binds: blueprint.volumes.isEmpty ? nil : blueprint.volumes,
                memory: blueprint.resources.memoryBytes,
                nanoCpus: blueprint.resources.nanoCPUs,
                restartPolicy: blueprint.restartPolicy == .no ? nil
                    : .init(name: blueprint.restartPolicy.rawValue, maximumRetryCount: blueprint.restartMaxRetries)
            ),
            networkingConfig: first.map { .init(endpointsConfig: [$0.name: .init(aliases: $0.aliases)]) }
        )
        let id: String
        do {
            let response = try await call(.POST, "/containers/create?name=" + Self.percentEncode(name), body: try JSONEncoder().encode(body), timeout: Timeouts.create)
            id = try decode(ContainerCreatedDTO.self, response).id
        } catch EngineError.noResponse {
            // The engine dropped the connection: the create may have happened. The name is this
            // replica's own (fresh suffix), so a container under it is the one we asked for.
            try await Task.sleep(for: .milliseconds(200))
            if let existing = try? await inspectContainer(name), let existingID = existing["Id"] as? String {
                id = existingID
            } else {
                let response = try await call(.POST, "/containers/create?name=" + Self.percentEncode(name), body: try JSONEncoder().encode(body), timeout: Timeouts.create)
                id = try decode(ContainerCreatedDTO.self, response).id
            }
        }
        // API versions before 1.44 take one network at create; the others are connected before start.
        do {
            for attachment in blueprint.networks.dropFirst() {
                let connect = NetworkConnectDTO(container: id, endpointConfig: .init(aliases: attachment.aliases))
                _ = try await call(.POST, "/networks/\(Self.percentEncode(attachment.name))/connect", body: try JSONEncoder().encode(connect))
            }
        } catch {
            try? await removeContainer(id)
            throw error
        }
        return id
    }

    public func startContainer(_ id: String) async throws {
        let response = try await send(.POST, "/containers/\(id)/start", timeout: Timeouts.start)
        if response.status == 304 { return }  // already started
        try Self.check(response)
    }

    /// Stops gracefully (SIGTERM, then SIGKILL after `timeout` seconds).
    public func stopContainer(_ id: String, timeout: Int) async throws {
        let response = try await send(.POST, "/containers/\(id)/stop?t=\(timeout)", timeout: .seconds(timeout) + Timeouts.stopGrace)
        if response.status == 304 { return }  // already stopped
        try Self.check(response)
    }

    /// Removes a container (forcefully: kills it if running) with its anonymous volumes.
    /// A container that is already gone counts as removed. Callers stop a running replica
    /// gracefully first (``stopContainer(_:timeout:)``); `force` only covers a stop that failed.
    public func removeContainer(_ id: String) async throws {
        let response = try await send(.DELETE, "/containers/\(id)?force=true&v=true", timeout: Timeouts.remove)
        if response.status == 404 { return }
        try Self.check(response)
    }

    /// The container's published host port for `port/tcp` (bridge networking).
    public func publishedPort(of id: String, containerPort: Int) async throws -> Int? {
        let response = try await call(.GET, "/containers/\(id)/json")
        guard let object = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
              let settings = object["NetworkSettings"] as? [String: Any],
              let ports = settings["Ports"] as? [String: Any],
              let bindings = ports["\(containerPort)/tcp"] as? [[String: Any]] else { return nil }
        return bindings.compactMap { ($0["HostPort"] as? String).flatMap(Int.init) }.first
    }

    /// The container's raw inspect document.
    public func inspectContainer(_ id: String) async throws -> [String: Any] {
        let response = try await call(.GET, "/containers/\(id)/json", timeout: Timeouts.inspect)
        guard let object = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] else {
            throw EngineError.malformedResponse("container inspect is not an object")
        }
        return object
    }

    public func restartStatus(of id: String) async throws -> EngineRestart {
        let object = try await inspectContainer(id)
        let state = object["State"] as? [String: Any] ?? [:]
        let finished = (state["FinishedAt"] as? String).flatMap(Self.parseTimestamp)
        let started = (state["StartedAt"] as? String).flatMap(Self.parseTimestamp)
        return EngineRestart(restarting: state["Restarting"] as? Bool ?? false, restartCount: object["RestartCount"] as? Int ?? 0,
                             exitCode: state["ExitCode"] as? Int ?? 0, finishedAt: finished, startedAt: started)
    }

    /// `2026-12-01T05:00:00.123456789Z` (or with an offset) → Unix ms; nil for the zero time.
    static func parseTimestamp(_ text: String) -> Int64? {
        guard !text.hasPrefix("0001-") else { return nil }
        var main = text
        var fraction = 0.0
        if let dot = text.firstIndex(of: ".") {
            let rest = text[text.index(after: dot)...]
            let digits = rest.prefix { $0.isNumber }
            fraction = Double("0." + digits) ?? 0
            main = String(text[..<dot]) + String(rest.dropFirst(digits.count))
        }
        let formatter = ISO8601DateFormatter()
        guard let date = formatter.date(from: main) else { return nil }
        return Int64((date.timeIntervalSince1970 + fraction) * 1000)
    }

    // MARK: - Networks and markers

    /// Creates the network, labelled as the project's, unless a network of that name exists
    /// (then it is used as it is and never removed by Flotilla). Returns whether it was created.
    @discardableResult
    /// `driver`: `bridge` on one host, `overlay` (attachable) in swarm mode.
    public func ensureNetwork(_ name: String, project: String, driver: String = "bridge") async throws -> Bool {
        let existing = try await send(.GET, "/networks/\(Self.percentEncode(name))")
        if existing.status == 200 { return false }
        if existing.status != 404 { try Self.check(existing) }
        let body = NetworkCreateDTO(name: name, driver: driver, labels: [OwnershipLabel.project: project], checkDuplicate: true, attachable: driver == "overlay")
        let response = try await send(.POST, "/networks/create", body: [UInt8](try JSONEncoder().encode(body)))
        if response.status == 409 { return false }  // created meanwhile by someone else
        try Self.check(response)
        return true
    }

    public func networkOwner(_ name: String) async throws -> ResourceOwner {
        try await owner(of: "/networks/\(Self.percentEncode(name))")
    }

    public func volumeOwner(_ name: String) async throws -> ResourceOwner {
        try await owner(of: "/volumes/\(Self.percentEncode(name))")
    }

    func owner(of path: String) async throws -> ResourceOwner {
        let response = try await send(.GET, path)
        if response.status == 404 { return .missing }
        let object = try decode(NamedObjectDTO.self, response)
        return object.labels?[OwnershipLabel.project].map(ResourceOwner.project) ?? .unlabelled
    }

    public func createVolume(_ name: String, project: String) async throws {
        let body = VolumeCreateDTO(name: name, labels: [OwnershipLabel.project: project])
        _ = try await call(.POST, "/volumes/create", body: try JSONEncoder().encode(body))
    }

    /// Names of the networks carrying the project label.
    public func ownedNetworks(project: String) async throws -> [String] {
        let filters = #"{"label":["\#(OwnershipLabel.project)=\#(project)"]}"#
        let response = try await call(.GET, "/networks?filters=" + Self.percentEncode(filters))
        return try decode([NamedObjectDTO].self, response).filter { $0.labels?[OwnershipLabel.project] == project }.map(\.name)
    }

    public func removeNetwork(_ name: String) async throws {
        let response = try await send(.DELETE, "/networks/\(Self.percentEncode(name))")
        if response.status == 404 { return }
        try Self.check(response)
    }

    /// Rollback markers: labelled volumes that say "the canary of spec hash H of service S was
    /// rolled back", so that the decision outlives any Flotilla process. Service → hash.
    public func rollbackMarkers(project: String) async throws -> [String: String] {
        var result: [String: String] = [:]
        for volume in try await markerVolumes(project: project) {
            guard let labels = volume.labels, let service = labels[OwnershipLabel.service], let hash = labels[OwnershipLabel.rolledBackHash] else { continue }
            result[service] = hash
        }
        return result
    }

    /// The project's marker volumes (found by their labels, whatever their names).
    func markerVolumes(project: String) async throws -> [NamedObjectDTO] {
        let filters = #"{"label":["\#(OwnershipLabel.project)=\#(project)","\#(OwnershipLabel.rolledBackHash)"]}"#
        let response = try await call(.GET, "/volumes?filters=" + Self.percentEncode(filters))
        return (try decode(VolumeListDTO.self, response).volumes ?? []).filter { $0.labels?[OwnershipLabel.project] == project }
    }

    /// `flotilla-rollback-<project>.<service>`: a service name is a DNS label (no dot), so the
    /// last dot tells the two apart. (Before: a dash, and project `shop` with service `api-v2`
    /// shared one volume with project `shop-api` and service `v2`: one project's rollback was not
    /// recorded, and clearing it removed the other's.)
    public static func rollbackMarkerName(project: String, service: String) -> String { "flotilla-rollback-\(project).\(service)" }

    /// Records that `hash` of `service` was rolled back (replacing an older marker).
    public func setRollbackMarker(project: String, service: String, hash: String) async throws {
        let name = Self.rollbackMarkerName(project: project, service: service)
        if let current = try await rollbackMarkers(project: project)[service] {
            if current == hash { return }
            try await clearRollbackMarker(project: project, service: service)
        }
        let body = VolumeCreateDTO(name: name, labels: [
            OwnershipLabel.project: project, OwnershipLabel.service: service, OwnershipLabel.rolledBackHash: hash,
        ])
        _ = try await call(.POST, "/volumes/create", body: try JSONEncoder().encode(body))
    }

    /// Removes the service's markers, found by their labels (a marker made under the older
    /// naming goes too), never another project's.
    public func clearRollbackMarker(project: String, service: String) async throws {
        for volume in try await markerVolumes(project: project) where volume.labels?[OwnershipLabel.service] == service {
            let response = try await send(.DELETE, "/volumes/\(Self.percentEncode(volume.name))")
            if response.status == 404 { continue }
            try Self.check(response)
        }
    }

    // MARK: - Project owner marker

    public static func ownerMarkerName(project: String) -> String { "flotilla-owner-\(project)" }

    /// The source (manifest directory) recorded as the project's manager, if any.
    public func projectOwner(project: String) async throws -> String? {
        let response = try await send(.GET, "/volumes/\(Self.percentEncode(Self.ownerMarkerName(project: project)))")
        if response.status == 404 { return nil }
        try Self.check(response)
        let volume = try decode(NamedObjectDTO.self, response)
        guard let labels = volume.labels, labels[OwnershipLabel.project] == project else { return nil }
        return labels[OwnershipLabel.source]
    }

    /// Records `source` as the project's manager (replacing another record).
    public func setProjectOwner(project: String, source: String) async throws {
        let current = try await projectOwner(project: project)
        if current == source { return }
        if current != nil { try await clearProjectOwner(project: project) }
        let body = VolumeCreateDTO(name: Self.ownerMarkerName(project: project), labels: [
            OwnershipLabel.project: project, OwnershipLabel.source: source,
        ])
        _ = try await call(.POST, "/volumes/create", body: try JSONEncoder().encode(body))
    }

    public func clearProjectOwner(project: String) async throws {
        let response = try await send(.DELETE, "/volumes/\(Self.percentEncode(Self.ownerMarkerName(project: project)))")
        if response.status == 404 { return }
        try Self.check(response)
    }

    // MARK: - Images

    public func imageExists(_ reference: String) async throws -> Bool {
        let response = try await send(.GET, "/images/\(Self.percentEncode(reference))/json")
        if response.status == 404 { return false }
        try Self.check(response)
        return true
    }

    /// Pulls an image; the progress stream's errors (sent with status 200) become ``EngineError/pullFailed``.
    public func pullImage(_ reference: String) async throws {
        let (name, tag) = Self.split(reference: reference)
        var path = prefix + "/images/create?fromImage=" + Self.percentEncode(name)
        if let tag { path += "&tag=" + Self.percentEncode(tag) }
        let response = try await transport.send(.POST, path, timeout: Timeouts.pull)
        try Self.check(response)
        for line in response.body.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            if let progress = try? JSONDecoder().decode(PullProgressDTO.self, from: Data(line)),
               let message = progress.error ?? progress.errorDetail?.message {
                throw EngineError.pullFailed(image: reference, message: message)
            }
        }
    }

    /// `registry:5000/name:tag` → (`registry:5000/name`, `tag`); digests stay whole.
    static func split(reference: String) -> (String, String?) {
        if reference.contains("@") { return (reference, nil) }
        if let colon = reference.lastIndex(of: ":"), !reference[colon...].contains("/") {
            return (String(reference[..<colon]), String(reference[reference.index(after: colon)...]))
        }
        return (reference, "latest")
    }

    // MARK: - Plumbing

    func call(_ method: HTTPMethod, _ path: String, body: Data? = nil, timeout: Duration = Timeouts.standard) async throws -> HTTPResponse {
        let response = try await send(method, path, body: body.map { [UInt8]($0) }, timeout: timeout)
        try Self.check(response)
        return response
    }

    /// One request with its own timeout; slow ones are reported to ``onSlowRequest``.
    func send(_ method: HTTPMethod, _ path: String, body: [UInt8]? = nil, timeout: Duration = Timeouts.standard) async throws -> HTTPResponse {
        let clock = ContinuousClock(), start = clock.now
        defer {
            let elapsed = clock.now - start
            if elapsed > .seconds(1), let onSlowRequest {
                onSlowRequest("\(method) \(path.split(separator: "?").first ?? "")", elapsed)
            }
        }
        do {
            let response: HTTPResponse
            do {
                response = try await transport.send(method, prefix + path, body: body, timeout: timeout)
            } catch EngineError.noResponse where Self.isRepeatable(method, path) {
                // Once, after a pause: the engine dropped the connection, and repeating this
                // request is harmless (a read, or a start/stop/remove answered 304/404 the second time).
                onRequest?(Self.operation(method, path), false)
                try await Task.sleep(for: .milliseconds(200))
                response = try await transport.send(method, prefix + path, body: body, timeout: timeout)
            }
            onRequest?(Self.operation(method, path), response.status < 500)
            return response
        } catch {
            onRequest?(Self.operation(method, path), false)
            throw error
        }
    }

    /// Requests that may be sent again when the engine closed the connection without answering:
    /// reads, and starting, stopping, killing or removing one container, whose repetition the
    /// callers already accept (304 "already started/stopped", 404 "already gone").
    static func isRepeatable(_ method: HTTPMethod, _ path: String) -> Bool {
        switch method {
        case .GET, .HEAD: return true
        case .DELETE: return path.hasPrefix("/containers/")
        case .POST:
            let parts = (path.split(separator: "?").first ?? "").split(separator: "/")
            return parts.count == 3 && parts[0] == "containers" && ["start", "stop", "kill"].contains(parts[2])
        default: return false
        }
    }

    /// The request's template, with names and ids replaced: `GET /containers/json`,
    /// `POST /containers/{id}/stop`, `DELETE /volumes/{name}` (a bounded metric label).
    public static func operation(_ method: HTTPMethod, _ path: String) -> String {
        let parts = (path.split(separator: "?").first ?? "").split(separator: "/").map(String.init)
        let fixed: Set<String> = ["json", "create", "events", "_ping", "version", "prune"]
        var template: [String] = []
        for (i, part) in parts.enumerated() {
            template.append(i == 1 && !fixed.contains(part) ? "{id}" : part)
        }
        return "\(method) /" + template.joined(separator: "/")
    }

    /// Request timeouts sized to each operation: a list is not a pull.
    public enum Timeouts {
        public static let standard = Duration.seconds(15)
        public static let list = Duration.seconds(15)
        public static let inspect = Duration.seconds(10)
        public static let create = Duration.seconds(30)
        public static let start = Duration.seconds(30)
        /// Added to the container's own stop timeout.
        public static let stopGrace = Duration.seconds(15)
        public static let remove = Duration.seconds(30)
        public static let pull = Duration.seconds(600)
    }

    static func check(_ response: HTTPResponse) throws {
        guard !(200..<300).contains(response.status) else { return }
        let dto = try? JSONDecoder().decode(EngineErrorDTO.self, from: Data(response.body))
        let message = dto?.message ?? dto?.cause ?? String(decoding: response.body.prefix(500), as: UTF8.self)
        switch response.status {
        case 404: throw EngineError.notFound(message)
        case 409: throw EngineError.conflict(message)
        case 400: throw EngineError.badRequest(message)
        default: throw EngineError.server(status: response.status, message: message)
        }
    }

    func decode<T: Decodable>(_ type: T.Type, _ response: HTTPResponse) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(response.body))
        } catch {
            throw EngineError.malformedResponse("\(T.self): \(error)")
        }
    }

    static func percentEncode(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }
}

/// A Docker Engine API version such as 1.41.
public struct APIVersion: Sendable, Comparable, CustomStringConvertible {
    public var major: Int
    public var minor: Int

    public init(_ major: Int, _ minor: Int) {
        self.major = major
        self.minor = minor
    }

    public init?(_ text: String) {
        let parts = text.split(separator: ".")
        guard parts.count == 2, let major = Int(parts[0]), let minor = Int(parts[1]) else { return nil }
        self.init(major, minor)
    }

    public var description: String { "\(major).\(minor)" }
    public static func < (a: APIVersion, b: APIVersion) -> Bool { (a.major, a.minor) < (b.major, b.minor) }
}
