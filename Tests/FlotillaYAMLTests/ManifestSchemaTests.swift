@testable import FlotillaCore
import FlotillaYAML
import Foundation
import Testing

/// The JSON Schema (`schema/flotilla-manifest.schema.json`) against the validator it is generated
/// from, checked by a real JSON Schema validator (PyPI's jsonschema).
@Suite("Manifest JSON Schema")
struct ManifestSchemaTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    @Test func committedSchemaIsTheGeneratedOne() throws {
        let committed = try String(contentsOfFile: Self.root + "/schema/flotilla-manifest.schema.json", encoding: .utf8)
        #expect(committed == ManifestSchema.text, "schema/ is stale: run `swift run flotilla schema > schema/flotilla-manifest.schema.json`")
        #expect(ManifestSchema.document.propertyNames == ServiceDecoder.serviceKeys)
    }

    /// Each pattern in the schema accepts exactly what its predicate in ManifestRules accepts.
    @Test func patternsAgreeWithTheValidatorsPredicates() throws {
        func matches(_ pattern: String, _ s: String) throws -> Bool {
            let regex = try NSRegularExpression(pattern: pattern)
            return regex.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
        }
        let samples = ["", "a", "web", "web-1", "-web", "web-", "Web", "a.b", "a_b", "x" + String(repeating: "y", count: 62), "x" + String(repeating: "y", count: 63),
                       "*.example.com", "*.", "a..b", "api.example.test", "/", "/api", "/a b", "/a;b", "/a#b", "/a$b", "api", "/ok/~x-y_z.1", "/{x}", "/admin*", "/a?b", "/a[b]", "/a%41", "/a(b)+c,d=e:f@g!h&i",
                       "_", "_A9", "9A", "A-B", "nginx:1.27", "a b", "data:/x", "/srv:/x:ro", "data:x", "a:b:c:d", "5s", "1m30s", "1.5s", "500ms", "5", "5d",
                       "9090", "9443:443", "0:80", "99999", "080", "65535", "65536", "1.2.3.4:80", "256.1.1.1", "1.2.3.4", "001.2.3.4", "web\n", "/x\n", "a\u{212A}.com",
                       "data:/x:", "data:/../etc", "var/run/x:/s", "/srv/../x:/y", "6Mi", "6291455", "6291456", "6143Ki", "8388608Ti", "9223372036854775807",
                       "a\t==b", "a==\u{7f}", "/a\\b", "/a`b", "/a^b", "/v1/x~y", "9090", "9443:443", "node.role==manager", "node.labels.zone != b", "node.role=manager", "==x", "a==", "a==b c", "0.0.0.0:5353:53/udp", "1.2.3.4::80", "256Mi", "1Gi", "512M", "64MiB", "1g", "1.5G", "x"]
        for s in samples {
            #expect(try matches(ManifestRules.dnsLabelPattern, s) == ManifestRules.isDNSLabel(s), "dns label \(s)")
            #expect(try matches(ManifestRules.envNamePattern, s) == ManifestRules.isEnvName(s), "env name \(s)")
            #expect(try matches(ManifestRules.hostnamePattern, s) == ManifestRules.isHostname(s), "hostname \(s)")
            #expect(try matches(ManifestRules.safePathPattern, s) == ManifestRules.isSafePath(s), "path \(s)")
            #expect(try matches(ManifestRules.routePathPattern, s) == ManifestRules.isRoutePath(s), "route path \(s)")
            #expect(try matches(ManifestRules.imagePattern, s) == ManifestRules.isImageReference(s), "image \(s)")
            #expect(try matches(ManifestRules.volumePattern, s) == Self.documentIsValid("name: a\nimage: x\nvolumes: [\(JSONString.quote(s))]\n"), "volume \(s)")
            #expect(try matches(ManifestRules.durationPattern, s) == (TimeSpan(parsing: s) != nil), "duration \(s)")
            #expect(try matches(ManifestRules.portPattern, s) == (PortMapping(parsing: s) != nil), "port \(s)")
            #expect(try matches(ManifestRules.memoryPattern, s) == (Resources.parseMemory(s).map { $0 >= ManifestRules.minimumMemoryBytes } ?? false), "memory \(s)")
            #expect(try matches(ManifestRules.strippablePathPattern, s) == ManifestRules.isStrippablePath(s), "strippable path \(s)")
            #expect(try matches(ManifestRules.ipv4Pattern, s) == ManifestRules.isIPv4(s), "IPv4 \(s)")
            #expect(try matches(ManifestRules.constraintPattern, s) == ManifestRules.isConstraint(s), "constraint \(s)")
        }
    }

    /// The validator's verdict on one document alone (what the schema can know: no other files,
    /// no secret files, host mounts left to the operator).
    static func documentIsValid(_ text: String) -> Bool {
        struct AnyFile: SecretReader { func read(_ path: String, from file: String) -> Result<String, SecretReadError> { .success("") } }
        let (nodes, problems) = YAMLDocumentParser().parse(Array(text.utf8), file: "x.yaml")
        guard problems.isEmpty, let node = nodes.first else { return false }
        return ServiceDecoder.decode(node, file: "x.yaml", secrets: AnyFile(), mounts: MountPolicy(allowed: .any)).diagnostics.isEmpty
    }

    /// Runs jsonschema on each document (as ``YAMLCoreJSON`` sees it, read by `parser`); returns
    /// name → nil (valid) or the first error.
    static func schemaVerdicts(_ documents: [(name: String, text: String)], parser: YAMLDocumentParser = YAMLDocumentParser()) throws -> [String: String?] {
        let path = NSTemporaryDirectory() + "flotilla-schema-\(UInt32.random(in: 0...UInt32.max)).jsonl"
        defer { try? FileManager.default.removeItem(atPath: path) }
        var lines = ""
        for document in documents {
            let (nodes, problems) = parser.parse(Array(document.text.utf8), file: document.name)
            #expect(problems.isEmpty && nodes.count == 1, "\(document.name): \(problems)")
            guard let node = nodes.first else { continue }
            lines += "{\"name\":\(JSONString.quote(document.name)),\"instance\":\(YAMLCoreJSON.text(node))}\n"
        }
        try lines.write(toFile: path, atomically: true, encoding: .utf8)
        let script = """
        import json, sys
        try:
            import jsonschema
        except ImportError:
            print(json.dumps({"__missing__": "pip install jsonschema (scripts/test installs it)"})); sys.exit(0)
        schema = json.load(open(sys.argv[1]))
        validator = jsonschema.Draft7Validator(schema)
        out = {}
        for line in open(sys.argv[2], encoding="utf-8"):
            doc = json.loads(line)
            errors = sorted(validator.iter_errors(doc["instance"]), key=lambda e: list(e.path))
            out[doc["name"]] = None if not errors else errors[0].message
        print(json.dumps(out))
        """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, root + "/schema/flotilla-manifest.schema.json", path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let verdicts = try #require(try JSONSerialization.jsonObject(with: output) as? [String: Any], "\(String(decoding: output, as: UTF8.self))")
        #expect(verdicts["__missing__"] == nil, "\(verdicts["__missing__"] ?? "")")
        return verdicts.mapValues { $0 as? String }
    }

    @Test func everyExampleManifestValidatesAgainstTheSchema() throws {
        var documents: [(String, String)] = []
        for file in try FileManager.default.contentsOfDirectory(atPath: Self.root + "/manifests").sorted() where file.hasSuffix(".yaml") {
            documents.append(("manifests/" + file, try String(contentsOfFile: Self.root + "/manifests/" + file, encoding: .utf8)))
        }
        // The README's full example, between its ```yaml fence and the next fence.
        let readme = try String(contentsOfFile: Self.root + "/README.md", encoding: .utf8)
        for (i, block) in readme.components(separatedBy: "```yaml\n").dropFirst().enumerated() {
            let text = block.components(separatedBy: "```").first ?? ""
            if text.contains("name:") && text.contains("image:") && !text.contains("services:") { documents.append(("README.md block \(i + 1)", text)) }
        }
        #expect(documents.count >= 4)
        for (name, text) in documents { #expect(Self.documentIsValid(text), "\(name) must be a valid manifest first") }
        let verdicts = try Self.schemaVerdicts(documents)
        #expect(verdicts.count == documents.count)
        for (name, verdict) in verdicts { #expect(verdict == nil, "\(name): \(verdict ?? "")") }
    }

    /// Documents the validator rejects for a reason of their own shape: the schema rejects them too.
    static let invalid: [(String, String)] = [
        ("unknown key", "name: a\nimage: x\nreplica: 2\n"),
        ("missing image", "name: a\n"),
        ("quoted number", "name: a\nimage: x\nreplicas: \"2\"\n"),
        ("replicas too high", "name: a\nimage: x\nreplicas: 1001\n"),
        ("port out of range", "name: a\nimage: x\nport: 70000\n"),
        ("name not a DNS label", "name: Web_1\nimage: x\n"),
        ("network mode", "name: a\nimage: x\nnetwork: overlay\n"),
        ("command as a string", "name: a\nimage: x\ncommand: run me\n"),
        ("env null", "name: a\nimage: x\nenv: { A: null }\n"),
        ("env name", "name: a\nimage: x\nenv: { 1A: x }\n"),
        ("route without host", "name: a\nimage: x\nport: 80\nroutes: [{ path: /x }]\n"),
        ("route host and hosts", "name: a\nimage: x\nport: 80\nroutes: [{ host: a.com, hosts: [b.com] }]\n"),
        ("route path syntax", "name: a\nimage: x\nport: 80\nroutes: [{ host: a.com, path: \"/a;b\" }]\n"),
        ("health http and tcp", "name: a\nimage: x\nport: 80\nhealth: { http: /, tcp: true }\n"),
        ("health retries", "name: a\nimage: x\nport: 80\nhealth: { tcp: true, retries: 0 }\n"),
        ("duration", "name: a\nimage: x\nstop_timeout: 10\n"),
        ("canary weight", "name: a\nimage: x\nupdate: { strategy: canary, canary: { weight: 100 } }\n"),
        ("update order", "name: a\nimage: x\nupdate: { order: sideways }\n"),
        ("cpus", "name: a\nimage: x\nresources: { cpus: 0 }\n"),
        ("memory unit", "name: a\nimage: x\nresources: { memory: 5 lots }\n"),
        ("restart policy", "name: a\nimage: x\nrestart_policy: sometimes\n"),
        ("pull", "name: a\nimage: x\npull: daily\n"),
        ("volume", "name: a\nimage: x\nvolumes: [\"data\"]\n"),
        ("ports", "name: a\nimage: x\nports: [\"80:x\"]\n"),
        ("secret without file", "name: a\nimage: x\nsecrets: { A: { path: /x } }\n"),
        ("reserved label", "name: a\nimage: x\nlabels: { io.flotilla.service: x }\n"),
        ("depends_on name", "name: a\nimage: x\ndepends_on: [\"Not A Name\"]\n"),
        ("entrypoint string", "name: a\nimage: x\nentrypoint: /bin/sh\n"),
        ("placement constraint", "name: a\nimage: x\nplacement: { constraints: [\"node.role=manager\"] }\n"),
        ("placement mode", "name: a\nimage: x\nplacement: { mode: everywhere }\n"),
    ]

    @Test func everyInvalidFixtureIsRejectedByTheValidatorAndTheSchema() throws {
        for (name, text) in Self.invalid { #expect(!Self.documentIsValid(text), "the validator should reject: \(name)") }
        let verdicts = try Self.schemaVerdicts(Self.invalid)
        for (name, _) in Self.invalid { #expect(verdicts[name] != nil && verdicts[name]! != nil, "the schema should reject: \(name)") }
    }
}
