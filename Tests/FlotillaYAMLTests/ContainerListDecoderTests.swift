import FlotillaCore
import FlotillaEngine
import Foundation
import Testing

/// The one-pass list decoder against Foundation's `JSONSerialization` as the oracle: the same
/// fields from every list, well-formed or hostile.
@Suite("The engine's container list, decoded in one pass")
struct ContainerListDecoderTests {
    static let owner = OwnershipLabel.project

    /// What the oracle reads from one container object.
    struct Expected: Equatable, CustomStringConvertible {
        var id: String, name: String?, state: String, created: Int64, published: [String], labels: [String?]
        var description: String { "\(id) \(name ?? "-") \(state) \(created) \(published) \(labels)" }
    }

    static func oracle(_ data: Data) throws -> [Expected] {
        let list = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        return list.map { c in
            let labels = c["Labels"] as? [String: String] ?? [:]
            let ports = (c["Ports"] as? [[String: Any]] ?? []).compactMap { p -> String? in
                guard let pub = (p["PublicPort"] as? NSNumber)?.intValue, pub != 0 else { return nil }
                return "\((p["PrivatePort"] as? NSNumber)?.intValue.description ?? "nil")->\(pub)"
            }
            return Expected(id: c["Id"] as? String ?? "", name: (c["Names"] as? [String])?.first, state: c["State"] as? String ?? "",
                            created: (c["Created"] as? NSNumber)?.int64Value ?? 0, published: ports,
                            labels: OwnedLabels.Field.allCases.map { OwnedLabels(labels, ownerLabel: owner)[$0] })
        }
    }

    static func decoded(_ data: Data) throws -> [Expected] {
        try ContainerListDecoder.decode(Array(data), ownerLabel: owner).map { s in
            Expected(id: s.id, name: s.name, state: s.state, created: s.created,
                     published: s.published.map { "\($0.privatePort?.description ?? "nil")->\($0.publicPort)" },
                     labels: OwnedLabels.Field.allCases.map { s.labels[$0] })
        }
    }

    /// A container as Podman's and Docker's compat lists show it, with everything Flotilla skips.
    static func container(_ i: Int, labels: [String: Any]? = nil, ports: Any = [[String: Any]]()) -> [String: Any] {
        [
            "Id": String(repeating: "ab\(i % 10)", count: 21), "Names": ["/p-web-\(i)"], "Image": "localhost/flotilla-test:busybox",
            "ImageID": "sha256:0123", "Command": "/bin/httpd -f -p 8080", "Created": 1_765_000_000 + i, "State": i % 7 == 0 ? "exited" : "running",
            "Status": "Up 3 seconds", "Ports": ports, "SizeRw": 0, "Mounts": [["Type": "bind", "Source": "/srv", "Destination": "/srv", "RW": true]],
            "NetworkSettings": ["Networks": ["host": ["IPAddress": "", "Aliases": NSNull(), "Gateway": ""]]], "HostConfig": ["NetworkMode": "host"],
            "Labels": labels ?? [
                owner: "p", OwnershipLabel.service: "web-\(i % 5)", OwnershipLabel.specHash: "h\(i)", OwnershipLabel.hostPort: "\(20000 + i)",
                OwnershipLabel.canonicalSpec: "image=busybox\ncommand=[\"/bin/httpd\"]\nenv.NAME=caf\u{e9} \u{1F600} \\ tab\t/",
                OwnershipLabel.createdAt: "\(1_765_000_000_000 + i)", OwnershipLabel.role: i % 3 == 0 ? "canary" : "regular",
                OwnershipLabel.checks: "r=http:/healthz", "org.opencontainers.image.title": "busybox", "com.example.other": "x\"y",
            ],
        ]
    }

    @Test func aRealisticListReadsAsTheOracleReadsIt() throws {
        var list = (0..<60).map { Self.container($0) }
        list.append(Self.container(60, labels: [:]))
        list.append(Self.container(61, ports: [["PrivatePort": 8080, "PublicPort": 0, "Type": "tcp"],
                                                ["PrivatePort": 8080, "PublicPort": 32768, "IP": "127.0.0.1", "Type": "tcp"],
                                                ["PublicPort": 40000]]))
        var nullLabels = Self.container(62)
        nullLabels["Labels"] = NSNull()
        nullLabels["Ports"] = NSNull()
        nullLabels["Names"] = NSNull()
        list.append(nullLabels)
        var other = Self.container(63)
        other["Labels"] = [Self.owner: "someone-else", OwnershipLabel.service: "web"]
        list.append(other)
        let data = try JSONSerialization.data(withJSONObject: list, options: [.prettyPrinted])
        let got = try Self.decoded(data)
        #expect(got == (try Self.oracle(data)))
        #expect(got.count == 64 && got[1].labels[OwnedLabels.Field.canonicalSpec.rawValue]?.contains("caf\u{e9} \u{1F600} \\ tab\t/") == true)
        // And as the client builds its observations: another owner's container is not one.
        let observed = try ContainerListDecoder.decode(Array(data), ownerLabel: Self.owner).compactMap {
            EngineClient.observed(id: $0.id, name: $0.name ?? $0.id, labels: $0.labels, state: $0.state, engineCreatedMS: $0.created * 1000,
                                  published: $0.published, owner: "p", service: nil)
        }
        #expect(observed.count == 61)
        #expect(observed.first { $0.name == "/p-web-61" }?.hostPort == 20061)
        #expect(observed.first { $0.name == "/p-web-3" }?.role == .canary)
    }

    @Test func escapesSurrogatesAndOddSpacingReadAsTheOracleReadsThem() throws {
        let text = #" [ {"Id":"a\u0062c" , "Names" : [ "\/x\"y" , "z" ], "Created": 12.5e0, "State":"running","Labels":{"io.flotilla.project":"p","io.flotilla.service":"\ud83d\ude00\u00e9\n","io.flotilla.\u0073eal":"s"},"Extra":[true,false,null,-1.5E+3,{"a":[[]]}]} ,{"Id":"d","Labels":{}} ] "#
        let data = Data(text.utf8)
        let got = try Self.decoded(data)
        var expected = try Self.oracle(data)
        expected[0].created = 12  // the oracle keeps 12.5; the decoder drops a fraction (no engine sends one)
        #expect(got == expected)
        #expect(got[0].labels[OwnedLabels.Field.seal.rawValue] == "s")  // an escaped key still matches
    }

    @Test(arguments: [
        "", "[", "[{", #"[{"Id":"a"}"#, #"[{"Id":"a"}]x"#, #"[{"Id":"a",}]"#, #"[{"Id":"a\q"}]"#, #"[{"Id":"\u12"}]"#,
        "[{\"Id\":\"a\u{01}\"}]", #"[{"Id":tru}]"#, #"[{"Created":99999999999999999999}]"#, #"{"Id":"a"}"#, #"[{"Id" "a"}]"#,
        #"[{"Labels":{"x":"# + String(repeating: "[", count: 600) + String(repeating: "]", count: 600) + "}}]",
    ])
    func malformedListsThrowAndNeverHalfDecode(_ text: String) {
        #expect(throws: EngineError.self) { try ContainerListDecoder.decode(Array(text.utf8), ownerLabel: Self.owner) }
    }

    @Test func randomListsReadAsTheOracleReadsThem() throws {
        var rng = SplitMix(seed: 27)
        let alphabet = Array("aZ09 -_./:=\"\\\n\t\u{e9}\u{1F600}{}[],")
        func word() -> String { String((0..<Int(rng.next() % 12)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }) }
        let keys = [Self.owner, OwnershipLabel.service, OwnershipLabel.specHash, OwnershipLabel.hostPort, OwnershipLabel.containerPort,
                    OwnershipLabel.canonicalSpec, OwnershipLabel.createdAt, OwnershipLabel.role, OwnershipLabel.checks,
                    OwnershipLabel.source, OwnershipLabel.seal, OwnershipLabel.revision]
        for _ in 0..<200 {
            let list = (0..<Int(rng.next() % 8)).map { i -> [String: Any] in
                var labels: [String: Any] = [:]
                for _ in 0..<Int(rng.next() % 10) { labels[rng.next() % 2 == 0 ? keys[Int(rng.next() % UInt64(keys.count))] : word()] = word() }
                let ports: [[String: Any]] = (0..<Int(rng.next() % 3)).map { _ in ["PrivatePort": Int(rng.next() % 70000), "PublicPort": Int(rng.next() % 3) * 20000] }
                return Self.container(i, labels: labels, ports: ports)
            }
            let data = try JSONSerialization.data(withJSONObject: list)
            #expect(try Self.decoded(data) == (try Self.oracle(data)))
        }
    }
}
