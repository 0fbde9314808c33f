import ArgumentParser
import FlotillaAgent
import FlotillaCore
import FlotillaEngine
import Foundation
import Logging

/// Options shared by every command that talks to the engine.
struct ReconcileOptions: ParsableArguments {
    @Argument(help: "The manifest directory.", completion: .directory)
    var directory: String = "manifests"

    @Option(help: ArgumentHelp("Engine API socket, e.g. unix:///run/podman/podman.sock.",
                               discussion: "Default: $DOCKER_HOST, else unix:///var/run/docker.sock, else unix:///run/podman/podman.sock."))
    var engine: String?

    @Option(help: "Project name; Flotilla owns only containers labelled with it. Default: the manifest directory's name.")
    var project: String?

    @Option(help: ArgumentHelp("containers (one host, the default), swarm (each service a Swarm service on the manager at --engine; see README \"Many hosts: Swarm\"), or auto (swarm when the engine is a Swarm manager, else containers; the choice is logged).", valueName: "kind"))
    var orchestrator: Orchestrator = .containers

    @Option(help: "Engine operations run at once.")
    var parallelism: Int = 4

    @Option(help: "Host ports handed to network: host replicas (FROM-TO).")
    var portRange: PortRange = PortRange(range: 20000...29999)

    @Flag(help: "Allow a manifest directory with no services to remove every container of the project.")
    var allowEmpty = false

    @Flag(help: ArgumentHelp("Allow removing more than half of the project's services at once.",
                             discussion: "Without it, when most services vanish from the manifests at once (a `git rm` of most files, another directory swapped in), none of them is removed and every reconcile says so."))
    var allowMassPrune = false

    @Flag(help: ArgumentHelp("Move the project to this manifest directory although another one manages it.",
                             discussion: "Each project records the manifest directory that manages it; another directory with the same project name is refused (two checkouts called `manifests` would prune each other's containers). Use this once, on purpose, when the manifests really moved."))
    var takeOver = false

    @Option(name: .customLong("routes"), help: ArgumentHelp("Route file to keep up to date (repeatable; pairs with --routes-format by position).", valueName: "file"))
    var routeFiles: [String] = []

    @Option(name: .customLong("routes-format"), help: ArgumentHelp("Format of each --routes file: nginx, caddy, haproxy, traefik (v3 rules), traefik-v2, json (default nginx).", valueName: "format"))
    var routeFormats: [RouteFormat] = []

    @Option(name: .customLong("routes-check"), help: ArgumentHelp("Validator of each new route file, run before the proxy reloads. No shell. Once for all files, or once per --routes.",
                                                                     discussion: "{file} in it stands for the new file, checked before it goes live: \"haproxy -c -f base.cfg -f {file}\". Without {file} the new file is put live, checked, and the previous one put back if the check fails.",
                                                                     valueName: "command"))
    var routeChecks: [String] = []

    @Option(name: .customLong("routes-reload"), help: ArgumentHelp("Command that makes the proxy reload, e.g. \"nginx -s reload\". No shell. Once for all files, or once per --routes.", valueName: "command"))
    var routeReloads: [String] = []

    @Option(name: .customLong("route-claims-dir"),
            help: ArgumentHelp("Register of the hosts and paths each project serves through a shared proxy.",
                               discussion: "Projects that feed one proxy claim their host+path pairs here; a manifest routing a pair another project claimed first is refused at its route, naming that project. Behind nginx or Caddy (which read each host from one file) a project claims its hosts whole: another project may route no path of them. Default: .flotilla-route-claims beside the first --routes file (where the proxy includes every project's route file). A claim is void once its project's route file is gone; `flotilla down` releases them.",
                               valueName: "dir"))
    var routeClaimsDir: String?

    @Option(name: .customLong("routes-reload-interval"),
            help: ArgumentHelp("Least time between two reloads of the proxy; changes meanwhile are folded into the next one.",
                               discussion: "A proxy told to reload while it is still reloading may drop the request (HAProxy's master loses a SIGUSR2 that arrives within a few hundred milliseconds of the last one) and keep serving the previous file. The first change after a quiet spell is reloaded at once.",
                               valueName: "duration"))
    var routesReloadInterval: DurationArgument = DurationArgument(span: .seconds(1))

    @Option(help: ArgumentHelp("Where decisions that must survive reboots and prunes are kept (rollbacks, canaries, promotions, the last route table).",
                               discussion: "Default: /var/lib/flotilla/<project>. Losing it is safe: rollback markers also live on the engine, and a canary is never shipped because of it.",
                               valueName: "dir"))
    var stateDir: String?

    @OptionGroup(title: "Host access")
    var access: HostAccessOptions

    @Option(help: "Address the proxy listens on, written into nginx, Caddy and HAProxy route files.")
    var proxyListen: String = "80"

    @Option(help: "Log format: text or json.")
    var logFormat: LineLogHandler.Format = .text

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func validate() throws {
        if !routeFormats.isEmpty && routeFormats.count != 1 && routeFormats.count != routeFiles.count {
            throw ValidationError("give one --routes-format per --routes (or one for all)")
        }
        for (name, list) in [("--routes-check", routeChecks), ("--routes-reload", routeReloads)] where list.count > 1 && list.count != routeFiles.count {
            throw ValidationError("give \(name) once (for every route file) or once per --routes")
        }
        guard parallelism >= 1 else { throw ValidationError("--parallelism must be at least 1") }
        if let project, Reconciler.sanitizeProject(project) != project {
            throw ValidationError("--project must be lowercase letters, digits and \"-\" (e.g. \(Reconciler.sanitizeProject(project)))")
        }
    }

    var projectName: String { project ?? Reconciler.defaultProject(for: directory) }

    func makeLogger() -> Logger {
        let format = logFormat, level = logLevel
        return Logger(label: "flotilla") { label in LineLogHandler(label: label, format: format, level: level) }
    }

    /// `details`: also read the engine's name and version (slower on Podman; the daemon logs them).
    func connect(logger: Logger, details: Bool = false) async throws -> EngineClient {
        let candidates = EngineEndpoint.candidates(explicit: engine, environment: ProcessInfo.processInfo.environment)
        var client = try await EngineClient.connect(candidates: candidates, details: details)
        client.onRequest = { operation, ok in FlotillaMetrics.engineRequest(operation: operation, ok: ok) }
        client.onSlowRequest = { operation, duration in
            logger.warning("slow engine request", metadata: ["request": "\(operation)", "duration": "\(duration)"])
        }
        logger.debug("engine", metadata: ["endpoint": "\(client.endpoint)", "engine": "\(client.version.engineName)", "api": "\(client.apiVersion)"])
        return client
    }

    /// The route refresher, or nil when no --routes was given.
    func makeRouteRefresher(logger: Logger) -> RouteRefresher? {
        guard !routeFiles.isEmpty else { return nil }
        let outputs = routeFiles.enumerated().map { i, file in
            RouteOutput(format: routeFormat(at: i),
                        writer: RouteFileWriter(path: file, check: Self.pick(routeChecks, i), reload: Self.pick(routeReloads, i)))
        }
        return RouteRefresher(outputs: outputs, listen: proxyListen, project: projectName, reloadInterval: routesReloadInterval.duration, logger: logger)
    }

    /// One value for every --routes, or one for each (by position).
    static func pick<T>(_ list: [T], _ i: Int) -> T? { list.isEmpty ? nil : list.count == 1 ? list[0] : list[i] }

    /// The format of the `i`th --routes file (nginx when none is given).
    func routeFormat(at i: Int) -> RouteFormat { Self.pick(routeFormats, i) ?? .nginx }

    /// The manifest loader: the operator's host access, and the route claims of the proxy the
    /// route files feed (a host whole, every path of it, when a file is one that proxy reads
    /// each host from one file of: nginx, Caddy).
    var loader: ManifestDirectoryLoader {
        var loader = ManifestDirectoryLoader(access: access.hostAccess(swarm: orchestrator == .swarm, project: projectName))
        loader.maxTreeSize = access.manifestByteCap
        if let first = routeFiles.first {
            let file = URL(fileURLWithPath: first).standardizedFileURL.path
            let exclusiveHosts = routeFiles.indices.contains { routeFormat(at: $0).readsEachHostFromOneFile }
            loader.routeClaims = RouteClaims(directory: routeClaimsDir ?? RouteClaims.defaultDirectory(forRoutesFile: file), project: projectName, routesFile: file,
                                             exclusiveHosts: exclusiveHosts)
        }
        return loader
    }

    func makeReconciler(engine: EngineClient, logger: Logger) -> Reconciler {
        Reconciler(
            engine: engine, directory: directory, project: projectName,
            options: .init(parallelism: parallelism, portRange: portRange.range, stateDirectory: stateDir ?? StateStore.defaultDirectory(project: projectName),
                           allowMassPrune: allowMassPrune),
            allowEmpty: allowEmpty, logger: logger, loader: loader
        )
    }

    /// Loads the manifests, printing every diagnostic; throws only when the directory is missing.
    func loadDesired(_ reconciler: Reconciler, quiet: Bool = false, claimingRoutes: Bool) async throws -> DesiredState {
        let state: DesiredState
        do {
            state = try await reconciler.load(claimingRoutes: claimingRoutes)
        } catch {
            Console.error("error: \(error)")
            throw ExitCode(1)
        }
        if !quiet { for diagnostic in state.diagnostics { Console.error(diagnostic.description) } }
        return state
    }
}

/// What plan, apply and routes all start from: an engine, the manifests, the owned containers.
struct EngineSession {
    let logger: Logger
    let reconciler: Reconciler
    let desired: DesiredState
    let observed: [ObservedContainer]
    /// Rollback markers (service → rolled-back spec hash).
    let rolledBack: [String: String]

    func plan(promote: Set<String> = [], rollback: [String: String] = [:]) -> Plan {
        reconciler.plan(desired, observed: observed, options: .init(promote: promote, rollback: rollback, rolledBack: rolledBack))
    }
}

extension ReconcileOptions {
    /// Exits 1 with a message naming both directories when another manifest directory manages
    /// the project (``Reconciler/claimOwnership(claim:takeOver:)``). `claim`: record this one
    /// when none is recorded (commands that change something).
    func checkOwnership(_ reconciler: Reconciler, claim: Bool) async throws {
        do {
            try await reconciler.claimOwnership(claim: claim, takeOver: takeOver)
        } catch let error as Reconciler.OwnershipError {
            Console.error("error: \(error)")
            throw ExitCode(1)
        }
    }

    /// Connects to the engine, checks who manages the project (claiming it when `claim`), loads
    /// the manifests (printing every diagnostic) and lists the project's containers.
    /// `quiet`: manifest errors are not printed (the caller reports them).
    func openSession(claim: Bool, quiet: Bool = false) async throws -> EngineSession {
        let logger = makeLogger()
        let engine = try await connect(logger: logger)
        StartTrace.mark("engine")
        let reconciler = makeReconciler(engine: engine, logger: logger)
        try await checkOwnership(reconciler, claim: claim)
        StartTrace.mark("owner")
        // The engine lists while the manifests load: one waits on the engine, the other on the
        // CPU and the disk (a no-op `apply` is mostly these two).
        async let listing = reconciler.observeAll()
        let desired = try await loadDesired(reconciler, quiet: quiet, claimingRoutes: claim)
        StartTrace.mark("load")
        let (observed, impostors) = try await listing
        StartTrace.mark("list (beside the load)")
        for (container, problem) in impostors where !quiet {
            Console.error("warning: \(container.name) (\(container.shortID)) carries project \(reconciler.project)'s labels but is not one of its replicas: \(problem); left alone")
        }
        let rolledBack = try await reconciler.rolledBack(for: desired)
        StartTrace.mark("markers")
        return EngineSession(logger: logger, reconciler: reconciler, desired: desired, observed: observed, rolledBack: rolledBack)
    }
}

/// Who runs the containers: Flotilla itself on this host, or Docker Swarm across nodes.
enum Orchestrator: String, ExpressibleByArgument, CaseIterable {
    case containers, swarm, auto
}

extension AsyncParsableCommand {
    /// With `--orchestrator auto`, runs a copy of this command whose options name the orchestrator
    /// the engine calls for, and returns true; otherwise returns false (the caller goes on).
    func runResolvingAuto(_ options: WritableKeyPath<Self, ReconcileOptions>) async throws -> Bool {
        guard self[keyPath: options].orchestrator == .auto else { return false }
        var resolved = self
        resolved[keyPath: options] = try await self[keyPath: options].resolvingOrchestrator()
        try await resolved.run()
        return true
    }
}

extension ReconcileOptions {
    /// `--orchestrator auto` made concrete: swarm when the engine is a Swarm manager, containers
    /// otherwise, and the choice logged; `containers` and `swarm` are returned as given. An engine
    /// that does not answer is an error, never a guess: the container reconciler must not meet a
    /// Swarm's task containers because a manager was slow to answer.
    func resolvingOrchestrator() async throws -> ReconcileOptions {
        guard orchestrator == .auto else { return self }
        let logger = makeLogger()
        let (engine, manager) = try await withEngineErrors {
            let engine = try await connect(logger: logger)
            return (engine, try await engine.isSwarmManager())
        }
        var resolved = self
        resolved.orchestrator = manager ? .swarm : .containers
        logger.info("--orchestrator auto: \(resolved.orchestrator == .swarm ? "the engine is a Swarm manager; using swarm mode" : "the engine is not a Swarm manager; using containers mode")",
                    metadata: ["engine": "\(engine.endpoint)"])
        return resolved
    }

    func makeSwarmReconciler(engine: EngineClient, logger: Logger) -> SwarmReconciler {
        SwarmReconciler(engine: engine, project: projectName, allowEmpty: allowEmpty, allowMassPrune: allowMassPrune, portRange: portRange.range,
                        store: StateStore(directory: stateDir ?? StateStore.defaultDirectory(project: projectName)), logger: logger)
    }

    /// Swarm mode's plan and apply start here: the manager, and the manifests (errors printed).
    /// `claim`: this command serves the routes (apply, a release), so they are claimed.
    func openSwarmSession(quiet: Bool = false, claim: Bool) async throws -> (SwarmReconciler, DesiredState) {
        let logger = makeLogger()
        let engine = try await connect(logger: logger)
        let desired = try await loadDesired(makeReconciler(engine: engine, logger: logger), quiet: quiet, claimingRoutes: claim)
        return (makeSwarmReconciler(engine: engine, logger: logger), desired)
    }
}

struct PortRange: ExpressibleByArgument {
    var range: ClosedRange<Int>

    init(range: ClosedRange<Int>) { self.range = range }

    init?(argument: String) {
        let parts = argument.split(separator: "-")
        guard parts.count == 2, let a = Int(parts[0]), let b = Int(parts[1]), 1024 <= a, a <= b, b <= 65535 else { return nil }
        range = a...b
    }

    var defaultValueDescription: String { "\(range.lowerBound)-\(range.upperBound)" }
}

extension LineLogHandler.Format: ExpressibleByArgument {}
extension RouteFormat: ExpressibleByArgument {}
extension Logger.Level: @retroactive ExpressibleByArgument {}

extension ReconcileOptions {
    /// Runs a command that changes the host: engine errors become a message and exit 1, and the
    /// project's reconcile lock is held throughout (a running daemon finishes its reconcile first).
    func withReconcileLock(_ body: () async throws -> Void) async throws {
        do {
            try await ReconcileLock(project: projectName).withLock(logger: makeLogger()) {
                try await withEngineErrors(body)
            }
        } catch let error as ReconcileLock.OpenError {
            Console.error("error: \(error)")
            throw ExitCode(1)
        }
    }
}

/// Runs an engine-facing command body, turning engine errors into a message and exit 1.
func withEngineErrors<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as EngineError {
        Console.error("error: \(error)")
        throw ExitCode(1)
    }
}
