import Foundation

/// Puts a rendered route file in place safely: only when its content changed; written to a temp
/// file in the same folder, fsynced and renamed over the target (no reader ever sees half a file);
/// checked with the proxy's own validator, and restored to the previous content when the check
/// fails, so a broken file never gets reloaded; then the proxy is told to reload.
public struct RouteFileWriter: Sendable {
    public enum Outcome: Sendable, Equatable {
        case unchanged
        case written
        case checkFailed(String)
        case reloadFailed(String)
        case writeFailed(String)
    }

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

    public func update(to content: String) async -> Outcome {
        let previous = FileManager.default.contents(atPath: path)
        let new = Data(content.utf8)
        if previous == new { return .unchanged }
        do {
            try Self.atomicWrite(new, to: path)
        } catch {
            return .writeFailed("\(error)")
        }
        if let check {
            let result = await CommandRunner.run(check, timeout: timeout)
            if !result.succeeded {
                // Put the last good file back before anything reloads it.
                if let previous { try? Self.atomicWrite(previous, to: path) } else { try? FileManager.default.removeItem(atPath: path) }
                return .checkFailed(result.cancelled ? "check stopped (flotilla is stopping)" : result.timedOut ? "check timed out" : result.output.trimmingCharacters(in: .whitespacesAndNewlines))
            }
        }
        if let reload {
            let result = await CommandRunner.run(reload, timeout: timeout)
            if !result.succeeded {
                return .reloadFailed(result.cancelled ? "reload stopped (flotilla is stopping)" : result.timedOut ? "reload timed out" : result.output.trimmingCharacters(in: .whitespacesAndNewlines))
            }
        }
        return .written
    }

    static func atomicWrite(_ data: Data, to path: String) throws { try AtomicFile.write(data, to: path) }
}
