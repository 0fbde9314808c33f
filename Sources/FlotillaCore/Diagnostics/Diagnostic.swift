/// One problem found in the manifest directory, always tied to a position.
///
/// Rendered as `path/to/file.yaml:LINE:COL: error: MESSAGE`, the form compilers use, so that
/// editors and CI logs link straight to the spot. The path is relative to the manifest directory.
public struct Diagnostic: Error, Sendable, Hashable, Codable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public var message: String

    public init(file: String, line: Int, column: Int, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    public init(file: String, at mark: SourceMark, _ message: String) {
        self.init(file: file, line: mark.line, column: mark.column, message: message)
    }

    /// One line, whatever the manifest held: control characters (a newline in a key would forge
    /// a second `file:line:col: error:` line; ANSI escapes would reach the terminal) and line
    /// separators are shown escaped, in the file name as in the message.
    public var description: String { "\(Self.escaped(file)):\(line):\(column): error: \(Self.escaped(message))" }

    public static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where needsEscape(scalar): out += "\\u{" + String(scalar.value, radix: 16) + "}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    public static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029
    }
}

extension Array where Element == Diagnostic {
    /// Diagnostics in file, then position order: stable output whatever order checks ran in.
    public func sortedByLocation() -> [Diagnostic] {
        sorted { ($0.file, $0.line, $0.column, $0.message) < ($1.file, $1.line, $1.column, $1.message) }
    }
}
