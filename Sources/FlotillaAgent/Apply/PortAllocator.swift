import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Hands out host ports for `network: host` replicas from a range: never one that another owned
/// container holds (by label) and never one that something on the host has bound.
public actor PortAllocator {
    public let range: ClosedRange<Int>
    private var taken: Set<Int>
    private var next: Int

    public init(range: ClosedRange<Int>, taken: some Sequence<Int>) {
        self.range = range
        self.taken = Set(taken)
        self.next = range.lowerBound
    }

    public enum AllocationError: Error, CustomStringConvertible {
        case exhausted(ClosedRange<Int>)
        public var description: String {
            guard case .exhausted(let r) = self else { return "" }
            return "no free host port left in \(r.lowerBound)-\(r.upperBound); widen --port-range"
        }
    }

    /// The next free port, reserved until ``release(_:)``.
    public func allocate() throws -> Int {
        for _ in 0..<range.count {
            let port = next
            next = next >= range.upperBound ? range.lowerBound : next + 1
            if taken.contains(port) { continue }
            if Self.isBound(port) { continue }
            taken.insert(port)
            return port
        }
        throw AllocationError.exhausted(range)
    }

    public func release(_ port: Int) { taken.remove(port) }

    /// Ports seen on owned containers (they may have been created by an earlier process).
    public func markTaken(_ ports: some Sequence<Int>) { taken.formUnion(ports) }

    /// True when a TCP listener (or anything else) holds the port on the wildcard address.
    nonisolated static func isBound(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
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
