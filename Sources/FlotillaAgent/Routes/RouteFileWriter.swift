import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Puts a rendered route file in place safely: only when its content changed; written in full to
/// a temp file in the same folder (the candidate), fsynced, checked with the proxy's own
/// validator, and only then renamed over the live file (no reader ever sees half a file); then
/// the proxy is told to reload. A candidate the check rejects is removed, the live file keeps its
/// previous bytes, and the proxy is not reloaded.
///
/// How the check sees the candidate:
/// - `{file}` in the check command stands for the candidate's path (`haproxy -c -f base.cfg -f
///   {file}`, `caddy validate --config {file} --adapter caddyfile`): the candidate is checked
///   before it goes live, so a proxy reloaded by anything else never loads an unchecked file.
///   This is the only mode that guarantees it.
/// - Without `{file}` the check can only read the live file (`nginx -t -c nginx.conf`, whose
///   main config includes it): the candidate is renamed over the live file, checked there, and on
///   failure the previous file is renamed back (staged beforehand, so that is a single rename:
///   the same bytes and mode, at once). For the duration of the check the unchecked file is live.
public struct RouteFileWriter: Sendable {
    public enum Outcome: Sendable, Equatable {
        case unchanged
        case written
        /// The check rejected the new file (the checker's output); the live file is unchanged.
        case checkFailed(String)
        case reloadFailed(String)
        case writeFailed(String)

        /// The new file is live (and the reload hook, if any, was run).
        public var wentLive: Bool {
            switch self {
            case .written, .reloadFailed: true
            case .unchanged, .checkFailed, .writeFailed: false
            }
        }
    }

    /// Stands for the candidate's path in ``check``.
    public static let placeholder = "{file}"

    public var path: String
    public var check: String?
    public var reload: String?
    public var timeout: Duration

    public init(path: String, check: String? = nil, reload: String? = nil, timeout: Duration = .seconds(30)) {
        self.path = path
        self.check = check
        self.reload = reload
        self.timeout = timeout
    }

    /// Whether the check reads the candidate (it names `{file}`) rather than the live file.
    public var checksCandidate: Bool { check.map { CommandRunner.split($0).contains { $0.contains(Self.placeholder) } } ?? false }

    /// Writes, checks and reloads as needed, and counts what happened
    /// (`flotilla_route_file_events_total{event=write|check_failure|write_failure|reload|reload_failure}`).
    public func update(to content: String) async -> Outcome {
        let outcome = await write(content)
        switch outcome {
        case .unchanged: break
        case .written:
            FlotillaMetrics.routeFile("write")
            if reload != nil { FlotillaMetrics.routeFile("reload") }
        case .writeFailed: FlotillaMetrics.routeFile("write_failure")
        case .checkFailed: FlotillaMetrics.routeFile("check_failure")
        case .reloadFailed:
            FlotillaMetrics.routeFile("write")
            FlotillaMetrics.routeFile("reload_failure")
        }
        return outcome
    }

    /// Whether `content` differs from the live file (what ``update(to:)`` would write).
    public func differs(from content: String) -> Bool {
        FileManager.default.contents(atPath: path) != Data(content.utf8)
    }

    func write(_ content: String) async -> Outcome {
        let previous = FileManager.default.contents(atPath: path)
        let new = Data(content.utf8)
        if previous == new { return .unchanged }
        // The new file keeps the live file's permissions.
        let mode = (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int).map { mode_t($0) } ?? 0o644
        let candidate: String
        do { candidate = try AtomicFile.stage(new, nextTo: path, mode: mode) } catch { return .writeFailed("\(error)") }
        if let check {
            let args = CommandRunner.split(check)
            if checksCandidate {
                let result = await CommandRunner.run(arguments: args.map { $0.replacingOccurrences(of: Self.placeholder, with: candidate) }, timeout: timeout)
                guard result.succeeded else {
                    unlink(candidate)
                    return .checkFailed(Self.describe(result, "check"))
                }
                do { try AtomicFile.commit(candidate, to: path) } catch { return .writeFailed("\(error)") }
            } else {
                // The way back is staged before the new file goes live, so that a failed check
                // costs one rename, not a write, before anything else can reload the proxy.
                var backup: String?
                do {
                    backup = try previous.map { try AtomicFile.stage($0, nextTo: path, mode: mode) }
                    try AtomicFile.commit(candidate, to: path)
                } catch {
                    unlink(candidate)
                    if let backup { unlink(backup) }
                    return .writeFailed("\(error)")
                }
                let result = await CommandRunner.run(arguments: args, timeout: timeout)
                guard result.succeeded else {
                    // No previous file: the rejected one is removed.
                    let restored = backup.map { (try? AtomicFile.commit($0, to: path)) != nil } ?? (unlink(path) == 0 || errno == ENOENT)
                    return .checkFailed(Self.describe(result, "check") + (restored ? "" : " (the rejected file could not be taken back and is live)"))
                }
                if let backup { unlink(backup) }
            }
        } else {
            do { try AtomicFile.commit(candidate, to: path) } catch { return .writeFailed("\(error)") }
        }
        if let reload {
            let result = await CommandRunner.run(reload, timeout: timeout)
            if !result.succeeded { return .reloadFailed(Self.describe(result, "reload")) }
        }
        return .written
    }

    /// A failed hook's output, or why it did not finish.
    static func describe(_ result: CommandRunner.Result, _ hook: String) -> String {
        result.cancelled ? "\(hook) stopped (flotilla is stopping)" : result.timedOut ? "\(hook) timed out" : result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
