import FlotillaCore
import Foundation
import Logging

/// Runs every replica's readiness and liveness probes inside the daemon, each at its own
/// interval, with bounded concurrency and per-replica ``ProbeState``. It never blocks a
/// reconcile: probes run in their own tasks, and a reconcile only reads the current verdicts.
///
/// Contract: ``sync(service:containers:)`` makes the probed set of a service equal to its live
/// replicas given, each probed with its own checks (``ReplicaChecks``); new replicas are probed
/// once at once, so their first verdict is known when it returns. Every status change is
/// reported through `onChange`.
public actor ProbeMonitor {
    public enum Role: String, Sendable { case readiness, liveness }

    public struct Change: Sendable {
        public var container: ObservedContainer
        public var role: Role
        public var status: ProbeState.Status
    }

    struct Entry {
        var container: ObservedContainer
        var port: Int
        var readiness: ProbeState?
        var liveness: ProbeState?
        var tasks: [Task<Void, Never>] = []
    }

    let prober: any HealthProbing
    let limiter: ConcurrencyLimiter
    let logger: Logger
    let onChange: @Sendable (Change) -> Void
    var entries: [String: Entry] = [:]

    public init(concurrency: Int = 16, prober: any HealthProbing = HealthProber(), logger: Logger, onChange: @escaping @Sendable (Change) -> Void) {
        self.prober = prober
        self.limiter = ConcurrencyLimiter(limit: concurrency)
        self.logger = logger
        self.onChange = onChange
    }

    /// Starts probing the service's new live replicas, stops probing the ones gone, and restarts
    /// probing where a manifest edit changed a check; other services' probes are untouched.
    public func sync(service: ServiceSpec, containers: [ObservedContainer]) async {
        let name = service.name
        var wanted: [String: (ObservedContainer, ReplicaChecks, Int)] = [:]
        for container in containers where container.state.isLive && container.service == name {
            let checks = ReplicaChecks.of(container, spec: service)
            guard !checks.isEmpty, let port = container.hostPort else { continue }
            wanted[container.id] = (container, checks, port)
        }
        for (id, entry) in entries where entry.container.service == name {
            let checks = wanted[id]?.1
            if checks == nil || checks?.readiness != entry.readiness?.check || checks?.liveness != entry.liveness?.check {
                entry.tasks.forEach { $0.cancel() }
                entries[id] = nil
            }
        }
        var fresh: [String] = []
        for (id, (container, checks, port)) in wanted where entries[id] == nil {
            entries[id] = Entry(container: container, port: port,
                                readiness: checks.readiness.map { ProbeState(check: $0, since: container.created) },
                                liveness: checks.liveness.map { ProbeState(check: $0, since: container.created) })
            fresh.append(id)
        }
        // First verdicts now, so that routes computed after this call already know them.
        await withTaskGroup(of: Void.self) { group in
            for id in fresh { group.addTask { await self.probeOnce(id, roles: [.readiness, .liveness]) } }
        }
        for id in fresh { startLoops(id) }
    }

    /// Stops probing every replica of a service (it left the manifests).
    public func forget(service: String) {
        for (id, entry) in entries where entry.container.service == service { forget(id) }
    }

    /// Ready replicas: readiness passing; replicas without a readiness check are not decided
    /// here (nil), the caller applies its settle rule.
    public func readiness(of id: String) -> ProbeState.Status? { entries[id]?.readiness?.status }

    /// The whole readiness probe state (status, and whether it ever passed).
    public func readinessState(of id: String) -> ProbeState? { entries[id]?.readiness }

    /// Live replicas whose liveness check has failed `retries` times in a row.
    public func failingLiveness() -> Set<String> {
        Set(entries.filter { $0.value.liveness?.status == .failing }.map(\.key))
    }

    /// Stops probing a container (it was removed).
    public func forget(_ id: String) {
        entries[id]?.tasks.forEach { $0.cancel() }
        entries[id] = nil
    }

    public func stop() {
        for entry in entries.values { entry.tasks.forEach { $0.cancel() } }
        entries = [:]
    }

    // MARK: - Probing

    func startLoops(_ id: String) {
        guard var entry = entries[id] else { return }
        // The original `health:` form is one check in both roles: probe it once per interval.
        if let r = entry.readiness?.check, let l = entry.liveness?.check, r == l {
            entry.tasks = [loop(id, every: r.interval, roles: [.readiness, .liveness])]
        } else {
            entry.tasks = [entry.readiness.map { loop(id, every: $0.check.interval, roles: [.readiness]) },
                           entry.liveness.map { loop(id, every: $0.check.interval, roles: [.liveness]) }].compactMap { $0 }
        }
        entries[id] = entry
    }

    func loop(_ id: String, every interval: TimeSpan, roles: [Role]) -> Task<Void, Never> {
        Task {
            while !Task.isCancelled {
                do { try await AgentClock.sleep(for: .milliseconds(interval.milliseconds)) } catch { return }
                await self.probeOnce(id, roles: roles)
            }
        }
    }

    func probeOnce(_ id: String, roles: [Role]) async {
        guard let entry = entries[id] else { return }
        let check = roles.contains(.readiness) ? entry.readiness?.check ?? entry.liveness?.check : entry.liveness?.check
        guard let check else { return }
        let port = entry.port
        let (verdict, detail) = await limiter.run { await self.prober.run(check, port: port) }
        guard let ok = verdict else {
            // This host could not probe (out of descriptors): the replica keeps its standing.
            logger.debug("probe not carried out", metadata: ["container": "\(entry.container.name)", "probe": "\(detail)"])
            return
        }
        record(id, roles: roles, success: ok, detail: detail)
    }

    func record(_ id: String, roles: [Role], success: Bool, detail: String = "") {
        guard var entry = entries[id] else { return }  // removed while probing
        if !success { for role in roles { FlotillaMetrics.probeFailure(service: entry.container.service, role: role.rawValue) } }
        let now = WallClock.nowMS()
        var changes: [(Change, ProbeState.Status)] = []
        if roles.contains(.readiness), let before = entry.readiness?.status, let status = entry.readiness?.record(success: success, at: now) {
            changes.append((Change(container: entry.container, role: .readiness, status: status), before))
        }
        if roles.contains(.liveness), let before = entry.liveness?.status, let status = entry.liveness?.record(success: success, at: now) {
            changes.append((Change(container: entry.container, role: .liveness, status: status), before))
        }
        entries[id] = entry
        for (change, before) in changes {
            // A first "passing" is routine; a failure, and a recovery from one, are news.
            let level: Logger.Level = change.status == .failing ? .warning : before == .unknown ? .debug : .info
            var metadata: Logger.Metadata = ["service": "\(change.container.service)", "container": "\(change.container.name)"]
            if change.status == .failing, !detail.isEmpty { metadata["probe"] = "\(detail)" }
            logger.log(level: level, "\(change.role.rawValue) \(change.status.rawValue)", metadata: metadata)
            onChange(change)
        }
    }
}
