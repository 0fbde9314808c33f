import FlotillaAgent
import FlotillaCore
import FlotillaEngine
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import Prometheus

/// The daemon's HTTP endpoint (Hummingbird): what an operator, Prometheus, systemd or a load
/// balancer asks a running `flotilla run`.
///
/// - `GET /metrics`: Prometheus text format (swift-prometheus, from the swift-metrics registry);
/// - `GET /healthz`: 200 while the controller answers (its loop is alive) and file descriptors
///   are not nearly exhausted (``DescriptorBudget``);
/// - `GET /readyz`: 200 once the first reconcile is done and the engine answers;
/// - `GET /api/v1/status`: ``ProjectStatus`` as JSON (what `flotilla status --format json` prints);
/// - `GET /api/v1/events`: the recent ``ActionEvent``s, oldest first;
/// - `GET /`: the status page (no external assets; polls the two APIs).
public struct StatusServer: Sendable {
    public let address: ListenAddress
    let controller: Controller
    let project: String
    let engine: EngineClient
    let registry: PrometheusCollectorRegistry
    let logger: Logger
    /// Required of every request but the probes' and the page's (``BearerToken``); nil: none.
    let token: String?
    /// The daemon's descriptors; low makes `/healthz` say so (nil: not watched).
    let descriptors: DescriptorBudget?

    public init(address: ListenAddress, controller: Controller, project: String, engine: EngineClient,
                registry: PrometheusCollectorRegistry, logger: Logger, token: String? = nil, descriptors: DescriptorBudget? = nil) {
        self.token = token
        self.descriptors = descriptors
        self.address = address
        self.controller = controller
        self.project = project
        self.engine = engine
        self.registry = registry
        self.logger = logger
    }

    /// What one client may cost the daemon: its descriptors are shared with the engine
    /// connection, locks, port claims and manifests, so connections are capped (more wait in
    /// the listen backlog) and idle ones closed; a request's headers are bounded, and the
    /// answers that cost something are computed at most once per interval (``Throttled``).
    public struct Limits: Sendable {
        public var maxConnections = 64
        public var backlog = 64
        public var idleTimeout: Duration = .seconds(15)
        public var maxHeaderBytes = 16 * 1024
        /// The status snapshot is recomputed at most this often.
        public var statusInterval: Duration = .seconds(1)
        /// `/readyz` asks the engine at most this often.
        public var engineCheckInterval: Duration = .seconds(2)

        public init() {}
    }

    /// The Hummingbird application, a swift-service-lifecycle `Service` for the daemon's group.
    public func application(limits: Limits = Limits()) -> some ApplicationProtocol {
        let router = Router()
        if let token { router.add(middleware: BearerToken(token: Array(token.utf8))) }
        let controller = controller, project = project, engine = engine, registry = registry, descriptors = descriptors
        let status = Throttled(every: limits.statusInterval) { () -> Data? in
            try? Self.encoder.encode(await controller.status(project: project))
        }
        let engineAnswers = Throttled(every: limits.engineCheckInterval) {
            (try? await engine.transport.send(.GET, "/_ping", timeout: .seconds(2)))?.status == 200
        }
        router.get("metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: ResponseBody(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        router.get("healthz") { _, _ in
            if let descriptors, descriptors.isLow {
                let seen = descriptors.lastReading.map { " (\($0))" } ?? ""
                return Self.text(.serviceUnavailable, "file descriptors nearly exhausted\(seen); raise LimitNOFILE\n")
            }
            return await Self.answers(controller) ? Self.text(.ok, "ok\n") : Self.text(.serviceUnavailable, "controller not answering\n")
        }
        router.get("readyz") { _, _ in
            guard await controller.firstReconcileDone else { return Self.text(.serviceUnavailable, "first reconcile not done\n") }
            guard await engineAnswers.value else {
                return Self.text(.serviceUnavailable, "engine not answering\n")
            }
            return Self.text(.ok, "ready\n")
        }
        router.get("api/v1/status") { _, _ in
            guard let body = await status.value else { return Self.text(.internalServerError, "status could not be encoded\n") }
            return Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
        }
        router.get("api/v1/events") { _, _ in
            try Self.json(["events": controller.actions.events])
        }
        router.get("/") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: StatusPage.html(project: project))))
        }
        let bind: BindAddress
        switch address {
        case .tcp(let host, let port): bind = .hostname(host, port: port)
        case .unix(let path):
            bind = .unixDomainSocket(path: path)  // see ``clearStaleSocket(at:)``
        }
        var serverLogger = logger
        serverLogger.logLevel = .warning  // no line per request
        var http = HTTP1Channel.Configuration(idleTimeout: .nanoseconds(Int64(limits.idleTimeout.components.seconds) * 1_000_000_000
                                                                          + limits.idleTimeout.components.attoseconds / 1_000_000_000))
        http.httpDecoder = .init(maxHeaderFieldSize: limits.maxHeaderBytes, maxHeaderListSize: limits.maxHeaderBytes, maxHeaderFieldCount: 100)
        return Application(router: router, server: .http1(configuration: http),
                           configuration: .init(address: bind, serverName: "flotilla", backlog: limits.backlog,
                                                availableConnectionsDelegate: BudgetedConnections(cap: limits.maxConnections, descriptors: descriptors)),
                           logger: serverLogger)
    }

    /// Before listening on a unix socket: removes a socket a previous run left at `path`, and
    /// nothing else (before: whatever file was there was unlinked, as root). Throws, saying what
    /// is there, when it is not a socket.
    public static func clearStaleSocket(at path: String) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }  // nothing there
        guard (info.st_mode & S_IFMT) == S_IFSOCK else {
            throw SocketPathError(description: "--listen unix://\(path): something other than a socket is there; remove it yourself or choose another path")
        }
        unlink(path)
    }

    public struct SocketPathError: Error, CustomStringConvertible {
        public var description: String
    }

    static func answers(_ controller: Controller) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { await controller.ping() }
            group.addTask { try? await Task.sleep(for: .seconds(2)); return false }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    static func text(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    static func json(_ value: some Encodable) throws -> Response {
        Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: try Self.encoder.encode(value))))
    }
}
