import FlotillaCore
import FlotillaEngine
import Foundation
import Logging

/// Carries out a ``Plan`` on the engine: images first, then services level by level in
/// dependency order (each level's services in parallel, engine calls bounded by `parallelism`),
/// rolling replacements gated on health, orphans last.
///
/// A replica that never becomes ready is removed and the old ones keep serving: that is the
/// automatic rollback. A service whose dependency failed is skipped, not started half-wired.
public struct Applier: Sendable {
    public struct Options: Sendable {
        public var project: String
        public var parallelism: Int
        public var portRange: ClosedRange<Int>
        /// How long a replica without a health check must stay running to count as ready.
        public var settleTime: Duration
        /// Called when new replicas are ready and before old ones are retired (start-first), so
        /// the routes can take the new replicas in before the old ones leave.
        public var beforeRetiring: (@Sendable () async -> Void)?
        /// Called with the id of every container removed (the daemon stops probing it).
        public var removed: (@Sendable (String) async -> Void)?

        public init(project: String, parallelism: Int = 4, portRange: ClosedRange<Int> = 20000...29999, settleTime: Duration = .seconds(1),
                    beforeRetiring: (@Sendable () async -> Void)? = nil) {
            self.beforeRetiring = beforeRetiring
            self.project = project
            self.parallelism = parallelism
            self.portRange = portRange
            self.settleTime = settleTime
        }
    }

    let engine: EngineClient
    let options: Options
    let logger: Logger
    let limiter: ConcurrencyLimiter
    let prober = HealthProber()

    public init(engine: EngineClient, options: Options, logger: Logger) {
        self.engine = engine
        self.options = options
        self.logger = logger
        self.limiter = ConcurrencyLimiter(limit: options.parallelism)
    }

    public func apply(_ plan: Plan, observed: [ObservedContainer]) async -> ApplyReport {
        let clock = ContinuousClock()
        let start = clock.now
        let ports = PortAllocator(range: options.portRange, taken: observed.compactMap(\.hostPort))
        var report = ApplyReport()
        report.unchanged = plan.services.filter { !$0.hasChanges }.count

        // Images, once per distinct reference, and named networks, before anything is stopped.
        let needed = plan.services.filter { $0.create > 0 || !$0.replace.isEmpty }
        let imageFailures = await ensureImages(for: needed.map(\.spec))
        let networkFailures = await ensureNetworks(for: needed.map(\.spec))

        let byName = Dictionary(plan.services.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let dependedOn = Set(plan.services.flatMap(\.spec.dependsOn))
        var failed = Set<String>()
        for level in plan.levels {
            let results = await withTaskGroup(of: (String, ServiceOutcome).self) { group in
                for name in level {
                    guard let service = byName[name] else { continue }
                    let blockedBy = service.spec.dependsOn.filter { failed.contains($0) }
                    let imageError = imageFailures[service.spec.image] ?? networkFailures[name]
                    group.addTask {
                        if let imageError, service.create > 0 || !service.replace.isEmpty {
                            var outcome = ServiceOutcome()
                            outcome.failure = imageError
                            outcome.removed = await removeAll(service.prune, service: name, reason: "pruned (not running)")
                            return (name, outcome)
                        }
                        if !blockedBy.isEmpty {
                            var outcome = ServiceOutcome()
                            outcome.failure = "not started: dependency \(blockedBy.joined(separator: ", ")) is not healthy"
                            return (name, outcome)
                        }
                        return (name, await converge(service, ports: ports, dependedOn: dependedOn))
                    }
                }
                var results: [(String, ServiceOutcome)] = []
                for await result in group { results.append(result) }
                return results
            }
            for (name, outcome) in results {
                report.created += outcome.created
                report.replaced += outcome.replaced
                report.removed += outcome.removed
                if outcome.crashed { report.crashed.insert(name) }
                if let failure = outcome.failure {
                    report.failures[name] = failure
                    failed.insert(name)
                    logger.error("service did not converge", metadata: ["service": "\(name)", "reason": "\(failure)"])
                }
            }
        }

        report.removed += await removeAll(plan.orphans, service: nil, reason: "orphan (service no longer in the manifests)")
        for service in plan.staleMarkers {
            do {
                try await engine.clearRollbackMarker(project: options.project, service: service)
                logger.info("rollback marker cleared (the manifest moved on)", metadata: ["service": "\(service)"])
            } catch {
                logger.error("cannot clear rollback marker", metadata: ["service": "\(service)", "error": "\(error)"])
            }
        }
        if !plan.orphans.isEmpty || plan.services.contains(where: { !$0.removeSurplus.isEmpty }) {
            await pruneNetworks(keeping: Set(plan.services.flatMap { $0.spec.networks.map(\.name) }))
        }
        report.seconds = (clock.now - start).fractionalSeconds
        return report
    }

    // MARK: - Images

    /// Applies each image's pull policy; returns the images that could not be made available.
    func ensureImages(for specs: [ServiceSpec]) async -> [String: String] {
        var policies: [String: PullPolicy] = [:]
        for spec in specs {
            // The strictest policy wins when services share an image.
            let current = policies[spec.image]
            if current == nil || spec.pull == .always || (spec.pull == .missing && current == .never) { policies[spec.image] = spec.pull }
        }
        return await withTaskGroup(of: (String, String?).self) { group in
            for (image, policy) in policies {
                group.addTask {
                    do {
                        try await limiter.run { try await ensureImage(image, policy: policy) }
                        return (image, nil)
                    } catch {
                        logger.error("image not available", metadata: ["image": "\(image)", "error": "\(error)"])
                        return (image, "image \(image): \(error)")
                    }
                }
            }
            var failures: [String: String] = [:]
            for await (image, failure) in group { if let failure { failures[image] = failure } }
            return failures
        }
    }

    func ensureImage(_ image: String, policy: PullPolicy) async throws {
        switch policy {
        case .never:
            guard try await engine.imageExists(image) else {
                throw EngineError.notFound("image \(image) is not on this host and its pull policy is never")
            }
        case .missing:
            if try await engine.imageExists(image) { return }
            fallthrough
        case .always:
            let clock = ContinuousClock(), start = clock.now
            logger.info("pulling image", metadata: ["image": "\(image)"])
            try await engine.pullImage(image)
            logger.info("pulled image", metadata: ["image": "\(image)", "duration": "\(Self.format(clock.now - start))"])
        }
    }

    // MARK: - One service

    struct ServiceOutcome: Sendable {
        var created = 0
        var replaced = 0
        var removed = 0
        var crashed = false
        var failure: String?
    }

    func converge(_ service: ServicePlan, ports: PortAllocator, dependedOn: Set<String>) async -> ServiceOutcome {
        var outcome = ServiceOutcome()
        let spec = service.spec
        let hash = spec.specHash
        // A rollback is recorded before any canary goes, so that no crash can bring it back.
        if let rolledBack = service.markRolledBack {
            do {
                try await engine.setRollbackMarker(project: options.project, service: spec.name, hash: rolledBack)
                logger.warning("canary rolled back", metadata: ["service": "\(spec.name)", "spec": "\(rolledBack)", "reason": "\(service.rollbackReason ?? "?")"])
            } catch {
                outcome.failure = "cannot record the rollback: \(error)"
                return outcome
            }
        }

        if service.prune.contains(where: { $0.specHash == hash }) { outcome.crashed = true }
        outcome.removed += await removeAll(service.prune, service: spec.name, reason: "pruned (not running)")
        // Failing liveness: replaced like a dead replica, and counted toward crash-loop backoff.
        if !service.unhealthy.isEmpty { outcome.crashed = true }
        outcome.removed += await removeAll(service.unhealthy, service: spec.name, reason: "liveness check failing", kill: true)

        // New replicas, all at once (engine calls bounded by the limiter).
        if service.create > 0 {
            if service.createRole == .canary {
                logger.info("canary release", metadata: [
                    "service": "\(spec.name)", "canaries": "\(service.create)", "weight": "\(spec.update.canary.weight)%",
                    "changed": "\(service.changes.map(\.field).joined(separator: ","))",
                ])
            }
            let results = await withTaskGroup(of: Bool.self) { group in
                // A brand-new replica nothing depends on needs no settle wait: there is no old one to
                // protect, and a crash is caught by the events and the watchdog. Health checks,
                // dependencies and canaries are always waited for.
                let settle = dependedOn.contains(spec.name) || service.createRole == .canary
                for _ in 0..<service.create { group.addTask { await startReplica(spec, ports: ports, settle: settle, role: service.createRole) } }
                var ok = 0
                for await started in group where started { ok += 1 }
                return ok
            }
            outcome.created += results
            if results < service.create {
                outcome.crashed = true
                outcome.failure = "\(service.create - results) of \(service.create) new replicas did not become ready"
                if service.createRole == .canary {
                    // A canary that cannot become ready is rolled back, not retried forever.
                    try? await engine.setRollbackMarker(project: options.project, service: spec.name, hash: hash)
                    logger.warning("canary rolled back", metadata: ["service": "\(spec.name)", "spec": "\(hash)", "reason": "canary did not become ready"])
                    outcome.failure = "canary did not become ready; rolled back, the old replicas keep serving"
                }
            }
        }

        // Rolling replacement, `parallelism` at a time.
        if !service.replace.isEmpty {
            if !service.changes.isEmpty {
                logger.info("rolling update", metadata: [
                    "service": "\(spec.name)", "replicas": "\(service.replace.count)", "order": "\(spec.update.order.rawValue)",
                    "changed": "\(service.changes.map(\.field).joined(separator: ","))",
                ])
            }
            let batchSize = spec.update.parallelism
            var index = 0
            while index < service.replace.count, outcome.failure == nil {
                let batch = Array(service.replace[index..<min(index + batchSize, service.replace.count)])
                index += batch.count
                let ok: Int
                switch spec.update.order {
                case .startFirst:
                    ok = await startReplicas(batch.count, spec, ports: ports)
                    if ok == batch.count {
                        await options.beforeRetiring?()
                        outcome.removed += await removeAll(batch, service: spec.name, reason: "replaced", graceful: true, spec: spec)
                        outcome.replaced += batch.count
                    } else {
                        // Old replicas keep serving; the new ones were already removed.
                        outcome.created += ok
                        outcome.crashed = true
                        outcome.failure = "rolling update stopped: new replica did not become ready; old replicas keep serving"
                    }
                case .stopFirst:
                    outcome.removed += await removeAll(batch, service: spec.name, reason: "replaced (stop-first)", graceful: true, spec: spec)
                    ok = await startReplicas(batch.count, spec, ports: ports)
                    outcome.replaced += ok
                    if ok < batch.count {
                        outcome.crashed = true
                        outcome.failure = "rolling update (stop-first) failed: new replica did not become ready"
                    }
                }
            }
        }

        let reason = service.phase == .rolledBack ? "canary rolled back" : "surplus (scaled down)"
        outcome.removed += await removeAll(service.removeSurplus, service: spec.name, reason: reason, graceful: true, spec: spec)
        return outcome
    }

    func startReplicas(_ count: Int, _ spec: ServiceSpec, ports: PortAllocator) async -> Int {
        await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<count { group.addTask { await startReplica(spec, ports: ports) } }
            var ok = 0
            for await started in group where started { ok += 1 }
            return ok
        }
    }

    /// Creates, starts and waits for one replica. On failure the replica is removed again, so a
    /// failed start leaves nothing behind.
    func startReplica(_ spec: ServiceSpec, ports: PortAllocator, settle: Bool = true, role: ReplicaRole = .regular) async -> Bool {
        let clock = ContinuousClock(), start = clock.now
        var hostPort: Int?
        let name = "\(options.project)-\(spec.name)-\(Self.randomSuffix())"
        var id: String?
        do {
            if spec.network == .host, spec.port != nil || spec.command?.contains(where: { $0.contains("${PORT}") }) == true {
                hostPort = try await ports.allocate()
            }
            var draft = ContainerBlueprint(spec: spec, project: options.project, hostPort: hostPort, role: role)
            draft.labels[OwnershipLabel.createdAt] = String(WallClock.nowMS())
            let blueprint = draft
            let created = try await limiter.run { () async throws -> String in
                let id = try await engine.createContainer(name: name, blueprint: blueprint)
                try await engine.startContainer(id)
                return id
            }
            id = created
            if spec.network == .bridge, let port = spec.port {
                hostPort = try await engine.publishedPort(of: created, containerPort: port)
            }
            let ready = await waitReady(id: created, spec: spec, hostPort: hostPort, settle: settle)
            guard ready else {
                logger.warning("replica did not become ready; removing it", metadata: ["service": "\(spec.name)", "container": "\(name)"])
                try? await limiter.run { try await engine.removeContainer(created) }
                if let hostPort, spec.network == .host { await ports.release(hostPort) }
                return false
            }
            var metadata: Logger.Metadata = ["service": "\(spec.name)", "container": "\(name)", "duration": "\(Self.format(clock.now - start))"]
            if role == .canary { metadata["role"] = "canary" }
            if let hostPort { metadata["port"] = "\(hostPort)" }
            logger.info("created", metadata: metadata)
            return true
        } catch {
            logger.error("create failed", metadata: ["service": "\(spec.name)", "container": "\(name)", "error": "\(error)"])
            if let id { try? await limiter.run { try await engine.removeContainer(id) } }
            if let hostPort, spec.network == .host { await ports.release(hostPort) }
            return false
        }
    }

    /// Ready = passes its health check (probing from the start period on, until
    /// `start_period + interval × retries` has passed), or, without one, still running after the
    /// settle time. A container that exits meanwhile fails at once.
    func waitReady(id: String, spec: ServiceSpec, hostPort: Int?, settle: Bool = true) async -> Bool {
        let clock = ContinuousClock(), start = clock.now
        guard let health = spec.readiness, let hostPort else {
            if settle { try? await Task.sleep(for: options.settleTime) }
            return await isRunning(id)
        }
        let budget = Duration.milliseconds(health.startPeriod.milliseconds + health.interval.milliseconds * health.retries)
        var pause = Duration.milliseconds(50)
        var probes = 0
        while clock.now - start < budget {
            if Task.isCancelled { return false }
            if await prober.probe(health, port: hostPort) { return true }
            probes += 1
            if probes % 4 == 0, !(await isRunning(id)) { return false }
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, .milliseconds(health.interval.milliseconds))
        }
        return false
    }

    func isRunning(_ id: String) async -> Bool {
        guard let inspect = try? await engine.inspectContainer(id), let state = inspect["State"] as? [String: Any] else { return false }
        return state["Running"] as? Bool == true
    }

    /// Removes containers (graceful stop first when asked, with the spec's stop timeout).
    /// `kill`: no stop timeout at all (a replica failing its liveness check is not answering anyway).
    func removeAll(_ containers: [ObservedContainer], service: String?, reason: String, graceful: Bool = false, spec: ServiceSpec? = nil, kill: Bool = false) async -> Int {
        await withTaskGroup(of: Bool.self) { group in
            for container in containers {
                group.addTask {
                    let clock = ContinuousClock(), start = clock.now
                    do {
                        try await limiter.run {
                            if graceful, container.state.isLive, let spec {
                                try? await engine.stopContainer(container.id, timeout: max(1, spec.stopTimeout.milliseconds / 1000))
                            } else if kill, container.state.isLive {
                                try? await engine.stopContainer(container.id, timeout: 0)
                            }
                            try await engine.removeContainer(container.id)
                        }
                        await options.removed?(container.id)
                        logger.info("removed", metadata: [
                            "service": "\(service ?? container.service)", "container": "\(container.name)",
                            "reason": "\(reason)", "duration": "\(Self.format(clock.now - start))",
                        ])
                        return true
                    } catch {
                        logger.error("remove failed", metadata: ["container": "\(container.name)", "error": "\(error)"])
                        return false
                    }
                }
            }
            var n = 0
            for await ok in group where ok { n += 1 }
            return n
        }
    }

    static func randomSuffix() -> String {
        String(UInt32.random(in: 0...UInt32.max), radix: 16).leftPadded(to: 8)
    }

    static func format(_ d: Duration) -> String { String(format: "%.2fs", d.fractionalSeconds) }
}

extension String {
    func leftPadded(to width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
