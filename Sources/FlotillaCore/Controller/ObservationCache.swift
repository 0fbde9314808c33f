/// The controller's last observation of each service's containers, and the rules for when it may
/// stand in for asking the engine again. A value: the controller's steps read and write it
/// between their awaits; the route writer and the status page read it.
///
/// Freshness rules (each one a bug found before it existed):
/// - An observation serves **one step**; the next step asks again (``takeFresh(_:)``).
/// - An observation taken **before this process last changed the service** is not trusted: it
///   does not show the change. Except a *tracked* one: what the changing step saw, less what it
///   removed, plus what it created, as inspected (``track(_:containers:observedAt:)``).
/// - An **engine event** for the service makes its observation stale (``eventCame(_:at:)``), and
///   a tracked observation is only made when no event came since the step looked.
/// - An observation is **never replaced by an older one** (lists and inspections overlap).
/// - A **list of the whole project** is every service's observation, and says that a service it
///   did not show had no container.
/// - After **another process changed the project** (a CLI command), nothing observed before is
///   trusted (``distrustAll()``).
public struct ObservationCache: Sendable {
    /// What is known of one service.
    public struct Record: Sendable, Equatable {
        /// The containers as last observed (nil: never observed, or forgotten).
        public var containers: [ObservedContainer]?
        /// When that observation began (Unix ms); for a tracked one, when the change was made.
        public var observedAt: Int64?
        /// When this process last changed the service.
        public var changedAt: Int64?
        /// When an engine event last came for the service.
        public var eventAt: Int64?
        /// The observation has served a step.
        public var used = false
        /// The observation holds this process's last change (current although not newer than it).
        public var tracked = false

        public init() {}
    }

    public private(set) var records: [String: Record] = [:]
    /// When the last list of the whole project began (nil: none since the last distrust).
    public private(set) var projectListedAt: Int64?

    public init() {}

    public subscript(service: String) -> Record { records[service] ?? Record() }

    /// The service's containers as last observed (nil: never observed).
    public func containers(_ service: String) -> [ObservedContainer]? { records[service]?.containers }

    /// Every container observed, of every service.
    public var allContainers: [ObservedContainer] { records.values.flatMap { $0.containers ?? [] } }

    /// The services with an observation (possibly of no container).
    public var observedServices: [String] { records.filter { $0.value.containers != nil }.map(\.key) }

    /// The observation was taken after this process last changed the service, or holds that change.
    public func isCurrent(_ service: String) -> Bool {
        guard let record = records[service], let at = record.observedAt, record.containers != nil else { return false }
        return at > (record.changedAt ?? 0) || record.tracked
    }

    /// The observation, when it is current and has not served a step yet (now marked as served).
    public mutating func takeFresh(_ service: String) -> (containers: [ObservedContainer], at: Int64)? {
        guard isCurrent(service), let record = records[service], !record.used, let containers = record.containers else { return nil }
        records[service]?.used = true
        return (containers, record.observedAt ?? 0)
    }

    /// A step's own observation of the service (a list or inspections) begun at `at`: kept unless
    /// a newer one is there; served to that step either way. A list says what the service is
    /// (no longer tracked); inspections of the tracked containers keep it tracked.
    public mutating func observed(_ service: String, _ containers: [ObservedContainer], at: Int64, byList: Bool) {
        var record = self[service]
        if at >= (record.observedAt ?? 0) {
            record.containers = containers
            record.observedAt = at
            if byList { record.tracked = false }
        }
        record.used = true
        records[service] = record
    }

    /// A list of every container of the project, begun at `startedAt`: each service's observation
    /// (`known`: services to record as empty when absent), except where a newer one is there.
    public mutating func observedProject(_ listed: [ObservedContainer], startedAt: Int64, known: Set<String>) {
        var byService: [String: [ObservedContainer]] = [:]
        for container in listed { byService[container.service, default: []].append(container) }
        for name in Set(records.keys).union(byService.keys).union(known) where startedAt > (records[name]?.observedAt ?? 0) {
            var record = self[name]
            record.containers = byService[name] ?? []
            record.observedAt = startedAt
            record.used = false
            record.tracked = false
            records[name] = record
        }
        projectListedAt = max(projectListedAt ?? 0, startedAt)
    }

    /// A service new to the manifests that the last project list did not show (and this process
    /// has not changed since): it has no container as of that list.
    public mutating func absentFromProjectList(_ service: String) {
        guard let listedAt = projectListedAt, records[service]?.containers == nil, listedAt > (records[service]?.changedAt ?? 0) else { return }
        var record = self[service]
        record.containers = []
        record.observedAt = listedAt
        record.used = false
        records[service] = record
    }

    /// This process changed the service at `at` (created, started, removed something).
    public mutating func changed(_ service: String, at: Int64) { records[service, default: Record()].changedAt = at }

    /// An engine event came for the service: what is cached is from before it.
    public mutating func eventCame(_ service: String, at: Int64) {
        var record = self[service]
        record.used = true
        record.tracked = false
        record.eventAt = at
        records[service] = record
    }

    /// Whether an engine event came for the service at or after `at`.
    public func eventSince(_ service: String, _ at: Int64) -> Bool { (records[service]?.eventAt ?? 0) >= at }

    /// After a step's complete change: the service becomes `containers` (what it saw at
    /// `observedAt`, less what it removed, plus what it created or started, as inspected), stamped
    /// with the change, so the follow-up step needs no list. Refused when no change is recorded,
    /// a newer observation is there, or an event came since the step looked. Returns whether it
    /// was taken.
    @discardableResult
    public mutating func track(_ service: String, containers: [ObservedContainer], observedAt: Int64) -> Bool {
        var record = self[service]
        guard let changedAt = record.changedAt, (record.observedAt ?? 0) <= changedAt, !eventSince(service, observedAt) else { return false }
        record.containers = containers
        record.observedAt = changedAt
        record.tracked = true
        record.used = false
        records[service] = record
        return true
    }

    /// The change a step was about to track is not known exactly: the next step asks again.
    public mutating func untrack(_ service: String) { records[service]?.tracked = false }

    /// Another process may have changed the project: every observation serves no more steps.
    public mutating func distrustAll() {
        for name in records.keys {
            records[name]?.used = true
            records[name]?.tracked = false
        }
        projectListedAt = nil
    }

    /// Forgets the service's containers (it has none left; its other memory stays).
    /// (When it was observed stays: it is no longer "never observed".)
    public mutating func forget(_ service: String) { records[service]?.containers = nil }
}
