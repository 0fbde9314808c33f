/// The lexical rules of the manifest format, shared by the decoder and the renderers
/// (renderers re-check, so no manifest value can ever inject proxy syntax).
public enum ManifestRules {
    public static let maxReplicas = 1000

    // Ranges the decoder enforces and the JSON Schema states (``ManifestSchema``): one definition.
    public static let replicas = 0...maxReplicas
    public static let port = 1...65535
    public static let parallelism = 1...maxReplicas
    public static let canaryReplicas = 1...maxReplicas
    public static let canaryWeight = 1...99
    public static let probeRetries = 1...100
    /// Shortest probe interval and timeout, in milliseconds.
    public static let minimumProbeMilliseconds = 100
    /// Shortest `auto_promote_after`, in milliseconds.
    public static let minimumPromotionMilliseconds = 1000
    /// `restart_policy: on-failure:N`.
    public static let restartRetries = 1...1000
    public static let cpus = 0.01...1024.0
    public static let minimumMemoryBytes: Int64 = 6 << 20
    /// `placement.max_per_node`.
    public static let maxPerNode = 1...maxReplicas
    /// A Swarm placement constraint: `ATTRIBUTE==VALUE` or `ATTRIBUTE!=VALUE` (spaces around the
    /// operator, a printable ASCII value, at most 256 bytes: what ``isConstraint(_:)`` takes).
    public static let constraintPattern = "^(?=.{1,256}" + end + ")[A-Za-z][A-Za-z0-9_.-]* *(==|!=) *[!-~]+" + end

    public static func isConstraint(_ s: String) -> Bool {
        let chars = Array(s)
        guard let at = chars.indices.dropLast().first(where: { (chars[$0] == "=" || chars[$0] == "!") && chars[$0 + 1] == "=" }) else { return false }
        let attribute = String(chars[..<at]).trimmingSuffix(" "), value = chars[(at + 2)...].drop { $0 == " " }
        guard let first = attribute.first, first.isASCII, first.isLetter, !value.isEmpty, s.utf8.count <= 256 else { return false }
        return attribute.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) }
            && value.allSatisfy { $0.isASCII && $0 > " " && $0 != "\u{7F}" }
    }

    // The lexical rules as regular expressions, for the JSON Schema; tests check each against
    // its predicate above on the same inputs, and a generated corpus checks the whole schema
    // against the validator (ManifestSchemaCorpusTests).

    /// The end of the text. `$` also matches before a final newline in Python's `re` (PyPI's
    /// jsonschema, check-jsonschema) and in ICU, so `name: "web\n"` passed the schema; this
    /// lookahead means the same in ECMA-262, Python and ICU.
    public static let end = "(?![\\s\\S])"
    public static let dnsLabelPattern = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?" + end
    public static let envNamePattern = "^[A-Za-z_][A-Za-z0-9_]*" + end
    /// Numbers as ``TimeSpan`` reads them (`1.5s`, `.5s`, `5.s`); the sum's bounds are not here.
    public static let durationPattern = "^(([0-9]+([.][0-9]*)?|[.][0-9]+)(ms|s|m|h))+" + end
    /// Printable ASCII but space, quotes, backtick, `;`, `{`, `}`, `#`, `$` and `\` (``isSafePath(_:)``).
    public static let safePathPattern = "^/[!%&(-:<-\\[\\]-_a-z|~]{0,1023}" + end
    /// Letters, digits and `-/._~!&()+,=:@` (what every proxy reads literally), and no segment
    /// that no request path can have once normalized (`//`, `/./`, `/../`).
    public static let routePathPattern = "^(?!.*//)(?!.*/[.][.]?(/|$))/[-A-Za-z0-9/._~!&()+,=:@]{0,1023}" + end
    /// What ``isStrippablePath(_:)`` takes.
    public static let strippablePathPattern = "^/[-A-Za-z0-9/._~]*" + end
    public static let hostnamePattern = "^(\\*\\.)?(?=.{1,253}" + end + ")" + hostnameBody
    /// A network alias: a hostname without the `*.` wildcard.
    public static let aliasPattern = "^(?=.{1,253}" + end + ")" + hostnameBody
    static let hostnameBody = "([A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)(\\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*" + end
    /// The engines' reference grammar: `[DOMAIN[:PORT]/]PATH[:TAG][@DIGEST]`, where the domain
    /// has a dot or a port or is `localhost` (else it is a path component), path components are
    /// lowercase, and nothing starts with `-` (so an image can never read as an option).
    public static let imagePattern = "^(?=.{1,512}" + end + ")"
        + "(?:(?:localhost|\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9](?:[-A-Za-z0-9]*[A-Za-z0-9])?(?:[.][A-Za-z0-9](?:[-A-Za-z0-9]*[A-Za-z0-9])?)+|[A-Za-z0-9](?:[-A-Za-z0-9]*[A-Za-z0-9])?(?=:))(?::[0-9]{1,5})?/)?"
        + "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
        + "(?::[A-Za-z0-9_][-A-Za-z0-9_.]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,})?" + end
    /// A volume as the decoder takes it (host mounts allowed): an absolute host path without a
    /// `..` segment or a volume name, then an absolute target without `.` or `..` segments, then
    /// non-empty options; no whitespace, control characters or extra `:`.
    public static let volumePattern = "^(/(?![^:]*/[.][.][/:])" + volumeChar + "*|[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63})"
        + ":(?![^:]*/[.][.]?(/|:|" + end + "))/" + volumeChar + "*(:" + volumeChar + "+)?" + end
    static let volumeChar = "[^:\\u0000-\\u0020\\u007f]"
    /// `[[ADDRESS:]HOST:]CONTAINER[/PROTO]`, each port 1-65535 (leading zeros allowed, as `Int` reads them).
    public static let portPattern = "^((" + ipv4Body + ":)?" + portNumber + ":)?" + portNumber + "(/(tcp|udp))?" + end
    /// A container port alone, for services whose replicas cannot share a fixed host port.
    public static let containerPortPattern = "^" + portNumber + "(/(tcp|udp))?" + end
    public static let ipv4Pattern = "^" + ipv4Body + end
    static let portNumber = "0*([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
    static let ipv4Octet = "([01]?[0-9]?[0-9]|2[0-4][0-9]|25[0-5])"
    static let ipv4Body = ipv4Octet + "[.]" + ipv4Octet + "[.]" + ipv4Octet + "[.]" + ipv4Octet
    /// `on-failure:N` with N in ``restartRetries`` as `Int` reads it (`+3`, `003`).
    public static let onFailurePattern = "^on-failure:[+]?0*([1-9][0-9]{0,2}|1000)" + end
    /// A memory limit of at least ``minimumMemoryBytes`` that fits in 64 bits, in every unit
    /// ``Resources/parseMemory(_:)`` reads: per unit, the range of numbers as a pattern.
    public static let memoryPattern: String = {
        let groups: [([String], Int64)] = [
            (["b", ""], 1), (["KiB", "Ki", "k"], 1 << 10), (["MiB", "Mi", "m"], 1 << 20), (["GiB", "Gi", "g"], 1 << 30), (["TiB", "Ti"], 1 << 40),
            (["KB", "K"], 1_000), (["MB", "M"], 1_000_000), (["GB", "G"], 1_000_000_000), (["TB", "T"], 1_000_000_000_000),
        ]
        let alternatives = groups.map { units, factor in
            let low = (minimumMemoryBytes + factor - 1) / factor, high = Int64.max / factor
            return "0*(" + DecimalRange.pattern(UInt64(low), UInt64(high)) + ")(" + units.joined(separator: "|") + ")"
        }
        return "^(" + alternatives.joined(separator: "|") + ")" + end
    }()

    /// A DNS label (RFC 1123): lowercase letters, digits and `-`, 1–63 chars, no leading/trailing `-`.
    public static func isDNSLabel(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard (1...63).contains(u.count), u.first != UInt8(ascii: "-"), u.last != UInt8(ascii: "-") else { return false }
        return u.allSatisfy { isLowerAlnum($0) || $0 == UInt8(ascii: "-") }
    }

    /// A hostname (RFC 1123, case-insensitive, at most 253 chars), optionally `*.` + hostname.
    public static func isHostname(_ s: String) -> Bool {
        var name = Substring(s)
        if name.hasPrefix("*.") { name = name.dropFirst(2) }
        // ASCII first: "\u{212A}" (KELVIN SIGN) lowercases to "k", and was taken for one.
        guard !name.isEmpty, name.utf8.count <= 253, name.utf8.allSatisfy({ $0 < 0x80 }) else { return false }
        return name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy {
            isDNSLabel(String($0).lowercased())
        }
    }

    /// A route or probe path: starts with `/`, printable ASCII, none of space, quotes, `;`, `{`, `}`, `#`, `$`, `\`.
    public static func isSafePath(_ s: String) -> Bool {
        guard s.hasPrefix("/"), s.utf8.count <= 1024 else { return false }
        let forbidden = Set(" \"'`;{}#$\\".utf8)
        return s.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7f && !forbidden.contains($0) }
    }

    /// A route path: characters every proxy reads literally, and only those (`*` is a prefix
    /// match in Caddy and `?`, `[`, `]` are globs there, while nginx, HAProxy and Traefik read
    /// them as text: `/admin*` of one project took another's `/admin` traffic through Caddy).
    /// No `%` either (proxies match the decoded path) and nothing a renderer must quote.
    public static func isRoutePath(_ s: String) -> Bool {
        guard s.hasPrefix("/"), s.utf8.count <= 1024 else { return false }
        guard s.utf8.allSatisfy({ isAlpha($0) || isDigit($0) || Set("-/._~!&()+,=:@".utf8).contains($0) }) else { return false }
        // Segments no normalized request path has: the route could never match.
        let segments = s.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        return !segments.dropLast().contains("") && !segments.contains(".") && !segments.contains("..")
    }

    /// A path the proxies can strip: letters, digits and `/ . _ ~ -` only, so that it can be put
    /// in each proxy's regular expression without escaping (`.` is written `[.]`).
    public static func isStrippablePath(_ s: String) -> Bool {
        s.hasPrefix("/") && s.utf8.allSatisfy { isAlpha($0) || isDigit($0) || Set("/._~-".utf8).contains($0) }
    }

    /// `path` as a regular expression matching itself literally (see ``isStrippablePath(_:)``).
    public static func literalRegex(_ path: String) -> String {
        var out = ""
        for c in path { out += c == "." ? "[.]" : String(c) }
        return out
    }

    /// An environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
    public static func isEnvName(_ s: String) -> Bool {
        guard let first = s.utf8.first, !isDigit(first) else { return false }
        return s.utf8.allSatisfy { isAlpha($0) || isDigit($0) || $0 == UInt8(ascii: "_") }
    }

    /// A label key: printable ASCII without spaces; the `io.flotilla.` prefix is reserved.
    public static func isLabelKey(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 256 && s.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7f }
    }

    /// An image reference by the engines' grammar (``imagePattern``, which the schema states and
    /// a test compares with this). Read by hand, in linear time: Swift's `Regex` took exponential
    /// time on that pattern (`image: 1.51.51.5…` with 30 parts ran for minutes: the fuzzer's hang).
    public static func isImageReference(_ s: String) -> Bool {
        guard !s.isEmpty, s.utf8.count <= 512, s.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else { return false }
        // Searched byte-wise (the text is ASCII, checked above): a Character search walks
        // grapheme clusters, and this runs for every service at every load.
        var rest = Substring(s)
        if let at = rest.utf8.firstIndex(of: UInt8(ascii: "@")) {
            guard isDigest(rest[rest.utf8.index(after: at)...]) else { return false }
            rest = rest[..<at]
        }
        // A tag follows the last `:` after the last `/` (a registry's port is before a `/`).
        let lastSlash = rest.utf8.lastIndex(of: UInt8(ascii: "/"))
        let name = rest[(lastSlash.map { rest.utf8.index(after: $0) } ?? rest.startIndex)...]
        if let colon = name.utf8.firstIndex(of: UInt8(ascii: ":")) {
            guard isTag(rest[rest.utf8.index(after: colon)...]) else { return false }
            rest = rest[..<colon]
        }
        let parts = rest.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).map { Substring($0) }
        if parts.allSatisfy(isPathComponent) { return true }
        return parts.count >= 2 && isRegistry(parts[0]) && parts.dropFirst().allSatisfy(isPathComponent)
    }

    /// `[a-z0-9]+` runs joined by `.`, `_`, `__` or any number of `-`.
    static func isPathComponent(_ s: Substring) -> Bool {
        let u = Array(s.utf8)
        guard let first = u.first, let last = u.last, isLowerAlnum(first), isLowerAlnum(last) else { return false }
        var i = 0
        while i < u.count {
            if isLowerAlnum(u[i]) { i += 1; continue }
            var j = i
            while j < u.count, !isLowerAlnum(u[j]) { j += 1 }
            let separator = u[i..<j]
            guard separator.elementsEqual(".".utf8) || separator.elementsEqual("_".utf8) || separator.elementsEqual("__".utf8)
                || separator.allSatisfy({ $0 == UInt8(ascii: "-") }) else { return false }
            i = j
        }
        return true
    }

    /// `localhost`, `[IPv6]` or a dotted name, optionally with `:PORT`; a name without a dot
    /// counts as a registry only with a port.
    static func isRegistry(_ s: Substring) -> Bool {
        var host = s, port: Substring?
        if s.hasPrefix("[") {
            guard let close = s.firstIndex(of: "]") else { return false }
            let inside = s[s.index(after: s.startIndex)..<close]
            guard !inside.isEmpty, inside.utf8.allSatisfy({ isDigit($0) || isAlpha($0) && "abcdefABCDEF".utf8.contains($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") }) else { return false }
            let after = s[s.index(after: close)...]
            if after.isEmpty { return true }
            guard after.hasPrefix(":") else { return false }
            return isPort(after.dropFirst())
        }
        if let colon = s.firstIndex(of: ":") {
            host = s[..<colon]
            port = s[s.index(after: colon)...]
            guard isPort(port!) else { return false }
        }
        if host == "localhost" { return true }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2 || port != nil else { return false }
        return labels.allSatisfy { label in
            let u = Array(label.utf8)
            guard let first = u.first, let last = u.last, isAlpha(first) || isDigit(first), isAlpha(last) || isDigit(last) else { return false }
            return u.allSatisfy { isAlpha($0) || isDigit($0) || $0 == UInt8(ascii: "-") }
        }
    }

    static func isPort(_ s: Substring) -> Bool { (1...5).contains(s.utf8.count) && s.utf8.allSatisfy(isDigit) }

    /// `[A-Za-z0-9_][-A-Za-z0-9_.]{0,127}`.
    static func isTag(_ s: Substring) -> Bool {
        guard let first = s.utf8.first, (1...128).contains(s.utf8.count), isAlpha(first) || isDigit(first) || first == UInt8(ascii: "_") else { return false }
        return s.utf8.allSatisfy { isAlpha($0) || isDigit($0) || "_.-".utf8.contains($0) }
    }

    /// `ALGORITHM:HEX`, the algorithm's parts letters-then-alphanumerics joined by `-_+.`, 32+ hex digits.
    static func isDigest(_ s: Substring) -> Bool {
        guard let colon = s.firstIndex(of: ":") else { return false }
        let hex = s[s.index(after: colon)...]
        guard hex.utf8.count >= 32, hex.utf8.allSatisfy({ isDigit($0) || "abcdefABCDEF".utf8.contains($0) }) else { return false }
        let components = s[..<colon].split(omittingEmptySubsequences: false) { "-_+.".contains($0) }
        return components.allSatisfy { c in
            guard let first = c.utf8.first, isAlpha(first) else { return false }
            return c.utf8.allSatisfy { isAlpha($0) || isDigit($0) }
        }
    }

    /// A bind mount `SOURCE:TARGET[:OPTIONS]` whose target is an absolute path (options, when
    /// the second `:` is there, not empty: the engines refuse `data:/x:`).
    public static func isVolume(_ s: String) -> Bool {
        let parts = s.split(separator: ":", omittingEmptySubsequences: false)
        guard (2...3).contains(parts.count), !parts[0].isEmpty, parts[1].hasPrefix("/"), parts.count == 2 || !parts[2].isEmpty else { return false }
        return s.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value != 0x7f }
    }

    /// A dotted-quad IPv4 address (`127.0.0.1`, `0.0.0.0`).
    public static func isIPv4(_ s: String) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { p in
            (1...3).contains(p.count) && p.utf8.allSatisfy(isDigit) && Int(p)! <= 255
        }
    }

    /// A network name as both engines accept it: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, at most 64 chars.
    public static func isNetworkName(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard (1...64).contains(u.count), isAlpha(u[0]) || isDigit(u[0]) else { return false }
        return u.allSatisfy { isAlpha($0) || isDigit($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    static func isLowerAlnum(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7a) || isDigit(c) }
    static func isAlpha(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) }
    static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
}
