import FlotillaCore
import Foundation

/// One container event from the engine's event stream, normalised across Docker and Podman
/// (Docker says `die`/`destroy`, Podman says `died`/`remove`).
public struct EngineEvent: Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// The container stopped running (exited, killed, OOM).
        case died
        /// The container was removed.
        case removed
        /// Anything else (create, start, …): not a reason to reconcile.
        case other
    }

    public var kind: Kind
    public var action: String
    public var containerID: String
    public var service: String?
    /// Unix seconds, and nanoseconds where the engine sends them.
    public var time: Int64
    public var timeNano: Int64?
    /// On a death: the container's exit code, where the engine says it.
    public var exitCode: Int?
    /// The container's name, where the engine says it.
    public var name: String?

    public init(kind: Kind, action: String, containerID: String, service: String?, time: Int64, timeNano: Int64? = nil) {
        self.kind = kind
        self.action = action
        self.containerID = containerID
        self.service = service
        self.time = time
        self.timeNano = timeNano
    }

    public static func kind(ofAction action: String) -> Kind {
        switch action.split(separator: ":").first.map(String.init) ?? action {
        // kill/stop/cleanup come with or before the die itself; one trigger per death is enough.
        case "die", "died", "oom": return .died
        case "destroy", "remove": return .removed
        default: return .other
        }
    }

    /// Parses one line of the `/events` stream; nil for lines that are not container events.
    public static func parse(_ line: [UInt8]) -> EngineEvent? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else { return nil }
        let type = (object["Type"] as? String) ?? (object["type"] as? String) ?? "container"
        guard type == "container" else { return nil }
        let action = (object["Action"] as? String) ?? (object["status"] as? String) ?? ""
        let actor = object["Actor"] as? [String: Any]
        let id = (actor?["ID"] as? String) ?? (object["id"] as? String) ?? ""
        let attributes = actor?["Attributes"] as? [String: String]
        let time = (object["time"] as? NSNumber)?.int64Value ?? 0
        let nano = (object["timeNano"] as? NSNumber)?.int64Value
        var event = EngineEvent(kind: kind(ofAction: action), action: action, containerID: id,
                                service: attributes?[OwnershipLabel.service], time: time, timeNano: nano)
        // Docker: Attributes.exitCode; Podman: Attributes.containerExitCode.
        event.exitCode = (attributes?["exitCode"] ?? attributes?["containerExitCode"]).flatMap(Int.init)
        event.name = attributes?["name"]
        return event
    }
}

extension EngineClient {
    /// Follows the engine's event stream for the project's containers until the stream ends,
    /// fails or the task is cancelled. `since` (Unix seconds) replays what happened meanwhile.
    public func streamEvents(project: String, since: Int64?, onConnected: () -> Void, onEvent: (EngineEvent) -> Void) async throws {
        let filters = #"{"label":["\#(OwnershipLabel.project)=\#(project)"],"type":["container"]}"#
        var path = prefix + "/events?filters=" + Self.percentEncode(filters)
        if let since { path += "&since=\(since)" }
        var lines = EventLines()
        var failure: Int?
        try await transport.stream(.GET, path) { status, _ in
            if status == 200 { onConnected() } else { failure = status }
        } onChunk: { chunk in
            if failure != nil { return }
            for line in try lines.append(chunk) {
                if let event = EngineEvent.parse(line) { onEvent(event) }
            }
        }
        if let failure { throw EngineError.server(status: failure, message: "event stream refused") }
    }
}

/// Splits the event stream into lines, linear in its length, holding at most `maxLine` bytes of
/// an unfinished line: a stream that never sends a newline is an error (the follower reconnects),
/// never an unbounded buffer.
struct EventLines {
    static let maxLine = 1 << 20
    private var pending: [UInt8] = []

    /// The complete lines in `chunk` (with what was pending before it).
    mutating func append(_ chunk: [UInt8]) throws -> [[UInt8]] {
        var lines: [[UInt8]] = []
        var start = chunk.startIndex
        while let newline = chunk[start...].firstIndex(of: UInt8(ascii: "\n")) {
            lines.append(pending + chunk[start..<newline])
            pending.removeAll(keepingCapacity: true)
            start = newline + 1
        }
        pending += chunk[start...]
        guard pending.count <= Self.maxLine else {
            pending = []
            throw EngineError.malformedResponse("engine event longer than \(Self.maxLine) bytes")
        }
        return lines
    }
}
