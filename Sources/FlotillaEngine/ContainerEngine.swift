import FlotillaCore

/// The container engine as the controller, the daemon and the one-shot commands use it: the
/// seam between Flotilla's control plane and Docker or Podman (``EngineClient``), or the
/// simulator's in-memory engine.
///
/// Contract, for every call:
/// - It may fail with an ``EngineError``. ``EngineError/isUnavailable(_:)`` errors (unreachable,
///   timeout, no response) say nothing about whether the engine acted: a create or a stop may
///   have happened although the call failed. Other errors (`server`, `malformedResponse`,
///   `conflict`, `notFound`, `badRequest`) are the engine's answer.
/// - It may take any time; callers bound what they wait for with their own clocks.
/// - Lists and inspections show the engine's state at some moment during the call; a change
///   made by another caller meanwhile may or may not be in it.
public protocol ContainerEngine: Sendable {
    /// Every container carrying `label=value` (running or not); with `service`, only that service's.
    func listContainers(label: String, value: String, service: String?) async throws -> [ObservedContainer]
    /// One container as a list would show it; nil when gone or not carrying `label=value`.
    func observeContainer(_ id: String, label: String, value: String) async throws -> ObservedContainer?
    /// Host ports published or claimed by any container on the engine.
    func hostPortsInUse() async throws -> Set<Int>
    /// Every container carrying `label=value`, with its raw labels (what `down` reports).
    func labelledContainers(label: String, value: String) async throws -> [(id: String, name: String, labels: [String: String])]
    /// Creates a container (not started); its id. `conflict` when the name is taken.
    func createContainer(name: String, blueprint: ContainerBlueprint) async throws -> String
    /// Starts a created or exited container.
    func startContainer(_ id: String) async throws
    /// SIGTERM, then SIGKILL after `timeout` seconds. `notFound` when gone.
    func stopContainer(_ id: String, timeout: Int) async throws
    /// Removes a container (forced). `notFound` when gone.
    func removeContainer(_ id: String) async throws
    /// What the engine's restart policy is doing with the container.
    func restartStatus(of id: String) async throws -> EngineRestart
    /// Creates the project's network when missing; true when it was created.
    func ensureNetwork(_ name: String, project: String, driver: String) async throws -> Bool
    func ownedNetworks(project: String) async throws -> [String]
    func removeNetwork(_ name: String) async throws
    /// Whose the named network is (its project label), or that it does not exist.
    func networkOwner(_ name: String) async throws -> ResourceOwner
    /// Whose the named volume is (its project label), or that it does not exist.
    func volumeOwner(_ name: String) async throws -> ResourceOwner
    /// Creates the named volume labelled as the project's (an existing one is left as it is).
    func createVolume(_ name: String, project: String) async throws
    /// Rollback decisions kept on the engine (service → rolled-back spec hash).
    func rollbackMarkers(project: String) async throws -> [String: String]
    func setRollbackMarker(project: String, service: String, hash: String) async throws
    func clearRollbackMarker(project: String, service: String) async throws
    /// The manifest directory recorded as the project's owner, if any.
    func projectOwner(project: String) async throws -> String?
    func setProjectOwner(project: String, source: String) async throws
    func clearProjectOwner(project: String) async throws
    func imageExists(_ reference: String) async throws -> Bool
    func pullImage(_ reference: String) async throws
    /// Follows the project's container events from `since` (Unix seconds) until the stream
    /// ends (returns) or breaks (throws). `onConnected` is called once the engine accepted the
    /// subscription. Events may come late, twice, or (when the stream drops) not at all.
    func streamEvents(project: String, since: Int64?, onConnected: () -> Void, onEvent: (EngineEvent) -> Void) async throws
}

extension ContainerEngine {
    public func listContainers(label: String, value: String) async throws -> [ObservedContainer] {
        try await listContainers(label: label, value: value, service: nil)
    }

    public func ensureNetwork(_ name: String, project: String) async throws -> Bool {
        try await ensureNetwork(name, project: project, driver: "bridge")
    }
}

extension EngineClient: ContainerEngine {}

/// Who a named volume or network belongs to, by its project label.
public enum ResourceOwner: Sendable, Equatable {
    case missing
    /// Created by Flotilla for this project (the label's value).
    case project(String)
    /// There, without a project label: made by hand, by Compose, or by another tool.
    case unlabelled
}
