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
    let logger: Logger

    public init(engine: EngineClient, directory: String, project: String, applierOptions: Applier.Options, allowEmpty: Bool, logger: Logger, loader: ManifestDirectoryLoader = ManifestDirectoryLoader()) {
        self.engine = engine
        self.directory = directory
        self.project = project
        self.applierOptions = applierOptions
        self.allowEmpty = allowEmpty
        self.logger = logger
        self.loader = loader
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

    public func plan(_ desired: DesiredState, observed: [ObservedContainer], lastGood: [String: [ServiceSpec]] = [:], backoff: CrashLoopBackoff = CrashLoopBackoff(), now: Int64 = 0) -> Plan {
        Planner.plan(desired: desired, observed: observed, options: .init(allowEmpty: allowEmpty, lastGoodSpecs: lastGood, backoff: backoff, now: now))
    }

    /// - Parameter beforeRetiring: called mid-rollout, when new replicas are ready and before old
    ///   ones are removed (the route refresh).
    public func apply(_ plan: Plan, observed: [ObservedContainer], beforeRetiring: (@Sendable () async -> Void)? = nil) async -> ApplyReport {
        for note in plan.notes { logger.warning("\(note)") }
        var options = applierOptions
        options.beforeRetiring = beforeRetiring
        return await Applier(engine: engine, options: options, logger: logger).apply(plan, observed: observed)
    }

    /// Removes every container of the project.
    public func down() async throws -> Int {
        let observed = try await observe()
        return await Applier(engine: engine, options: applierOptions, logger: logger)
            .removeAll(observed, service: nil, reason: "down")
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
