import FlotillaCore
import FlotillaYAML
import Testing

/// Hostile files: none may crash or hang the loader; each must produce an error, never a service.
@Suite("Hostile input corpus")
struct HostileInputTests {
    static let corpus: [(String, [UInt8])] = {
        var cases: [(String, [UInt8])] = []
        func add(_ name: String, _ text: String) { cases.append((name, Array(text.utf8))) }
        add("deep flow", String(repeating: "[", count: 100_000))
        add("deep mapping", String(repeating: "{a: ", count: 50_000))
        add("deep block", (0..<300).map { String(repeating: " ", count: $0) + "- " }.joined(separator: "\n"))
        add("alias fanout", "a: &a [" + String(repeating: "x,", count: 5000) + "]\nb: [" + String(repeating: "*a,", count: 100) + "]\n")
        add("huge scalar key", String(repeating: "k", count: 300_000) + ": 1\n")
        add("huge scalar value", "name: " + String(repeating: "a", count: 500_000) + "\nimage: x\n")
        add("many keys", (0..<20_000).map { "k\($0): v" }.joined(separator: "\n"))
        add("duplicate keys", "name: a\nimage: b\nname: c\n")
        add("wrong types", "name: 1\nimage: {a: b}\ncommand: {x: 1}\nreplicas: [1]\nport: true\nnetwork: 7\nenv: 3\nroutes: 4\nhealth: []\nupdate: []\nstop_timeout: []\ndepends_on: {}\nlabels: []\nvolumes: x\npull: [x]\n")
        add("nul bytes", "name: a\u{0}\nimage: b\n")
        add("bom and crlf", "\u{FEFF}name: a\r\nimage: b\r\nreplicas: x\r\n")
        add("tabs", "name:\ta\n\timage: b\n")
        add("unclosed quote", "name: \"a\nimage: b\n")
        add("directive garbage", "%FOO bar\n%YAML 1.1\n%YAML 1.1\n---\na: 1\n")
        add("complex keys", "? [a, b]\n: c\nname: a\nimage: b\n")
        add("anchor on key", "&k name: a\nimage: *k\nreplicas: *k\n")
        add("stray document end", "...\n...\nname: a\n")
        cases.append(("binary garbage", (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 13) }))
        cases.append(("utf16 le bom", [0xff, 0xfe] + Array("a: 1".utf8).flatMap { [$0, 0] }))
        cases.append(("only high bytes", [UInt8](repeating: 0xf8, count: 64)))
        return cases
    }()

    @Test(arguments: 0..<corpus.count)
    func hostileFileIsAnErrorNotACrash(index: Int) {
        let (name, bytes) = Self.corpus[index]
        let (documents, diagnostics) = YAMLDocumentParser().parse(bytes, file: "hostile.yaml")
        let state = DesiredState(files: [ManifestFile(path: "hostile.yaml", documents: documents, diagnostics: diagnostics)])
        #expect(!state.isValid, "\(name) should be rejected")
        #expect(state.services.isEmpty, "\(name)")
        #expect(state.diagnostics.allSatisfy { $0.line >= 1 && $0.column >= 1 && $0.file == "hostile.yaml" }, "\(name)")
    }

    /// Random mutations of a valid manifest: every outcome is either a valid spec or diagnostics.
    @Test func mutationsNeverCrash() {
        let base = Array("""
        name: web
        image: localhost/flotilla-test:busybox
        command: ["/bin/httpd", "-f", "-p", "${PORT}"]
        replicas: 2
        port: 8080
        env: { A: &v x, B: *v }
        routes: [{ host: web.test, path: /api }]
        health: { http: /healthz, interval: 5s }
        """.utf8)
        var rng = SplitMix(seed: 42)
        let alphabet = Array("{}[]:,-&*!|>'\"#%@`? \n\t\u{0}\u{80}\u{ff}ax1".utf8)
        for _ in 0..<3000 {
            var bytes = base
            for _ in 0...(rng.next() % 4) {
                let at = Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 3 {
                case 0: bytes[at] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                case 1: bytes.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: at)
                default: bytes.remove(at: at)
                }
            }
            let (documents, diagnostics) = YAMLDocumentParser().parse(bytes, file: "m.yaml")
            let state = DesiredState(files: [ManifestFile(path: "m.yaml", documents: documents, diagnostics: diagnostics)])
            #expect(state.isValid || state.services.isEmpty)
        }
    }
}

struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
