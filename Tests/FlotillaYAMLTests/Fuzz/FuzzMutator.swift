/// Mutations for a fuzzer without coverage: byte edits for the tokenizer, and YAML-aware edits
/// (lines, keys, values, anchors, tags, nesting, long scalars) that keep enough structure to get
/// past the parser into the decoder and the converter. Deterministic for a given generator.
struct FuzzMutator {
    /// YAML syntax, keys of manifests and Compose files, and values at the edges of their rules.
    let dictionary: [[UInt8]]
    /// Largest input produced; longer results are cut.
    let maxSize: Int

    init(words: [String], maxSize: Int = 256 << 10) {
        self.dictionary = (Self.yamlTokens + words).map { Array($0.utf8) }
        self.maxSize = maxSize
    }

    static let yamlTokens = [
        ": ", "- ", "-", "? ", ":", ",", "[", "]", "{", "}", "[]", "{}", "\"", "'", "#", "&a ", "*a", "!", "!!str ", "!!int ", "!!float ",
        "!!binary ", "!!bool ", "!!null ", "!!map ", "!!seq ", "!foo ", "!reset ", "!override ", "! ", "<<: *a\n", "<<: ", "|\n", "|-\n", ">\n",
        "---\n", "...\n", "%YAML 1.1\n---\n", "%TAG ! tag:x,2000:\n---\n", "~", "null", "true", "True", "no", "yes", "on", "0x10", "0o17",
        "1e3", ".inf", "-.inf", ".nan", "1_000", "+5", "-0", "9223372036854775808", "99999999999999999999", "\u{2028}", "\u{85}", "\u{FEFF}",
        "\r", "\r\n", "\t", "\\", "\\0", "\\u0000", "\\x1b[31m", "\u{0}", "\u{7f}", "\u{212A}", "é", "\u{1F600}", "${PORT}", "$$", "${A:-b}",
        "${A:?err}", "${", "$", "%", "@", "`", "|", ">", "\n  ", "\n- ", "\n    - ", "  ",
    ]

    func mutate(_ input: [UInt8], other: [UInt8], rng: inout SplitMix) -> [UInt8] {
        var bytes = input
        for _ in 0..<(1 + rng.next() % 4) {
            switch rng.next() % 16 {
            case 0, 1: bytes = byteEdit(bytes, rng: &rng)
            case 2, 3: bytes = insertWord(bytes, rng: &rng)
            case 4: bytes = deleteRange(bytes, rng: &rng)
            case 5: bytes = duplicateRange(bytes, rng: &rng)
            case 6, 7: bytes = lineEdit(bytes, rng: &rng)
            case 8, 9: bytes = valueEdit(bytes, rng: &rng)
            case 10: bytes = splice(bytes, other, rng: &rng)
            case 11: bytes = aliasEdit(bytes, rng: &rng)
            case 12: bytes = tagEdit(bytes, rng: &rng)
            case 13: bytes = nest(bytes, rng: &rng)
            case 14: bytes = longScalar(bytes, rng: &rng)
            default: bytes = indentEdit(bytes, rng: &rng)
            }
        }
        return bytes.count > maxSize ? Array(bytes.prefix(maxSize)) : bytes
    }

    // MARK: - Bytes

    static let interestingBytes: [UInt8] = Array(":-{}[],&*!|>'\"#%@`?~ \n\r\t\\0aZ".utf8) + [0x00, 0x7f, 0x80, 0xbf, 0xc0, 0xe2, 0xef, 0xf0, 0xff]

    func byteEdit(_ bytes: [UInt8], rng: inout SplitMix) -> [UInt8] {
        var bytes = bytes
        guard !bytes.isEmpty else { return [Self.interestingBytes[Int(rng.next() % UInt64(Self.interestingBytes.count))]] }
        let at = Int(rng.next() % UInt64(bytes.count))
        switch rng.next() % 4 {
        case 0: bytes[at] ^= UInt8(1) << (rng.next() % 8)
        case 1: bytes[at] = Self.interestingBytes[Int(rng.next() % UInt64(Self.interestingBytes.count))]
        case 2: bytes.insert(Self.interestingBytes[Int(rng.next() % UInt64(Self.interestingBytes.count))], at: at)
        default: bytes.remove(at: at)
        }
        return bytes
    }

    func insertWord(_ bytes: [UInt8], rng: inout SplitMix) -> [UInt8] {
        var bytes = bytes
        let word = dictionary[Int(rng.next() % UInt64(dictionary.count))]
        bytes.insert(contentsOf: word, at: Int(rng.next() % UInt64(bytes.count + 1)))
        return bytes
    }

    func deleteRange(_ bytes: [UInt8], rng: inout SplitMix) -> [UInt8] {
        guard bytes.count > 1 else { return bytes }
        let start = Int(rng.next() % UInt64(bytes.count))
        let length = 1 + Int(rng.next() % UInt64(min(64, bytes.count - start)))
        var bytes = bytes
        bytes.removeSubrange(start..<start + length)
        return bytes
    }

    func duplicateRange(_ bytes: [UInt8], rng: inout SplitMix) -> [UInt8] {
        guard !bytes.isEmpty else { return bytes }
        let start = Int(rng.next() % UInt64(bytes.count))
        let length = 1 + Int(rng.next() % UInt64(min(256, bytes.count - start)))
        var bytes = bytes
        let piece = Array(bytes[start..<start + length])
        bytes.insert(contentsOf: piece, at: Int(rng.next() % UInt64(bytes.count + 1)))
        return bytes
    }

    // MARK: - Lines, keys and values

    static func lines(_ bytes: [UInt8]) -> [[UInt8]] { bytes.split(separator: 0x0a, omittingEmptySubsequences: false).map(Array.init) }
    static func join(_ lines: [[UInt8]]) -> [UInt8] { Array(lines.joined(separator: [0x0a])) }

    /// Where a line's value starts (after the first `: `), if it has one.
    static func valueStart(_ line: [UInt8]) -> Int? {
        guard line.count >= 2 else { return nil }
        for i in 0..<(line.count - 1) where line[i] == UInt8(ascii: ":") && line[i + 1] == UInt8(ascii: " ") { return i + 2 }
        return line.last == UInt8(ascii: ":") ? line.count : nil
    }

    /// Duplicate, delete, swap or move lines.
    func lineEdit(_ bytes: [UInt8], rng: inout SplitMix) -> [UInt8] {
        var lines = Self.lines(bytes)
        guard !lines.isEmpty else { return bytes }
        let a = Int(rng.next() % UInt64(lines.count)), b = Int(rng.next() % UInt64(lines.count))
        switch rng.next() % 4 {
        case 0: lines.insert(lines[a], at: b)
        case 1: lines.remove(at: a)
        case 2: lines.swapAt(a, b)
        default: let line = lines.remove(at: a); lines.insert(line, at: min(b, lines.count))
        }
        return Self.join(lines)
    }

    /// A value replaced by another line's value or a dictionary word, or two values swapped.
    func valueEdit(_ bytes: [UInt8], rng: inout SplitMix) -> [UInt8] {
        var lines = Self.lines(bytes)
        let keyed = lines.indices.filter { Self.valueStart(lines[$0]) != nil }
        guard !keyed.isEmpty else { return insertWord(bytes, rng: &rng) }
        let a = keyed[Int(rng.next() % UInt64(keyed.count))], b = keyed[Int(rng.next() % UInt64(keyed.count))]
        let startA = Self.valueStart(lines[a])!, startB = Self.valueStart(lines[b])!
        let valueA = Array(lines[a][startA...]), valueB = Array(lines[b][startB...])
        switch rng.next() % 3 {
        case 0:
            lines[a] = Array(lines[a][..<startA]) + valueB
            lines[b] = Array(lines[b][..<startB]) + valueA
        case 1:
            lines[a] = Array(lines[a][..<startA]) + dictionary[Int(rng.next() % UInt64(dictionary.count))]
        default:
            lines[a] = Array(lines[a][..<startA]) + valueB
        }
        return Self.join(lines)
    }

    /// Lines of another input put in (a crossover).
    func splice(_ bytes: [UInt8], _ other: [UInt8], rng: inout SplitMix) -> [UInt8] {
        var lines = Self.lines(bytes)
        let theirs = Self.lines(other)
        guard !theirs.isEmpty else { return bytes }
        let start = Int(rng.next() % UInt64(theirs.count))
        let piece = theirs[start..<min(theirs.count, start + 1 + Int(rng.next() % 8))]
        lines.insert(contentsOf: piece, at: Int(rng.next() % UInt64(lines.count + 1)))
        return Self.join(lines)
    }

    /// An anchor on one value and an alias of it in place of another (or a merge key).
    func aliasEdit(_ bytes: [UInt8], rng: inout SplitMix) -> [UInt8] {
        var lines = Self.lines(bytes)
        let keyed = lines.indices.filter { Self.valueStart(lines[$0]) != nil }
        guard keyed.count >= 2 else { return insertWord(bytes, rng: &rng) }
        let a = keyed[Int(rng.next() % UInt64(keyed.count))], b = keyed[Int(rng.next() % UInt64(keyed.count))]
        let name = Array("v\(rng.next() % 4)".utf8)
        let startA = Self.valueStart(lines[a])!, startB = Self.valueStart(lines[b])!
        lines[a] = Array(lines[a][..<startA]) + [UInt8(ascii: "&")] + name + [UInt8(ascii: " ")] + Array(lines[a][startA...])
        if rng.next() % 4 == 0 {
            let indent = lines[b].prefix { $0 == UInt8(ascii: " ") }
            lines.insert(Array(indent) + Array("<<: *".utf8) + name, at: b + 1)
        } else if a != b {
            lines[b] = Array(lines[b][..<startB]) + [UInt8(ascii: "*")] + name
        }
        return Self.join(lines)
    }

    static let tags = ["!!str ", "!!int ", "!!float ", "!!bool ", "!!null ", "!!binary ", "!!timestamp ", "!!set ", "!foo ", "! ", "!reset ", "!override ", "!<tag:yaml.org,2002:str> "]

    func tagEdit(_ bytes: [UInt8], rng: inout SplitMix) -> [UInt8] {
        var lines = Self.lines(bytes)
        let keyed = lines.indices.filter { Self.valueStart(lines[$0]) != nil }
        guard let a = keyed.isEmpty ? nil : keyed[Int(rng.next() % UInt64(keyed.count))] else { return insertWord(bytes, rng: &rng) }
        let start = Self.valueStart(lines[a])!
        lines[a].insert(contentsOf: Array(Self.tags[Int(rng.next() % UInt64(Self.tags.count))].utf8), at: start)
        return Self.join(lines)
    }

    /// A value wrapped in deep flow or block nesting (around the parser's depth limit).
    func nest(_ bytes: [UInt8], rng: inout SplitMix) -> [UInt8] {
        var lines = Self.lines(bytes)
        let keyed = lines.indices.filter { Self.valueStart(lines[$0]) != nil }
        guard let a = keyed.isEmpty ? nil : keyed[Int(rng.next() % UInt64(keyed.count))] else { return bytes }
        let depth = [2, 10, 99, 100, 101, 300][Int(rng.next() % 6)]
        let start = Self.valueStart(lines[a])!
        let value = Array(lines[a][start...])
        let wrapped: [UInt8]
        switch rng.next() % 3 {
        case 0: wrapped = Array(String(repeating: "[", count: depth).utf8) + value + Array(String(repeating: "]", count: depth).utf8)
        case 1: wrapped = Array(String(repeating: "{a: ", count: depth).utf8) + value + Array(String(repeating: "}", count: depth).utf8)
        default: wrapped = Array(String(repeating: "[x, ", count: depth).utf8) + value + Array(String(repeating: "]", count: depth).utf8)
        }
        lines[a] = Array(lines[a][..<start]) + wrapped
        return Self.join(lines)
    }

    /// A value repeated into a long scalar, or many list items.
    func longScalar(_ bytes: [UInt8], rng: inout SplitMix) -> [UInt8] {
        var lines = Self.lines(bytes)
        let keyed = lines.indices.filter { Self.valueStart(lines[$0]) != nil }
        guard let a = keyed.isEmpty ? nil : keyed[Int(rng.next() % UInt64(keyed.count))] else { return bytes }
        let start = Self.valueStart(lines[a])!
        var value = Array(lines[a][start...])
        if value.isEmpty { value = Array("x".utf8) }
        let count = [10, 100, 1000, 5000][Int(rng.next() % 4)]
        if rng.next() % 2 == 0 {
            lines[a] = Array(lines[a][..<start]) + Array(repeatElement(value, count: count).joined().prefix(maxSize / 2))
        } else {
            lines[a] = Array(lines[a][..<start]) + [UInt8(ascii: "[")] + Array(repeatElement(value + [UInt8(ascii: ","), UInt8(ascii: " ")], count: count).joined().prefix(maxSize / 2)) + [UInt8(ascii: "]")]
        }
        return Self.join(lines)
    }

    func indentEdit(_ bytes: [UInt8], rng: inout SplitMix) -> [UInt8] {
        var lines = Self.lines(bytes)
        guard !lines.isEmpty else { return bytes }
        let a = Int(rng.next() % UInt64(lines.count))
        if rng.next() % 2 == 0 { lines[a].insert(contentsOf: [0x20, 0x20], at: 0) }
        else { lines[a] = Array(lines[a].drop { $0 == 0x20 }) }
        return Self.join(lines)
    }
}
