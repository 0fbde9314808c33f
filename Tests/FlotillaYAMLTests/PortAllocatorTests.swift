@testable import FlotillaAgent
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Testing

@Suite("Host-wide port allocation")
struct PortAllocatorTests {
    /// What the engine lists: ports of containers that exist (created after their claim).
    final class FakeEngine: Sendable {
        let ports = Mutex<Set<Int>>([])
        func create(_ port: Int) { _ = ports.withLock { $0.insert(port) } }
    }

    /// Two projects (two allocators, as two processes would have) allocating from one range at
    /// once never get the same port; before, each avoided only its own project's ports.
    @Test func twoAllocatorsSharingARangeNeverHandOutOnePortTwice() async throws {
        let claims = NSTemporaryDirectory() + "flotilla-ports-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: claims, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: claims) }
        let engine = FakeEngine()
        let range = 27980...27999
        let one = PortAllocator(range: range, taken: [], claimDirectory: claims) { engine.ports.withLock { $0 } }
        let two = PortAllocator(range: range, taken: [], claimDirectory: claims) { engine.ports.withLock { $0 } }
        let handed = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<16 {
                let allocator = i % 2 == 0 ? one : two
                group.addTask {
                    let port = try await allocator.allocate()
                    try await Task.sleep(for: .milliseconds(Int.random(in: 0...20)))  // the create call
                    engine.create(port)
                    await allocator.settle(port)
                    return port
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(handed.count == 16 && Set(handed).count == 16, "\(handed.sorted())")
        // Ports held by other projects' containers are skipped, and the range can run out.
        let three = PortAllocator(range: 27980...27999, taken: [], claimDirectory: claims) { engine.ports.withLock { $0 } }
        var more: [Int] = []
        while let port = try? await three.allocate() { more.append(port) }
        #expect(more.count == 4 && Set(more).isDisjoint(with: handed), "\(more)")
    }

    /// A port skipped because another project's container held it is free again once that
    /// container is gone (before: kept "taken" for the allocator's life, and a long-running
    /// daemon's range ran out).
    @Test func aPortAnotherContainerHeldIsFreeAgainOnceItIsGone() async throws {
        let claims = NSTemporaryDirectory() + "flotilla-ports-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: claims) }
        let engine = FakeEngine()
        engine.create(27960)
        let allocator = PortAllocator(range: 27960...27961, taken: [], claimDirectory: claims) { engine.ports.withLock { $0 } }
        #expect(try await allocator.allocate() == 27961)
        await allocator.settle(27961)
        _ = engine.ports.withLock { $0.remove(27960) }  // the other project's replica is removed
        // At once, or once the engine list the allocator may reuse (10 s at most) has expired.
        let deadline = ContinuousClock.now + .seconds(15)
        var port: Int?
        while port == nil, ContinuousClock.now < deadline {
            port = try? await allocator.allocate()
            if port == nil { try await Task.sleep(for: .milliseconds(250)) }
        }
        #expect(port == 27960)
    }

    /// Allocations claimed at the same time share one engine list (each still listed after its
    /// claim): a cold start of 50 services queued for 50 lists, one after another, and took twice
    /// as long as before the claims.
    @Test func concurrentAllocationsShareTheirLists() async throws {
        let claims = NSTemporaryDirectory() + "flotilla-ports-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: claims) }
        let lists = Mutex(0)
        let allocator = PortAllocator(range: 27940...27959, taken: [], claimDirectory: claims) {
            lists.withLock { $0 += 1 }
            try await Task.sleep(for: .milliseconds(50))  // an engine list under load
            return []
        }
        let ports = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<20 { group.addTask { try await allocator.allocate() } }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(Set(ports).count == 20)
        #expect(lists.withLock { $0 } <= 5, "\(lists.withLock { $0 }) lists for 20 allocations")
    }

    /// A list serves later allocations for a few seconds (one list per allocation made a cold
    /// start of 500 services quadratic on Podman), except for a port another process claimed
    /// since that list began: listed again, so its new container is seen.
    @Test func aRecentListServesLaterAllocationsUnlessTheirPortWasClaimedSince() async throws {
        let claims = NSTemporaryDirectory() + "flotilla-ports-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: claims) }
        let engine = FakeEngine()
        // Claim files left by earlier runs, last stamped an hour ago.
        try FileManager.default.createDirectory(atPath: claims, withIntermediateDirectories: true)
        for port in 27900...27919 {
            #expect(FileManager.default.createFile(atPath: claims + "/\(port).lock", contents: nil))
            var times = [timeval(tv_sec: time(nil) - 3600, tv_usec: 500_000), timeval(tv_sec: time(nil) - 3600, tv_usec: 500_000)]
            #expect(utimes(claims + "/\(port).lock", &times) == 0)
        }
        let lists = Mutex(0)
        let a = PortAllocator(range: 27900...27919, taken: [], claimDirectory: claims) {
            lists.withLock { $0 += 1 }
            return engine.ports.withLock { $0 }
        }
        for _ in 0..<5 {
            let port = try await a.allocate()
            engine.create(port)
            await a.settle(port)
        }
        #expect(lists.withLock { $0 } == 1, "\(lists.withLock { $0 }) lists for 5 allocations")
        // Another process places a replica on the port `a` would take next.
        let b = PortAllocator(range: 27905...27905, taken: [], claimDirectory: claims) { engine.ports.withLock { $0 } }
        let theirs = try await b.allocate()
        engine.create(theirs)
        await b.settle(theirs)
        let next = try await a.allocate()
        #expect(next == 27906 && theirs == 27905, "a took \(next), b took \(theirs)")
        #expect(lists.withLock { $0 } == 2, "the claimed port was listed again")
    }

    /// A claim is held until the replica exists: a second allocator skips the port meanwhile.
    @Test func aClaimedPortIsSkippedUntilSettled() async throws {
        let claims = NSTemporaryDirectory() + "flotilla-ports-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: claims) }
        let a = PortAllocator(range: 27970...27971, taken: [], claimDirectory: claims)
        let b = PortAllocator(range: 27970...27971, taken: [], claimDirectory: claims)
        let first = try await a.allocate()
        let second = try await b.allocate()
        #expect(first != second)
        await #expect(throws: PortAllocator.AllocationError.self) { try await b.allocate() }
        // Released (never created): the port can be claimed again.
        await a.release(first)
        #expect(try await b.allocate() == first)
    }
}

extension PortAllocatorTests {
    /// A port whose server answered requests a moment ago has connections in TIME-WAIT; it is
    /// free (servers bind with SO_REUSEADDR). Such ports looked taken for a minute, and a busy
    /// range ran out.
    @Test func aPortInTimeWaitIsFreeAListenerIsNot() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(27969).bigEndian)
        address.sin_addr = in_addr(s_addr: inet_addr("127.0.0.1"))
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        try #require(bound == 0 && listen(listener, 4) == 0)
        #expect(PortAllocator.isBound(27969), "a listener holds it")
        // A connection closed by the server side leaves the server's end in TIME-WAIT.
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        try #require(connected == 0)
        let accepted = accept(listener, nil, nil)
        close(accepted)  // the server closes first
        close(listener)
        Thread.sleep(forTimeInterval: 0.1)
        close(client)
        #expect(!PortAllocator.isBound(27969), "only TIME-WAIT connections are left")
    }
}
