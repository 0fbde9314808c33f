import FlotillaCore

/// One `--routes FILE --routes-format FORMAT` pair with its optional check and reload hooks.
public struct RouteOutput: Sendable {
    public var format: RouteFormat
    public var writer: RouteFileWriter

    public init(format: RouteFormat, writer: RouteFileWriter) {
        self.format = format
        self.writer = writer
    }
}
