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
public actor PortAllocator {
    public let range: ClosedRange<Int>
    private var taken: Set<Int>
    private var next: Int
    /// Every host port held by a container on the engine (labels and published ports).
    private let inUse: @Sendable () async throws -> Set<Int>
    /// Where claim files live; nil: no claims (a single process, e.g. in tests).
    private let claimDirectory: String?
    private var claims: [Int: Int32] = [:]

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
            // Listed after the claim (see the type's comment); one list serves the rest of this call.
            if used == nil || claimDirectory != nil { used = try await listAfterClaims() }
            if used?.contains(port) == true {
                unclaim(claim)
                continue  // stays taken: a container holds it
            }
            if claim >= 0 { claims[port] = claim }
            return port
        }
        throw AllocationError.exhausted(range)
    }

    /// A list of the engine's ports that has not begun yet. Every claim made before it begins is
    /// covered by it, so allocations claimed at the same time (a cold start of 50 services) share
    /// one list instead of queueing for one each, which made a cold start twice as slow.
    private var upcomingList: Task<Set<Int>, Error>?

    private func listAfterClaims() async throws -> Set<Int> {
        if let upcomingList { return try await upcomingList.value }
        let list = Task { [inUse] in
            self.listBegins()  // on this actor, so after every claim already made
            return try await inUse()
        }
        upcomingList = list
        return try await list.value
    }

    /// Claims from now on need the next list.
    private func listBegins() { upcomingList = nil }

    /// The replica on `port` exists (its label carries the port): other processes see it now.
    public func settle(_ port: Int) {
        if let fd = claims.removeValue(forKey: port) { unclaim(fd) }
    }

    /// The port is free again (its replica was never created, or was removed).
    public func release(_ port: Int) {
        settle(port)
        taken.remove(port)
    }

    /// Ports seen on owned containers (they may have been created by an earlier process).
    public func markTaken(_ ports: some Sequence<Int>) { taken.formUnion(ports) }

    /// -1: no claim needed (no claim folder); nil: another process holds the claim.
    private func claim(_ port: Int) -> Int32? {
        guard let claimDirectory else { return -1 }
        mkdir(claimDirectory, 0o755)
        let fd = open(claimDirectory + "/\(port).lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        // A claim folder that cannot be used must not stop replicas: the list still protects
        // against every container that exists.
        guard fd >= 0 else { return -1 }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            return nil
        }
        return fd
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
