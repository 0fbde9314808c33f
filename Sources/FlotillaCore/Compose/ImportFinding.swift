/// One thing `flotilla import compose` has to say about a Compose file, tied to a position.
///
/// Rendered like ``Diagnostic`` (`docker-compose.yml:12:5: warning: MESSAGE`): a warning is
/// something the import could not honour exactly and says so; an error means the result would
/// not run, and nothing is written.
public struct ImportFinding: Sendable, Hashable, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable { case warning, error }

    public var severity: Severity
    public var file: String
    public var mark: SourceMark
    public var message: String

    public init(_ severity: Severity, file: String, at mark: SourceMark, _ message: String) {
        self.severity = severity
        self.file = file
        self.mark = mark
        self.message = message
    }

    public var description: String {
        "\(Diagnostic.escaped(file)):\(mark.line):\(mark.column): \(severity.rawValue): \(Diagnostic.escaped(message))"
    }
}
