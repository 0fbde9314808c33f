import Logging
import ServiceLifecycle

/// The loop both daemons run around their reconciler, the container one (``Daemon``) and the
/// Swarm one (``SwarmDaemon``): manifest changes (debounced), the watchdog and the engine's event
/// stream only *trigger*; what a trigger does is the daemon's.
///
/// Contract of ``run(onChange:onWatchdog:beside:main:onShutdown:)``: the change source is started
/// first (a failure to start it is thrown, nothing else runs); `main` runs inside a graceful
/// shutdown scope with the triggers and the `beside` tasks next to it; `onShutdown` is called on
/// SIGTERM/SIGINT and must make `main` return; when `main` returns every other task is cancelled
/// and waited for, and the pending debounced change is dropped.
struct DaemonLoop: Sendable {
    /// Reports changes under the manifest directory.
    var changes: any ManifestChangeSource
    /// Changes closer together than this are one load.
    var debounce: Duration
    /// The watchdog's period.
    var resyncInterval: Duration
    var logger: Logger

    /// - Parameters:
    ///   - onChange: a debounced manifest change.
    ///   - onWatchdog: every `resyncInterval`; returns false to stop the watchdog for good.
    ///   - beside: tasks that run as long as `main` does (event streams, pollers), cancelled after.
    func run(onChange: @escaping @Sendable () async -> Void, onWatchdog: @escaping @Sendable () async -> Bool,
             beside: [@Sendable () async -> Void], main: @escaping @Sendable () async -> Void,
             onShutdown: @escaping @Sendable () -> Void) async throws {
        try changes.start()
        defer { changes.stop() }
        let debouncer = Debouncer(window: debounce, action: onChange)
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { [changes, logger] in
                    for await event in changes.events {
                        logger.debug("manifest event", metadata: ["kind": "\(event.kind)", "path": "\(event.path)"])
                        await debouncer.fire()
                    }
                }
                group.addTask { [resyncInterval, logger] in
                    while !Task.isCancelled {
                        do { try await AgentClock.sleep(for: resyncInterval) } catch { return }
                        logger.debug("watchdog tick")
                        guard await onWatchdog() else { return }
                    }
                }
                for task in beside { group.addTask(operation: task) }
                await main()
                group.cancelAll()
            }
        } onGracefulShutdown: {
            onShutdown()
        }
        await debouncer.cancel()
    }

    /// Follows an event stream until the task is cancelled: `stream` connects and returns (or
    /// throws) when the stream ends; it calls its argument once connected. A lost stream is
    /// reconnected after 0.5 s, doubling to 10 s while connecting fails, back to 0.5 s after a
    /// connection. `reconnected` is called on every connection but the first (events may have
    /// been missed meanwhile: the caller looks again).
    static func followEvents(_ what: String, logger: Logger, reconnected: @escaping @Sendable () -> Void,
                             stream: (_ connected: () -> Void) async throws -> Void) async {
        var delay = Duration.milliseconds(500)
        var everConnected = false
        while !Task.isCancelled {
            do {
                try await stream {
                    if everConnected {
                        logger.info("\(what) reconnected")
                        reconnected()
                    }
                    everConnected = true
                    delay = .milliseconds(500)
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning("\(what) lost; reconnecting", metadata: ["error": "\(error)", "retry_in": "\(delay)"])
            }
            if Task.isCancelled { return }
            do { try await AgentClock.sleep(for: delay) } catch { return }
            delay = min(delay * 2, .seconds(10))
        }
    }
}
