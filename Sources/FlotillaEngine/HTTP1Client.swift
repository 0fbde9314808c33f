import NIOCore
import NIOHTTP1
import NIOPosix

/// A response read whole from the engine.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var body: [UInt8]
    /// Response headers, names lowercased.
    public var headers: [String: String] = [:]
}

/// A minimal HTTP/1.1 client on SwiftNIO, one connection per request: to the engine's unix
/// socket, and to replicas on loopback for health probes.
///
/// The targets are local and connecting costs microseconds, so a fresh connection per request
/// keeps this free of pooling and keep-alive state. Streaming responses (events, pull progress)
/// are delivered chunk by chunk.
public struct HTTP1Client: Sendable {
    public enum Target: Sendable, Hashable {
        case unixSocket(String)
        case tcp(host: String, port: Int)
    }

    public let target: Target
    /// Overrides the Host header (requests through a proxy for a virtual host).
    public let host: String?
    /// Sent as `Authorization` with every request (a daemon's bearer token), when set.
    public var authorization: String?
    let group: any EventLoopGroup

    public init(target: Target, host: String? = nil, authorization: String? = nil, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.target = target
        self.host = host
        self.authorization = authorization
        self.group = group
    }

    public init(socketPath: String) { self.init(target: .unixSocket(socketPath)) }

    /// The largest response body ``send`` reads (the engine's list of thousands of containers
    /// with their labels stays far below it); a bigger one is an error, never an unbounded read.
    public static let maxBodyBytes = 256 << 20

    /// Sends a request and reads the whole response body, at most `maxBodyBytes` of it.
    public func send(_ method: HTTPMethod, _ path: String, body: [UInt8]? = nil, timeout: Duration = .seconds(120),
                     maxBodyBytes: Int = HTTP1Client.maxBodyBytes) async throws -> HTTPResponse {
        try await withTimeout(timeout) {
            var status: Int?
            var headers: [String: String] = [:]
            var collected: [UInt8] = []
            try await stream(method, path, body: body) { s, h in
                status = s
                headers = h
            } onChunk: { chunk in
                guard collected.count + chunk.count <= maxBodyBytes else {
                    throw EngineError.malformedResponse("\(method) \(path): response body larger than \(maxBodyBytes) bytes")
                }
                collected += chunk
            }
            guard let status else { throw EngineError.noResponse("\(method) \(path.split(separator: "?").first ?? "")") }
            return HTTPResponse(status: status, body: collected, headers: headers)
        }
    }

    /// Sends a request and returns the response status as soon as the head arrives; the body is
    /// never read (a health probe needs the status only, whatever the replica sends after it).
    public func status(_ method: HTTPMethod, _ path: String, timeout: Duration) async throws -> Int {
        struct HeadRead: Error { let status: Int }
        return try await withTimeout(timeout) {
            do {
                try await stream(method, path) { status, _ in throw HeadRead(status: status) } onChunk: { _ in }
            } catch let head as HeadRead {
                return head.status
            }
            throw EngineError.malformedResponse("\(method) \(path): no response head")
        }
    }

    /// Sends a request and hands each body chunk to `onChunk` as it arrives, until the server
    /// ends the response or the task is cancelled.
    public func stream(
        _ method: HTTPMethod, _ path: String, body: [UInt8]? = nil,
        onStatus: (Int, [String: String]) throws -> Void, onChunk: ([UInt8]) throws -> Void
    ) async throws {
        let channel = try await connect()
        try await channel.executeThenClose { inbound, outbound in
            var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
            head.headers.add(name: "Host", value: hostHeader)  // Podman answers 400 without it
            head.headers.add(name: "User-Agent", value: "flotilla")
            if let authorization { head.headers.add(name: "Authorization", value: authorization) }
            head.headers.add(name: "Connection", value: "close")
            if let body {
                head.headers.add(name: "Content-Type", value: "application/json")
                head.headers.add(name: "Content-Length", value: String(body.count))
            } else if method == .POST {
                head.headers.add(name: "Content-Length", value: "0")
            }
            // One write: a server may answer (and close) as soon as it has the head.
            var parts: [HTTPClientRequestPart] = [.head(head)]
            if let body { parts.append(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
            parts.append(.end(nil))
            try await outbound.write(contentsOf: parts)
            for try await part in inbound {
                switch part {
                case .head(let response):
                    var headers: [String: String] = [:]
                    for (name, value) in response.headers { headers[name.lowercased()] = value }
                    try onStatus(Int(response.status.code), headers)
                case .body(let buffer): try onChunk(Array(buffer.readableBytesView))
                case .end: return
                }
            }
        }
    }
}

extension HTTP1Client {
    typealias Connection = NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>

    var hostHeader: String {
        if let host { return host }
        switch target {
        case .unixSocket: return "localhost"
        case .tcp(let host, let port): return "\(host):\(port)"
        }
    }

    func connect() async throws -> Connection {
        let bootstrap = ClientBootstrap(group: group).connectTimeout(.seconds(5))
        let initializer: @Sendable (Channel) -> EventLoopFuture<Connection> = { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHTTPClientHandlers()
                return try Connection(wrappingChannelSynchronously: channel)
            }
        }
        switch target {
        case .unixSocket(let path):
            return try await bootstrap.connect(unixDomainSocketPath: path, channelInitializer: initializer)
        case .tcp(let host, let port):
            return try await bootstrap.connect(host: host, port: port, channelInitializer: initializer)
        }
    }

    /// Opens and closes a TCP connection: the `tcp` health probe.
    /// Nil: this process could not try (``isLocalExhaustion(_:)``).
    public static func canConnect(host: String, port: Int, timeout: Duration) async -> Bool? {
        do {
            return try await withTimeout(timeout) {
                let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .connectTimeout(.milliseconds(timeout.wholeMilliseconds))
                    .connect(host: host, port: port).get()
                try? await channel.close()
                return true
            }
        } catch {
            return isLocalExhaustion(error) ? nil : false
        }
    }
}

/// Runs `body`, cancelling it and throwing ``EngineError/timeout`` when it takes longer than `limit`.
func withTimeout<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else { throw EngineError.timeout(limit) }
        return value
    }
}
