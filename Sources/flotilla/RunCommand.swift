import ArgumentParser
import Dispatch
import FlotillaAgent
import FlotillaCore
import FlotillaEngine
import FlotillaHTTP
import Foundation
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Keep the host equal to the manifests, forever (the daemon).",
        discussion: """
        Reconciles at start, then again whenever something may have drifted:
          - a manifest changes (inotify on the whole tree, debounced; a swapped symlink such as \
        git-sync's current -> rev-… is followed),
          - every --resync-interval (the watchdog: re-reads live state, prunes dead containers),
          - the engine reports a container of the project died or was removed,
          - SIGHUP.
        Every trigger runs the same full reconcile; at most one runs at a time.

        While running it probes every replica's readiness and liveness checks at their own \
        intervals: a replica failing readiness leaves the routes at once (and comes back when it \
        passes), one failing liveness `retries` times in a row is replaced. Canary releases \
        (update.strategy: canary) are promoted after auto_promote_after, and rolled back when a \
        canary fails readiness or dies; `flotilla promote`/`rollback` decide by hand.

        An invalid manifest is logged with file:line:col and changes nothing that prune safety \
        protects; fixing it resumes normal work. SIGTERM/SIGINT stop at a safe point and exit 0, \
        leaving the containers running for the next start to adopt. --once is `apply`.

        With --orchestrator swarm (--engine a manager's socket): applies the manifests as Swarm \
        services at start, on manifest changes, on the manager's service events and every \
        --resync-interval; writes the route files from the live tasks of network: host services \
        (listed every second and on node events); rolls back a canary whose task failed and \
        promotes one after auto_promote_after. Swarm schedules, restarts and rolls the tasks.
        """
    )

    @OptionGroup var options: ReconcileOptions

    @Option(help: "Watchdog period: full re-read of live state and reconcile (e.g. 30s, 5m).")
    var resyncInterval: DurationArgument = DurationArgument(span: .seconds(30))

    @Option(help: "Quiet time after a manifest change before reloading (folds bursts such as git checkout).")
    var debounce: DurationArgument = DurationArgument(span: TimeSpan(milliseconds: 100))

    @Flag(help: "Wait (retrying with backoff) for the engine instead of failing when it is not reachable at start.")
    var waitForEngine = false

    @Flag(help: "Converge once and exit, exactly like `flotilla apply`.")
    var once = false

    @Option(help: ArgumentHelp("Serve /metrics, /healthz, /readyz, /api/v1/status, /api/v1/events and a status page on this address: 127.0.0.1:9273, or unix:///run/flotilla/web.sock. Off unless given.",
                               discussion: "A non-loopback address is served too, and said in the log (the page and the API show the project's services and routes). At most 64 connections at once (more wait), idle ones closed after 15 s; the status is computed at most once a second. See --listen-token-file.",
                               valueName: "address"))
    var listen: String?

    @Option(name: .customLong("listen-token-file"),
            help: ArgumentHelp("Require this file's token as `Authorization: Bearer TOKEN` for everything --listen serves but /healthz and /readyz.",
                               discussion: "The file holds one line (surrounding whitespace is ignored) and must not be readable by others. `flotilla status` on this host finds the token in the state directory; the status page takes it from its address: http://HOST:PORT/#token=TOKEN.",
                               valueName: "file"))
    var listenTokenFile: String?

    func validate() throws {
        if let listen, ListenAddress(listen) == nil {
            throw ValidationError("--listen takes HOST:PORT (127.0.0.1:9273, [::1]:9273) or unix:///path, not \"\(listen)\"")
        }
        if listenTokenFile != nil && listen == nil {
            throw ValidationError("--listen-token-file protects the --listen endpoint; give --listen too")
        }
    }

    struct TokenFileError: Error, CustomStringConvertible {
        var description: String
    }

    /// The bearer token: the file's one line, at least 16 characters, the file not readable by
    /// group or others (a token anyone on the host can read protects nothing).
    static func readToken(_ path: String) throws -> String {
        var info = stat()
        guard stat(path, &info) == 0 else { throw TokenFileError(description: "--listen-token-file \(path): \(String(cString: strerror(errno)))") }
        guard (info.st_mode & S_IFMT) == S_IFREG, info.st_size <= 4096 else {
            throw TokenFileError(description: "--listen-token-file \(path) is not a small regular file")
        }
        guard info.st_mode & 0o077 == 0 else {
            throw TokenFileError(description: "--listen-token-file \(path) can be read by others (mode \(String(info.st_mode & 0o777, radix: 8))); chmod 600 it")
        }
        let text = (FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) } ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.count >= 16, !text.contains(where: { $0.isWhitespace || $0.isNewline }) else {
            throw TokenFileError(description: "--listen-token-file \(path) must hold one token of at least 16 characters, without spaces (e.g. openssl rand -hex 32)")
        }
        return text
    }

    func run() async throws {
        if try await runResolvingAuto(\.options) { return }
        if options.orchestrator == .swarm, !once { return try await runSwarm() }
        if once {
            var apply = ApplyCommand()
            apply.options = options
            try await apply.run()
            return
        }
        HeapTuning.limitArenas(to: 2)  // a daemon: small and steady beats a little less lock contention
        // Metrics go to a Prometheus registry only when someone can read them.
        let registry = PrometheusCollectorRegistry()
        if listen != nil {
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
            FlotillaMetrics.buildInfo(version: FlotillaVersion.string)
        }
        let logger = options.makeLogger()
        let stop = StopSignals(logger: logger)
        defer { stop.cancel() }
        // Errors thrown by what prints its own (the engine, the owner check) mark it too.
        var startedUp = false
        defer { if !startedUp { stop.markFailed() } }
        guard ManifestDirectoryLoader.isDirectory(options.directory) else {
            throw stop.fail("error: manifest directory \(options.directory) does not exist or is not a directory")
        }
        let acquired: Int32?
        do {
            acquired = try ReconcileLock(project: options.projectName).acquireDaemonLock()
        } catch {
            throw stop.fail("error: \(error)")
        }
        guard let daemonLock = acquired else {
            throw stop.fail("error: another `flotilla run` already manages project \(options.projectName) on this host; stop it first (or pass another --project)")
        }
        defer { if daemonLock >= 0 { close(daemonLock) } }
        let engine = try await connectEngine(logger: logger)
        let reconciler = options.makeReconciler(engine: engine, logger: logger)
        try await options.checkOwnership(reconciler, claim: true)
        let absolute = URL(fileURLWithPath: options.directory).standardizedFileURL.path
        logger.info("flotilla starting", metadata: [
            "version": "\(FlotillaVersion.string)", "watching": "\(absolute)", "project": "\(options.projectName)",
            "engine": "\(engine.endpoint)", "engine_version": "\(engine.version.engineName)", "api": "\(engine.apiVersion)",
            "resync": "\(resyncInterval.span)",
        ])
        let limits = DescriptorBudget.raiseSoftLimit()
        if limits.after > limits.before {
            logger.debug("file descriptor limit raised to the hard limit", metadata: ["from": "\(limits.before)", "to": "\(limits.after)"])
        }
        let descriptors = DescriptorBudget()
        var daemonOptions = Daemon.Options(resyncInterval: resyncInterval.duration, debounce: debounce.duration,
                                           routes: options.makeRouteRefresher(logger: logger))
        daemonOptions.descriptors = descriptors
        let daemon = Daemon(reconciler: reconciler, options: daemonOptions, logger: logger)
        // SIGTERM/SIGINT: graceful shutdown through swift-service-lifecycle (the controller takes
        // no new step; steps in flight get 10 s, then they are cancelled).
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: daemon)]
        if let address = listen.flatMap(ListenAddress.init) {
            if case .unix(let path) = address {
                do { try StatusServer.clearStaleSocket(at: path) } catch {
                    throw stop.fail("error: \(error)")
                }
            }
            var token: String?
            if let listenTokenFile {
                do { token = try Self.readToken(listenTokenFile) } catch {
                    throw stop.fail("error: \(error)")
                }
            }
            let server = StatusServer(address: address, controller: daemon.controller, project: options.projectName, engine: engine,
                                      registry: registry, logger: logger, token: token, descriptors: descriptors)
            var serverLimits = StatusServer.Limits()
            serverLimits.maxConnections = DescriptorBudget.connectionCap(limit: limits.after)
            services.append(.init(service: server.application(limits: serverLimits)))
            if address.isLocal {
                logger.info("serving status and metrics", metadata: ["listen": "\(address)"])
            } else {
                logger.warning("serving status and metrics on a non-loopback address: anyone who reaches it sees the project's services and routes",
                               metadata: ["listen": "\(address)"])
            }
            // `flotilla status` finds the daemon here.
            let store = StateStore(directory: options.stateDir ?? StateStore.defaultDirectory(project: options.projectName))
            store.saveDaemonAddress(address.description)
            store.saveDaemonToken(token)
        }
        var configuration = ServiceGroupConfiguration(services: services, logger: logger)
        configuration.gracefulShutdownSignals = []  // ``StopSignals`` triggers it, with no gap
        configuration.maximumGracefulShutdownDuration = .seconds(10)
        configuration.logging.keys = .init()
        let group = ServiceGroup(configuration: configuration)
        startedUp = true
        stop.handOver(to: group)
        let signals = SignalHandlers()
        signals.on(SIGHUP) { daemon.requestReconcile() }
        do {
            try await group.run()
        } catch {
            // The status server failing (its address taken, say) stops the daemon safely too.
            let serving = listen.map { " (serving --listen \($0))" } ?? ""
            Console.error("error: \(error)\(serving); the daemon stopped, containers left running")
            throw ExitCode(1)
        }
        signals.cancel()
    }

    /// Swarm mode: the manifests as Swarm services, the route files from the live tasks.
    func runSwarm() async throws {
        if listen != nil {
            Console.error("error: --listen is not available with --orchestrator swarm yet; use `flotilla status --orchestrator swarm`")
            throw ExitCode(64)
        }
        let logger = options.makeLogger()
        let stop = StopSignals(logger: logger)
        defer { stop.cancel() }
        // Errors thrown by what prints its own (the engine, the owner check) mark it too.
        var startedUp = false
        defer { if !startedUp { stop.markFailed() } }
        guard ManifestDirectoryLoader.isDirectory(options.directory) else {
            throw stop.fail("error: manifest directory \(options.directory) does not exist or is not a directory")
        }
        guard let daemonLock = try? ReconcileLock(project: options.projectName).acquireDaemonLock() else {
            throw stop.fail("error: another `flotilla run` already manages project \(options.projectName) from this host; stop it first (or pass another --project)")
        }
        defer { if daemonLock >= 0 { close(daemonLock) } }
        let engine = try await connectEngine(logger: logger)
        let swarm = options.makeSwarmReconciler(engine: engine, logger: logger)
        do {
            _ = try await swarm.observe()  // throws when the engine is not a manager
        } catch {
            throw stop.fail("error: \(error)")
        }
        let reconciler = options.makeReconciler(engine: engine, logger: logger)
        let absolute = URL(fileURLWithPath: options.directory).standardizedFileURL.path
        logger.info("flotilla starting on Docker Swarm", metadata: [
            "version": "\(FlotillaVersion.string)", "watching": "\(absolute)", "project": "\(options.projectName)",
            "engine": "\(engine.endpoint)", "resync": "\(resyncInterval.span)",
        ])
        let daemon = SwarmDaemon(
            swarm: swarm, directory: options.directory,
            load: {
                let state = try await reconciler.load()
                for diagnostic in state.diagnostics { logger.error("\(diagnostic.description)") }
                return state
            },
            options: .init(resyncInterval: resyncInterval.duration, debounce: debounce.duration,
                           routes: options.makeRouteRefresher(logger: logger)),
            lock: ReconcileLock(project: options.projectName), logger: logger)
        var configuration = ServiceGroupConfiguration(services: [.init(service: daemon)], logger: logger)
        configuration.gracefulShutdownSignals = []  // ``StopSignals`` triggers it, with no gap
        configuration.maximumGracefulShutdownDuration = .seconds(10)
        configuration.logging.keys = .init()
        let group = ServiceGroup(configuration: configuration)
        startedUp = true
        stop.handOver(to: group)
        let signals = SignalHandlers()
        signals.on(SIGHUP) { daemon.requestApply("SIGHUP") }
        do {
            try await group.run()
        } catch {
            Console.error("error: \(error)")
            throw ExitCode(1)
        }
        signals.cancel()
    }

    func connectEngine(logger: Logger) async throws -> EngineClient {
        var delay = Duration.milliseconds(500)
        while true {
            do {
                return try await options.connect(logger: logger, details: true)
            } catch let error as EngineError {
                guard waitForEngine else {
                    Console.error("error: \(error)")
                    throw ExitCode(1)
                }
                if case .unsupportedVersion = error {
                    Console.error("error: \(error)")
                    throw ExitCode(1)
                }
                logger.warning("waiting for the engine", metadata: ["error": "\(error)", "retry_in": "\(delay)"])
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(10))
            }
        }
    }
}

/// Signal handling through DispatchSource (no `signal()` closures that capture state).
/// SIGTERM/SIGINT for the daemon's whole life, one handler and no gap: before the service group
/// exists (connecting, loading), nothing has been changed, so stopping is exiting 0; after, it is
/// the group's graceful shutdown (remembered even before the group runs). Before this, the
/// start-up handler was cancelled before the group's own was installed, and a SIGTERM in between
/// was ignored (the disposition left at SIG_IGN): the daemon ran on.
final class StopSignals: @unchecked Sendable {
    private let lock = NSLock()
    private var group: ServiceGroup?
    /// Start-up failed (its error is printed, exit 1 follows): a stop signal racing the exit
    /// must not turn it into a 0 (CI: SIGTERM right after "something other than a socket").
    private var failed = false
    private let handlers = SignalHandlers()

    init(logger: Logger) {
        for signalNumber in [SIGTERM, SIGINT] {
            handlers.on(signalNumber) { [self] in
                let (group, failed) = lock.withLock { (self.group, self.failed) }
                guard let group else {
                    if failed { Foundation.exit(1) }
                    logger.info("stopped during start-up; nothing was changed")
                    Foundation.exit(0)
                }
                Task { await group.triggerGracefulShutdown() }
            }
        }
    }

    func handOver(to group: ServiceGroup) { lock.withLock { self.group = group } }

    /// A start-up error: marked first, then printed; the caller throws what this returns.
    func fail(_ message: String) -> ExitCode {
        markFailed()
        Console.error(message)
        return ExitCode(1)
    }

    func markFailed() { lock.withLock { failed = true } }
    func cancel() { handlers.cancel() }
}

final class SignalHandlers: @unchecked Sendable {
    private let queue = DispatchQueue(label: "flotilla.signals")
    private var sources: [any DispatchSourceSignal] = []

    func on(_ signalNumber: Int32, _ handler: @escaping @Sendable () -> Void) {
        signal(signalNumber, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
        source.setEventHandler(handler: handler)
        source.resume()
        sources.append(source)
    }

    func cancel() { for source in sources { source.cancel() } }
}

/// A `--flag 30s` style duration argument.
struct DurationArgument: ExpressibleByArgument {
    var span: TimeSpan
    init(span: TimeSpan) { self.span = span }
    init?(argument: String) {
        guard let span = TimeSpan(parsing: argument), span.milliseconds > 0 else { return nil }
        self.span = span
    }
    var defaultValueDescription: String { span.description }
    var duration: Duration { .milliseconds(span.milliseconds) }
}
