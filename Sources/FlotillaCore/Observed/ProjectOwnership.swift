/// Who manages a project on this host. A project is named after its manifest directory by
/// default, so two checkouts that are both called `manifests` would otherwise share one project
/// and prune each other's containers as orphans. Each project therefore records its *source* (the
/// manifest directory's absolute path) on the engine and on every container, and a source never
/// touches a project recorded for another one unless the operator moves it (`--take-over`).
public enum ProjectOwnership: Sendable, Hashable {
    /// Recorded for this source.
    case ours
    /// Nothing recorded and no container says otherwise: this source may claim it.
    case unclaimed
    /// Managed from another source.
    case foreign(owner: String)

    /// - Parameters:
    ///   - recorded: the source recorded on the engine for the project, if any.
    ///   - containerSources: the source label of each of the project's containers (nil on
    ///     containers created before sources were recorded; they belong to whoever claims).
    ///   - source: this manifest directory.
    public static func decide(recorded: String?, containerSources: [String?], source: String) -> ProjectOwnership {
        if let recorded { return recorded == source ? .ours : .foreign(owner: recorded) }
        if let other = containerSources.compactMap({ $0 }).first(where: { $0 != source }) { return .foreign(owner: other) }
        return .unclaimed
    }
}
