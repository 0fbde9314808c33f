/// A forward-only reader of one JSON text (RFC 8259) over bytes, for decoders that take a few
/// fields out of a large document (``ContainerListDecoder``): keys are compared in place, values
/// that are not wanted are skipped without being copied, and only the strings asked for become
/// `String`s. Every method throws ``EngineError/malformedResponse(_:)`` on malformed input.
struct JSONScanner {
    /// A string's raw contents (between its quotes), not yet unescaped.
    struct StringSpan {
        var start: Int
        var end: Int
        var escaped: Bool
    }

    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0
    /// Containers open now: a hostile document cannot recurse without bound.
    var depth = 0
    static let maxDepth = 512

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    func fail(_ what: String) -> EngineError {
        .malformedResponse("malformed JSON at byte \(index): \(what)")
    }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    /// The next byte after whitespace (0 at the end).
    mutating func peek() -> UInt8 {
        skipWhitespace()
        return index < bytes.count ? bytes[index] : 0
    }

    mutating func expect(_ byte: UInt8) throws {
        guard peek() == byte else { throw fail("expected \"\(Character(Unicode.Scalar(byte)))\"") }
        index += 1
    }

    mutating func consumeIf(_ byte: UInt8) throws -> Bool {
        guard peek() == byte else { return false }
        index += 1
        return true
    }

    /// After a member or element: true at a comma (another follows), false at `close`.
    mutating func commaOr(_ close: UInt8) throws -> Bool {
        switch peek() {
        case UInt8(ascii: ","): index += 1; return true
        case close: index += 1; return false
        default: throw fail("expected \",\" or \"\(Character(Unicode.Scalar(close)))\"")
        }
    }

    /// Nothing but whitespace is left.
    mutating func expectEnd() throws {
        guard peek() == 0, index == bytes.count else { throw fail("trailing bytes") }
    }

    mutating func consumeNull() throws -> Bool {
        guard peek() == UInt8(ascii: "n") else { return false }
        try literal("null")
        return true
    }

    mutating func peekIsString() -> Bool { peek() == UInt8(ascii: "\"") }

    mutating func literal(_ word: StaticString) throws {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw fail("truncated literal") }
        for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { throw fail("bad literal") }
        index += count
    }

    /// The span of the string that starts here.
    mutating func stringSpan() throws -> StringSpan {
        try expect(UInt8(ascii: "\""))
        let start = index
        var escaped = false
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\""):
                let span = StringSpan(start: start, end: index, escaped: escaped)
                index += 1
                return span
            case UInt8(ascii: "\\"):
                escaped = true
                index += 2
            case 0..<0x20:
                throw fail("control character in a string")
            default:
                index += 1
            }
        }
        throw fail("unterminated string")
    }

    /// The string here (nil for `null`).
    mutating func string() throws -> String? {
        if try consumeNull() { return nil }
        guard peekIsString() else { throw fail("expected a string") }
        return try text(of: try stringSpan())
    }

    /// A span's text, unescaped.
    func text(of span: StringSpan) throws -> String {
        let raw = UnsafeBufferPointer(rebasing: bytes[span.start..<span.end])
        guard span.escaped else { return String(decoding: raw, as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var i = 0
        func hex4(_ at: Int) throws -> UInt32 {
            guard at + 4 <= raw.count else { throw fail("truncated \\u escape") }
            var value: UInt32 = 0
            for b in raw[at..<at + 4] {
                value <<= 4
                switch b {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): value |= UInt32(b - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): value |= UInt32(b - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): value |= UInt32(b - UInt8(ascii: "A") + 10)
                default: throw fail("bad \\u escape")
                }
            }
            return value
        }
        while i < raw.count {
            let b = raw[i]
            guard b == UInt8(ascii: "\\") else { out.append(b); i += 1; continue }
            guard i + 1 < raw.count else { throw fail("truncated escape") }
            switch raw[i + 1] {
            case UInt8(ascii: "\""): out.append(UInt8(ascii: "\""))
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "/"): out.append(UInt8(ascii: "/"))
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4(i + 2)
                i += 6
                if (0xD800..<0xDC00).contains(scalar), i + 1 < raw.count, raw[i] == UInt8(ascii: "\\"), raw[i + 1] == UInt8(ascii: "u") {
                    let low = try hex4(i + 2)
                    if (0xDC00..<0xE000).contains(low) {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        i += 6
                    }
                }
                // A lone surrogate becomes U+FFFD, as Foundation's decoder would not accept it either way.
                out.append(contentsOf: Array(String(Character(Unicode.Scalar(scalar) ?? "\u{FFFD}")).utf8))
                continue
            default:
                throw fail("bad escape")
            }
            i += 2
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether a key (or string) span is exactly `name`.
    func equals(_ span: StringSpan, _ name: StaticString) -> Bool {
        equals(span, UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
    }

    func equals(_ span: StringSpan, _ name: [UInt8]) -> Bool {
        name.withUnsafeBufferPointer { equals(span, $0) }
    }

    func equals(_ span: StringSpan, _ name: UnsafeBufferPointer<UInt8>) -> Bool {
        if span.escaped { return (try? text(of: span)).map { $0.utf8.elementsEqual(name) } ?? false }
        guard span.end - span.start == name.count else { return false }
        for offset in 0..<name.count where bytes[span.start + offset] != name[offset] { return false }
        return true
    }

    /// An integer (nil for `null`); a fraction or exponent is dropped.
    mutating func integer() throws -> Int64? {
        if try consumeNull() { return nil }
        skipWhitespace()
        var negative = false
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { negative = true; index += 1 }
        var value: Int64 = 0
        var digits = 0
        while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (plus, o2) = times.addingReportingOverflow(Int64(bytes[index] - UInt8(ascii: "0")))
            guard !o1, !o2 else { throw fail("integer out of range") }
            value = plus
            digits += 1
            index += 1
        }
        guard digits > 0 else { throw fail("expected a number") }
        if index < bytes.count, [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[index]) {
            try skipNumberTail()
        }
        return negative ? -value : value
    }

    mutating func skipNumberTail() throws {
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"), UInt8(ascii: "+"), UInt8(ascii: "-"):
                index += 1
            default:
                return
            }
        }
    }

    /// The members of the object here: `member` reads (or skips) each value.
    mutating func object(_ member: (inout JSONScanner, StringSpan) throws -> Void) throws {
        try elements(UInt8(ascii: "{"), UInt8(ascii: "}")) { s in
            guard s.peekIsString() else { throw s.fail("expected a key") }
            let key = try s.stringSpan()
            try s.expect(UInt8(ascii: ":"))
            try member(&s, key)
        }
    }

    /// The elements of the array here: `element` reads (or skips) each.
    mutating func array(_ element: (inout JSONScanner) throws -> Void) throws {
        try elements(UInt8(ascii: "["), UInt8(ascii: "]"), element)
    }

    /// `open`, then `each` once per comma-separated entry, then `close`; no deeper than ``maxDepth``.
    private mutating func elements(_ open: UInt8, _ close: UInt8, _ each: (inout JSONScanner) throws -> Void) throws {
        try expect(open)
        depth += 1
        guard depth <= Self.maxDepth else { throw fail("nested too deeply") }
        defer { depth -= 1 }
        if try consumeIf(close) { return }
        repeat {
            try each(&self)
        } while try commaOr(close)
    }

    /// Skips one value of any kind.
    mutating func skipValue() throws {
        switch peek() {
        case UInt8(ascii: "\""): _ = try stringSpan()
        case UInt8(ascii: "{"): try object { s, _ in try s.skipValue() }
        case UInt8(ascii: "["): try array { s in try s.skipValue() }
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            index += 1
            try skipNumberTail()
        default: throw fail("expected a value")
        }
    }
}
