/// One Compose file, parsed: what ``ComposeConverter`` reads.
public struct ComposeSource: Sendable {
    /// The file as messages name it (as the user gave it).
    public var file: String
    /// The absolute folder of the file: relative paths in it (`./data`, `env_file`) start there.
    public var directory: String
    /// The file's YAML documents (Compose reads the first).
    public var documents: [YAMLNode]

    public init(file: String, directory: String, documents: [YAMLNode]) {
        self.file = file
        self.directory = directory
        self.documents = documents
    }
}

/// What the caller knows about the user's environment.
public struct ComposeImportOptions: Sendable {
    /// `--project-name`; otherwise the file's `name:`, otherwise the first file's folder name.
    public var projectName: String?
    /// Variables for interpolation: the process environment over the project's `.env`.
    public var variables: [String: String]
    /// The absolute output folder: files inside it are written as relative paths.
    public var outputDirectory: String
    /// Whether a file exists (for `env_file` entries with `required: false`); the caller asks the file system.
    public var fileExists: @Sendable (String) -> Bool

    public init(projectName: String? = nil, variables: [String: String] = [:], outputDirectory: String, fileExists: @escaping @Sendable (String) -> Bool = { _ in true }) {
        self.projectName = projectName
        self.variables = variables
        self.outputDirectory = outputDirectory
        self.fileExists = fileExists
    }
}

/// A manifest written from one Compose service.
public struct ImportedManifest: Sendable, Hashable {
    /// The Flotilla service name (a DNS label).
    public var service: String
    /// The file name in the output folder (`web.yaml`).
    public var fileName: String
    public var text: String
    /// Where the Compose service was defined.
    public var sourceFile: String
    public var sourceMark: SourceMark
}

/// The result of converting Compose files: manifests, and everything worth saying about them.
public struct ComposeImport: Sendable {
    public var projectName: String
    public var manifests: [ImportedManifest]
    public var findings: [ImportFinding]
    /// Folders outside the output folder that `env_file` and `secrets` files are read from: the
    /// daemon reads them only with `--secrets-dir` pointing there (or after they are moved).
    public var secretFolders: [String]
    /// The one folder holding all of them, when it is specific enough to suggest as `--secrets-dir`.
    public var secretsDirectory: String? {
        guard let first = secretFolders.first else { return nil }
        var common: [String] = first.split(separator: "/").map(String.init)
        for folder in secretFolders.dropFirst() {
            let parts: [String] = folder.split(separator: "/").map(String.init)
            var n = 0
            while n < common.count, n < parts.count, common[n] == parts[n] { n += 1 }
            common = Array(common.prefix(n))
        }
        // "/" or "/home" would open the daemon to far more than these files.
        return common.count >= 2 ? "/" + common.joined(separator: "/") : nil
    }
    /// True when a volume bind-mounts a host path (the operator's `--allow-host-mounts`).
    public var usesHostMounts: Bool

    /// Converted: no error (warnings are said, but the manifests run).
    public var succeeded: Bool { !manifests.isEmpty && !findings.contains { $0.severity == .error } }
}
