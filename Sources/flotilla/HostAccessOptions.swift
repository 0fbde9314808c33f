import ArgumentParser
import FlotillaAgent
import FlotillaCore
import Synchronization

/// The operator's limits on what manifests may reach on this host. Manifests come from a
/// repository several people can push to, and the daemon runs as root: these are flags, never
/// manifest settings.
struct HostAccessOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Folder whose PROJECT subfolder secret and env files may be read from, besides the manifest directory.",
                               discussion: "A `secrets:` or `env_file:` path must resolve (symlinks followed) inside the manifest directory or inside DIR/PROJECT/ (/etc/flotilla/secrets/shop/ for project shop); anything else is an error at its file:line:col. Keep secrets there, out of git: one project never reads another's.",
                               valueName: "dir"))
    var secretsDir: String = HostAccess.defaultSecretsDirectory

    @Flag(name: .customLong("shared-secrets-dir"),
          help: ArgumentHelp("Deprecated: read secret and env files from anywhere in --secrets-dir, as before projects had their own subfolders.",
                             discussion: "Every project on the host can then read every other project's secrets; move each project's files to DIR/PROJECT/ and drop this flag."))
    var sharedSecretsDir = false

    @Option(name: .customLong("allow-host-mounts"),
            help: ArgumentHelp("Allow volumes that bind-mount host paths: alone for any path, or =PREFIX[,PREFIX…] for paths under those folders.",
                               discussion: "Without it only named volumes (name:/path) are accepted. Write prefixes with \"=\" (--allow-host-mounts=/srv/data); a bare --allow-host-mounts never takes the next argument.",
                               valueName: "prefix"))
    var hostMountPrefixes: [String] = []

    @Flag(name: .customLong("allow-mount-symlinks"),
          help: ArgumentHelp("Follow symbolic links below an --allow-host-mounts folder instead of refusing them.",
                             discussion: "By default a host path that passes through a link below an allowed folder is refused, when the manifests load and again before every create: a container that can write under the folder could otherwise point another service's mount at /. The resolved path must still be under an allowed folder."))
    var allowMountSymlinks = false

    @Flag(name: .customLong("allow-swarm-host-mounts"),
          help: ArgumentHelp("With --orchestrator swarm: allow the host mounts --allow-host-mounts allows.",
                             discussion: "Swarm mounts a host path on whichever node runs the task, and the manager cannot check that node's disk for the links and folders the policy rules out; so in swarm mode host mounts are refused unless this is given too."))
    var allowSwarmHostMounts = false

    @Option(name: .customLong("allow-network"),
            help: ArgumentHelp("Let the project join this existing network although Flotilla did not create it for the project (repeatable).",
                               discussion: "A network a manifest names is created and labelled for the project when missing; an existing one is joined only when it is the project's own. Another project's network, or one made by hand, needs this flag: otherwise the create fails, naming its owner.",
                               valueName: "name"))
    var allowNetworks: [String] = []

    @Option(name: .customLong("allow-volume"),
            help: ArgumentHelp("Let the project mount this existing named volume although Flotilla did not create it for the project (repeatable).",
                               discussion: "A named volume is created and labelled for the project when missing; an existing one is mounted only when it is the project's own. Another project's volume (its database, say), or one made by hand, needs this flag.",
                               valueName: "name"))
    var allowVolumes: [String] = []

    @Option(name: .customLong("max-manifest-bytes"),
            help: ArgumentHelp("The most bytes all manifest files together may hold: 64Mi by default, or such as 256Mi, 1Gi, 500M.",
                               discussion: "Files past the cap, in path order, are errors of their own (nothing is pruned for them): a commit that grows the tree cannot take the host's memory. Each file is also at most 1 MiB.",
                               valueName: "size"))
    var maxManifestBytes: String = "64Mi"

    /// ``maxManifestBytes`` in bytes (checked by ``validate()``).
    var manifestByteCap: Int { Resources.parseMemory(maxManifestBytes).map { Int(clamping: $0) } ?? ManifestDirectoryLoader.defaultMaxTreeSize }

    func validate() throws {
        guard let cap = Resources.parseMemory(maxManifestBytes), cap > 0 else {
            throw ValidationError("--max-manifest-bytes takes a size such as 64Mi, 1Gi or 500M, not \"\(maxManifestBytes)\"")
        }
        for prefix in prefixes where !prefix.hasPrefix("/") || prefix.split(separator: "/").contains("..") {
            throw ValidationError("--allow-host-mounts takes absolute folders without \"..\" (e.g. --allow-host-mounts=/srv/data), not \"\(prefix)\"")
        }
    }

    var prefixes: [String] {
        hostMountPrefixes.flatMap { $0.split(separator: ",").map(String.init) }
    }

    /// In swarm mode host mounts need --allow-swarm-host-mounts as well.
    func hostAccess(swarm: Bool, project: String) -> HostAccess {
        let list = prefixes
        var mounts: MountPolicy.Allowed = list.isEmpty ? .none : list.contains("/") ? .any : .under(list)
        if swarm && !allowSwarmHostMounts { mounts = .noneOnSwarm }
        var access = HostAccess(secretsDirectory: secretsDir, hostMounts: mounts, mountSymlinks: allowMountSymlinks)
        access.allowedNetworks = Set(allowNetworks)
        access.allowedVolumes = Set(allowVolumes)
        access.project = project
        access.sharedSecrets = sharedSecretsDir
        if sharedSecretsDir { Self.warnShared(secretsDir) }
        return access
    }

    private static let warned = Mutex(false)

    static func warnShared(_ folder: String) {
        guard warned.withLock({ let first = !$0; $0 = true; return first }) else { return }
        Console.error("warning: --shared-secrets-dir is deprecated: every project on this host can read every other project's secrets in \(folder); move each project's files to \(folder)/PROJECT/ and drop the flag")
    }

    /// `--allow-host-mounts` alone means every host path. ArgumentParser has no options with an
    /// optional value, so the bare flag is rewritten before parsing (as git does for `--color`).
    static func rewrite(_ arguments: [String]) -> [String] {
        var result: [String] = []
        var terminated = false
        for argument in arguments {
            if argument == "--" { terminated = true }
            result.append(!terminated && argument == "--allow-host-mounts" ? "--allow-host-mounts=/" : argument)
        }
        return result
    }
}
