import FlotillaAgent
import FlotillaCore
import FlotillaEngine
import Foundation

/// An in-memory container engine that behaves like Docker and Podman as the controller sees
/// them: container lifecycle (created, running, exited, restarting under each restart policy,
/// stopping), SIGTERM-trapping replicas and stop timeouts, an event stream whose events come
/// late, reordered, twice or not at all and which drops, answers lost after the engine acted,
/// slow answers, 500s, an engine restart that stops every container, name conflicts, images
/// that fail to pull.
///
/// Single-threaded by construction (it runs on ``SimScheduler``), so it is a class: every
/// method reads and writes its state between its own suspension points, like a real engine
/// whose calls interleave.
public final class SimEngine: @unchecked Sendable {
    public struct Box {
        public var id: String
        public var name: String
        public var labels: [String: String]
        public var blueprint: ContainerBlueprint
        public var state: String  // created, running, exited, removing, restarting
        public var createdMS: Int64
        public var startedMS: Int64 = 0
        public var finishedMS: Int64?
        public var exitCode = 0
        public var restartCount = 0
        public var hostPort: Int?
        /// Fails its health checks (a workload fault).
        public var unhealthy = false
        /// Seconds it takes to exit after SIGTERM (0: at once; busybox httpd as PID 1 ignores it).
        public var termDelay = 0
        /// Stopped by a client (no restart policy applies).
        public var stoppedByClient = false
        public var service: String { labels[OwnershipLabel.service] ?? "" }
        public var isRunning: Bool { state == "running" }
    }

    /// What the engine does wrong, set by the scenario.
    public struct Faults: Sendable {
        /// Every call fails as if the socket were gone (an engine restart, a freeze).
        public var down = false
        /// Per call: a 500 before acting, an answer lost after acting, a slow answer.
        public var serverError = 0.0
        public var lostAnswer = 0.0
        public var slow = 0.0
        /// Per event: dropped, sent twice, delayed.
        public var eventDrop = 0.0
        public var eventDuplicate = 0.0
        public var eventDelayMS = 0
        public init() {}
    }

    public var faults = Faults() {
        didSet { if (oldValue.down && !faults.down) || (oldValue.serverError >= 1 && faults.serverError < 1) { backAt = now } }
    }
    /// When the engine last came back after being down (Unix ms).
    public private(set) var backAt: Int64 = 0
    public private(set) var containers: [String: Box] = [:] { didSet { version &+= 1 } }
    /// Bumped by every change to a container (the checker recomputes what it derives only then).
    public private(set) var version = 0
    /// Containers in creation order (a stable listing order).
    private var order: [String] = []
    public var images: Set<String> = ["sim/app:1"]
    /// Images whose pull fails.
    public var unpullable: Set<String> = []
    private var volumes: [String: String] = [:]
    /// Whether a rollback marker stands for the service (for the checker; no engine call).
    func rolledBack(_ service: String) -> Bool { volumes[EngineClient.rollbackMarkerName(project: "sim", service: service)] != nil }
    private var networks: Set<String> = []
    private var nextID = 1
    private var nextPort = 30000
    private var rng: SplitMix64
    private var subscribers: [Int: AsyncThrowingStream<EngineEvent, any Error>.Continuation] = [:]
    private var nextSubscriber = 0
    private var eventLog: [EngineEvent] = []
    /// Processes whose calls no longer reach the engine (SIGKILLed daemons).
    public var deadProcesses: Set<Int> = []
    /// Told before a client stops or removes a running container (the invariants' hook).
    public var willStop: ((Box, Int) -> Void)?
    /// Told of every change (for the trace).
    public var log: (String) -> Void = { _ in }
    /// Calls made (a busy-loop guard).
    public private(set) var calls = 0

    public init(seed: UInt64) { rng = SplitMix64(seed: seed ^ 0xE61E) }

    var now: Int64 { WallClock.nowMS() }

    func chance(_ p: Double) -> Bool { p > 0 && Double(rng.next() % 1_000_000) / 1_000_000 < p }
    func random(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(rng.next() % UInt64(range.count)) }

    /// A handle as one process holds it: its calls fail once the process is dead.
    public func handle(process: Int) -> Handle { Handle(engine: self, process: process) }

    // MARK: - Calls, with their faults

    /// Before acting: the process is alive, the engine up, maybe slow, maybe a 500.
    func enter(_ process: Int, _ what: String) async throws {
        calls += 1
        guard !deadProcesses.contains(process) else { throw EngineError.unreachable(tried: ["sim": "process killed"]) }
        guard !faults.down else { throw EngineError.unreachable(tried: ["sim": "engine down"]) }
        if chance(faults.slow) { try await AgentClock.sleep(for: .milliseconds(random(100...4000))) }
        guard !deadProcesses.contains(process) else { throw EngineError.unreachable(tried: ["sim": "process killed"]) }
        guard !faults.down else { throw EngineError.noResponse(what) }
        if chance(faults.serverError) { throw EngineError.server(status: 500, message: "simulated failure of \(what)") }
    }

    /// After acting: the answer may be lost (the engine did it all the same).
    func leave(_ what: String) throws {
        if chance(faults.lostAnswer) { throw EngineError.noResponse(what) }
    }

    func observed(_ box: Box, label: String, value: String, service: String?) -> ObservedContainer? {
        let published: [(privatePort: Int?, publicPort: Int)] = box.hostPort.map { [(box.blueprint.publishedPort, $0)] } ?? []
        return EngineClient.observed(id: box.id, name: box.name, labels: box.labels, state: box.state, engineCreatedMS: box.createdMS / 1000 * 1000,
                                     published: published, owner: (label, value), service: service)
    }

    func list(_ p: Int, label: String, value: String, service: String?) async throws -> [ObservedContainer] {
        try await enter(p, "list")
        let result = order.compactMap { containers[$0] }.compactMap { observed($0, label: label, value: value, service: service) }
        try leave("list")
        return result
    }

    func inspect(_ p: Int, _ id: String, label: String, value: String) async throws -> ObservedContainer? {
        try await enter(p, "inspect")
        guard let box = containers[id] else { return nil }
        return observed(box, label: label, value: value, service: nil)
    }

    func create(_ p: Int, name: String, blueprint: ContainerBlueprint) async throws -> String {
        try await enter(p, "create")
        guard images.contains(blueprint.image) else { throw EngineError.notFound("no such image: \(blueprint.image)") }
        guard !containers.values.contains(where: { $0.name == name }) else { throw EngineError.conflict("name \(name) is in use") }
        let id = String(format: "%012x", nextID) + String(repeating: "0", count: 52)
        nextID += 1
        var box = Box(id: id, name: name, labels: blueprint.labels, blueprint: blueprint, state: "created", createdMS: now)
        if blueprint.publishedPort != nil { box.hostPort = nextPort; nextPort += 1 }
        box.termDelay = chance(0.3) ? random(1...15) : 0
        containers[id] = box
        order.append(id)
        log("engine: created \(name)")
        emit(box, "create")
        try leave("create")
        return id
    }

    func start(_ p: Int, _ id: String) async throws {
        try await enter(p, "start")
        guard var box = containers[id] else { throw EngineError.notFound("no such container: \(id)") }
        if box.state != "running" {
            box.state = "running"
            box.startedMS = now
            box.stoppedByClient = false
            containers[id] = box
            log("engine: started \(box.name)")
            emit(box, "start")
        }
        try leave("start")
    }

    func stop(_ p: Int, _ id: String, timeout: Int) async throws {
        try await enter(p, "stop")
        guard var box = containers[id] else { throw EngineError.notFound("no such container: \(id)") }
        guard box.isRunning else { try leave("stop"); return }
        willStop?(box, p)
        box.stoppedByClient = true
        containers[id] = box
        let wait = box.termDelay == 0 ? 0 : min(box.termDelay, timeout)
        // The engine carries a stop through even when its caller goes away meanwhile (before: a
        // cancelled caller left the container running, marked as stopped by the client).
        if wait > 0 { try? await AgentClock.sleep(for: .seconds(wait)) }
        if var now = containers[id], now.isRunning {
            now.stoppedByClient = true
            containers[id] = now
            exit(id, code: wait < box.termDelay ? 137 : 0, restart: false)
        }
        try leave("stop")
    }

    func remove(_ p: Int, _ id: String) async throws {
        try await enter(p, "remove")
        guard let box = containers[id] else { throw EngineError.notFound("no such container: \(id)") }
        if box.isRunning {
            willStop?(box, p)
            exit(id, code: 137, restart: false)
        }
        containers[id] = nil
        order.removeAll { $0 == id }
        log("engine: removed \(box.name)")
        emit(box, "destroy")
        try leave("remove")
    }

    // MARK: - What happens to containers

    /// A running container stops: `die`, and its restart policy may bring it back.
    public func exit(_ id: String, code: Int, restart: Bool = true) {
        guard var box = containers[id], box.isRunning else { return }
        box.state = "exited"
        box.exitCode = code
        box.finishedMS = now
        containers[id] = box
        log("engine: \(box.name) exited (\(code))")
        emit(box, "die", exitCode: code)
        guard restart, !box.stoppedByClient else { return }
        let policy = box.blueprint.restartPolicy
        let retries = box.blueprint.restartMaxRetries
        let restarts: Bool
        switch policy {
        case .no: restarts = false
        case .always, .unlessStopped: restarts = true
        case .onFailure: restarts = code != 0 && (retries.map { box.restartCount < $0 } ?? true)
        }
        guard restarts else { return }
        let delay = random(100...1500)
        Task {
            try? await AgentClock.sleep(for: .milliseconds(delay))
            guard var again = self.containers[id], again.state == "exited", !again.stoppedByClient, !self.faults.down else { return }
            again.state = "running"
            again.restartCount += 1
            again.startedMS = self.now
            self.containers[id] = again
            self.log("engine: restarted \(again.name) (policy)")
            self.emit(again, "start")
        }
    }

    /// The engine restarts (a reboot): every container stops, the event streams drop, the API is
    /// down for a while; containers under `always`/`unless-stopped` come back.
    public func restartEngine(downFor: Duration) async {
        log("engine: restarting (down for \(downFor))")
        faults.down = true
        dropEventStreams()
        for id in order where containers[id]?.isRunning == true {
            var box = containers[id]!
            box.state = "exited"
            box.exitCode = 137
            box.finishedMS = now
            containers[id] = box
        }
        try? await AgentClock.sleep(for: downFor)
        faults.down = false
        for id in order {
            guard var box = containers[id], box.state == "exited" else { continue }
            if box.blueprint.restartPolicy == .always || (box.blueprint.restartPolicy == .unlessStopped && !box.stoppedByClient) {
                box.state = "running"
                box.startedMS = now
                box.stoppedByClient = false  // running again: a later death is its own (seed 1431, release)
                containers[id] = box
            }
        }
        log("engine: back")
    }

    public func setUnhealthy(_ id: String, _ value: Bool) {
        containers[id]?.unhealthy = value
    }

    /// Ready as a probe from the host would find it: running a moment, answering.
    public func answers(port: Int) -> Bool {
        guard let box = containers.values.first(where: { $0.hostPort == port }) else { return false }
        return box.isRunning && !box.unhealthy
    }

    public var ordered: [Box] { order.compactMap { containers[$0] } }

    // MARK: - Events

    func emit(_ box: Box, _ action: String, exitCode: Int? = nil) {
        var event = EngineEvent(kind: EngineEvent.kind(ofAction: action), action: action, containerID: box.id, service: box.labels[OwnershipLabel.service],
                                time: now / 1000, timeNano: now * 1_000_000)
        event.exitCode = exitCode
        event.name = box.name
        eventLog.append(event)
        if eventLog.count > 5000 { eventLog.removeFirst(1000) }
        for continuation in subscribers.values { deliver(event, to: continuation) }
    }

    func deliver(_ event: EngineEvent, to continuation: AsyncThrowingStream<EngineEvent, any Error>.Continuation) {
        if chance(faults.eventDrop) { return }
        let copies = chance(faults.eventDuplicate) ? 2 : 1
        let delay = faults.eventDelayMS > 0 ? random(0...faults.eventDelayMS) : 0
        if delay == 0 && copies == 1 {
            continuation.yield(event)
            return
        }
        Task {
            if delay > 0 { try? await AgentClock.sleep(for: .milliseconds(delay)) }
            for _ in 0..<copies { continuation.yield(event) }
        }
    }

    public func dropEventStreams() {
        for continuation in subscribers.values { continuation.finish(throwing: EngineError.noResponse("event stream")) }
        subscribers = [:]
    }

    func stream(_ p: Int, project: String, since: Int64?, onConnected: () -> Void, onEvent: (EngineEvent) -> Void) async throws {
        try await enter(p, "events")
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: EngineEvent.self)
        let key = nextSubscriber
        nextSubscriber += 1
        subscribers[key] = continuation
        defer { subscribers[key] = nil }
        onConnected()
        if let since {
            for event in eventLog where event.time >= since && containers[event.containerID]?.labels[OwnershipLabel.project] ?? project == project {
                onEvent(event)
            }
        }
        for try await event in stream {
            if deadProcesses.contains(p) { throw EngineError.unreachable(tried: ["sim": "process killed"]) }
            onEvent(event)
        }
        if Task.isCancelled { throw CancellationError() }
    }

    // MARK: - Markers (volumes on a real engine)

    func volume(_ p: Int, _ name: String) async throws -> String? {
        try await enter(p, "volume")
        return volumes[name]
    }

    func setVolume(_ p: Int, _ name: String, _ value: String?) async throws {
        try await enter(p, "volume")
        volumes[name] = value
        try leave("volume")
    }

    func markers(_ p: Int, prefix: String) async throws -> [String: String] {
        try await enter(p, "volumes")
        var result: [String: String] = [:]
        for (name, value) in volumes where name.hasPrefix(prefix) { result[String(name.dropFirst(prefix.count))] = value }
        return result
    }

    /// One process's view of the engine (``ContainerEngine``).
    public struct Handle: ContainerEngine {
        let engine: SimEngine
        let process: Int

        public func listContainers(label: String, value: String, service: String?) async throws -> [ObservedContainer] {
            try await engine.list(process, label: label, value: value, service: service)
        }
        public func observeContainer(_ id: String, label: String, value: String) async throws -> ObservedContainer? {
            try await engine.inspect(process, id, label: label, value: value)
        }
        public func hostPortsInUse() async throws -> Set<Int> {
            try await engine.enter(process, "list")
            return Set(engine.containers.values.compactMap(\.hostPort))
        }
        public func labelledContainers(label: String, value: String) async throws -> [(id: String, name: String, labels: [String: String])] {
            try await engine.enter(process, "list")
            return engine.ordered.filter { $0.labels[label] == value }.map { ($0.id, $0.name, $0.labels) }
        }
        public func createContainer(name: String, blueprint: ContainerBlueprint) async throws -> String {
            try await engine.create(process, name: name, blueprint: blueprint)
        }
        public func startContainer(_ id: String) async throws { try await engine.start(process, id) }
        public func stopContainer(_ id: String, timeout: Int) async throws { try await engine.stop(process, id, timeout: timeout) }
        public func removeContainer(_ id: String) async throws { try await engine.remove(process, id) }
        public func restartStatus(of id: String) async throws -> EngineRestart {
            try await engine.enter(process, "inspect")
            guard let box = engine.containers[id] else { throw EngineError.notFound("no such container: \(id)") }
            return EngineRestart(restarting: box.state == "restarting", restartCount: box.restartCount, exitCode: box.exitCode, finishedAt: box.finishedMS,
                                 startedAt: box.startedMS > 0 ? box.startedMS : nil)
        }
        public func ensureNetwork(_ name: String, project: String, driver: String) async throws -> Bool {
            try await engine.enter(process, "network")
            return engine.networks.insert(name).inserted
        }
        public func ownedNetworks(project: String) async throws -> [String] {
            try await engine.enter(process, "networks")
            return engine.networks.sorted()
        }
        public func removeNetwork(_ name: String) async throws {
            try await engine.enter(process, "network")
            engine.networks.remove(name)
        }
        // The simulated services use no named networks or volumes: one project owns them all.
        public func networkOwner(_ name: String) async throws -> ResourceOwner {
            try await engine.enter(process, "network")
            return engine.networks.contains(name) ? .project("sim") : .missing
        }
        public func volumeOwner(_ name: String) async throws -> ResourceOwner {
            try await engine.enter(process, "volume")
            return .missing
        }
        public func createVolume(_ name: String, project: String) async throws {
            try await engine.enter(process, "volume")
        }
        public func rollbackMarkers(project: String) async throws -> [String: String] {
            try await engine.markers(process, prefix: EngineClient.rollbackMarkerName(project: project, service: ""))
        }
        public func setRollbackMarker(project: String, service: String, hash: String) async throws {
            try await engine.setVolume(process, EngineClient.rollbackMarkerName(project: project, service: service), hash)
        }
        public func clearRollbackMarker(project: String, service: String) async throws {
            try await engine.setVolume(process, EngineClient.rollbackMarkerName(project: project, service: service), nil)
        }
        public func projectOwner(project: String) async throws -> String? {
            try await engine.volume(process, EngineClient.ownerMarkerName(project: project))
        }
        public func setProjectOwner(project: String, source: String) async throws {
            let name = EngineClient.ownerMarkerName(project: project)
            if try await engine.volume(process, name) == nil { try await engine.setVolume(process, name, source) }
        }
        public func clearProjectOwner(project: String) async throws {
            try await engine.setVolume(process, EngineClient.ownerMarkerName(project: project), nil)
        }
        public func imageExists(_ reference: String) async throws -> Bool {
            try await engine.enter(process, "image")
            return engine.images.contains(reference)
        }
        public func pullImage(_ reference: String) async throws {
            try await engine.enter(process, "pull")
            try await AgentClock.sleep(for: .milliseconds(engine.random(50...800)))
            guard !engine.unpullable.contains(reference) else { throw EngineError.pullFailed(image: reference, message: "manifest unknown") }
            engine.images.insert(reference)
        }
        public func streamEvents(project: String, since: Int64?, onConnected: () -> Void, onEvent: (EngineEvent) -> Void) async throws {
            try await engine.stream(process, project: project, since: since, onConnected: onConnected, onEvent: onEvent)
        }
    }
}

/// Health checks answered by the simulated replicas (a replica answers once it has run a moment,
/// unless the scenario made it unhealthy).
public struct SimProber: HealthProbing {
    let engine: SimEngine
    public init(engine: SimEngine) { self.engine = engine }
    public func run(_ check: HealthCheck, port: Int) async -> (healthy: Bool?, detail: String) {
        try? await AgentClock.sleep(for: .milliseconds(5))
        let ok = engine.answers(port: port)
        return (ok, ok ? "HTTP 200" : "HTTP 503")
    }
}
