import FlotillaCore

/// What manifests may reach on this host, as the operator configured it (`--secrets-dir`,
/// `--allow-host-mounts`). Nothing in a manifest can widen it.
public struct HostAccess: Sendable {
    /// Where secret files live outside the manifest repository (so secrets stay out of git).
    public static let defaultSecretsDirectory = "/etc/flotilla/secrets"

    /// Besides the manifest directory, the only place `secrets` and `env_file` may read from.
    public var secretsDirectory: String
    /// Which host paths `volumes` may bind-mount.
    public var hostMounts: MountPolicy.Allowed

    public init(secretsDirectory: String = HostAccess.defaultSecretsDirectory, hostMounts: MountPolicy.Allowed = .none) {
        self.secretsDirectory = secretsDirectory
        self.hostMounts = hostMounts
    }

    /// The mount policy, checking each host path as the engine will see it (symlinks followed).
    public var mountPolicy: MountPolicy {
        MountPolicy(allowed: hostMounts, resolve: HostPath.realOrLexical)
    }
}
