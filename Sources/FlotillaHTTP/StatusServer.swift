import FlotillaAgent
import FlotillaCore
import FlotillaEngine
import Foundation
import Hummingbird
import Logging
import Prometheus

/// The daemon's HTTP endpoint (Hummingbird): what an operator, Prometheus, systemd or a load
/// balancer asks a running `flotilla run`.
///
/// - `GET /metrics`: Prometheus text format (swift-prometheus, from the swift-metrics registry);
/// - `GET /healthz`: 200 while the controller answers (its loop is alive);
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

    public init(address: ListenAddress, controller: Controller, project: String, engine: EngineClient,
                registry: PrometheusCollectorRegistry, logger: Logger) {
        self.address = address
        self.controller = controller
        self.project = project
        self.engine = engine
        self.registry = registry
        self.logger = logger
    }

    /// The Hummingbird application, a swift-service-lifecycle `Service` for the daemon's group.
    public func application() -> some ApplicationProtocol {
        let router = Router()
        let controller = controller, project = project, engine = engine, registry = registry
        router.get("metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: ResponseBody(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        router.get("healthz") { _, _ in
            await Self.answers(controller) ? Self.text(.ok, "ok\n") : Self.text(.serviceUnavailable, "controller not answering\n")
        }
        router.get("readyz") { _, _ in
            guard await controller.firstReconcileDone else { return Self.text(.serviceUnavailable, "first reconcile not done\n") }
            guard (try? await engine.transport.send(.GET, "/_ping", timeout: .seconds(2)))?.status == 200 else {
                return Self.text(.serviceUnavailable, "engine not answering\n")
            }
            return Self.text(.ok, "ready\n")
        }
        router.get("api/v1/status") { _, _ in
            try Self.json(await controller.status(project: project))
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
        return Application(router: router, configuration: .init(address: bind, serverName: "flotilla"), logger: serverLogger)
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

    static func json(_ value: some Encodable) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }
}
