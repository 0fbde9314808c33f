@testable import FlotillaCore
import Foundation
import Testing

/// Issue 26: one route path means one text in every proxy. ``path`` holds every character a
/// route path may have; each renderer writes it quoted or escaped so that its proxy reads it
/// literally, case and all. (Through the real nginx, Caddy and HAProxy: RoutePathLiteralTests in
/// the integration suite; Traefik, not installed here, by its rule grammar below.)
@Suite("Route paths are written literally in every format")
struct LiteralPathRenderingTests {
    static let path = "/a-b.c_d~e!f&g(h)i+j,k=l:m@n/Z9"
    static let table = RouteTable.build(
        services: [ServiceSpec(name: "lit", image: "x", port: 80, network: .host, routes: [Route(host: "lit.test", path: path)])],
        observed: [RouteTableTests.c("lit", 1, port: 20001)], ready: ["lit1"])

    /// Which ASCII characters the validator lets into a route path (besides letters and digits).
    static var allowedPunctuation: Set<Character> {
        Set((0..<128).map { Character(Unicode.Scalar(UInt8($0))) }.filter { c in
            !(c.isLetter || c.isNumber) && ManifestRules.isRoutePath("/x\(c)y")
        })
    }

    /// The test path covers the whole set: widening the validator fails here until the path (and
    /// so every proxy's literal test) has the new character.
    @Test func thePathHoldsEveryCharacterTheValidatorAllows() {
        #expect(ManifestRules.isRoutePath(Self.path))
        #expect(Self.allowedPunctuation == Set(Self.path.filter { !($0.isLetter || $0.isNumber) }), "\(Self.allowedPunctuation.sorted())")
        #expect(Self.table.entries.map(\.path) == [Self.path])
    }

    @Test(arguments: RouteFormat.allCases)
    func goldenFiles(format: RouteFormat) throws {
        let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/literal-path.\(format.rawValue)")
        let rendered = format.render(Self.table, listen: "127.0.0.1:8080", project: "p")
        if ProcessInfo.processInfo.environment["FLOTILLA_UPDATE_GOLDEN"] == "1" {
            try rendered.write(to: golden, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOf: golden, encoding: .utf8)
        #expect(rendered == expected, "regenerate with FLOTILLA_UPDATE_GOLDEN=1 after checking the diff")
    }

    /// Caddy's `path` matcher ignores case and reads `*` as a prefix wildcard (`/admin*` took
    /// another service's `/admin`). The regular expression written instead has every character
    /// but letters, digits and `/` in a class or as a hex escape: even a path that got past the
    /// validator and the table's re-check could not be a wildcard, a quote or a second token.
    @Test func caddyMatchesThePathsTextOnly() {
        func regex(_ path: String) -> String? {
            let table = RouteTable(entries: [RouteTable.Entry(host: "a.test", path: path, service: "s", targets: [])])
            return RouteFormat.caddy.render(table, listen: "80", project: "p").split(separator: "\n").first { $0.contains("path_regexp") }
                .map { String($0.split(separator: " ").last!) }
        }
        #expect(regex(Self.path) == "^/a[-]b[.]c[_]d[~]e[!]f[&]g[(]h[)]i[+]j[,]k[=]l[:]m[@]n/Z9(/|$)")
        #expect(regex("/Admin") == "^/Admin(/|$)")  // no case folding
        #expect(regex("/docs/") == "^/docs/")
        #expect(regex("/admin*") == #"^/admin\x{2A}(/|$)"#)
        #expect(regex("/a?b[c]{d}\"e f\\g") == #"^/a\x{3F}b\x{5B}c\x{5D}\x{7B}d\x{7D}\x{22}e\x{20}f\x{5C}g(/|$)"#)
        // And the table never hands it such a path: the manifest rules are checked again.
        let spec = ServiceSpec(name: "b", image: "x", port: 1, routes: [Route(host: "a.test", path: "/admin*")])
        #expect(RouteTable.build(services: [spec], observed: [RouteTableTests.c("b", 1, port: 1)], ready: ["b1"]).entries.isEmpty)
    }

    /// The rule of a rendered Traefik file: its `rule: "…"` line, a YAML double-quoted scalar
    /// (whose only escapes the renderer writes are `\\` and `\"`), unescaped; nil if malformed.
    static func rule(in rendered: String) -> String? {
        let lines = rendered.split(separator: "\n").filter { $0.hasPrefix("      rule: \"") }
        guard lines.count == 1, let line = lines.first, line.hasSuffix("\"") else { return nil }
        var out = "", escaped = false
        for c in line.dropFirst("      rule: \"".count).dropLast() {
            if escaped {
                guard c == "\\" || c == "\"" else { return nil }
                out.append(c)
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else if c == "\"" {
                return nil  // an unescaped quote would end the YAML string early
            } else {
                out.append(c)
            }
        }
        return escaped ? nil : out
    }

    /// Traefik reads a rule as Go expressions: a backtick string is taken verbatim up to the next
    /// backtick. Read back with that grammar (the Compose importer's Traefik rule reader), the
    /// rule of the all-characters path matches exactly that path and what is below it, in v3 and
    /// v2 syntax.
    @Test(arguments: [RouteFormat.traefik, .traefikV2])
    func traefikRulesAreBacktickLiteralsOfThePath(format: RouteFormat) throws {
        let rendered = format.render(Self.table, listen: "80", project: "p")
        let rule = try #require(Self.rule(in: rendered), "\(rendered)")
        #expect(rule == "Host(`lit.test`) && (Path(`\(Self.path)`) || PathPrefix(`\(Self.path)/`))")
        #expect(try TraefikRule(parsing: rule).alternatives == [.init(hosts: ["lit.test"], paths: [Self.path], hasExactPath: true),
                                                                .init(hosts: ["lit.test"], paths: [Self.path + "/"], hasExactPath: false)], "\(rule)")
    }

    /// No character can end a rule's backtick string or the YAML string around it, or open a
    /// v2 `{name:regexp}` template in `Path`: the validator refuses backtick, quotes, backslash
    /// and braces (and the table drops them again); every character it allows reads back as itself.
    @Test(arguments: [RouteFormat.traefik, .traefikV2])
    func noCharacterCanBreakOutOfATraefikRule(format: RouteFormat) throws {
        for quote in ["`", "\"", "'", "\\", "{", "}"] {
            #expect(!ManifestRules.isRoutePath("/a\(quote)b"), "\(quote)")
            let spec = ServiceSpec(name: "q", image: "x", port: 1, routes: [Route(host: "a.test", path: "/a\(quote)b")])
            #expect(RouteTable.build(services: [spec], observed: [], ready: []).entries.isEmpty, "\(quote)")
        }
        for c in Self.allowedPunctuation.sorted() + ["a", "Z", "0"] {
            let path = "/x\(c)y"
            let spec = ServiceSpec(name: "q", image: "x", port: 1, routes: [Route(host: "a.test", path: path)])
            let out = format.render(RouteTable.build(services: [spec], observed: [], ready: []), listen: "80", project: "p")
            let rule = try #require(Self.rule(in: out), "\(c): \(out)")
            #expect(try TraefikRule(parsing: rule).alternatives.map(\.paths) == [[path], [path + "/"]], "\(c): \(rule)")
        }
    }
}
