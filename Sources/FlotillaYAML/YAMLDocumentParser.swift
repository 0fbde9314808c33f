import CLibYAML
import FlotillaCore

/// Parses YAML text with libyaml's event parser into ``YAMLNode`` trees that carry positions.
///
/// Hostile input is bounded, not trusted: nesting depth and the number of nodes after alias
/// expansion are capped (a "billion laughs" file is an error, not an OOM), invalid UTF-8 is
/// reported at its position, and every libyaml error comes back with libyaml's own position and
/// problem text. It never throws and never crashes: problems are ``Diagnostic``s.
public struct YAMLDocumentParser: Sendable {
    public struct Limits: Sendable {
        /// Nodes per file, counting every alias as the full subtree it stands for.
        public var maxNodes: Int
        /// Nested sequences/mappings.
        public var maxDepth: Int

        /// Tags accepted besides YAML's core ones (the Compose importer: `!reset`, `!override`).
        public var extraTags: Set<String>

        public init(maxNodes: Int = 100_000, maxDepth: Int = 100, extraTags: Set<String> = []) {
            self.maxNodes = maxNodes
            self.maxDepth = maxDepth
            self.extraTags = extraTags
        }
    }

    public var limits: Limits

    public init(limits: Limits = Limits()) { self.limits = limits }

    /// Every document in `bytes`; documents completed before an error are returned too (so a
    /// broken file can still tell which services it meant to define).
    public func parse(_ bytes: [UInt8], file: String) -> (documents: [YAMLNode], diagnostics: [Diagnostic]) {
        // A UTF-8 byte order mark (Windows editors write one) is not content.
        let bytes = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? Array(bytes.dropFirst(3)) : bytes
        if let bad = UTF8Check.firstInvalidByte(in: bytes) {
            let mark = UTF8Check.mark(ofOffset: bad, in: bytes)
            return ([], [Diagnostic(file: file, at: mark, "file is not valid UTF-8 (byte 0x\(String(bytes[bad], radix: 16)) at offset \(bad)); save it as UTF-8")])
        }
        let lines = SourceLines(bytes)
        var builder = TreeBuilder(file: file, limits: limits, lines: lines)
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            return ([], [Diagnostic(file: file, line: 1, column: 1, message: "libyaml could not initialise a parser (out of memory?)")])
        }
        defer { yaml_parser_delete(&parser) }

        // libyaml does not copy its input: the buffer must stay alive for the whole parse.
        bytes.withUnsafeBufferPointer { buffer in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            while builder.failure == nil {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else {
                    builder.failure = Self.diagnostic(from: parser, file: file, bytes: bytes, lines: lines)
                    break
                }
                let done = event.type == YAML_STREAM_END_EVENT
                builder.consume(event)
                yaml_event_delete(&event)
                if done { break }
            }
        }
        return (builder.documents, builder.failure.map { [$0] } ?? [])
    }

    static func diagnostic(from parser: yaml_parser_t, file: String, bytes: [UInt8], lines: SourceLines) -> Diagnostic {
        let problem = parser.problem.map { String(cString: $0) } ?? "unknown error"
        var message = "YAML syntax error: \(problem)"
        var mark = lines.mark(index: parser.problem_mark.index)
        if parser.error == YAML_READER_ERROR {
            mark = UTF8Check.mark(ofOffset: min(parser.problem_offset, bytes.count), in: bytes)
            message = "cannot read file: \(problem)"
        }
        if let context = parser.context.map({ String(cString: $0) }) {
            let at = lines.mark(index: parser.context_mark.index)
            message += " (\(context) at \(at.line):\(at.column))"
        }
        return Diagnostic(file: file, at: mark, message)
    }
}

/// Builds node trees from libyaml events with an explicit stack (no recursion on input depth).
/// Children are appended in place to the open frame (`stack[top].items.append`), so building is
/// linear in the input: a frame is never copied to add a child.
struct TreeBuilder {
    struct Frame {
        enum Kind { case sequence, mapping }
        var kind: Kind
        var mark: SourceMark
        var anchor: String?
        var items: [YAMLNode] = []
        var pairs: [YAMLPair] = []
        /// A mapping's key waiting for its value.
        var key: YAMLNode?
    }

    let file: String
    let limits: YAMLDocumentParser.Limits
    let lines: SourceLines
    var documents: [YAMLNode] = []
    var failure: Diagnostic?
    var stack: [Frame] = []
    var anchors: [String: (node: YAMLNode, count: Int)] = [:]
    var nodeCount = 0

    init(file: String, limits: YAMLDocumentParser.Limits, lines: SourceLines) {
        self.file = file
        self.limits = limits
        self.lines = lines
    }

    mutating func consume(_ event: yaml_event_t) {
        let mark = lines.mark(index: event.start_mark.index)
        switch event.type {
        case YAML_DOCUMENT_START_EVENT:
            anchors = [:]
        case YAML_SCALAR_EVENT:
            let s = event.data.scalar
            let value = s.value.map { String(decoding: UnsafeBufferPointer(start: $0, count: s.length), as: UTF8.self) } ?? ""
            let tag = s.tag.map { String(cString: $0) }
            if let tag, !accepts(tag) { return unsupported(tag, at: mark) }
            let scalar = YAMLScalar(value, plain: s.style == YAML_PLAIN_SCALAR_STYLE, tag: tag)
            add(YAMLNode(.scalar(scalar), at: mark), anchor: s.anchor.map { String(cString: $0) }, cost: 1)
        case YAML_ALIAS_EVENT:
            let name = event.data.alias.anchor.map { String(cString: $0) } ?? ""
            guard let target = anchors[name] else {
                fail(mark, "alias *\(name) refers to no anchor &\(name) defined before it")
                return
            }
            var node = target.node
            node.mark = mark
            add(node, anchor: nil, cost: target.count)
        case YAML_SEQUENCE_START_EVENT:
            if let tag = event.data.sequence_start.tag.map({ String(cString: $0) }), !accepts(tag) { return unsupported(tag, at: mark) }
            push(Frame(kind: .sequence, mark: mark, anchor: event.data.sequence_start.anchor.map { String(cString: $0) }), at: mark)
        case YAML_MAPPING_START_EVENT:
            if let tag = event.data.mapping_start.tag.map({ String(cString: $0) }), !accepts(tag) { return unsupported(tag, at: mark) }
            push(Frame(kind: .mapping, mark: mark, anchor: event.data.mapping_start.anchor.map { String(cString: $0) }), at: mark)
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            guard let frame = stack.popLast() else { return }
            switch frame.kind {
            case .sequence: add(YAMLNode(.sequence(frame.items), at: frame.mark), anchor: frame.anchor, cost: 1)
            case .mapping: add(YAMLNode(.mapping(frame.pairs), at: frame.mark), anchor: frame.anchor, cost: 1)
            }
        default:
            break  // stream start/end, document end: nothing to build
        }
    }

    mutating func push(_ frame: Frame, at mark: SourceMark) {
        guard stack.count < limits.maxDepth else {
            fail(mark, "nesting deeper than \(limits.maxDepth) levels; manifests never need this much")
            return
        }
        stack.append(frame)
    }

    mutating func add(_ node: YAMLNode, anchor: String?, cost: Int) {
        nodeCount += cost
        guard nodeCount <= limits.maxNodes else {
            fail(node.mark, "file expands to more than \(limits.maxNodes) nodes (all its documents together, aliases included); refusing to expand further: split it into several files")
            return
        }
        if let anchor {
            // The subtree's size: leaves count 1, containers were counted as their children arrived.
            anchors[anchor] = (node, node.nodeCount)
        }
        guard !stack.isEmpty else {
            documents.append(node)
            return
        }
        let top = stack.count - 1
        switch stack[top].kind {
        case .sequence:
            stack[top].items.append(node)
        case .mapping:
            if let key = stack[top].key {
                stack[top].pairs.append(YAMLPair(key: key, value: node))
                stack[top].key = nil
            } else {
                stack[top].key = node
            }
        }
    }

    /// YAML's core tags (and `!`, "not specific"): everything else (`!!binary`, whose value was
    /// taken as its base64 text, or `!foo`, silently dropped) is refused.
    static func isCoreTag(_ tag: String) -> Bool {
        tag == "!" || ["str", "int", "bool", "null", "float", "seq", "map"].contains { tag == "tag:yaml.org,2002:" + $0 }
    }

    func accepts(_ tag: String) -> Bool { Self.isCoreTag(tag) || limits.extraTags.contains(tag) }

    mutating func unsupported(_ tag: String, at mark: SourceMark) {
        let shown = tag.hasPrefix("tag:yaml.org,2002:") ? "!!" + tag.dropFirst("tag:yaml.org,2002:".count) : tag
        fail(mark, "tag \(shown.prefix(32)) is not supported in manifests (only !!str, !!int, !!bool, !!null, !!float, !!seq and !!map); remove it")
    }

    mutating func fail(_ mark: SourceMark, _ message: String) {
        if failure == nil { failure = Diagnostic(file: file, at: mark, message) }
    }
}
