import FlotillaCore
import FlotillaEngine
import Foundation
import Logging

/// Replica lifecycle on the engine: create + start (without waiting for readiness), start in
/// place, graceful stop + remove. Every call is bounded by the shared limiter; a failed create
/// or start cleans up after itself, so it leaves nothing behind.
struct Replicas: Sendable {
    let engine: any ContainerEngine
    let project: String
    let limiter: ConcurrencyLimiter
    let ports: PortAllocator
    let logger: Logger
    let seal: ReplicaSeal?
    let source: String?
    /// Checked before every create, on the file system as it is then.
    let mounts: MountPolicy
    let actions: ActionRecorder

    struct CreateError: Error, CustomStringConvertible {
        var description: String
        /// The engine was not reachable (not the service's fault: no crash-loop count).
        var engineUnavailable: Bool
        /// The container the failed attempt left on the engine (its start failed, or its answer
        /// was lost after the engine started it): the caller removes it (``discard(_:)``) once it
        /// is out of the routes, as any running replica.
        var leftover: String?
    }

    /// Creates and starts one replica; returns its id. On any failure its port is released, and
    /// the container it made, if any, is handed back in the error (``CreateError/leftover``).
    func create(_ spec: ServiceSpec, role: ReplicaRole, revision: String? = nil) async throws -> String {
        let clock = AgentClock(), start = clock.now
        let name = "\(project)-\(spec.name)-\(Self.randomSuffix())"
        var hostPort: Int?
        var id: String?
        do {
            // The host paths again, as they are now: a container that can write under an allowed
            // folder may have turned a folder another service mounts into a link to anywhere.
            for volume in spec.volumes {
                if let problem = mounts.problem(source: String(volume.prefix { $0 != ":" })) { throw MountRefused(description: problem) }
            }
            if spec.network == .host, spec.port != nil || spec.command?.contains(where: { $0.contains("${PORT}") }) == true {
                hostPort = try await ports.allocate()
            }
            var draft = ContainerBlueprint(spec: spec, project: project, hostPort: hostPort, role: role)
            draft.labels[OwnershipLabel.createdAt] = String(WallClock.nowMS())
            if let source { draft.labels[OwnershipLabel.source] = source }
            if let revision { draft.labels[OwnershipLabel.revision] = revision }
            if let seal { draft.labels[OwnershipLabel.seal] = seal.seal(name: name, service: spec.name, specHash: spec.specHash) }
            let blueprint = draft
            let created = try await limiter.run { try await engine.createContainer(name: name, blueprint: blueprint) }
            id = created
            if let hostPort { await ports.settle(hostPort) }
            try await limiter.run { try await engine.startContainer(created) }
            var metadata: Logger.Metadata = ["service": "\(spec.name)", "container": "\(name)", "duration": "\(Self.format(clock.now - start))"]
            if role == .canary { metadata["role"] = "canary" }
            if let hostPort { metadata["port"] = "\(hostPort)" }
            if let revision { metadata["revision"] = "\(revision)" }
            logger.info("created", metadata: metadata)
            actions.record("created", service: spec.name, container: name, reason: role == .canary ? "canary" : nil, revision: revision)
            return created
        } catch {
            logger.error("create failed", metadata: ["service": "\(spec.name)", "container": "\(name)", "error": "\(error)"])
            actions.record("failed", service: spec.name, container: name, reason: "create: \(error)", revision: revision)
            if let hostPort { await ports.release(hostPort) }
            throw CreateError(description: "\(error)", engineUnavailable: !(error is PortAllocator.AllocationError || error is MountRefused) && EngineError.isUnavailable(error),
                              leftover: id)
        }
    }

    /// A host path the operator's policy refuses at the moment of the create.
    struct MountRefused: Error, CustomStringConvertible {
        var description: String
    }

    /// Removes what a failed create left (stopped at once: it never served on purpose).
    func discard(_ id: String) async {
        try? await limiter.run {
            try? await engine.stopContainer(id, timeout: 0)
            try await engine.removeContainer(id)
        }
    }

    /// Starts an exited replica again (the engine kept its whole config, secrets included).
    func start(_ container: ObservedContainer) async throws {
        try await limiter.run { try await engine.startContainer(container.id) }
        var metadata: Logger.Metadata = ["service": "\(container.service)", "container": "\(container.name)"]
        if let revision = container.revision { metadata["revision"] = "\(revision)" }
        logger.info("started again", metadata: metadata)
        actions.record("started", service: container.service, container: container.name, revision: container.revision)
    }

    /// Stops (SIGTERM, then SIGKILL after `stopTimeout` seconds; at once for `.kill`) and removes.
    func remove(_ container: ObservedContainer, reason: String, stop: ServiceStep.StopMode, stopTimeout: Int, decidedAt: String? = nil) async throws {
        let clock = AgentClock(), start = clock.now
        try await limiter.run {
            if container.state.isLive || container.state == .restarting {
                do {
                    try await engine.stopContainer(container.id, timeout: stop == .kill ? 0 : max(1, stopTimeout))
                } catch let error as EngineError {
                    if case .notFound = error {} else { logger.warning("stop failed; removing anyway", metadata: ["container": "\(container.name)", "error": "\(error)"]) }
                }
            }
            try await engine.removeContainer(container.id)
        }
        if let port = container.hostPort { await ports.release(port) }
        var metadata: Logger.Metadata = [
            "service": "\(container.service)", "container": "\(container.name)", "reason": "\(reason)", "duration": "\(Self.format(clock.now - start))",
        ]
        // The revision the removed replica ran, and the one that decided its removal.
        if let revision = container.revision { metadata["revision"] = "\(revision)" }
        if let decidedAt { metadata["desired_revision"] = "\(decidedAt)" }
        logger.info("removed", metadata: metadata)
        actions.record("removed", service: container.service, container: container.name, reason: reason, revision: decidedAt)
    }

    /// The stop timeout of a container, in whole seconds: its spec's when known, else the label's
    /// canonical form, else 10 s (the engine's default).
    static func stopTimeout(of container: ObservedContainer, spec: ServiceSpec?) -> Int {
        if let spec, spec.specHash == container.specHash || container.canonicalSpec == nil {
            return max(1, (spec.stopTimeout.milliseconds + 999) / 1000)
        }
        if let line = container.canonicalSpec?.split(separator: "\n").first(where: { $0.hasPrefix("stop_timeout=") }) {
            // The canonical form holds milliseconds: stop_timeout="10000".
            let value = line.dropFirst("stop_timeout=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            if let ms = Int(value) { return max(1, (ms + 999) / 1000) }
        }
        return 10
    }

    static func randomSuffix() -> String {
        String(Entropy.next(), radix: 16).leftPadded(to: 8)
    }

    static func format(_ d: Duration) -> String { String(format: "%.2fs", d.fractionalSeconds) }
}

extension String {
    func leftPadded(to width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
