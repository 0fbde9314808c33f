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

    public var description: String { "\(file):\(line):\(column): error: \(message)" }
}

extension Array where Element == Diagnostic {
    /// Diagnostics in file, then position order: stable output whatever order checks ran in.
    public func sortedByLocation() -> [Diagnostic] {
        sorted { ($0.file, $0.line, $0.column, $0.message) < ($1.file, $1.line, $1.column, $1.message) }
    }
}
