import FlotillaCore

/// What manifests may reach on this host, as the operator configured it (`--secrets-dir`,
/// `--allow-host-mounts`). Nothing in a manifest can widen it.
public struct HostAccess: Sendable {
    /// Where secret files live outside the manifest repository (so secrets stay out of git).
    public static let defaultSecretsDirectory = "/etc/flotilla/secrets"

    /// The operator's secrets folder (`--secrets-dir`): each project reads only its own
    /// subfolder, `<secrets-dir>/<project>/` (see ``secretsRoot``).
    public var secretsDirectory: String
    /// The project whose subfolder of ``secretsDirectory`` holds its secrets; nil: the whole
    /// folder is this project's (a library user's single project).
    public var project: String?
    /// The old layout, one folder shared by every project (`--shared-secrets-dir`, deprecated).
    public var sharedSecrets = false
    /// Which host paths `volumes` may bind-mount.
    public var hostMounts: MountPolicy.Allowed
    /// Symbolic links below an allowed mount prefix are followed, not refused.
    public var mountSymlinks: Bool
    /// Existing networks and volumes this project may use although Flotilla did not create them
    /// for it (another project's, or made by hand).
    public var allowedNetworks: Set<String> = []
    public var allowedVolumes: Set<String> = []

    public init(secretsDirectory: String = HostAccess.defaultSecretsDirectory, hostMounts: MountPolicy.Allowed = .none, mountSymlinks: Bool = false) {
        self.secretsDirectory = secretsDirectory
        self.hostMounts = hostMounts
        self.mountSymlinks = mountSymlinks
    }

    /// Besides the manifest directory, the only place `secrets` and `env_file` may read from.
    public var secretsRoot: String {
        guard let project, !sharedSecrets else { return secretsDirectory }
        return (secretsDirectory.hasSuffix("/") ? secretsDirectory : secretsDirectory + "/") + project
    }

    /// The mount policy, checking each host path as the engine will see it (symlinks followed,
    /// and refused below an allowed prefix unless ``mountSymlinks``), on the file system as it
    /// is at each call.
    public var mountPolicy: MountPolicy {
        MountPolicy(allowed: hostMounts, followsSymlinks: mountSymlinks, inspect: HostPath.inspect)
    }
}
