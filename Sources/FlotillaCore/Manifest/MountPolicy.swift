/// Which host paths a manifest may bind-mount into a container. The operator decides it
/// (`--allow-host-mounts`), never a manifest: anyone who can push to the manifest repository
/// could otherwise mount `/`, `/etc` or the engine's socket into a container and own the host.
///
/// Named volumes (`data:/var/lib/x`) are left to the volume rules; a host path (`/srv/x:/x`) is
/// refused unless the operator allowed every host path or a prefix that holds it. Prefixes match
/// whole path segments (`/srv/data` holds `/srv/data/x`, not `/srv/database`), and the source is
/// checked as the engine will see it: after its symlinks are followed. A symbolic link *below* an
/// allowed prefix is refused unless the operator allows them (``followsSymlinks``): a container
/// that can write under the prefix could otherwise point another service's mount anywhere.
///
/// The check runs when manifests load and again before every create (the file system may have
/// changed since: a container may have swapped a folder for a link).
public struct MountPolicy: Sendable {
    public enum Allowed: Sendable, Hashable {
        /// No host paths (the default).
        case none
        /// No host paths, because the containers run on Swarm nodes whose disks the manager
        /// cannot check (unless the operator passes `--allow-swarm-host-mounts`).
        case noneOnSwarm
        /// Any host path (`--allow-host-mounts` alone).
        case any
        /// Host paths under these absolute prefixes (`--allow-host-mounts=/srv/data,/var/log/app`).
        case under([String])
    }

    /// What the file system says of a host path at one moment.
    public struct PathFacts: Sendable, Equatable {
        /// The real path (symlinks followed, as far as the path exists; the rest appended).
        public var real: String
        /// The path's components that are symbolic links, as written (`/srv/data/a/x`).
        public var links: [String]

        public init(real: String, links: [String] = []) {
            self.real = real
            self.links = links
        }
    }

    public var allowed: Allowed
    /// Symbolic links below an allowed prefix are followed rather than refused
    /// (`--allow-mount-symlinks`).
    public var followsSymlinks: Bool
    /// Asks the file system about a host path. The agent passes one that does; the default
    /// leaves the path as written, with no links.
    public var inspect: @Sendable (String) -> PathFacts

    public init(allowed: Allowed, followsSymlinks: Bool = false, inspect: @escaping @Sendable (String) -> PathFacts = { PathFacts(real: $0) }) {
        self.allowed = allowed
        self.followsSymlinks = followsSymlinks
        self.inspect = inspect
    }

    /// A policy whose file system has no links, only these real paths.
    public init(allowed: Allowed, resolve: @escaping @Sendable (String) -> String) {
        self.init(allowed: allowed, inspect: { PathFacts(real: resolve($0)) })
    }

    /// No host paths at all.
    public static let refuseHostPaths = MountPolicy(allowed: .none)

    /// Why the volume with this source may not be mounted, or nil when it may.
    public func problem(source: String) -> String? {
        if source.hasPrefix(".") || source.hasPrefix("~") {
            return "volume source \"\(source)\" is a relative host path; write an absolute path (host paths also need the operator's --allow-host-mounts)"
        }
        guard source.hasPrefix("/") else { return nil }  // a named volume
        if source.split(separator: "/").contains("..") {
            return "volume source \"\(source)\" contains \"..\"; write the host path without it"
        }
        switch allowed {
        case .any:
            return nil
        case .none:
            return "volume \"\(source)\" mounts a host path, which this host does not allow; use a named volume (name:/path), or ask the operator to start flotilla with --allow-host-mounts[=PREFIX]"
        case .noneOnSwarm:
            return "volume \"\(source)\" mounts a host path, which swarm mode refuses: the manager cannot check a worker's disk; use a named volume (name:/path), or ask the operator to add --allow-swarm-host-mounts"
        case .under(let prefixes):
            let facts = inspect(source)
            if !followsSymlinks, let prefix = prefixes.first(where: { Self.path(source, isInside: $0) }),
               let link = facts.links.first(where: { Self.path($0, isInside: prefix) && $0 != Self.trimmed(prefix) }) {
                return "volume \"\(source)\" passes through the symbolic link \(link) below the allowed folder \(prefix), which could point anywhere; mount the real folder, or ask the operator to start flotilla with --allow-mount-symlinks"
            }
            if prefixes.contains(where: { Self.path(facts.real, isInside: $0) }) { return nil }
            let shown = facts.real == source ? "" : " (really \(facts.real))"
            return "volume \"\(source)\"\(shown) is outside the host paths this host allows to mount (\(prefixes.joined(separator: ", "))); use a named volume or a path under one of them"
        }
    }

    /// `path` is `prefix` or below it, on segment boundaries.
    public static func path(_ path: String, isInside prefix: String) -> Bool {
        let base = trimmed(prefix)
        if base == "/" { return path.hasPrefix("/") }
        return path == base || path.hasPrefix(base + "/")
    }

    static func trimmed(_ prefix: String) -> String {
        prefix.count > 1 && prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
    }
}
