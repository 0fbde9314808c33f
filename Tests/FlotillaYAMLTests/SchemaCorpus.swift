import Foundation

/// A generated corpus of single-document manifests for comparing the JSON Schema with the
/// validator: per field, valid values, values at and past each bound, wrong types and hostile
/// text; relations between fields; every example of issue 26; and seeded combinations of the
/// values on which both must agree. Deterministic: the same cases, in the same order, every run.
enum SchemaCorpus {
    struct Case: Sendable {
        var name: String
        var text: String
        /// Set when the two may disagree, and why (strictly: a listed case must disagree).
        var gap: SchemaGap?
    }

    /// One value for a field, as YAML text, and the gap its document shows (if any).
    struct Value: Sendable {
        var yaml: String
        var gap: SchemaGap?
        init(_ yaml: String, _ gap: SchemaGap? = nil) {
            self.yaml = yaml
            self.gap = gap
        }
    }

    static let base = "name: web\nimage: busybox\n"

    /// Tags the document's JSON view accepts (the validator refuses them): `!!binary` and friends.
    static let viewTags: Set<String> = ["!foo", "tag:yaml.org,2002:binary", "tag:yaml.org,2002:timestamp"]

    static var cases: [Case] {
        var cases: [Case] = []
        for (key, values) in fields {
            for (i, value) in values.enumerated() {
                cases.append(Case(name: "\(key) #\(i): \(value.yaml)", text: document(key, value.yaml), gap: value.gap))
            }
        }
        for (i, relation) in relations.enumerated() {
            cases.append(Case(name: "relation #\(i)", text: base + relation.yaml + "\n", gap: relation.gap))
        }
        for (i, example) in issueExamples.enumerated() {
            cases.append(Case(name: "issue 26 #\(i)", text: example.yaml, gap: example.gap))
        }
        cases += combinations(count: 400, seed: 26)
        return cases
    }

    /// The base document with `key` set (or replaced, for `name` and `image`).
    static func document(_ key: String, _ yaml: String) -> String {
        switch key {
        case "name": return "name: \(yaml)\nimage: busybox\n"
        case "image": return "name: web\nimage: \(yaml)\n"
        case "routes", "health": return base + "port: 80\n\(key): \(yaml)\n"
        default: return base + "\(key): \(yaml)\n"
        }
    }

    /// Documents of 2 to 7 fields drawn from the values with no gap: every one must agree.
    static func combinations(count: Int, seed: UInt64) -> [Case] {
        var rng = SplitMix(seed: seed)
        let pools = fields.filter { $0.key != "name" && $0.key != "image" }.map { ($0.key, $0.values.filter { $0.gap == nil }) }
        let names = fields.first { $0.key == "name" }!.values.filter { $0.gap == nil }
        let images = fields.first { $0.key == "image" }!.values.filter { $0.gap == nil }
        var result: [Case] = []
        for i in 0..<count {
            var text = "name: \(names[Int(rng.next() % UInt64(names.count))].yaml)\nimage: \(images[Int(rng.next() % UInt64(images.count))].yaml)\n"
            var chosen = Set<String>()
            for _ in 0..<(1 + rng.next() % 6) {
                let (key, values) = pools[Int(rng.next() % UInt64(pools.count))]
                guard chosen.insert(key).inserted else { continue }
                text += "\(key): \(values[Int(rng.next() % UInt64(values.count))].yaml)\n"
            }
            // Routes and health mostly come with their port.
            if (chosen.contains("routes") || chosen.contains("health")) && !chosen.contains("port") && rng.next() % 5 != 0 { text += "port: 80\n" }
            result.append(Case(name: "combination #\(i)", text: text, gap: nil))
        }
        return result
    }

    static let long63 = "a" + String(repeating: "b", count: 61) + "c"
    static let host253 = String(Array(repeating: String(repeating: "h", count: 63), count: 4).joined(separator: ".").dropLast(2))
    static let host254 = host253 + "x"

    /// Per field: values to try (secrets use names no env value has, depends_on names no name
    /// value is, update values keep canary replicas at 1, so that combinations relate nothing
    /// the schema cannot see).
    static let fields: [(key: String, values: [Value])] = [
        ("name", [
            Value("web"), Value("a"), Value("\"0123\""), Value("123"), Value("0"), Value("00"), Value("true"), Value("false"),
            Value("True", .numberSpelling), Value("TRUE", .numberSpelling), Value("+5", .numberSpelling), Value("-5"), Value("-0", .numberSpelling),
            Value("1.0", .numberSpelling), Value("1e5"), Value("1E5", .numberSpelling), Value("0x1f"), Value("0x1F", .numberSpelling), Value("0o17"),
            Value("1.5"), Value(".5"), Value(".inf"), Value(".nan"), Value("null"), Value("~"), Value("\"\""), Value("''"), Value("[a]"), Value("{a: b}"),
            Value("Web"), Value("web-"), Value("-web"), Value("a_b"), Value(long63), Value(long63 + "d"), Value(#""web\n""#), Value("\"we b\""),
            Value("wéb"), Value(#""web\0""#), Value("!!str 5"), Value("!!int 5"), Value("! 5"), Value("!!binary abcd", .tags), Value("!foo web", .tags),
            Value("&a web"), Value("\"web\\u212A\""),
        ]),
        ("image", [
            Value("busybox"), Value("nginx:1.27"), Value("registry.example.com:5000/team/app:v1@sha256:" + String(repeating: "ab", count: 32)),
            Value("localhost/x"), Value("\"UPPER/Case\""), Value("\"--privileged\""), Value("\"-x\""), Value("123"), Value("1.5"), Value("1e5"),
            Value("1E5", .numberSpelling), Value("-1"), Value("true"), Value("null"), Value("[x]"), Value("\"\""), Value("\"a b\""), Value(#""x\n""#),
            Value(String(repeating: "a", count: 512)), Value(String(repeating: "a", count: 513)), Value("\"nginx:\""), Value("Nginx"),
            Value("!!binary abcd", .tags), Value("x//y"), Value("\"[::1]:5000/x\""),
        ]),
        ("command", [
            Value("[sleep, 10]"), Value("[]"), Value("null"), Value("\"run me\""), Value("[a, null]"), Value("[a, [b]]"), Value("[a, {b: c}]"),
            Value(#"["a\0b"]"#), Value("[true, 1.5, -3, .nan]"), Value("~"), Value("{a: b}"), Value("[\"\"]"), Value("[!foo x]", .tags),
            Value("[\"/bin/httpd\", \"-p\", \"${PORT}\"]"),
        ]),
        ("entrypoint", [Value("[/bin/sh]"), Value("/bin/sh"), Value("null"), Value(#"["\0"]"#), Value("[1]"), Value("[[x]]")]),
        ("replicas", [
            Value("0"), Value("1"), Value("1000"), Value("1001"), Value("-1"), Value("\"2\""), Value("2.0", .numberSpelling), Value("1e2", .numberSpelling),
            Value("0x10", .numberSpelling), Value("0o10", .numberSpelling), Value("+5"), Value("010"), Value("-0"), Value("99999999999999999999"),
            Value("null"), Value("true"), Value("[1]"), Value("1.5"), Value("!!int \"3\""), Value("!!str 3"), Value("! 3"), Value(".inf"),
        ]),
        ("port", [
            Value("1"), Value("80"), Value("65535"), Value("0"), Value("65536"), Value("-1"), Value("\"80\""), Value("80.0", .numberSpelling),
            Value("null"), Value("[80]"), Value("0x50", .numberSpelling), Value("!!float 80", .numberSpelling),
        ]),
        ("network", [Value("bridge"), Value("host"), Value("overlay"), Value("null"), Value("\"host\""), Value("Host"), Value("1")]),
        ("pull", [Value("missing"), Value("always"), Value("never"), Value("daily"), Value("null"), Value("true")]),
        ("env", [
            Value("{A: x}"), Value("{A: 1}"), Value("{A: true}"), Value("{A: 1.5}"), Value("{A: \"\"}"), Value("{A: null}"), Value("{A: ~}"),
            Value("{A: [x]}"), Value("{A: {b: c}}"), Value("{1A: x}"), Value("{_a: b}"), Value("{A-B: x}"), Value(#"{"A\n": x}"#), Value(#"{A: "a\0b"}"#),
            Value("{}"), Value("null"), Value("[a]"), Value("x"), Value("{A: x, A: y}", .duplicateKeys), Value("{<<: {A: x}}"),
            Value("{A: !!binary abcd}", .tags), Value("{A: !foo x}", .tags), Value("{A: !!timestamp 2001-12-14}", .tags), Value("{A: .nan}"),
            Value("{true: x}"), Value("{A: &v x, B: *v}"),
        ]),
        ("env_file", [
            Value("web.env"), Value("[a.env, b.env]"), Value("null"), Value("[]"), Value("5"), Value("[5]"), Value("{a: b}"), Value("[null]"),
            Value(#"["a\0"]"#), Value("\"\""), Value("[[a]]"),
        ]),
        ("secrets", [
            Value("{S: {file: f}}"), Value("{S: {file: 5}}"), Value("{S: {file: \"\"}}"), Value("{S: {path: /x}}"), Value("{S: null}"), Value("{S: f}"),
            Value("{1S: {file: f}}"), Value("{}"), Value("null"), Value("{S: {file: f, mode: 1}}"), Value("{S: {file: null}}"), Value("{S: {file: [f]}}"),
        ]),
        ("routes", [
            Value("[{host: a.example}]"), Value("[{host: a.example, path: /api}]"), Value("[{hosts: [a.example, b.example]}]"),
            Value("[{host: a.example, paths: [/a, /b]}]"), Value("[{host: \"*.a.example\"}]"), Value("[{host: a.example, hosts: [b.example]}]"),
            Value("[{path: /x}]"), Value("[{host: a.example, path: /x, paths: [/y]}]"), Value("[{host: a.example, path: \"//z\"}]"),
            Value("[{host: a.example, path: /../a}]"), Value("[{host: a.example, path: \"/a*\"}]"), Value("[{host: a.example, path: \"/a;b\"}]"),
            Value("[{host: 1.5}]"), Value("[{host: .5}]", .numberSpelling), Value("[{host: 5.}]", .numberSpelling), Value("[{host: 123}]"),
            Value("[{host: -1}]"), Value("[{host: true}]"), Value("[{host: \(host253)}]"), Value("[{host: \(host254)}]"), Value("[{host: a..b}]"),
            Value(#"[{host: "\u212A.example"}]"#), Value("[{host: a.example, strip_prefix: true, path: /v1}]"),
            Value("[{host: a.example, strip_prefix: true, path: \"/a!b\"}]"), Value("[{host: a.example, strip_prefix: true, paths: [/a, \"/b=c\"]}]"),
            Value("[{host: a.example, strip_prefix: \"yes\"}]"), Value("[{host: a.example, strip_prefix: True}]"), Value("[{hosts: []}]"),
            Value("[{hosts: null}]"), Value("[{hosts: [a.example, a.example]}]"), Value("[{hosts: [a.example, A.example]}]", .sameRouteTwice),
            Value("[{host: a.example}, {host: a.example}]"), Value("[{host: a.example}, {hosts: [a.example]}]", .sameRouteTwice),
            Value("[{host: a.example, paths: [/a, /a]}]"), Value("[{host: a.example, path: /a}, {host: a.example, paths: [/a]}]", .sameRouteTwice),
            Value("null"), Value("[]"), Value("a.example"), Value("[null]"), Value("[a.example]"), Value("[{host: a.example, port: 80}]"),
            Value(#"[{host: "a.example\n"}]"#), Value("[{host: a.example, path: \"/a\\\\b\"}]"), Value("[{host: a.example, path: /a%41}]"),
        ]),
        ("health", [
            Value("{http: /healthz}"), Value("{tcp: true}"), Value("{tcp: false}"), Value("{http: /x, tcp: true}"), Value("{}"),
            Value(#"{http: "/a\\b"}"#), Value("{http: \"/a`b\"}"), Value("{http: \"/a b\"}"), Value("{http: x}"), Value("{http: \"/a?b=c&d\"}"),
            Value("{tcp: true, interval: 1ms}"), Value("{tcp: true, interval: 100ms}"), Value("{tcp: true, interval: 99ms}"),
            Value("{tcp: true, interval: 0.05s}", .durationBounds), Value("{tcp: true, interval: 40ms50ms}", .durationBounds),
            Value("{tcp: true, interval: 0s}"), Value("{tcp: true, timeout: 1h}"), Value("{tcp: true, timeout: 0099ms}"),
            Value("{tcp: true, retries: 0}"), Value("{tcp: true, retries: 100}"), Value("{tcp: true, retries: 101}"), Value("{tcp: true, start_period: 0s}"),
            Value("{readiness: {tcp: true}}"), Value("{readiness: {tcp: true}, liveness: {http: /h}}"), Value("{readiness: null}"),
            Value("{readyness: {tcp: true}}"), Value("{readiness: {tcp: true}, http: /x}"), Value("null"), Value("[]"),
            Value("{tcp: true, interval: 8761h}", .durationBounds), Value("{tcp: true, interval: 1.5s}"), Value("{tcp: \"true\"}"), Value("{liveness: {}}"),
        ]),
        ("update", [
            Value("{strategy: rolling}"), Value("{strategy: canary}"), Value("{order: stop-first}"), Value("{order: sideways}"), Value("{parallelism: 0}"),
            Value("{parallelism: 1000}"), Value("{canary: {weight: 10}}"), Value("{strategy: canary, canary: {replicas: 1, weight: 99}}"),
            Value("{strategy: canary, canary: {weight: 100}}"), Value("{strategy: canary, canary: {weight: 0}}"),
            Value("{strategy: canary, canary: {auto_promote_after: none}}"), Value("{strategy: canary, canary: {auto_promote_after: 1s}}"),
            Value("{strategy: canary, canary: {auto_promote_after: 999ms}}"), Value("{strategy: canary, canary: {auto_promote_after: 0.5s}}", .durationBounds),
            Value("{strategy: canary, canary: {auto_promote_after: 5m}}"), Value("{strategy: canary, canary: {auto_promote_after: never}}"),
            Value("{strategy: canary, canary: {auto_promote_after: null}}"), Value("{strategy: canary, canary: {replicas: 2}}", .canaryAboveReplicas),
            Value("null"), Value("[]"), Value("{strategy: Canary}"), Value("{strategy: rolling, canary: {replicas: 1}}"), Value("{strategy: canary, canary: null}"),
        ]),
        ("resources", [
            Value("{memory: 256Mi}"), Value("{memory: 6Mi}"), Value("{memory: 5Mi}"), Value("{memory: 0}"), Value("{memory: \"0\"}"),
            Value("{memory: 268435456}"), Value("{memory: 6291455}"), Value("{memory: 6291456}"), Value("{memory: \"6291456\"}"), Value("{memory: 1g}"),
            Value("{memory: 1G}"), Value("{memory: 1GB}"), Value("{memory: 64MiB}"), Value("{memory: 7M}"), Value("{memory: 6M}"), Value("{memory: 6144Ki}"),
            Value("{memory: 6143Ki}"), Value("{memory: 6292K}"), Value("{memory: 6291K}"), Value("{memory: 8388607Ti}"), Value("{memory: 8388608Ti}"),
            Value("{memory: 9223372036854775807}"), Value("{memory: 9223372036854775808}"), Value("{memory: 9223372036854775807b}"),
            Value("{memory: 5 lots}"), Value("{memory: 1e9}", .numberSpelling), Value("{memory: 256mi}"), Value("{memory: null}"), Value("{memory: 00006Mi}"),
            Value("{cpus: 0.5}"), Value("{cpus: 0}"), Value("{cpus: 0.01}"), Value("{cpus: 0.009}"), Value("{cpus: 1024}"), Value("{cpus: 1025}"),
            Value("{cpus: \"0.5\"}"), Value("{cpus: !!str 0.5}"), Value("{cpus: .5}"), Value("{cpus: 5.}"), Value("{cpus: 1e2}"),
            Value("{cpus: 0x10}", .numberSpelling), Value("{cpus: .nan}", .numberSpelling), Value("{cpus: .inf}"), Value("{cpus: -1}"), Value("{cpus: true}"),
            Value("{cpus: 0x1p3}"), Value("{}"), Value("null"), Value("{disk: 1}"), Value("{memory: 1Gi, cpus: 2}"),
        ]),
        ("restart_policy", [
            Value("no"), Value("\"no\""), Value("always"), Value("on-failure"), Value("unless-stopped"), Value("on-failure:3"), Value("on-failure:0"),
            Value("on-failure:1000"), Value("on-failure:1001"), Value("on-failure:+3"), Value("on-failure:003"), Value("on-failure:-1"), Value("\"on-failure:\""),
            Value("on-failure:x"), Value("sometimes"), Value("null"), Value("5"), Value("No"), Value("[no]"),
        ]),
        ("ports", [
            Value("[\"9090\"]"), Value("[\"9443:443\"]"), Value("[\"0.0.0.0:5353:53/udp\"]"), Value("[9090]"), Value("[\"0:80\"]"), Value("[\"99999\"]"),
            Value("[\"080\"]"), Value("[\"1.2.3.4:80\"]"), Value("[\"999.0.0.1:80:80\"]"), Value("[\"80/sctp\"]"), Value("[\"80:x\"]"),
            Value("[{container: 53, host: 5353, address: 0.0.0.0, protocol: udp}]"), Value("[{host: 80}]"), Value("[{container: 80, address: 1.2.3}]"),
            Value("[{container: 80, protocol: sctp}]"), Value("[{container: 80, extra: 1}]"), Value("[\"8080:80\", \"8080:81\"]", .samePortTwice),
            Value("[\"80\", \"80\"]"), Value("[\"80\", 80]", .samePortTwice), Value("[80, {container: 80}]", .samePortTwice), Value("[80.0]", .numberSpelling),
            Value("null"), Value("[]"), Value("\"80\""), Value("[null]"), Value("[[80]]"), Value("[\"80/udp\", \"80/tcp\"]"), Value("[\"1.2.3.4::80\"]"),
            Value("[\"127.0.0.1:8080:80\"]"), Value("[{container: 65536}]"), Value("[\"80\\n\"]"),
        ]),
        ("networks", [
            Value("[backend]"), Value("[backend, front]"), Value("[{name: front, aliases: [api.internal]}]"), Value("{backend: null, front: {aliases: [api]}}"),
            Value("[host]"), Value("[default]"), Value("{bridge: null}"), Value("[5]"), Value("[1.5]"), Value("[\"-x\"]"), Value("[a, a]"),
            Value("[a, {name: a}]", .sameNetworkTwice), Value("[{name: a, aliases: [\"*.x\"]}]"), Value("[{name: a, aliases: null}]"),
            Value("[{aliases: [x]}]"), Value("null"), Value("[]"), Value("{}"), Value("backend"), Value("{a: {aliases: [x], extra: 1}}"), Value("{a: []}"),
            Value("[" + String(repeating: "n", count: 65) + "]"), Value("[" + String(repeating: "n", count: 64) + "]"), Value("[{name: 5}]"),
            Value("{a: {aliases: [1.5]}}"), Value("[{name: a, aliases: [\(host254)]}]"),
        ]),
        ("stop_timeout", [
            Value("10s"), Value("500ms"), Value("1m30s"), Value(".5s"), Value("5.s"), Value("10"), Value("\"10\""), Value("1d"), Value("0s"),
            Value("8761h", .durationBounds), Value("1.5.5s"), Value("null"), Value("1h1h"), Value("\"5s\""), Value("5S"), Value("[5s]"),
        ]),
        ("depends_on", [
            Value("[db]"), Value("[db, cache]"), Value("[web]", .selfDependency), Value("[db, db]"), Value("[\"Not A Name\"]"), Value("null"), Value("[]"),
            Value("db"), Value("[7]"), Value("[null]"), Value("[{db: x}]"),
        ]),
        ("labels", [
            Value("{team: web}"), Value("{io.flotilla.service: x}"), Value("{\"a b\": x}"), Value("{team: null}"), Value("{team: [x]}"), Value("{team: 1}"),
            Value("{" + String(repeating: "k", count: 257) + ": x}"), Value("{" + String(repeating: "k", count: 256) + ": x}"), Value("{é: x}"),
            Value(#"{team: "a\0"}"#), Value("{}"), Value("null"), Value("{<<: x}", .mergeKeys), Value("{a: !foo x}", .tags), Value("{a: x, a: y}", .duplicateKeys),
            Value("{io.flotilla: x}"),
        ]),
        ("volumes", [
            Value("[\"data:/data\"]"), Value("[\"data:/data:ro\"]"), Value("[\"/srv/x:/x\"]"), Value("[\"var/run/docker.sock:/s\"]"),
            Value("[\"data:/../../etc\"]"), Value("[\"data:/x/.\"]"), Value("[\"data:/x/...\"]"), Value("[\"data\"]"), Value("[\"data:x\"]"),
            Value("[\"data:/x:\"]"), Value("[\"data:/x:ro:z\"]"), Value("[\"./data:/x\"]"), Value("[\"~/data:/x\"]"), Value("[\"/srv/../etc:/x\"]"),
            Value("[\"/srv/..x:/x\"]"), Value("[\"data:/x y\"]"), Value(#"["data:/x\u00a0"]"#), Value(#"["data:/x\x7f"]"#), Value(#"["data:/x\n"]"#),
            Value("[5]"), Value("null"), Value("[\"a_b:/x\"]"), Value("[\"-a:/x\"]"), Value("[\"a:/\"]"), Value("[\"/:/x\"]"), Value("[\"data:/x/./y\"]"),
            Value("[\"/srv/x/..:/x\"]"),
        ]),
        ("placement", [
            Value("{constraints: [node.role==manager]}"), Value("{constraints: [node.labels.zone != b]}"), Value("{constraints: [\"node.role=manager\"]}"),
            Value(#"{constraints: ["a\t==b"]}"#), Value("{constraints: [\"a==é\"]}"), Value("{max_per_node: 0}"), Value("{max_per_node: 1000}"),
            Value("{mode: global}"), Value("{mode: everywhere}"), Value("{constraints: null}"), Value("{}"), Value("null"),
            Value("{constraints: [a==" + String(repeating: "v", count: 254) + "]}"), Value("{constraints: [a==" + String(repeating: "v", count: 253) + "]}"),
            Value("{constraints: [\"a==b==c\"]}"), Value("{constraints: [\"a!=!=b\"]}"), Value("{constraints: [\"1a==b\"]}"),
        ]),
        ("replica", [Value("2"), Value("null")]),
        ("NAME", [Value("web")]),
    ]

    /// Two fields that decide together.
    static let relations: [Value] = [
        Value("routes: [{host: a.example}]"), Value("routes: []"), Value("routes: null"), Value("health: {tcp: true}"),
        Value("replicas: 0\nupdate: {strategy: canary}"), Value("replicas: 0\nupdate: {strategy: canary, canary: {replicas: 1}}"),
        Value("replicas: 3\nupdate: {strategy: canary, canary: {replicas: 2}}"), Value("replicas: 2\nupdate: {strategy: canary, canary: {replicas: 3}}", .canaryAboveReplicas),
        Value("replicas: 0\nupdate: {strategy: rolling}"), Value("replicas: 2\nports: [\"8080:80\"]"), Value("replicas: 2\nports: [\"80\"]"),
        Value("replicas: 2\nports: [{container: 80, host: 8080}]"), Value("replicas: 2\nports: [{container: 80}, 81]"), Value("replicas: 1\nports: [\"8080:80\"]"),
        Value("network: host\nports: [\"80\"]"), Value("network: host\nports: []"), Value("network: host\nnetworks: [a]"), Value("network: host\nnetworks: {a: null}"),
        Value("network: host\nnetworks: null"), Value("env: {A: x}\nsecrets: {A: {file: f}}", .envAndSecret), Value("env: {A: x}\nsecrets: {B: {file: f}}"),
        Value("port: 80\nhealth: {readiness: {tcp: true}}\nroutes: [{host: a.example}]"), Value("replicas: 2\nupdate: {strategy: canary, canary: {replicas: 2, weight: 50}}"), Value("replica: 2\nreplicas: 2"),
        Value("replicas: 2\nreplicas: 3", .duplicateKeys), Value("<<: {replicas: 2}"), Value("port: 80\nroutes: [{host: a.example}]\nhealth: {http: /h}"),
    ]

    /// Every manifest that issue 26 names, as written there.
    static let issueExamples: [Value] = [
        Value(base + "update: {strategy: canary, canary: {auto_promote_after: none}}\n"),
        Value(base + "port: 80\nhealth: {http: \"/a\\\\b\"}\n"), Value(base + "port: 80\nhealth: {http: \"/a`b\"}\n"),
        Value(base + "ports: [\"0:80\"]\n"), Value(base + "ports: [\"99999\"]\n"), Value(base + "restart_policy: on-failure:0\n"),
        Value(base + "resources: {memory: 0}\n"), Value(base + "port: 80\nhealth: {tcp: true, interval: 1ms}\n"),
        Value(base + "port: 80\nroutes: [{host: \(host254)}]\n"), Value("name: 123\nimage: busybox\n"), Value(base + "command: [sleep, 10]\n"),
        Value(base + "resources: {memory: 268435456}\n"), Value(base + "stop_timeout: .5s\n"), Value(base + "env: {A: \"a\\0b\"}\n"),
        Value(base + "command: [\"sleep\\0\", \"10\"]\n"), Value(base + "ports: [\"8080:80\",\"8080:81\"]\n", .samePortTwice),
        Value(base + "volumes: [\"var/run/docker.sock:/s\"]\n"), Value(base + "volumes: [\"data:/../../etc\"]\n"),
        Value("name: web\nimage: \"--privileged\"\n"), Value("name: web\nimage: UPPER/Case\n"),
        Value(base + "port: 80\nroutes: [{host: a.example, path: //z}]\n"), Value(base + "port: 80\nroutes: [{host: a.example, path: /../a}]\n"),
        Value(base + "env: {A: !!binary aGVsbG8=}\n", .tags), Value(base + "labels: {a: !foo x}\n", .tags),
        Value(base + "replicas: 0\nupdate: {strategy: canary, canary: {replicas: 1}}\n"),
        Value(base + "port: 80\nroutes: [{host: a.example, path: \"/admin*\"}]\n"),
    ]
}
