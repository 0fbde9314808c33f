import FlotillaCore
import Foundation
import Logging

/// One line per event on stderr: `2026-11-26T23:40:00.123Z info  created service=web container=… duration=0.31s`,
/// or one JSON object per line with `--log-format json`.
public struct LineLogHandler: LogHandler {
    public enum Format: String, Sendable, CaseIterable {
        case text, json
    }

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let format: Format
    let label: String

    public init(label: String, format: Format, level: Logger.Level) {
        self.label = label
        self.format = format
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let level = event.level, message = event.message
        let all = metadata.merging(event.metadata ?? [:]) { _, new in new }
        let time = Self.timestamp()
        var line: String
        switch format {
        case .text:
            line = "\(time) \(level.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)) \(Diagnostic.escaped("\(message)"))"
            for key in all.keys.sorted() { line += " \(key)=\(Self.quoteIfNeeded("\(all[key]!)"))" }
        case .json:
            var object: [String: String] = ["ts": time, "level": level.rawValue, "msg": "\(message)"]
            for (key, value) in all { object[key] = "\(value)" }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
            line = String(decoding: data, as: UTF8.self)
        }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// Values from manifests are untrusted: control characters and line separators are escaped
    /// (one event is always one line, and no escape sequence reaches the terminal).
    static func quoteIfNeeded(_ value: String) -> String {
        if !value.isEmpty, !value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || $0 == "\\" || $0.isNewline }),
           !value.unicodeScalars.contains(where: Diagnostic.needsEscape) { return value }
        let quoted = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return "\"" + Diagnostic.escaped(quoted) + "\""
    }

    static func timestamp() -> String {
        var tv = timeval()
        gettimeofday(&tv, nil)
        var t = time_t(tv.tv_sec)
        var tm = tm()
        gmtime_r(&t, &tm)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, Int(tv.tv_usec / 1000))
    }
}
