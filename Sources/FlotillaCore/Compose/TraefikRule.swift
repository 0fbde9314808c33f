/// A Traefik router rule (`Host(`a.example`) && PathPrefix(`/api`)`) read into the routes it
/// stands for: the rule in disjunctive normal form, each `&&` group a set of hosts × paths.
///
/// Only what Flotilla routes can express is accepted: `Host` (one or more names), `Path`,
/// `PathPrefix`, `&&`, `||` and parentheses. Anything else (`HostRegexp`, `Headers`, `Method`,
/// `!`, …) makes the whole rule unsupported, with the reason.
public struct TraefikRule: Sendable, Hashable {
    public struct Alternative: Sendable, Hashable {
        public var hosts: [String]
        public var paths: [String]
        /// True when a path came from `Path` (exact in Traefik, a segment prefix in Flotilla).
        public var hasExactPath: Bool
    }

    public var alternatives: [Alternative]

    /// Rule texts longer than this are refused, as are rules expanding to more alternatives.
    static let maxLength = 4096
    static let maxAlternatives = 64
    static let maxDepth = 32

    public enum ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        case unsupported(String)
        case malformed(String)
        public var description: String {
            switch self {
            case .unsupported(let why), .malformed(let why): return why
            }
        }
    }

    public init(parsing text: String) throws(ParseError) {
        guard text.utf8.count <= Self.maxLength else { throw .malformed("the rule is longer than \(Self.maxLength) characters") }
        var parser = Parser(tokens: try Self.tokens(text))
        let expression = try parser.disjunction(depth: 0)
        guard parser.position == parser.tokens.count else { throw .malformed("unexpected \"\(parser.tokens[parser.position])\" in the rule") }
        alternatives = try expression.map { atoms throws(ParseError) in
            var alternative = Alternative(hosts: [], paths: [], hasExactPath: false)
            var sawHost = false, sawPath = false
            for atom in atoms {
                switch atom {
                case .host(let names):
                    guard !sawHost else { throw .unsupported("two Host matchers joined by && match nothing Flotilla can express") }
                    sawHost = true
                    alternative.hosts = names
                case .path(let paths, let exact):
                    guard !sawPath else { throw .unsupported("two path matchers joined by && match nothing Flotilla can express") }
                    sawPath = true
                    alternative.paths = paths
                    alternative.hasExactPath = exact
                }
            }
            guard sawHost else { throw .unsupported("a rule without Host(...) matches every host; Flotilla routes name their hosts") }
            if !sawPath { alternative.paths = ["/"] }
            return alternative
        }
    }

    enum Token: Hashable, CustomStringConvertible {
        case word(String), string(String), and, or, not, open, close, comma
        var description: String {
            switch self {
            case .word(let w): return w
            case .string(let s): return "`\(s)`"
            case .and: return "&&"
            case .or: return "||"
            case .not: return "!"
            case .open: return "("
            case .close: return ")"
            case .comma: return ","
            }
        }
    }

    static func tokens(_ text: String) throws(ParseError) -> [Token] {
        var tokens: [Token] = []
        var chars = Array(text)[...]
        while let c = chars.first {
            chars = chars.dropFirst()
            switch c {
            case " ", "\t", "\n", "\r": continue
            case "(": tokens.append(.open)
            case ")": tokens.append(.close)
            case ",": tokens.append(.comma)
            case "!": tokens.append(.not)
            case "&", "|":
                guard chars.first == c else { throw .malformed("a single \"\(c)\"; write \"\(c)\(c)\"") }
                chars = chars.dropFirst()
                tokens.append(c == "&" ? .and : .or)
            case "`", "\"", "'":
                guard let end = chars.firstIndex(of: c) else { throw .malformed("a string opened with \(c) is not closed") }
                tokens.append(.string(String(chars[..<end])))
                chars = chars[chars.index(after: end)...]
            default:
                guard c.isLetter else { throw .malformed("unexpected \"\(c)\" in the rule") }
                let rest = chars.prefix { $0.isLetter || $0.isNumber }
                chars = chars.dropFirst(rest.count)
                tokens.append(.word(String(c) + rest))
            }
        }
        return tokens
    }

    enum Atom: Hashable {
        case host([String])
        case path([String], exact: Bool)
    }

    /// Recursive descent over a bounded token list; each level returns DNF (a list of `&&` groups).
    struct Parser {
        let tokens: [Token]
        var position = 0

        mutating func next() -> Token? {
            guard position < tokens.count else { return nil }
            defer { position += 1 }
            return tokens[position]
        }

        var peek: Token? { position < tokens.count ? tokens[position] : nil }

        mutating func disjunction(depth: Int) throws(ParseError) -> [[Atom]] {
            guard depth < TraefikRule.maxDepth else { throw .malformed("parentheses nested more than \(TraefikRule.maxDepth) deep") }
            var result = try conjunction(depth: depth)
            while peek == .or {
                position += 1
                result += try conjunction(depth: depth)
                guard result.count <= TraefikRule.maxAlternatives else { throw .unsupported("the rule has more than \(TraefikRule.maxAlternatives) alternatives") }
            }
            return result
        }

        mutating func conjunction(depth: Int) throws(ParseError) -> [[Atom]] {
            var result = try term(depth: depth)
            while peek == .and {
                position += 1
                let right = try term(depth: depth)
                result = result.flatMap { left in right.map { left + $0 } }
                guard result.count <= TraefikRule.maxAlternatives else { throw .unsupported("the rule has more than \(TraefikRule.maxAlternatives) alternatives") }
            }
            return result
        }

        mutating func term(depth: Int) throws(ParseError) -> [[Atom]] {
            switch next() {
            case .open:
                let inner = try disjunction(depth: depth + 1)
                guard next() == .close else { throw .malformed("a \"(\" is not closed") }
                return inner
            case .not:
                throw .unsupported("negation (!) cannot be expressed as Flotilla routes")
            case .word(let matcher):
                guard next() == .open else { throw .malformed("\(matcher) needs its arguments in parentheses") }
                var arguments: [String] = []
                while true {
                    guard case .string(let s) = next() else { throw .malformed("\(matcher)(...) takes quoted strings such as `example.com`") }
                    arguments.append(s)
                    let separator = next()
                    if separator == .close { break }
                    guard separator == .comma else { throw .malformed("\(matcher)(...) arguments are separated by commas") }
                }
                switch matcher {
                case "Host": return [[.host(arguments)]]
                case "PathPrefix": return [[.path(arguments, exact: false)]]
                case "Path": return [[.path(arguments, exact: true)]]
                default: throw .unsupported("the \(matcher) matcher has no Flotilla equivalent (routes match host and path only)")
                }
            case let token?:
                throw .malformed("unexpected \"\(token)\" in the rule")
            case nil:
                throw .malformed("the rule ends too early")
            }
        }
    }
}
