import FlotillaCore
import FlotillaEngine
import Foundation
import Logging

/// Rebuilds the route table from the running replicas and rewrites every route output.
/// Called after every reconcile, every watchdog tick, and mid-rollout (so a new replica joins the
/// routes before an old one leaves).
public actor RouteRefresher {
    let outputs: [RouteOutput]
    let listen: String
    let settleTime: Duration
    let logger: Logger
    let prober = HealthProber()
    /// The daemon's continuous probes; without it (one-shot commands) readiness is probed at
    /// each refresh.
    var monitor: ProbeMonitor?
    public private(set) var lastTable: RouteTable?
    private var lastInputs: (services: [ServiceSpec], observed: [ObservedContainer], keeping: Set<String>)?

    public init(outputs: [RouteOutput], listen: String, settleTime: Duration = .seconds(1), logger: Logger) {
        self.outputs = outputs
        self.listen = listen
        self.settleTime = settleTime
        self.logger = logger
    }

    public func use(_ monitor: ProbeMonitor) { self.monitor = monitor }

    /// Refreshes from the last services and containers with the current readiness verdicts
    /// (after a probe changed one): no engine call.
    public func refreshReadiness() async {
        guard let lastInputs else { return }
        await refresh(services: lastInputs.services, observed: lastInputs.observed, keeping: lastInputs.keeping)
    }

    public var isEnabled: Bool { !outputs.isEmpty }

    /// Refreshes from the given state. Nil observed (engine unreachable) keeps the last files.
    /// `keeping`: services whose manifest failed to load and whose spec is unknown; their last
    /// routes are kept as they were (prune safety applies to routes too).
    public func refresh(services: [ServiceSpec], observed: [ObservedContainer]?, keeping: Set<String> = []) async {
        guard !outputs.isEmpty, let observed else { return }
        lastInputs = (services, observed, keeping)
        let ready = await Self.readyContainers(services: services, observed: observed, settleTime: settleTime, prober: prober, monitor: monitor)
        var table = RouteTable.build(services: services, observed: observed, ready: ready)
        if let lastTable, !keeping.isEmpty {
            table = RouteTable(entries: table.entries + lastTable.entries.filter { keeping.contains($0.service) })
        }
        lastTable = table
        for output in outputs {
            let content = output.format.render(table, listen: listen)
            let outcome = await output.writer.update(to: content)
            switch outcome {
            case .unchanged:
                break
            case .written:
                logger.info("routes updated", metadata: ["file": "\(output.writer.path)", "format": "\(output.format.rawValue)",
                                                        "routes": "\(table.entries.count)", "targets": "\(table.upstreams.map(\.targets.count).reduce(0, +))"])
            case .checkFailed(let why):
                logger.error("route file failed the proxy's check; previous file restored, proxy not reloaded",
                             metadata: ["file": "\(output.writer.path)", "check_output": "\(why)"])
            case .reloadFailed(let why):
                logger.error("proxy reload failed", metadata: ["file": "\(output.writer.path)", "output": "\(why)"])
            case .writeFailed(let why):
                logger.error("cannot write route file", metadata: ["file": "\(output.writer.path)", "error": "\(why)"])
            }
        }
    }

    /// Running replicas that pass their readiness check (the monitor's verdict, or a probe now
    /// without a monitor) or, without one, have run for the settle time.
    public static func readyContainers(services: [ServiceSpec], observed: [ObservedContainer], settleTime: Duration, prober: HealthProber,
                                       monitor: ProbeMonitor? = nil) async -> Set<String> {
        let specs = Dictionary(services.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let now = WallClock.nowMS()
        let settleMS = settleTime.wholeMilliseconds
        return await withTaskGroup(of: String?.self) { group in
            for container in observed where container.state.isLive {
                guard let spec = specs[container.service], !spec.routes.isEmpty, let port = container.hostPort else { continue }
                group.addTask {
                    if let readiness = spec.readiness {
                        if let monitor { return await monitor.readiness(of: container.id) == .passing ? container.id : nil }
                        return await prober.probe(readiness, port: port) ? container.id : nil
                    }
                    return now - container.created >= settleMS ? container.id : nil
                }
            }
            var ready = Set<String>()
            for await id in group { if let id { ready.insert(id) } }
            return ready
        }
    }
}
