@testable import FlotillaCore
import Testing

@Suite("Small values: durations, digests, dependency order")
struct ValueTests {
    @Test func durations() {
        #expect(TimeSpan(parsing: "500ms") == TimeSpan(milliseconds: 500))
        #expect(TimeSpan(parsing: "5s") == .seconds(5))
        #expect(TimeSpan(parsing: "2m") == .seconds(120))
        #expect(TimeSpan(parsing: "1h") == .seconds(3600))
        #expect(TimeSpan(parsing: "1.5s") == TimeSpan(milliseconds: 1500))
        #expect(TimeSpan(parsing: "1m30s") == .seconds(90))
        for bad in ["", "5", "s", "5 s", "-1s", "5d", "1e3s", "9999999h", "5sec"] { #expect(TimeSpan(parsing: bad) == nil, "\(bad)") }
        #expect(TimeSpan(milliseconds: 1500).description == "1500ms")
        #expect(TimeSpan.seconds(120).description == "2m")
        #expect(TimeSpan.seconds(0).description == "0s")
    }

    @Test func sha256KnownVectors() {
        #expect(Digests.sha256Hex(Array("".utf8)) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Digests.sha256Hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Digests.sha256Hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(Digests.sha256Hex([UInt8](repeating: 0x61, count: 1000)) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    @Test func secretDigestsAreKeyed() throws {
        // RFC 4231 test case 2 (key "Jefe"), through the same primitive the secret digests use.
        #expect(Digests.hmacSHA256Hex(key: Array("Jefe".utf8), Array("what do ya want for nothing?".utf8))
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        let one = try #require(SecretDigestKey(bytes: [UInt8](repeating: 1, count: 32)))
        let two = try #require(SecretDigestKey(bytes: [UInt8](repeating: 2, count: 32)))
        #expect(SecretDigestKey(bytes: [1, 2, 3]) == nil)
        // Not the plain SHA-256 prefix (which a dictionary attack reverses), and different per host.
        let value = SecretValue(value: "hunter2", source: "pw", key: one)
        #expect(value.digest.hasPrefix("hmac-sha256:") && value.digest.count == "hmac-sha256:".count + 12)
        #expect(!value.digest.contains(Digests.sha256Hex(Array("hunter2".utf8)).prefix(12)))
        #expect(value.digest == SecretValue(value: "hunter2", source: "other", key: one).digest)
        #expect(value.digest != SecretValue(value: "hunter2", source: "pw", key: two).digest)
        #expect(!value.description.contains("hunter2"))
    }

    @Test func dependencyLevelsAndCycles() {
        let graph = ["web": ["api"], "api": ["db", "cache"], "db": [], "cache": [], "batch": ["db"]]
        #expect(DependencyGraph.levels(of: graph) == [["cache", "db"], ["api", "batch"], ["web"]])
        #expect(DependencyGraph.cycles(in: graph).isEmpty)
        #expect(DependencyGraph.cycles(in: ["a": ["b"], "b": ["a"], "c": ["c"]]) == [["a", "b"], ["c"]])
    }

    @Test func editDistanceSuggestions() {
        #expect(EditDistance.suggestion(for: "replica", in: ServiceDecoder.serviceKeys) == "replicas")
        #expect(EditDistance.suggestion(for: "dependson", in: ServiceDecoder.serviceKeys) == "depends_on")
        #expect(EditDistance.suggestion(for: "xyzzy", in: ServiceDecoder.serviceKeys) == nil)
    }
}

@Suite("Mount policy")
struct MountPolicyTests {
    @Test func prefixesMatchWholeSegments() {
        #expect(MountPolicy.path("/srv/data", isInside: "/srv/data"))
        #expect(MountPolicy.path("/srv/data/x", isInside: "/srv/data/"))
        #expect(!MountPolicy.path("/srv/database", isInside: "/srv/data"))
        #expect(MountPolicy.path("/anything", isInside: "/"))
    }

    @Test func theOperatorDecides() {
        #expect(MountPolicy.refuseHostPaths.problem(source: "named") == nil)
        #expect(MountPolicy.refuseHostPaths.problem(source: "/srv")?.contains("--allow-host-mounts") == true)
        #expect(MountPolicy(allowed: .any).problem(source: "/") == nil)
        #expect(MountPolicy(allowed: .any).problem(source: "/srv/../etc")?.contains("\"..\"") == true)
        #expect(MountPolicy(allowed: .any).problem(source: "~/x")?.contains("relative") == true)
        let linked = MountPolicy(allowed: .under(["/srv"]), resolve: { $0 == "/srv/link" ? "/etc" : $0 })
        #expect(linked.problem(source: "/srv/ok") == nil)
        #expect(linked.problem(source: "/srv/link")?.contains("really /etc") == true)
    }
}

@Suite("Who a container belongs to")
struct OwnershipTests {
    @Test func aProjectIsManagedFromOneDirectory() {
        #expect(ProjectOwnership.decide(recorded: "/a", containerSources: [], source: "/a") == .ours)
        #expect(ProjectOwnership.decide(recorded: "/a", containerSources: ["/b"], source: "/b") == .foreign(owner: "/a"))
        #expect(ProjectOwnership.decide(recorded: nil, containerSources: [nil, "/a"], source: "/b") == .foreign(owner: "/a"))
        #expect(ProjectOwnership.decide(recorded: nil, containerSources: [nil, "/b"], source: "/b") == .unclaimed)
    }

    @Test func sealsBindTheNameSoCopiedLabelsDoNotPass() throws {
        let key = try #require(SecretDigestKey(bytes: [UInt8](repeating: 7, count: 32)))
        let seal = ReplicaSeal(key: key, keyCreated: 1_000_000, project: "p")
        var real = ObservedContainer(id: "1", name: "p-web-aaaa", service: "web", specHash: "h", state: .running, created: 0)
        real.seal = seal.seal(name: real.name, service: "web", specHash: "h")
        real.engineCreated = 2_000_000
        #expect(seal.problem(with: real) == nil)
        var copy = real
        copy.name = "p-web-bbbb"
        #expect(seal.problem(with: copy)?.contains("seal does not match") == true)
        copy.name = "elsewhere"
        #expect(seal.problem(with: copy)?.contains("not p-web-") == true)
        // Created before the key existed (an earlier Flotilla): adopted without a seal; not in the key's own second.
        var legacy = ObservedContainer(id: "2", name: "p-web-cccc", service: "web", specHash: "h", state: .running, created: 0)
        legacy.engineCreated = 999_000
        #expect(seal.problem(with: legacy) == nil)
        legacy.engineCreated = 1_000_000
        #expect(seal.problem(with: legacy)?.contains("no seal") == true)
        // A different host key: not ours.
        let other = ReplicaSeal(key: try #require(SecretDigestKey(bytes: [UInt8](repeating: 8, count: 32))), keyCreated: 1_000_000, project: "p")
        #expect(other.problem(with: real) != nil)
    }
}

@Suite("Action log")
struct ActionLogTests {
    @Test func keepsTheLastEventsOldestFirst() {
        var log = ActionLog(capacity: 3)
        for i in 0..<5 { log.append(ActionEvent(time: Int64(i), action: "created", service: "s\(i)")) }
        #expect(log.events.map(\.time) == [2, 3, 4])
        var short = ActionLog(capacity: 3)
        short.append(ActionEvent(time: 9, action: "removed", service: "a"))
        #expect(short.events.map(\.time) == [9])
    }
}
