import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Hands out host ports for `network: host` replicas from a range, host-wide: never a port that
/// any container on the engine holds (every project's labelled ports and every published port),
/// never one that something on the host has bound, and never one that another Flotilla process
/// is placing a replica on right now.
///
/// Two projects allocating from the same range at once (the default range is shared by every
/// project on the host) both listed the engine before either had created its containers, and
/// took the same ports. So each allocation first *claims* the port, an exclusive `flock(2)` on
/// `<lock folder>/ports/<port>.lock` held until the replica exists (its label then carries the
/// port), and only then lists the engine: a container created before the claim is in that list,
/// and one created after it had to claim the port first. A crashed process's claims go with it.
///
/// That list is of every container on the engine, and Podman walks all of them for it (0.45 s
/// at 500): one per allocation made a cold start of 500 services quadratic. So a list is reused
/// for a few seconds (``snapshotLifetime``) for every port whose claim file shows no claimer
/// since that list began: each claimer stamps the file (its mtime) when it claims and again when
/// its replica exists, so a port another process placed a replica on after the list is listed
/// again. What a reused list can miss: a container of something other than Flotilla created
/// since (seen by ``isBound(_:)`` only once something listens on its port), and one whose
/// creator crashed between creating it and stamping its claim. Every Flotilla on the host must
/// stamp: after an upgrade from a version that did not, restart its daemons (the unit does).
public actor PortAllocator {
    public let range: ClosedRange<Int>
    /// This process's own ports: its replicas' (observed or allocated). Others' are asked each time.
    private var taken: Set<Int>
    private var next: Int
    /// Every host port held by a container on the engine (labels and published ports).
    private let inUse: @Sendable () async throws -> Set<Int>
    /// Where claim files live; nil: no claims (a single process, e.g. in tests).
    private let claimDirectory: String?
    private var claims: [Int: Int32] = [:]
    /// The last list of the engine's ports and when it began (realtime ns, as file mtimes).
    private var snapshot: (ports: Set<Int>, beganAt: Int64)?
    /// How long a list serves ports no other claimer touched since it began (ns).
    static let snapshotLifetime: Int64 = 10_000_000_000
    /// File times come from the kernel's coarse clock (a tick behind): compared with this margin.
    static let clockSlack: Int64 = 50_000_000
    /// Engine lists made so far.
    public private(set) var lists = 0

    public init(range: ClosedRange<Int>, taken: some Sequence<Int>, claimDirectory: String? = nil,
                inUse: @escaping @Sendable () async throws -> Set<Int> = { [] }) {
        self.range = range
        self.taken = Set(taken)
        self.next = range.lowerBound
        self.inUse = inUse
        self.claimDirectory = claimDirectory
    }

    public enum AllocationError: Error, CustomStringConvertible {
        case exhausted(ClosedRange<Int>)
        public var description: String {
            guard case .exhausted(let r) = self else { return "" }
            return "no free host port left in \(r.lowerBound)-\(r.upperBound); widen --port-range"
        }
    }

    /// The next free port, reserved (and claimed host-wide) until ``settle(_:)`` or ``release(_:)``.
    public func allocate() async throws -> Int {
        var used: Set<Int>?
        for _ in 0..<range.count {
            let port = next
            next = next >= range.upperBound ? range.lowerBound : next + 1
            if taken.contains(port) || Self.isBound(port) { continue }
            guard let claim = claim(port) else { continue }  // another process is placing a replica on it
            taken.insert(port)
            // Listed after the claim (see the type's comment), unless the last list is recent and
            // no one claimed this port since it began; one list serves the rest of this call.
            let now = Self.realtimeNanoseconds()
            if let snapshot, claim.lastClaimed < snapshot.beganAt - Self.clockSlack,
               now >= snapshot.beganAt, now - snapshot.beganAt < Self.snapshotLifetime {
                used = snapshot.ports
            } else if used == nil || claimDirectory != nil {
                do {
                    used = try await list(coveringClaimsUntil: claim.lastClaimed)
                } catch {
                    unclaim(claim.fd)
                    taken.remove(port)
                    throw error
                }
            }
            if used?.contains(port) == true {
                // Another container holds it: skipped, not kept as this process's own (a list,
                // perhaps a reused one, says nothing of later: once that container is gone the
                // port is free again; before, it stayed "taken" for this process's life).
                unclaim(claim.fd)
                taken.remove(port)
                continue
            }
            if claim.fd >= 0 { claims[port] = claim.fd }
            return port
        }
        throw AllocationError.exhausted(range)
    }

    /// A list of the engine's ports that has not begun yet. Every claim made before it begins is
    /// covered by it, so allocations claimed at the same time (a cold start of 50 services) share
    /// one list instead of queueing for one each, which made a cold start twice as slow.
    private var upcomingList: Task<Set<Int>, Error>?
    /// The list in flight, and when it began.
    private var currentList: (task: Task<Set<Int>, Error>, beganAt: Int64)?

    /// A list that covers every container placed on the port before it was last claimed or
    /// settled (`lastClaimed`): the one in flight when it began after that, else the next.
    private func list(coveringClaimsUntil lastClaimed: Int64) async throws -> Set<Int> {
        if let currentList, lastClaimed < currentList.beganAt - Self.clockSlack { return try await currentList.task.value }
        if let upcomingList { return try await upcomingList.value }
        let list = Task { [inUse] in
            let beganAt = self.listBegins()  // on this actor, so after every claim already made
            do {
                let ports = try await inUse()
                self.listed(ports, beganAt: beganAt)
                return ports
            } catch {
                self.listed(nil, beganAt: beganAt)
                throw error
            }
        }
        upcomingList = list
        return try await list.value
    }

    /// Claims from now on need the next list.
    private func listBegins() -> Int64 {
        let beganAt = Self.realtimeNanoseconds()
        if let upcomingList { currentList = (upcomingList, beganAt) }
        upcomingList = nil
        lists += 1
        return beganAt
    }

    private func listed(_ ports: Set<Int>?, beganAt: Int64) {
        if let ports, beganAt > snapshot?.beganAt ?? 0 { snapshot = (ports, beganAt) }
        if currentList?.beganAt == beganAt { currentList = nil }
    }

    /// The replica on `port` exists (its label carries the port): other processes see it now.
    /// Its claim file is stamped first: their lists older than this no longer serve the port.
    public func settle(_ port: Int) {
        if let fd = claims.removeValue(forKey: port) {
            futimens(fd, nil)
            unclaim(fd)
        }
    }

    /// The port is free again (its replica was never created, or was removed).
    public func release(_ port: Int) {
        settle(port)
        taken.remove(port)
    }

    /// Ports seen on owned containers (they may have been created by an earlier process).
    public func markTaken(_ ports: some Sequence<Int>) { taken.formUnion(ports) }

    /// The claim's descriptor (-1: no claim needed, no claim folder) and when anyone last claimed
    /// or settled the port (realtime ns; 0 for a claim file made just now, `Int64.max` when not
    /// known, so a list is made); nil: another process holds the claim.
    private func claim(_ port: Int) -> (fd: Int32, lastClaimed: Int64)? {
        guard let claimDirectory else { return (-1, Int64.max) }
        let path = claimDirectory + "/\(port).lock"
        var fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW)
        var made = false
        if fd < 0 && errno == ENOENT {
            mkdir(claimDirectory, 0o700)
            fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o644)
            made = fd >= 0
            if fd < 0 && errno == EEXIST { fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW) }
        }
        // A claim folder that cannot be used must not stop replicas: the list still protects
        // against every container that exists.
        guard fd >= 0 else { return (-1, Int64.max) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            return nil
        }
        var info = stat()
        var lastClaimed = Int64.max
        if made {
            lastClaimed = 0
        } else if fstat(fd, &info) == 0, info.st_mtim.tv_nsec != 0 {  // whole seconds: a file system too coarse to tell
            lastClaimed = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        }
        futimens(fd, nil)  // claimed now: other processes' lists older than this do not serve it
        return (fd, lastClaimed)
    }

    static func realtimeNanoseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }

    private func unclaim(_ fd: Int32) {
        guard fd >= 0 else { return }
        flock(fd, LOCK_UN)
        close(fd)
    }

    /// True when a TCP listener (or anything else) holds the port on the wildcard address.
    /// SO_REUSEADDR, as servers set it: connections in TIME-WAIT (a port that answered requests
    /// in the last minute) do not make a port look taken.
    nonisolated static func isBound(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr = in_addr(s_addr: INADDR_ANY)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return result != 0
    }
}
