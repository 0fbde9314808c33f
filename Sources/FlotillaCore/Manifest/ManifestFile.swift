/// One manifest file as the loader read it: its YAML documents, or what stopped it from
/// reading them (size, encoding, syntax). Input to ``DesiredState``.
public struct ManifestFile: Sendable {
    /// Path relative to the manifest directory, as errors print it.
    public var path: String
    public var documents: [YAMLNode]
    /// Problems found while reading or parsing; a file with any is a failed file.
    public var diagnostics: [Diagnostic]

    public init(path: String, documents: [YAMLNode], diagnostics: [Diagnostic] = []) {
        self.path = path
        self.documents = documents
        self.diagnostics = diagnostics
    }
}
