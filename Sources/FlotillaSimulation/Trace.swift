import FlotillaAgent
import Foundation
import Logging

/// The events of one seed, stamped with virtual time: the failure report's context, and what
/// `--trace` prints (identical for one seed on every run).
public final class Trace: @unchecked Sendable {
    public private(set) var lines: [String] = []
    public var echo = false
    /// The seed's folder, shown as `$SIM` (its name holds the process id).
    public var root = ""
    public init() {}

    public func add(_ line: String) {
        let text = root.isEmpty ? line : line.replacingOccurrences(of: root, with: "$SIM")
        let stamped = "[\(SimScheduler.shared.stamp)] \(text)"
        lines.append(stamped)
        if echo { say(stamped) }
    }

    public func last(_ count: Int) -> [String] { Array(lines.suffix(count)) }
}

/// Sends the agent's log lines (info and up) into the trace, with their metadata sorted.
public struct TraceLogHandler: LogHandler {
    let trace: Trace
    let process: String
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]

    public init(trace: Trace, process: String) {
        self.trace = trace
        self.process = process
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { _, new in new }
        let fields = all.keys.sorted().map { "\($0)=\(all[$0]!)" }.joined(separator: " ")
        trace.add("\(process) \(event.level): \(event.message)\(fields.isEmpty ? "" : " " + fields)")
    }
}
