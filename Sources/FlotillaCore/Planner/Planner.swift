/// desired state + observed containers → ``Plan``. A plain function: no I/O, no clock (time is
/// an argument), so every rule is unit-tested without an engine.
///
/// Rules:
/// - non-running owned containers are pruned (and replaced while the service wants replicas);
/// - running replicas of an older spec hash are replaced by a rolling update, up to `replicas`;
///   older-spec replicas beyond that are surplus;
/// - fewer current replicas than `replicas` → create; more → remove the surplus, **newest first**
///   (the oldest replicas have proven themselves stable);
/// - owned containers of services no longer in the manifests are orphans and removed;
/// - prune safety: services of files that failed to load are never treated as removed (their
///   last good spec is used when known; otherwise they are left untouched and orphan removal is
///   suspended), and an empty desired state removes nothing unless `allowEmpty`.
public enum Planner {
    public struct Options: Sendable {
        /// Allow a manifest directory with no services to remove every owned container.
        public var allowEmpty: Bool
        /// Allow removing more than half of the project's services at once (see ``resolve``).
        public var allowMassPrune = false
        /// The last specs that loaded cleanly from each file, kept by a long-running daemon.
        public var lastGoodSpecs: [String: [ServiceSpec]]
        /// Crash-loop state per service.
        public var backoff: CrashLoopBackoff
        /// Now, in milliseconds (only compared against ``backoff``).
        public var now: Int64
        /// Running containers whose liveness check failed: replaced like dead ones.
        public var unhealthy: Set<String>
        /// Services whose canary is to be promoted now (`flotilla promote`, auto-promotion).
        public var promote: Set<String>
        /// Services whose canary is to be rolled back now, with why (`flotilla rollback`, failed readiness).
        public var rollback: [String: String]
        /// Rollback decisions (state directory and engine markers): service → the spec hash that was rolled back.
        public var rolledBack: [String: String]
        /// Exited replicas that stopped while no Flotilla watched (found at start-up, or after the
        /// engine came back): replaced, but neither crashes nor failed canaries.
        public var notCrashed: Set<String>
        /// Exited replicas the engine is about to restart by its own restart policy: neither dead nor crashed.
        public var engineRestarting: Set<String>
        /// Releases under way, from the state directory (service → canary or promotion of a hash):
        /// a waiting canary stays a canary even when every old replica vanished.
        public var releases: [String: ReleaseDecisions.Release]

        public init(allowEmpty: Bool = false, lastGoodSpecs: [String: [ServiceSpec]] = [:], backoff: CrashLoopBackoff = CrashLoopBackoff(), now: Int64 = 0,
                    unhealthy: Set<String> = [], promote: Set<String> = [], rollback: [String: String] = [:], rolledBack: [String: String] = [:],
                    notCrashed: Set<String> = [], engineRestarting: Set<String> = [], releases: [String: ReleaseDecisions.Release] = [:],
                    allowMassPrune: Bool = false) {
            self.allowMassPrune = allowMassPrune
            self.releases = releases
            self.notCrashed = notCrashed
            self.engineRestarting = engineRestarting
            self.allowEmpty = allowEmpty
            self.lastGoodSpecs = lastGoodSpecs
            self.backoff = backoff
            self.now = now
            self.unhealthy = unhealthy
            self.promote = promote
            self.rollback = rollback
            self.rolledBack = rolledBack
        }
    }

    /// The services to manage after prune safety: the valid ones, plus the last good specs of
    /// files that failed to load; names of failed files' services with no known spec are frozen
    /// (left untouched), and orphan removal is suspended when a failed file's services are
    /// unknown, or when an empty directory would remove every owned container.
    public struct Resolved: Sendable {
        public var specs: [String: ServiceSpec]
        public var frozen: Set<String>
        public var suspendOrphans: Bool
        public var notes: [String]
        /// Services that would have been removed but were held back by the prune budget.
        public var heldBack: [String] = []

        public init(specs: [String: ServiceSpec], frozen: Set<String>, suspendOrphans: Bool, notes: [String]) {
            self.specs = specs
            self.frozen = frozen
            self.suspendOrphans = suspendOrphans
            self.notes = notes
        }

        /// What happens to the containers of a service named `name`.
        public func isOrphan(_ name: String) -> Bool { specs[name] == nil && !frozen.contains(name) && !suspendOrphans }
    }

    ///
    /// The prune budget: when the services left out of the manifests are more than one and more
    /// than half of the project's services (a `git rm` of most files, a swapped-in directory that
    /// holds something else), none of them is removed unless `allowMassPrune`.
    public static func resolve(_ desired: DesiredState, lastGoodSpecs: [String: [ServiceSpec]], allowEmpty: Bool, ownedContainers: Int,
                               ownedServices: Set<String> = [], allowMassPrune: Bool = false) -> Resolved {
        var notes: [String] = []
        var specs = Dictionary(desired.services.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var frozen = Set<String>()
        var suspendOrphans = false

        // Prune safety for files that failed to load.
        for file in desired.failedFiles.sorted() {
            if let lastGood = lastGoodSpecs[file] {
                for spec in lastGood where specs[spec.name] == nil { specs[spec.name] = spec }
                notes.append("\(file) failed to load; keeping its last good services (\(lastGood.map(\.name).sorted().joined(separator: ", ")))")
            } else {
                suspendOrphans = true
            }
        }
        for name in desired.servicesInFailedFiles where specs[name] == nil { frozen.insert(name) }
        if suspendOrphans {
            notes.append("orphan removal suspended: a manifest file failed to load and its services are not known; fix the errors above")
        }
        if !frozen.isEmpty {
            notes.append("left untouched (their manifest failed to load): \(frozen.sorted().joined(separator: ", "))")
        }
        if specs.isEmpty && ownedContainers > 0 && !allowEmpty && desired.failedFiles.isEmpty {
            notes.append("the manifest directory defines no services but \(ownedContainers) owned containers exist; removing nothing (pass --allow-empty to remove them)")
            suspendOrphans = true
        }
        var heldBack: [String] = []
        let leaving = ownedServices.subtracting(specs.keys).subtracting(frozen).sorted()
        if !suspendOrphans && !specs.isEmpty && !allowMassPrune && leaving.count > 1 && leaving.count * 2 > ownedServices.count {
            notes.append("\(leaving.count) of the project's \(ownedServices.count) services would be removed (\(leaving.prefix(10).joined(separator: ", "))\(leaving.count > 10 ? ", …" : "")); removing none of them, as this looks like a mistake (most manifests deleted, another directory swapped in); pass --allow-mass-prune to remove them on purpose")
            suspendOrphans = true
            heldBack = leaving
        }
        var resolved = Resolved(specs: specs, frozen: frozen, suspendOrphans: suspendOrphans, notes: notes)
        resolved.heldBack = heldBack
        return resolved
    }

    public static func plan(desired: DesiredState, observed: [ObservedContainer], options: Options = Options()) -> Plan {
        let resolved = resolve(desired, lastGoodSpecs: options.lastGoodSpecs, allowEmpty: options.allowEmpty, ownedContainers: observed.count,
                               ownedServices: Set(observed.map(\.service)), allowMassPrune: options.allowMassPrune)
        var notes = resolved.notes
        let specs = resolved.specs, frozen = resolved.frozen, suspendOrphans = resolved.suspendOrphans

        var byService: [String: [ObservedContainer]] = [:]
        for container in observed { byService[container.service, default: []].append(container) }

        let graph = specs.mapValues { $0.dependsOn.filter { specs[$0] != nil } }
        let levels = DependencyGraph.levels(of: graph)
        var services: [ServicePlan] = []
        // Two replicas claiming one host port (across services too): the newer one is replaced.
        var options = options
        options.unhealthy.formUnion(ObservedContainer.hostPortConflicts(observed))
        for name in levels.joined() {
            let spec = specs[name]!
            services.append(planService(spec, observed: byService[name] ?? [], options: options))
        }
        for service in services where service.backoffUntil != nil {
            let seconds = (service.backoffUntil! - options.now + 999) / 1000
            notes.append("\(service.name): crash loop, next attempt in \(seconds)s")
        }
        notes += services.compactMap(\.note)
        var staleMarkers = options.rolledBack.filter { specs[$0.key] == nil && !frozen.contains($0.key) }.map(\.key)
        staleMarkers += services.filter(\.clearMarker).map(\.name)

        let gone = observed.filter { specs[$0.service] == nil && !frozen.contains($0.service) }
            .sorted { ($0.service, $0.name) < ($1.service, $1.name) }
        var plan = Plan(services: services, orphans: suspendOrphans ? [] : gone, notes: notes, levels: levels, staleMarkers: staleMarkers.sorted())
        if suspendOrphans { plan.heldOrphans = gone }
        return plan
    }

    public static func planService(_ spec: ServiceSpec, observed: [ObservedContainer], options: Options) -> ServicePlan {
        let hash = spec.specHash
        // A replica the engine is restarting (its restart policy) is neither dead nor live yet.
        let restarting = observed.filter { $0.state == .restarting || (!$0.state.isLive && options.engineRestarting.contains($0.id)) }
        let restartingIDs = Set(restarting.map(\.id))
        let down = observed.filter { !$0.state.isLive && !restartingIDs.contains($0.id) }
        // Two live replicas on one host port cannot both be serving: the newer one is replaced.
        let sick = options.unhealthy.union(ObservedContainer.hostPortConflicts(observed))
        let unhealthy = observed.filter { $0.state.isLive && sick.contains($0.id) }.sorted(by: ObservedContainer.olderFirst)
        let running = observed.filter { $0.state.isLive && !sick.contains($0.id) }
        // Old replicas of a canary release that exited (a reboot stops them all) are started
        // again in place: Flotilla has no copy of their spec, the engine keeps it whole.
        let oldExited = spec.update.strategy == .canary ? down.filter { $0.state == .exited && $0.specHash != hash } : []
        let marker = options.rolledBack[spec.name]
        // The phase counts every replica that is or will be running again (a reboot stops all of them).
        var phase = Rollout.phase(of: spec, hash: hash, live: running + restarting + oldExited, rolledBackHash: marker)
        if let release = options.releases[spec.name], release.hash == hash, spec.update.strategy == .canary, marker != hash {
            let present = running + restarting
            if release.phase == .canary, phase == .steady, !present.contains(where: { $0.specHash == hash && $0.role == .regular }) {
                phase = .canary
            } else if release.phase == .promoting, phase == .canary {
                phase = .promoting
            }
        }
        let keepsOld = phase == .canary || phase == .rolledBack
        let supersededOld = Set(Rollout.superseded((running + oldExited).filter { $0.specHash != hash }).map(\.id))
        let start = keepsOld ? oldExited.filter { !supersededOld.contains($0.id) }.sorted(by: ObservedContainer.olderFirst) : []
        let startIDs = Set(start.map(\.id))
        let prune = down.filter { !startIDs.contains($0.id) }.sorted(by: ObservedContainer.olderFirst)
        let live = running + start + restarting
        let current = live.filter { $0.specHash == hash }.sorted(by: ObservedContainer.olderFirst)
        let outdated = live.filter { $0.specHash != hash }.sorted(by: ObservedContainer.olderFirst)

        var markRolledBack: String?
        var rollbackReason: String?
        if phase == .canary || phase == .promoting {
            // A canary that ran and died, or fails liveness. One left "created" (Flotilla stopped
            // between create and start) has not failed: it is just pruned and made again.
            let died = prune.filter { ($0.state == .exited || $0.state == .dead) && !options.notCrashed.contains($0.id) }
            let failedCanary = (died + unhealthy).contains { $0.specHash == hash && $0.role == .canary }
            if let why = options.rollback[spec.name] {
                rollbackReason = why
            } else if phase == .canary && failedCanary {
                rollbackReason = "a canary failed"
            }
            if rollbackReason != nil {
                phase = .rolledBack
                markRolledBack = hash
            } else if phase == .canary && options.promote.contains(spec.name) {
                phase = .promoting
            }
        }
        // A marker for another spec (the manifest moved on), or for a spec that now runs alone.
        let clearMarker = marker != nil && markRolledBack == nil && (marker != hash || phase == .steady)

        var keep = current
        var surplus: [ObservedContainer] = []
        var replace: [ObservedContainer] = []
        var create = 0
        var createRole = ReplicaRole.regular
        var supersededIDs = Set<String>()
        switch phase {
        case .steady, .rolling, .promoting:
            if current.count > spec.replicas {
                keep = Array(current.prefix(spec.replicas))
                surplus = Array(current.dropFirst(spec.replicas).reversed())  // newest first
            }
            let missing = max(0, spec.replicas - keep.count)
            replace = Array(outdated.prefix(missing))
            surplus += outdated.dropFirst(missing).reversed()
            create = missing - replace.count
        case .canary:
            // The old replicas stay (at most `replicas` of them); canaries of an even older
            // manifest edit are superseded; the canaries are brought to their wanted count.
            let superseded = Rollout.superseded(outdated)
            let stable = outdated.filter { !superseded.contains($0) }
            supersededIDs = Set(superseded.map(\.id))
            let wanted = min(spec.update.canary.replicas, spec.replicas)
            keep = Array(current.prefix(wanted)) + stable.prefix(spec.replicas)
            surplus = superseded.reversed() + current.dropFirst(wanted).reversed() + stable.dropFirst(spec.replicas).reversed()
            create = max(0, wanted - current.count)
            createRole = .canary
        case .rolledBack:
            keep = outdated
            surplus = current.reversed()
        }

        var backoffUntil: Int64?
        if let until = options.backoff.blockedUntil(spec.name, now: options.now), create > 0 || !replace.isEmpty {
            backoffUntil = until
            create = 0
        }
        let changes = (replace.first ?? (createRole == .canary && create > 0 ? outdated.first : nil))
            .map { fieldChanges(from: $0.canonicalSpec, to: spec.canonicalContainerForm) } ?? []
        return ServicePlan(
            spec: spec, prune: prune, unhealthy: unhealthy, create: create, createRole: createRole,
            replace: backoffUntil == nil ? replace : [], removeSurplus: surplus, keep: keep, changes: changes,
            backoffUntil: backoffUntil, phase: phase, markRolledBack: markRolledBack, rollbackReason: rollbackReason, clearMarker: clearMarker,
            superseded: supersededIDs, start: start, live: live,
            died: prune.filter { $0.specHash == hash && ($0.state == .exited || $0.state == .dead) && !options.notCrashed.contains($0.id) }
        )
    }

    /// Compares two canonical forms line by line (`key="value"`).
    static func fieldChanges(from old: String?, to new: String) -> [FieldChange] {
        guard let old else { return [FieldChange(field: "spec", old: nil, new: "(created by an older Flotilla; replacing)")] }
        func fields(_ text: String) -> [String: String] {
            var result: [String: String] = [:]
            for line in text.split(separator: "\n") {
                guard let eq = line.firstIndex(of: "=") else { continue }
                let key = String(line[..<eq])
                let value = String(line[line.index(after: eq)...])
                result[key] = result[key].map { $0 + ", " + value } ?? value
            }
            return result
        }
        let a = fields(old), b = fields(new)
        return Set(a.keys).union(b.keys).sorted().compactMap { key in
            a[key] == b[key] ? nil : FieldChange(field: key, old: a[key], new: b[key])
        }
    }
}
