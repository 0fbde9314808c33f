/// Which host paths a manifest may bind-mount into a container. The operator decides it
/// (`--allow-host-mounts`), never a manifest: anyone who can push to the manifest repository
/// could otherwise mount `/`, `/etc` or the engine's socket into a container and own the host.
///
/// Named volumes (`data:/var/lib/x`) are always allowed; a host path (`/srv/x:/x`) is refused
/// unless the operator allowed every host path or a prefix that holds it. Prefixes match whole
/// path segments (`/srv/data` holds `/srv/data/x`, not `/srv/database`), and the source is checked
/// as the engine will see it: after ``resolve`` follows its symlinks.
public struct MountPolicy: Sendable {
    public enum Allowed: Sendable, Hashable {
        /// No host paths (the default).
        case none
        /// Any host path (`--allow-host-mounts` alone).
        case any
        /// Host paths under these absolute prefixes (`--allow-host-mounts=/srv/data,/var/log/app`).
        case under([String])
    }

    public var allowed: Allowed
    /// The real path of a host path (symlinks followed, as far as the path exists). The agent
    /// passes one that asks the file system; the default leaves the path as written.
    public var resolve: @Sendable (String) -> String

    public init(allowed: Allowed, resolve: @escaping @Sendable (String) -> String = { $0 }) {
        self.allowed = allowed
        self.resolve = resolve
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
        case .under(let prefixes):
            let real = resolve(source)
            if prefixes.contains(where: { Self.path(real, isInside: $0) }) { return nil }
            let shown = real == source ? "" : " (really \(real))"
            return "volume \"\(source)\"\(shown) is outside the host paths this host allows to mount (\(prefixes.joined(separator: ", "))); use a named volume or a path under one of them"
        }
    }

    /// `path` is `prefix` or below it, on segment boundaries.
    public static func path(_ path: String, isInside prefix: String) -> Bool {
        let base = prefix.count > 1 && prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
        if base == "/" { return path.hasPrefix("/") }
        return path == base || path.hasPrefix(base + "/")
    }
}
