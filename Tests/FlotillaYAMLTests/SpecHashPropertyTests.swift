import FlotillaCore
import Testing

/// The spec hash is what tells Flotilla a container is out of date. It must ignore how a
/// manifest is written and change whenever the container would be different.
@Suite("Spec hash: formatting-blind, value-sensitive")
struct SpecHashPropertyTests {
    /// A random service with every container-shaping field set.
    static func randomSpec(_ rng: inout SplitMix) -> ServiceSpec {
        func word(_ n: UInt64 = 6) -> String { String((0..<(3 + Int(rng.next() % n))).map { _ in "abcdefghij".randomElement(using: &rng)! }) }
        var spec = ServiceSpec(name: word(), image: "registry.test/" + word() + ":" + word(2))
        spec.command = (0..<Int(rng.next() % 4)).map { _ in word() }
        spec.port = 1 + Int(rng.next() % 60000)
        spec.network = rng.next() % 2 == 0 ? .host : .bridge
        for _ in 0..<Int(1 + rng.next() % 4) { spec.env[word().uppercased()] = word() }
        for _ in 0..<Int(rng.next() % 3) { spec.labels["team." + word()] = word() }
        spec.volumes = (0..<Int(rng.next() % 3)).map { _ in "/srv/" + word() + ":/data/" + word() }
        spec.stopTimeout = .seconds(1 + Int(rng.next() % 30))
        spec.replicas = 1 + Int(rng.next() % 5)
        return spec
    }

    /// Writes a spec as YAML, in block or flow style, with keys in a shuffled order and comments.
    static func yaml(_ spec: ServiceSpec, flow: Bool, rng: inout SplitMix) -> String {
        func list(_ items: [String]) -> String { "[" + items.map { "\"\($0)\"" }.joined(separator: ", ") + "]" }
        func map(_ m: [String: String], indent: String) -> String {
            let keys = m.keys.shuffled(using: &rng)
            if flow { return "{ " + keys.map { "\($0): \"\(m[$0]!)\"" }.joined(separator: ", ") + " }" }
            return "\n" + keys.map { "\(indent)\($0): '\(m[$0]!)'   # comment" }.joined(separator: "\n")
        }
        var lines = [
            "name: \(spec.name)",
            "image: \(flow ? "\"\(spec.image)\"" : spec.image)",
            "command: " + list(spec.command ?? []),
            "replicas: \(spec.replicas)",
            "port: \(spec.port!)",
            "network: \(spec.network.rawValue)",
            "env: " + map(spec.env, indent: flow ? "" : "  "),
            "volumes: " + list(spec.volumes),
            "stop_timeout: " + (flow ? "\(spec.stopTimeout.milliseconds)ms" : spec.stopTimeout.description),
        ]
        if !spec.labels.isEmpty { lines.append("labels: " + map(spec.labels, indent: flow ? "" : "    ")) }
        lines.shuffle(using: &rng)
        return (flow ? "" : "# generated\n---\n") + lines.joined(separator: flow ? "\n" : "\n\n") + "\n"
    }

    @Test func hashIgnoresKeyOrderFormattingAndComments() throws {
        var rng = SplitMix(seed: 7)
        for _ in 0..<200 {
            let spec = Self.randomSpec(&rng)
            let a = desired(Self.yaml(spec, flow: false, rng: &rng))
            let b = desired(Self.yaml(spec, flow: true, rng: &rng))
            let sa = try #require(a.services.first, "\(a.diagnostics)")
            let sb = try #require(b.services.first, "\(b.diagnostics)")
            #expect(sa == spec && sb == spec)
            #expect(sa.specHash == sb.specHash)
        }
    }

    @Test func hashChangesWithEveryContainerField() {
        var rng = SplitMix(seed: 11)
        for _ in 0..<100 {
            let spec = Self.randomSpec(&rng)
            let mutations: [(String, (inout ServiceSpec) -> Void)] = [
                ("name", { $0.name += "x" }),
                ("image", { $0.image += "x" }),
                ("command", { $0.command = ($0.command ?? []) + ["x"] }),
                ("command nil vs empty", { $0.command = $0.command?.isEmpty == true ? nil : [] }),
                ("port", { $0.port = $0.port! % 60000 + 1 }),
                ("network", { $0.network = $0.network == .host ? .bridge : .host }),
                ("env value", { let k = $0.env.keys.first!; $0.env[k]! += "x" }),
                ("env key", { $0.env["NEW_KEY"] = "" }),
                ("labels", { $0.labels["extra"] = "1" }),
                ("volumes", { $0.volumes.append("/a:/b") }),
                ("stop_timeout", { $0.stopTimeout.milliseconds += 1 }),
                ("secrets", { $0.secrets["TOKEN"] = SecretValue(value: "changed", source: "t") }),
                ("memory", { $0.resources.memoryBytes = ($0.resources.memoryBytes ?? 0) + 1 }),
                ("cpus", { $0.resources.nanoCPUs = ($0.resources.nanoCPUs ?? 0) + 1 }),
                ("restart_policy", { $0.restartPolicy = $0.restartPolicy == .always ? .no : .always }),
                ("ports", { $0.ports.append(PortMapping(container: 9)) }),
                ("networks", { $0.networks.append(NetworkAttachment(name: "n")) }),
                ("aliases", { $0.networks = [NetworkAttachment(name: "n", aliases: ["x"])] }),
            ]
            for (field, mutate) in mutations {
                var changed = spec
                mutate(&changed)
                #expect(changed.specHash != spec.specHash, "\(field)")
            }
        }
    }

    @Test func hashIgnoresFieldsThatDoNotShapeTheContainer() {
        var rng = SplitMix(seed: 3)
        let spec = Self.randomSpec(&rng)
        var other = spec
        other.replicas += 3
        other.routes = [Route(host: "a.test", path: "/x", stripPrefix: true)]
        other.readiness = HealthCheck(probe: .tcp)
        other.liveness = HealthCheck(probe: .tcp)
        other.update = UpdatePolicy(strategy: .canary, order: .stopFirst, parallelism: 3)
        other.dependsOn = ["db"]
        other.pull = .always
        #expect(other.specHash == spec.specHash)
    }

    @Test func valuesCannotCollideThroughTheEncoding() {
        var a = ServiceSpec(name: "a", image: "x")
        var b = a
        a.env = ["A": "1\nenv.B=\"2\""]
        b.env = ["A": "1", "B": "2"]
        #expect(a.specHash != b.specHash)
        a.command = ["a,b"]
        b.command = ["a", "b"]
        #expect(a.specHash != b.specHash)
    }
}
