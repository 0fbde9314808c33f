import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// systemd's notify protocol (`Type=notify`), without libsystemd: datagrams to `$NOTIFY_SOCKET`
/// (a path, or `@name` in the abstract namespace). `READY=1` once the first reconcile is done,
/// `STATUS=` a one-line summary, `WATCHDOG=1` while the loop is healthy when `$WATCHDOG_USEC` is
/// set, `STOPPING=1` on shutdown. Without `$NOTIFY_SOCKET` every call does nothing.
public struct SystemdNotifier: Sendable {
    let socketPath: String?
    /// How often to ping the watchdog: half of `$WATCHDOG_USEC` (nil: no watchdog).
    public let watchdogInterval: Duration?

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        socketPath = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        // WATCHDOG_PID, when set, must be ours (a parent's setting does not apply to us).
        let forUs = environment["WATCHDOG_PID"].map { $0 == String(getpid()) } ?? true
        if forUs, socketPath != nil, let usec = environment["WATCHDOG_USEC"].flatMap(Int64.init), usec > 0 {
            watchdogInterval = .microseconds(usec / 2)
        } else {
            watchdogInterval = nil
        }
    }

    public var isEnabled: Bool { socketPath != nil }

    public func ready() { send("READY=1") }
    public func status(_ line: String) { send("STATUS=" + line.replacingOccurrences(of: "\n", with: " ")) }
    public func watchdog() { send("WATCHDOG=1") }
    public func stopping() { send("STOPPING=1") }

    /// One datagram; errors are ignored (systemd may not listen: the daemon works without it).
    public func send(_ message: String) {
        guard let socketPath else { return }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var path = Array(socketPath.utf8)
        if path.first == UInt8(ascii: "@") { path[0] = 0 }  // the abstract namespace
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.count < capacity else { return }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in path.enumerated() { raw[i] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count + (path.first == 0 ? 0 : 1))
        let bytes = Array(message.utf8)
        _ = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { target in
                bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), target, length) }
            }
        }
    }
}
