import FlotillaCore

/// Line and column of a libyaml mark as the user's editor, `grep -n` and `git diff` count them.
///
/// libyaml follows YAML 1.1 and also breaks lines at a lone CR, U+0085, U+2028 and U+2029, so a
/// file with one of those inside a value would report every later position too far down. Here a
/// line ends at LF (CRLF included); a lone CR ends a line only in a file with no LF at all (a
/// classic-Mac file, which editors show that way). Columns count characters, as libyaml does.
struct SourceLines: Sendable {
    /// The character index (libyaml's `mark.index`) at which each line starts.
    private var starts: [Int] = [0]

    init(_ bytes: [UInt8]) {
        let crIsBreak = !bytes.contains(0x0a)
        var character = 0
        var i = 0
        let n = bytes.count
        while i < n {
            let b = bytes[i]
            if b & 0xc0 != 0x80 { character += 1 }  // a character starts at every non-continuation byte
            if b == 0x0a || (crIsBreak && b == 0x0d) {
                starts.append(character)
            }
            i += 1
        }
    }

    /// 1-based position of the character at `index`.
    func mark(index: Int) -> SourceMark {
        // The last line start at or before `index`.
        var low = 0, high = starts.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if starts[mid] <= index { low = mid } else { high = mid - 1 }
        }
        return SourceMark(line: low + 1, column: index - starts[low] + 1)
    }
}
