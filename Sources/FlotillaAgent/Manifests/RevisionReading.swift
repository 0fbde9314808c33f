/// Reads which commit a manifest directory is at, as each manifest load does after reading the
/// files (a seam: the simulator gives it the latency of `git status`, up to 2 s, to find loads
/// that finish out of order).
///
/// Contract: returns the revision's short form (``GitRevision/description``), or nil when the
/// directory is not in a git work tree. May suspend; never throws.
public protocol RevisionReading: Sendable {
    func revision(of directory: String) async -> String?
}

/// The real one: the repository's files, and `git diff --quiet` for "dirty" (``GitRevision``).
public struct GitRevisionReader: RevisionReading {
    public init() {}
    public func revision(of directory: String) async -> String? { await GitRevision.read(directory: directory)?.description }
}
