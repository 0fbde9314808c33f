@testable import FlotillaCore
import Testing

/// The pure parts of `flotilla import compose`, each against what Compose (and Traefik) do.
@Suite("Compose import: words, variables, rules, health tests, units, YAML text")
struct ComposePiecesTests {
    @Test func commandStringsSplitAsComposeSplitsThem() {
        #expect(ShellWords.split("nginx -g 'daemon off;'") == ["nginx", "-g", "daemon off;"])
        #expect(ShellWords.split(#"sh -c "echo \"hi\" \$HOME""#) == ["sh", "-c", #"echo "hi" $HOME"#])
        #expect(ShellWords.split(#"a\ b c"#) == ["a b", "c"])
        #expect(ShellWords.split("  spaced   out  ") == ["spaced", "out"])
        #expect(ShellWords.split(#"empty "" arg"#) == ["empty", "", "arg"])
        #expect(ShellWords.split("unclosed 'quote") == nil)
        #expect(ShellWords.split("") == [])
    }

    @Test func interpolationFollowsCompose() {
        let i = ComposeInterpolation(variables: ["A": "1", "EMPTY": "", "B": "two"])
        #expect(i.interpolate("${A}-$B").value == "1-two")
        #expect(i.interpolate("${MISSING:-d}").value == "d")
        #expect(i.interpolate("${EMPTY:-d}").value == "d")
        #expect(i.interpolate("${EMPTY-d}").value == "")
        #expect(i.interpolate("${A:+set}").value == "set")
        #expect(i.interpolate("${MISSING:+set}").value == "")
        #expect(i.interpolate("$$A costs $$5").value == "$A costs $5")
        #expect(i.interpolate("${MISSING:-${B}}").value == "two")
        let unset = i.interpolate("x${NOPE}y")
        #expect(unset.value == "xy" && unset.unset == ["NOPE"])
        // A default that is not used does not report its variables.
        #expect(i.interpolate("${A:-$NOPE}").unset.isEmpty)
        #expect(i.interpolate("${MISSING:?set it}").error == "required variable MISSING is not set: set it")
        #expect(i.interpolate("${A:?set it}").error == nil)
        for bad in ["${", "${A", "${1A}", "$", "${A:x}", "a $ b"] { #expect(i.interpolate(bad).error != nil, "\(bad)") }
        let deep = String(repeating: "${X:-", count: 30) + "v" + String(repeating: "}", count: 30)
        #expect(i.interpolate(deep).error != nil)
    }

    @Test func traefikRulesBecomeHostsAndPaths() throws {
        let simple = try TraefikRule(parsing: "Host(`a.example.com`) && PathPrefix(`/api`)")
        #expect(simple.alternatives == [.init(hosts: ["a.example.com"], paths: ["/api"], hasExactPath: false)])
        let either = try TraefikRule(parsing: "Host(`a.com`) || Host(`b.com`, `c.com`)")
        #expect(either.alternatives.map(\.hosts) == [["a.com"], ["b.com", "c.com"]])
        #expect(either.alternatives.allSatisfy { $0.paths == ["/"] })
        let grouped = try TraefikRule(parsing: #"Host("x.com") && (PathPrefix(`/a`) || Path(`/b`))"#)
        #expect(grouped.alternatives.count == 2 && grouped.alternatives[1].hasExactPath)
        for unsupported in ["PathPrefix(`/a`)", "Host(`a`) && !PathPrefix(`/b`)", "HostRegexp(`{sub:.+}.a.com`)", "Host(`a`) && Host(`b`)"] {
            #expect(throws: TraefikRule.ParseError.self, "\(unsupported)") { try TraefikRule(parsing: unsupported) }
        }
        for malformed in ["Host(`a`", "Host(a)", "Host(`a`) &", "(Host(`a`)", "Host(`a`) Host(`b`)", ""] {
            #expect(throws: TraefikRule.ParseError.self, "\(malformed)") { try TraefikRule(parsing: malformed) }
        }
        // Expansion is bounded: 2^40 alternatives are refused, not computed.
        let explosive = Array(repeating: "(Host(`a.b`) || Host(`c.d`))", count: 40).joined(separator: " && ")
        #expect(throws: TraefikRule.ParseError.self) { try TraefikRule(parsing: explosive) }
        let nested = String(repeating: "(", count: 100) + "Host(`a`)" + String(repeating: ")", count: 100)
        #expect(throws: TraefikRule.ParseError.self) { try TraefikRule(parsing: nested) }
    }

    @Test func healthTestsThatAreHTTPOrTCPTranslate() {
        #expect(ComposeHealthTest.recognise(["CMD", "curl", "-f", "http://localhost:8080/health"]) == .http(path: "/health", port: 8080))
        #expect(ComposeHealthTest.recognise(["CMD-SHELL", "curl -fsS http://127.0.0.1/ || exit 1"]) == .http(path: "/", port: 80))
        #expect(ComposeHealthTest.recognise(["CMD", "wget", "--spider", "-q", "http://localhost:3000/ready"]) == .http(path: "/ready", port: 3000))
        #expect(ComposeHealthTest.recognise(["CMD-SHELL", "wget -qO- http://localhost:9000/ping || exit 1"]) == .http(path: "/ping", port: 9000))
        #expect(ComposeHealthTest.recognise(["CMD", "nc", "-z", "localhost", "6379"]) == .tcp(port: 6379, note: nil))
        #expect(ComposeHealthTest.recognise(["NONE"]) == .disabled)
        if case .tcp(let port, let note) = ComposeHealthTest.recognise(["CMD", "curl", "http://localhost:81/"]) {
            #expect(port == 81 && note?.contains("without -f") == true)
        } else { Issue.record("curl without -f is a TCP check") }
        for other in [["CMD-SHELL", "pg_isready -U postgres"], ["CMD", "curl", "-f", "https://localhost/"], ["CMD", "curl", "-f", "http://db:5432/"],
                      ["CMD-SHELL", "curl -f http://localhost/ | grep ok"], ["CMD", "redis-cli", "ping"], ["CMD-SHELL", "curl 'unclosed"], []] {
            guard case .unrecognised = ComposeHealthTest.recognise(other) else { Issue.record("\(other) must not translate"); continue }
        }
    }

    @Test func composeUnits() {
        #expect(ComposeUnits.milliseconds("1m30s") == 90_000)
        #expect(ComposeUnits.milliseconds("500ms") == 500)
        #expect(ComposeUnits.milliseconds("1h") == 3_600_000)
        #expect(ComposeUnits.milliseconds("1500us") == 2)
        #expect(ComposeUnits.milliseconds("10") == 10_000)
        for bad in ["", "5d", "s", "1m30", "-5s"] { #expect(ComposeUnits.milliseconds(bad) == nil, "\(bad)") }
        #expect(ComposeUnits.bytes("512m") == 512 << 20)
        #expect(ComposeUnits.bytes("256M") == 256 << 20)
        #expect(ComposeUnits.bytes("1g") == 1 << 30)
        #expect(ComposeUnits.bytes("1.5g") == 3 << 29)
        #expect(ComposeUnits.bytes("1024") == 1024)
        #expect(ComposeUnits.bytes("lots") == nil)
        #expect(ComposeUnits.memoryText(512 << 20) == "512Mi")
        #expect(ComposeUnits.memoryText(3 << 29) == "1536Mi")
        #expect(ComposeUnits.memoryText(1000) == "1000")
    }

    @Test func manifestTextQuotesOnlyWhatYAMLWouldMisread() {
        for plain in ["web", "nginx:1.27", "/health", "redis://cache:6379/0", "a.b-c_d", "128mb", "deadbeef"] {
            #expect(ManifestWriter.quoted(plain, ifNeeded: true) == plain, "\(plain)")
        }
        for text in ["", "true", "no", "On", "null", "~", "4", "0.5", "1e3", "0x1F", "12:30", "-", "a: b", "x #y", "#c", "*ref", "&a",
                     "!tag", "[list]", "{m}", "a,b", " lead", "trail ", "line\nbreak", "say \"hi\"", "back\\slash", "\u{1B}[31m", "${PORT}"] {
            let q = ManifestWriter.quoted(text, ifNeeded: true)
            #expect(q.hasPrefix("\"") && q.hasSuffix("\""), "\(text) -> \(q)")
            #expect(!q.contains("\n") && !q.contains("\u{1B}"))
        }
        let doc = ManifestWriter.document(header: ["from x"], fields: [
            ManifestField("name", .string("web")),
            ManifestField("command", .list([.string("sh"), .string("-c"), .string("echo a: b")])),
            ManifestField("routes", .list([.map([ManifestField("host", .string("a.com")), ManifestField("path", .string("/x"))])]), comments: ["why"]),
            ManifestField("env", .map([ManifestField("WORKERS", .string("4"))])),
        ])
        #expect(doc == """
        # from x
        name: web
        command: [sh, -c, "echo a: b"]
        # why
        routes:
          - host: a.com
            path: /x
        env:
          WORKERS: "4"

        """)
    }
}
