import FlotillaCore

/// Finds invalid UTF-8 before libyaml sees it, so the error names a line and column.
enum UTF8Check {
    static func firstInvalidByte(in bytes: [UInt8]) -> Int? {
        var i = 0
        let n = bytes.count
        while i < n {
            let b = bytes[i]
            let length: Int
            switch b {
            case 0x00...0x7f: i += 1; continue
            case 0xc2...0xdf: length = 2
            case 0xe0...0xef: length = 3
            case 0xf0...0xf4: length = 4
            default: return i
            }
            guard i + length <= n else { return i }
            for j in 1..<length where bytes[i + j] & 0xc0 != 0x80 { return i }
            // Overlongs, surrogates and values past U+10FFFF.
            let b1 = bytes[i + 1]
            if b == 0xe0 && b1 < 0xa0 { return i }
            if b == 0xed && b1 > 0x9f { return i }
            if b == 0xf0 && b1 < 0x90 { return i }
            if b == 0xf4 && b1 > 0x8f { return i }
            i += length
        }
        return nil
    }

    /// 1-based line and column (in characters, counting a bad byte as one) of a byte offset.
    /// Lines end as ``SourceLines`` ends them: at LF, or at CR in a file without LF (before, a
    /// CR-only file's error was on line 1, at a column past the end of that line).
    static func mark(ofOffset offset: Int, in bytes: [UInt8]) -> SourceMark {
        let lineBreak: UInt8 = bytes.contains(0x0a) ? 0x0a : 0x0d
        var line = 1, column = 1
        for b in bytes.prefix(offset) {
            if b == lineBreak { line += 1; column = 1 } else if b & 0xc0 != 0x80 { column += 1 }
        }
        return SourceMark(line: line, column: column)
    }
}
