import FlotillaAgent
import FlotillaCore
import FlotillaEngine
import Foundation
import Logging

/// One seed's world: a manifest directory, the in-memory engine, the real daemon (controller,
/// loop, route writer) and CLI commands beside it, a workload of commits and faults drawn
/// from the seed, and the invariants checked as it runs.
public final class World: @unchecked Sendable {
    /// A service as the workload last committed it.
    struct Intent: Equatable {
        var name: String
        var image = "sim/app:1"
        var replicas = 2
        var routed = true
        var readiness = true
        var canary = false
        var restartAlways = false
        var yaml: String {
            var text = "name: \(name)\nimage: \(image)\nreplicas: \(replicas)\nport: 8080\nstop_timeout: 5s\n"
            if restartAlways { text += "restart_policy: always\n" }
            if routed { text += "routes:\n  - host: \(name).test\n    path: /\n" }
            if readiness { text += "health:\n  readiness: { http: /ready, interval: 1s, retries: 1 }\n" }
            if canary { text += "update: { strategy: canary, canary: { replicas: 1, weight: 20 } }\n" }
            return text
        }
    }

    public let seed: UInt64
    let trace: Trace
    let engine: SimEngine
    var rng: SplitMix64
    let root: String
    var manifests: String { root + "/manifests" }
    var stateDir: String { root + "/state" }
    var routeFile: String { root + "/routes.json" }
    let parallelism = 2

    /// What each file holds as committed (nil content: broken on purpose).
    var intents: [String: Intent] = [:]
    var broken: Set<String> = []
    /// Services whose files are deleted while the prune budget holds them back (more than one
    /// and more than half of the services gone at once, as ``Planner/resolve`` decides).
    var heldBack: Set<String> {
        let owned = Set(engine.ordered.map(\.service))
        let gone = intents.keys.filter { !FileManager.default.fileExists(atPath: manifests + "/" + $0) }.map { String($0.dropLast(5)) }
        let leaving = owned.intersection(gone)
        guard leaving.count > 1, leaving.count * 2 > owned.count else { return [] }
        return leaving
    }
    /// Replicas allowed per service right now: the largest of the commits since the service was
    /// last seen within the newest commit's bound (commits in quick succession may each be only
    /// partly carried out).
    var replicaBound: [String: Int] = [:]
    /// When each service's file was last committed (an older load may still be carried out for
    /// a while: a daemon's, or a command's that loaded before the commit).
    var boundSetAt: [String: Int64] = [:]
    /// Each service's images committed in the last seconds, with when.
    var recentImages: [String: [(image: String, at: Int64)]] = [:]
    var failure: String?
    var process = 0
    var daemon: (task: Task<Void, Never>, process: Int)?
    var changes = SimChangeFeed()
    /// When each container died other than by a client's stop (a kill, a reboot).
    var crashedAt: [String: Int64] = [:]
    var lastRoutes: [String: (service: String, targets: [String])] = [:]
    /// Ready replicas that left the routes, and when: each must be removed soon after.
    var unrouted: [String: (host: String, since: Int64)] = [:]
    /// The route file as last read, and what it says (read at every check: parsed when it changed).
    var lastRouteData: Data?
    /// The route file's identity when last read: the writer replaces it by rename (a new inode,
    /// a new mtime), so an unchanged identity means unchanged contents and no read is needed.
    var lastRouteStat: (inode: UInt, seconds: Int, nanoseconds: Int, size: Int)?
    var lastRouteEntries: [String: (service: String, targets: [String])] = [:]
    /// Every container the last read route file names.
    var lastRouteTargets: Set<String> = []
    var engineView = EngineView()
    var callsAtLastCheck = 0
    var lastCheckMS: Int64 = 0
    /// When each file broke or was deleted in a held-back commit, and when the state directory
    /// was last lost: a daemon that lost its last route table cannot keep routes it never saw.
    var brokenAt: [String: Int64] = [:]
    var stateLostAt: Int64 = -1
    /// When the daemon started after the last state loss first had manifests in force (Int64.max:
    /// not yet): a file that broke before that was never seen good by it (seed 1424, release).
    var stateRecoveredAt: Int64 = -1
    /// When the engine last answered again after refusing every call.
    var refusalEndedAt: Int64 = 0
    /// When each service's file last came back (after a deletion or a breakage): removals the
    /// daemon began before that are its earlier decision, carried out.
    var backAt: [String: Int64] = [:]
    /// Commits so far, and when the last one landed (each load reads the number as its revision).
    var commits = 0
    var committedAt: Int64 = 0
    /// The running daemon's controller, and when it was made.
    var inForce: (controller: Controller, since: Int64)?
    /// How long each load's `git status` takes (its own stream: the workload's stays as it was).
    var gitLatency: SplitMix64

    public init(seed: UInt64, trace: Trace, root: String) {
        self.seed = seed
        self.trace = trace
        self.root = root
        rng = SplitMix64(seed: seed)
        gitLatency = SplitMix64(seed: seed ^ 0x6769_7473_7461_7475)
        engine = SimEngine(seed: seed)
        engine.images = ["sim/app:1", "sim/app:2", "sim/app:3", "sim/app:4"]
        engine.unpullable = ["sim/missing:1"]
    }

    func chance(_ p: Double) -> Bool { Double(rng.next() % 1_000_000) / 1_000_000 < p }
    func random(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(rng.next() % UInt64(range.count)) }
    func pick<T>(_ items: [T]) -> T { items[Int(rng.next() % UInt64(items.count))] }

    func fail(_ invariant: String, _ detail: String) {
        guard failure == nil else { return }
        failure = "\(invariant): \(detail)"
        trace.add("INVARIANT BROKEN: \(invariant): \(detail)")
    }

    // MARK: - The scenario

    /// Runs the seed's workload, then a quiet spell, and returns the first broken invariant.
    public func run(events: Int) async -> String? {
        try? FileManager.default.removeItem(atPath: root)
        try? FileManager.default.createDirectory(atPath: manifests, withIntermediateDirectories: true)
        engine.log = { [trace] in trace.add($0) }
        engine.willStop = { [unowned self] box, process in self.checkStop(box, by: process) }
        let names = ["web", "api", "shop", "cache"].prefix(random(2...4))
        for name in names {
            var intent = Intent(name: name)
            intent.replicas = random(1...3)
            intent.routed = name != "cache"
            intent.readiness = chance(0.6)
            intent.canary = chance(0.3)
            intent.restartAlways = chance(0.3)
            write(intent)
        }
        trace.add("seed \(seed): services \(names.joined(separator: ", "))")
        startDaemon()
        let checker = Task { [unowned self] in
            var ticks = 0
            while !Task.isCancelled {
                try? await AgentClock.sleep(for: .milliseconds(100))
                self.checkPeriodic()
                ticks += 1
                if ticks % 10 == 0 { await self.checkNewestCommit() }
            }
        }
        for _ in 0..<events where failure == nil {
            try? await AgentClock.sleep(for: .milliseconds(random(100...20_000)))
            await act()
        }
        // Faults stop: the engine heals, broken files are fixed, the daemon runs.
        engine.faults = SimEngine.Faults()
        for file in broken.sorted() { if let intent = intents[file] { write(intent) } }
        if daemon == nil { startDaemon() }
        changes.fire()
        trace.add("quiet: faults stopped")
        try? await AgentClock.sleep(for: .seconds(180))
        if failure == nil { checkConverged() }
        checker.cancel()
        await stopDaemon(kill: false)
        return failure
    }

    func act() async {
        let roll = random(0...99)
        switch roll {
        case 0..<14: commitChange()
        case 14..<20: commitBroken()
        case 20..<24: commitMassDeletion()
        case 24..<34: killReplica()
        case 34..<40: flipHealth()
        case 40..<50: engineFaults()
        case 50..<54: engine.dropEventStreams(); trace.add("fault: event streams dropped")
        case 54..<60: await restartDaemon(kill: chance(0.5), keepState: chance(0.7))
        case 60..<63: await reboot()
        case 63..<75: await command()
        case 75..<78: await freezeEngine()
        case 78..<80: await refuseEverything()
        default: commitChange()
        }
    }

    // MARK: - Commits

    func write(_ intent: Intent) {
        let file = intent.name + ".yaml"
        let old = intents[file]
        if broken.contains(file) || !FileManager.default.fileExists(atPath: manifests + "/" + file) { backAt[intent.name] = WallClock.nowMS() }
        intents[file] = intent
        broken.remove(file)
        replicaBound[intent.name] = max(intent.replicas, old?.replicas ?? 0, replicaBound[intent.name] ?? 0)
        boundSetAt[intent.name] = WallClock.nowMS()
        recentImages[intent.name, default: []].append((intent.image, WallClock.nowMS()))
        recentImages[intent.name]?.removeAll { WallClock.nowMS() - $0.at > 10_000 }
        _ = FileManager.default.createFile(atPath: manifests + "/" + file, contents: Data(intent.yaml.utf8))
        committed()
    }

    func committed() {
        commits += 1
        committedAt = WallClock.nowMS()
    }

    func commitChange() {
        guard let file = intents.keys.sorted().randomElement(using: &rng), var intent = intents[file] else { return }
        switch random(0...3) {
        case 0: intent.replicas = random(0...3)
        case 1, 2: intent.image = pick(["sim/app:1", "sim/app:2", "sim/app:3", "sim/app:4", "sim/missing:1"])
        default: intent.readiness.toggle()
        }
        trace.add("commit: \(file) image=\(intent.image) replicas=\(intent.replicas) readiness=\(intent.readiness)")
        write(intent)
        changes.fire()
    }

    func commitBroken() {
        guard let file = intents.keys.sorted().randomElement(using: &rng) else { return }
        // Since when it is broken: a file broken again was never good in between (seed 1500).
        // (Deleted before: not good since its deletion, seed 4797.)
        if !broken.contains(file), FileManager.default.fileExists(atPath: manifests + "/" + file) { brokenAt[file] = WallClock.nowMS() }
        broken.insert(file)
        let text = chance(0.5) ? "name: [unclosed\nimage: x\n" : "name: \(file.dropLast(5))\nimage: sim/app:1\nreplicas: -4\n"
        _ = FileManager.default.createFile(atPath: manifests + "/" + file, contents: Data(text.utf8))
        committed()
        trace.add("commit: \(file) broken")
        changes.fire()
    }

    func commitMassDeletion() {
        let files = intents.keys.sorted()
        guard files.count >= 2 else { return }
        let gone = files.prefix(files.count - 1)
        for file in gone {
            if FileManager.default.fileExists(atPath: manifests + "/" + file), !broken.contains(file) { brokenAt[file] = WallClock.nowMS() }
            try? FileManager.default.removeItem(atPath: manifests + "/" + file)
        }
        committed()
        trace.add("commit: deleted \(gone.joined(separator: ", ")) (more than half: held back)")
        changes.fire()
    }

    // MARK: - Faults

    func killReplica() {
        let running = engine.ordered.filter(\.isRunning)
        guard !running.isEmpty else { return }
        let box = pick(running)
        trace.add("fault: kill -9 \(box.name)")
        crashedAt[box.name] = WallClock.nowMS()
        engine.exit(box.id, code: 137)
    }

    func flipHealth() {
        let running = engine.ordered.filter(\.isRunning)
        guard !running.isEmpty else { return }
        let box = pick(running)
        trace.add("fault: \(box.name) \(box.unhealthy ? "healthy again" : "unhealthy")")
        engine.setUnhealthy(box.id, !box.unhealthy)
    }

    func engineFaults() {
        var faults = SimEngine.Faults()
        if chance(0.5) { faults.serverError = 0.05 }
        if chance(0.5) { faults.lostAnswer = 0.05 }
        if chance(0.5) { faults.slow = 0.1 }
        faults.eventDrop = chance(0.5) ? 0.1 : 0
        faults.eventDuplicate = 0.1
        faults.eventDelayMS = random(0...2000)
        engine.faults = faults
        trace.add("fault: engine errors 500=\(faults.serverError) lost=\(faults.lostAnswer) slow=\(faults.slow) events drop=\(faults.eventDrop) delay≤\(faults.eventDelayMS)ms")
    }

    func freezeEngine() async {
        let seconds = random(1...20)
        trace.add("fault: engine unreachable for \(seconds)s")
        engine.faults.down = true
        engine.dropEventStreams()
        try? await AgentClock.sleep(for: .seconds(seconds))
        engine.faults.down = false
        trace.add("engine reachable again")
    }

    /// The engine answers 500 to every call for a while (a full disk, a broken storage driver),
    /// with a command running meanwhile now and then: it must end.
    func refuseEverything() async {
        let seconds = chance(0.3) ? random(600...900) : random(5...90)
        trace.add("fault: engine answers 500 to everything for \(seconds)s")
        let before = engine.faults
        // Half the time a command is under way when the refusals begin (its first list answered).
        let running: Task<Void, Never>? = chance(0.5) ? Task {
            self.commitChange()  // something for the command to do
            await self.command()
        } : nil
        if running != nil { try? await AgentClock.sleep(for: .milliseconds(random(0...400))) }
        engine.faults.serverError = 1
        try? await AgentClock.sleep(for: .seconds(seconds))
        engine.faults = before
        refusalEndedAt = WallClock.nowMS()
        trace.add("engine answers again")
        await running?.value
    }

    func reboot() async {
        trace.add("fault: host reboot")
        await stopDaemon(kill: true)
        for box in engine.ordered where box.isRunning { crashedAt[box.name] = WallClock.nowMS() }
        await engine.restartEngine(downFor: .seconds(random(1...5)))
        startDaemon()
    }

    // MARK: - Processes

    func options() -> Reconciler.Options {
        var options = Reconciler.Options(parallelism: parallelism, settleTime: .seconds(1), stateDirectory: stateDir)
        options.prober = SimProber(engine: engine)
        options.portClaimDirectory = nil
        options.lockDirectory = root
        options.revisions = SimRevisions(world: self)
        return options
    }

    func makeReconciler(_ name: String) -> (Reconciler, Logger, Int) {
        process += 1
        let logger = Logger(label: "sim") { _ in TraceLogHandler(trace: trace, process: "\(name)#\(process)") }
        let reconciler = Reconciler(engine: engine.handle(process: process), directory: manifests, project: "sim", options: options(),
                                    allowEmpty: false, logger: logger)
        return (reconciler, logger, process)
    }

    func routeWriter(_ logger: Logger) -> RouteRefresher {
        RouteRefresher(outputs: [RouteOutput(format: .json, writer: RouteFileWriter(path: routeFile))], listen: "127.0.0.1:80", project: "sim",
                       settleTime: .seconds(1), prober: SimProber(engine: engine), logger: logger)
    }

    func startDaemon() {
        let (reconciler, logger, process) = makeReconciler("daemon")
        trace.add("daemon#\(process) starting")
        changes = SimChangeFeed()
        let changes = changes, routes = routeWriter(logger)
        // As systemd runs it (`Restart=on-failure`): a daemon that failed to start is started again.
        let task = Task {
            while !Task.isCancelled {
                do {
                    try await reconciler.claimOwnership(claim: true)
                    var options = Daemon.Options(routes: routes, changes: changes)
                    options.releasesIdleMemory = false
                    let daemon = Daemon(reconciler: reconciler, options: options, logger: logger)
                    self.inForce = (daemon.controller, WallClock.nowMS())
                    try await daemon.run()
                    return
                } catch {
                    logger.error("daemon failed; restarted in 2s", metadata: ["error": "\(error)"])
                    try? await AgentClock.sleep(for: .seconds(2))
                }
            }
        }
        self.daemon = (task, process)
    }

    func stopDaemon(kill: Bool) async {
        guard let daemon else { return }
        self.daemon = nil
        inForce = nil
        trace.add("daemon#\(daemon.process) \(kill ? "SIGKILL" : "SIGTERM")")
        if kill { engine.deadProcesses.insert(daemon.process) }
        daemon.task.cancel()
        if await !finishes(within: .seconds(120), { await daemon.task.value }) {
            fail("daemon stops", "daemon#\(daemon.process) still running 120s after \(kill ? "SIGKILL" : "SIGTERM")")
        }
    }

    func restartDaemon(kill: Bool, keepState: Bool) async {
        await stopDaemon(kill: kill)
        if !keepState {
            try? FileManager.default.removeItem(atPath: stateDir)
            stateLostAt = WallClock.nowMS()
            stateRecoveredAt = Int64.max
            trace.add("state directory lost")
        }
        try? await AgentClock.sleep(for: .milliseconds(random(0...3000)))
        startDaemon()
    }

    /// `flotilla promote`/`rollback`/`apply` beside the daemon, as the CLI runs them.
    func command() async {
        let canaries = intents.values.filter(\.canary).map(\.name).sorted()
        let kind = canaries.isEmpty ? "apply" : pick(["promote", "rollback", "apply"])
        let service = canaries.isEmpty ? "" : pick(canaries)
        let (reconciler, logger, process) = makeReconciler(kind)
        trace.add("command#\(process): flotilla \(kind) \(service)")
        let ended = await finishes(within: .seconds(600)) {
            do {
                try await reconciler.lock.withLock(logger: logger) {
                    try await reconciler.claimOwnership(claim: true)
                    let desired = try await reconciler.load()
                    let observed = try await reconciler.observe()
                    if kind == "apply" {
                        let report = try await reconciler.apply(desired, routes: self.routeWriter(logger), observed: observed)
                        logger.info("apply ended", metadata: ["failures": "\(report.failures.count)"])
                    } else {
                        let report = try await reconciler.apply(desired, routes: self.routeWriter(logger), promote: kind == "promote" ? [service] : [],
                                                                rollback: kind == "rollback" ? [service: "flotilla rollback"] : [:], only: [service])
                        logger.info("\(kind) ended", metadata: ["failures": "\(report.failures.count)"])
                    }
                }
            } catch {
                logger.info("command failed", metadata: ["error": "\(error)"])
            }
        }
        if !ended { fail("every command ends", "flotilla \(kind) \(service) still running after 600s") }
    }

    /// Whether `body` finishes within `limit` of virtual time (it is left running otherwise).
    func finishes(within limit: Duration, _ body: @escaping @Sendable () async -> Void) async -> Bool {
        let done = Flag()
        let work = Task { await body(); done.set() }
        let deadline = AgentClock.now + limit
        while !done.value, AgentClock.now < deadline {
            try? await AgentClock.sleep(for: .milliseconds(50))
        }
        if !done.value { work.cancel() }
        return done.value
    }

    // MARK: - Invariants

    func routes() -> [String: (service: String, targets: [String])] {
        var info = stat()
        let identity = stat(routeFile, &info) == 0
            ? (inode: UInt(info.st_ino), seconds: info.st_mtim.tv_sec, nanoseconds: info.st_mtim.tv_nsec, size: Int(info.st_size)) : nil
        if let identity, let last = lastRouteStat, identity == last { return lastRouteEntries }
        lastRouteStat = identity
        let data = FileManager.default.contents(atPath: routeFile)
        if data == lastRouteData { return lastRouteEntries }
        lastRouteData = data
        lastRouteEntries = parseRoutes(data)
        lastRouteTargets = Set(lastRouteEntries.values.flatMap(\.targets))
        return lastRouteEntries
    }

    func parseRoutes(_ data: Data?) -> [String: (service: String, targets: [String])] {
        guard let data,
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let entries = json["routes"] as? [[String: Any]] else { return [:] }
        var result: [String: (String, [String])] = [:]
        for entry in entries {
            let host = entry["host"] as? String ?? "", service = entry["service"] as? String ?? ""
            let targets = (entry["targets"] as? [[String: Any]] ?? []).compactMap { $0["container"] as? String }
            result[host] = (service, targets)
        }
        return result
    }

    /// A replica the proxy may send to, by the same rules Flotilla uses (probe, or settle time).
    func isReady(_ box: SimEngine.Box) -> Bool {
        guard box.isRunning, !box.unhealthy else { return false }
        // Probed with its own checks, or (health is not in the spec hash) with the manifest's
        // when it runs the manifest's spec. (An unhealthy replica counts as not ready here even
        // without a readiness check; the rolling check counts the others as Flotilla sees them,
        // ``settledWithoutCheck(_:)``.)
        if box.labels[OwnershipLabel.checks]?.contains("readiness") == true { return true }
        if let intent = intents[box.service + ".yaml"], intent.readiness, intent.image == box.blueprint.image { return true }
        return WallClock.nowMS() - box.startedMS >= 1000
    }

    /// Running without a readiness check (its own or the manifest's), and past its settle time.
    func killedJustNow(_ box: SimEngine.Box) -> Bool {
        guard let killed = crashedAt[box.name], box.state == "exited", WallClock.nowMS() - killed < 1000, box.startedMS > 0 else { return false }
        // Ready then by its probe (the simulated app answers at once: seed 9035, release, was
        // killed 88 ms after its start), or by its settle time.
        return box.labels[OwnershipLabel.checks]?.contains("readiness") == true || killed - box.startedMS >= 1000
    }

    func settledWithoutCheck(_ box: SimEngine.Box) -> Bool {
        guard box.isRunning, box.labels[OwnershipLabel.checks]?.contains("readiness") != true else { return false }
        if let intent = intents[box.service + ".yaml"], intent.readiness, intent.image == box.blueprint.image { return false }
        return WallClock.nowMS() - box.startedMS >= 1000
    }

    /// Flotilla stops a running replica: the route file must not name it, and a rolling update
    /// never takes an old replica away before a new one is ready.
    func checkStop(_ box: SimEngine.Box, by process: Int) {
        for (host, route) in routes() where route.targets.contains(box.name) {
            fail("routes only name live replicas", "\(box.name) stopped by process \(process) while \(host) routes to it")
        }
        let service = box.service
        guard let intent = intents[service + ".yaml"], !broken.contains(service + ".yaml"), !intent.canary, intent.replicas > 0,
              FileManager.default.fileExists(atPath: manifests + "/" + service + ".yaml") else { return }
        // An image change is a rolling update (start-first): an old replica goes only once a new
        // one is ready, or while as many other replicas as the manifest asks for are ready (the
        // service is scaled down as well).
        let boxes = engine.ordered.filter { $0.service == service && $0.id != box.id }
        // (A replica stopped within a second of its start was never judged ready: a failed create.)
        guard box.blueprint.image != intent.image, isReady(box), WallClock.nowMS() - box.startedMS >= 1000, intent.image != "sim/missing:1",
              WallClock.nowMS() - (backAt[service] ?? -60_000) > 30_000,
              // The daemon may still run a commit from the last seconds (a load takes up to 2 s of
              // git), in which the stopped replica's image is current: a scale-down there is no
              // rolling update (seed 9389, release: replicas 2 → 1 of app:1 loaded, while app:2
              // had been committed 0.4 s before).
              !(recentImages[service] ?? []).contains(where: { $0.image == box.blueprint.image && WallClock.nowMS() - $0.at < 5_000 }) else { return }
        // The others as Flotilla sees them: one without a readiness check is ready once settled,
        // answering or not (nothing probes it; seeds 392 and 2158 flipped one unhealthy while the
        // old replica's removal was under way).
        // And one a fault killed under a second ago was ready when Flotilla decided: it learns of
        // a death from its event, which may come late (seed 496: the new replica was killed
        // 46 ms before the old one's stop, after the step that chose to stop it).
        let ready = boxes.filter { isReady($0) || settledWithoutCheck($0) || killedJustNow($0) }
        if ready.count < intent.replicas, !ready.contains(where: { $0.blueprint.image == intent.image }) {
            fail("rolling update keeps a ready replica",
                 "\(box.name) (old spec) stopped, leaving \(ready.count) ready replica(s) of \(service), which wants \(intent.replicas)")
        }
    }

    func checkPeriodic() {
        let now = WallClock.nowMS()
        // No busy loop: engine calls per virtual second.
        if now - lastCheckMS >= 1000 {
            if engine.calls - callsAtLastCheck > 400 * Int(now - lastCheckMS) / 1000 + 400 {
                fail("no busy loop", "\(engine.calls - callsAtLastCheck) engine calls in \(now - lastCheckMS) ms")
            }
            callsAtLastCheck = engine.calls
            lastCheckMS = now
        }
        // What the checker derives from the engine, recomputed only when a container changed
        // (it runs every 100 ms of virtual time: it was most of the simulator's work).
        if engineView.version != engine.version { engineView = EngineView(engine) }
        let (existingCount, liveCount, byName) = (engineView.existing, engineView.live, engineView.byName)
        // Never more live replicas than the rules allow.
        for (service, bound) in replicaBound {
            let live = liveCount[service] ?? 0
            let canary = intents[service + ".yaml"]?.canary == true ? 1 : 0
            if live > bound + parallelism + canary {
                fail("replicas ≤ replicas + parallelism", "\(service) has \(live) running replicas (bound \(bound) + \(parallelism) + \(canary))")
            }
            // Within the newest commit's bound: from now on that is the bound. Counted over every
            // container of the service, stopped ones too (a reboot stops them all, and the engine
            // starts those with a restart policy again when it comes back: seed 2124, release).
            // And only 30 s after the service's last commit (seed 2703, release: a load of the
            // commit before created replicas just after the checker had tightened).
            let existing = existingCount[service] ?? 0
            if let wanted = intents[service + ".yaml"]?.replicas, existing <= wanted + parallelism + canary,
               now - (boundSetAt[service] ?? 0) > 30_000 {
                replicaBound[service] = wanted
            }
        }
        let current = routes()
        for (host, route) in current {
            for target in route.targets {
                if let box = byName[target], box.isRunning { continue }
                // A replica that died by itself: the daemon learns it from an event, or from the
                // watchdog's list when the event was lost (30 s), once the engine answers again.
                // While the engine refuses every call nothing can be learnt: the routes keep their
                // last state (seed 1704, release), and the 35 s count from when it answers again.
                if let died = crashedAt[target] ?? byName[target]?.finishedMS, byName[target]?.stoppedByClient != true,
                   engine.faults.serverError >= 1 || now - max(died, engine.backAt, refusalEndedAt) < 35_000 { continue }
                let how = byName[target].map { "\($0.state)\($0.stoppedByClient ? ", stopped by Flotilla" : "")" } ?? "gone"
                fail("routes only name live replicas", "\(host) routes to \(target), which is \(how)")
            }
        }
        // A ready replica leaves the routes only on its way out: removed by Flotilla soon after
        // (out of the routes first, then SIGTERM), or no longer ready, or its service no longer
        // routed. A broken file or a held-back deletion keeps its services' routes.
        let routedNow = lastRouteTargets
        for (host, before) in lastRoutes {
            for target in before.targets where !routedNow.contains(target) && unrouted[target] == nil {
                unrouted[target] = (host, now)
            }
        }
        for (target, (host, since)) in unrouted.sorted(by: { $0.key < $1.key }) {
            guard let box = byName[target], box.isRunning, !box.unhealthy, !box.stoppedByClient, !routedNow.contains(target),
                  stillRouted(box.service) else {
                unrouted[target] = nil
                continue
            }
            if !engine.faults.down, engine.faults.serverError < 1, now - max(since, engine.backAt) > 10_000 {
                let file = box.service + ".yaml"
                let why = broken.contains(file) ? " (its file is broken)" : heldBack.contains(box.service) ? " (its deletion is held back)" : ""
                fail("a ready replica leaves the routes only to be removed", "\(target) left \(host) \(now - since) ms ago, is ready and still runs\(why)")
            }
        }
        lastRoutes = current
    }

    /// The newest commit is in force within one debounce after its load (a load reads the files,
    /// then takes up to 2 s for `git status`): an older load that finished later never wins.
    func checkNewestCommit() async {
        guard let (controller, since) = inForce else { return }
        let now = WallClock.nowMS(), want = commits
        if stateRecoveredAt == Int64.max, await controller.revisionInForce != nil { stateRecoveredAt = WallClock.nowMS() }
        // A daemon starting loads once at start-up, and only then follows the changes.
        guard now - committedAt > 100 + 2000 + 1000, now - since > 2 * (100 + 2000) + 2000 else { return }
        let running = await controller.revisionInForce
        guard inForce?.controller === controller, want == commits else { return }
        let have = running.flatMap { Int($0.dropFirst()) } ?? 0
        if have < want {
            fail("the newest commit is in force", "commit c\(want) landed \(now - committedAt) ms ago; the daemon runs \(running ?? "none")")
        }
    }

    /// Whether the service's routes are still wanted: routed in the manifests (or kept: broken
    /// file, held-back deletion), not scaled to zero, and not removed for good. A daemon that lost
    /// its state directory since the file broke cannot keep routes it never saw.
    func stillRouted(_ service: String) -> Bool {
        let file = service + ".yaml"
        guard let intent = intents[file], intent.routed, intent.replicas > 0 else { return false }
        let present = FileManager.default.fileExists(atPath: manifests + "/" + file)
        if !present && !heldBack.contains(service) { return false }
        if broken.contains(file) || !present {
            let broke = brokenAt[file] ?? 0
            return stateLostAt < broke && (stateRecoveredAt == -1 || stateRecoveredAt < broke)
        }
        return true
    }

    func checkConverged() {
        for (file, intent) in intents.sorted(by: { $0.key < $1.key }) where FileManager.default.fileExists(atPath: manifests + "/" + file) {
            let live = engine.ordered.filter { $0.service == intent.name && $0.isRunning }
            let images = Set(live.map(\.blueprint.image))
            if intent.image == "sim/missing:1" { continue }
            if intent.canary {
                // A canary waits for `promote` (or its rollback) by design, even when no old
                // replica is left beside it: only "something runs" is converged here.
                // A rolled-back canary with no old replica left runs nothing until the spec
                // changes (replicas and health are not in it), by design (seed 1426, release).
                if intent.replicas > 0 && live.isEmpty && !engine.rolledBack(intent.name) {
                    fail("converged once faults stop", "\(intent.name): nothing running, want \(intent.replicas)")
                }
                continue
            }
            if live.count != intent.replicas || (intent.replicas > 0 && images != [intent.image]) {
                fail("converged once faults stop", "\(intent.name): \(live.count) running of \(images.sorted()), want \(intent.replicas) of \(intent.image)")
            }
        }
    }
}

/// A load's revision: the number of the last commit when its files were read, answered after
/// `git status`'s latency (0-2 s, from the seed).
struct SimRevisions: RevisionReading, @unchecked Sendable {
    unowned let world: World
    func revision(of directory: String) async -> String? {
        let commit = world.commits
        try? await AgentClock.sleep(for: .milliseconds(Int(world.gitLatency.next() % 2001)))
        return "c\(commit)"
    }
}

/// A flag set by one task, read by another (all on the simulator's one thread).
final class Flag: @unchecked Sendable {
    private(set) var value = false
    func set() { value = true }
}

/// Manifest commits, told to the daemon as inotify would.
public final class SimChangeFeed: ManifestChangeSource, @unchecked Sendable {
    public let events: AsyncStream<WatchEvent>
    private let continuation: AsyncStream<WatchEvent>.Continuation

    public init() { (events, continuation) = AsyncStream.makeStream(of: WatchEvent.self, bufferingPolicy: .bufferingNewest(8)) }
    public func start() throws {}
    public func stop() {}
    public func fire() { continuation.yield(WatchEvent(.manifestChanged, path: "manifests")) }
}

/// What the checker derives from the engine's containers at one ``SimEngine/version``.
struct EngineView {
    var version = -1
    /// Containers per service, and running ones per service.
    var existing: [String: Int] = [:], live: [String: Int] = [:]
    /// Containers by name (the first created, when two share one).
    var byName: [String: SimEngine.Box] = [:]

    init() {}

    init(_ engine: SimEngine) {
        version = engine.version
        for box in engine.ordered {
            existing[box.service, default: 0] += 1
            if box.isRunning { live[box.service, default: 0] += 1 }
            if byName[box.name] == nil { byName[box.name] = box }
        }
    }
}
