import FlotillaAgent
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `Type=notify` with a datagram socket standing in for systemd. Ports 25050–25099.
@Suite("systemd notify", .enabled(if: TestEngine.available, "needs FLOTILLA_TEST_ENGINE (run scripts/test)"))
struct SystemdNotifyTests {
    /// A unix datagram socket that collects what is sent to it.
    final class FakeSystemd: @unchecked Sendable {
        let path: String
        let fd: Int32
        private let lock = NSLock()
        private var received: [String] = []

        init() throws {
            path = NSTemporaryDirectory() + "flotilla-notify-\(UUID().uuidString.prefix(8)).sock"
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
            let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
            try #require(bound == 0)
            var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            Thread { [self] in
                var buffer = [UInt8](repeating: 0, count: 4096)
                while true {
                    let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                    if n > 0 { lock.withLock { received.append(String(decoding: buffer[0..<n], as: UTF8.self)) } }
                    if n < 0 && errno != EAGAIN && errno != EWOULDBLOCK { return }
                }
            }.start()
        }

        var messages: [String] { lock.withLock { received } }
        func close() { shutdown(fd, Int32(SHUT_RDWR)); Glibc.close(fd); unlink(path) }
    }

    @Test func readyAfterTheFirstReconcileStatusWatchdogPingsAndStopping() async throws {
        let s = try await Scenario("notify", ports: 25050...25099)
        let systemd = try FakeSystemd()
        defer { systemd.close() }
        try s.write("web.yaml", Scenario.httpService("web", replicas: 2))
        let daemon = try DaemonProcess([s.directory, "--engine", TestEngine.endpoint!, "--project", s.project, "--state-dir", s.stateDirectory,
                                        "--port-range", "25050-25099"],
                                       environment: ["NOTIFY_SOCKET": systemd.path, "WATCHDOG_USEC": "1000000"])
        var stopped = false
        defer { if !stopped { Task { _ = await daemon.stop(); await s.cleanup() } } }
        #expect(await DaemonProcess.poll { systemd.messages.contains("READY=1") }, "\(systemd.messages)\n\(daemon.log)")
        // READY=1 only once the first reconcile created the replicas.
        #expect(try await s.containers("web").count == 2)
        #expect(await DaemonProcess.poll { systemd.messages.filter { $0 == "WATCHDOG=1" }.count >= 3 }, "\(systemd.messages)")
        #expect(systemd.messages.contains { $0.hasPrefix("STATUS=1 services, ") && $0.contains("replicas ready") }, "\(systemd.messages)")
        stopped = true
        #expect(await daemon.stop() == 0)
        #expect(systemd.messages.contains("STOPPING=1"), "\(systemd.messages)")
        await s.cleanup()
    }

    @Test func withoutNotifySocketNothingIsSentAndWatchdogNeedsOurPid() {
        #expect(!SystemdNotifier(environment: [:]).isEnabled)
        #expect(SystemdNotifier(environment: ["NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "4000000"]).watchdogInterval == .seconds(2))
        #expect(SystemdNotifier(environment: ["NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "1"]).watchdogInterval == nil)
    }
}
