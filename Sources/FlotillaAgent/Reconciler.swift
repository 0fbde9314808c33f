import FlotillaCore
import FlotillaEngine
import Foundation
import Logging

/// One full, idempotent reconcile: load the manifests, list the owned containers (one engine
/// call), plan, apply. Every trigger (CLI, file change, watchdog, engine event) runs this same
/// thing; nothing is remembered between runs except what the caller passes in.
public struct Reconciler: Sendable {
    public let engine: EngineClient
    public let directory: String
    public let project: String
    public let loader: ManifestDirectoryLoader
    public let applierOptions: Applier.Options
    public let allowEmpty: Bool
    /// Held by every reconcile of this project on this host (daemon and CLI alike).
    public let lock: ReconcileLock
    public let logger: Logger

    public init(engine: EngineClient, directory: String, project: String, applierOptions: Applier.Options, allowEmpty: Bool, logger: Logger, loader: ManifestDirectoryLoader = ManifestDirectoryLoader()) {
        self.engine = engine
        self.directory = directory
        self.project = project
        self.applierOptions = applierOptions
        self.allowEmpty = allowEmpty
        self.logger = logger
        self.loader = loader
        self.lock = ReconcileLock(project: project)
    }

    /// The owned containers: one list call filtered by the project label.
    public func observe() async throws -> [ObservedContainer] {
        let containers = try await engine.listContainers(label: OwnershipLabel.project, value: project)
        logger.debug("engine list", metadata: ["containers": "\(containers.count)"])
        return containers
    }

    public func loadDesired() throws -> DesiredState {
        try loader.load(directory: directory)
    }

    /// The rollback markers of the project (service → rolled-back spec hash). Read only when a
    /// service uses canary releases, so that the others cost no extra engine call.
    public func rolledBack(for desired: DesiredState) async throws -> [String: String] {
        guard desired.services.contains(where: { $0.update.strategy == .canary }) else { return [:] }
        return try await engine.rollbackMarkers(project: project)
    }

    /// Plans with this reconciler's `allowEmpty`; `options` carries everything else.
    public func plan(_ desired: DesiredState, observed: [ObservedContainer], options: Planner.Options = Planner.Options()) -> Plan {
        var options = options
        options.allowEmpty = allowEmpty
        return Planner.plan(desired: desired, observed: observed, options: options)
    }

    /// - Parameter beforeRetiring: called mid-rollout, when new replicas are ready and before old
    ///   ones are removed (the route refresh).
    ///   `removed`: called with the id of each container removed.
    public func apply(_ plan: Plan, observed: [ObservedContainer], beforeRetiring: (@Sendable () async -> Void)? = nil,
                      removed: (@Sendable (String) async -> Void)? = nil) async -> ApplyReport {
        for note in plan.notes { logger.warning("\(note)") }
        var options = applierOptions
        options.beforeRetiring = beforeRetiring
        options.removed = removed
        return await Applier(engine: engine, options: options, logger: logger).apply(plan, observed: observed)
    }

    /// Removes every container of the project, then its networks and rollback markers.
    public func down() async throws -> Int {
        let observed = try await observe()
        let applier = Applier(engine: engine, options: applierOptions, logger: logger)
        let removed = await applier.removeAll(observed, service: nil, reason: "down")
        await applier.pruneNetworks(keeping: [])
        for service in try await engine.rollbackMarkers(project: project).keys {
            try await engine.clearRollbackMarker(project: project, service: service)
        }
        return removed
    }

    /// The default project name: the manifest directory's own name, as a DNS label.
    public static func defaultProject(for directory: String) -> String {
        // Not resolving symlinks: with git-sync's `current -> rev-abc`, the project is "current".
        let url = URL(fileURLWithPath: directory).standardizedFileURL
        return sanitizeProject(url.lastPathComponent)
    }

    public static func sanitizeProject(_ name: String) -> String {
        var label = String(name.lowercased().map { ($0.isASCII && ($0.isLetter || $0.isNumber)) ? $0 : "-" })
        while label.hasPrefix("-") { label.removeFirst() }
        while label.hasSuffix("-") { label.removeLast() }
        if label.isEmpty { label = "default" }
        return String(label.prefix(40))
    }
}
