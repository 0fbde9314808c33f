import FlotillaCore
import FlotillaEngine
import Foundation
import Logging

/// Which manifest directory manages a project, and what the project is called: a project is
/// touched only from the directory that manages it (two checkouts with one name never prune
/// each other).
extension Reconciler {
    /// The manifest directory's absolute path, its parent's symlinks resolved but not its own
    /// name: a git-sync `current -> rev-abc` link keeps one identity across revisions.
    public static func source(of directory: String) -> String {
        let url = URL(fileURLWithPath: directory).standardizedFileURL
        let parent = url.deletingLastPathComponent().resolvingSymlinksInPath().path
        return (parent == "/" ? "" : parent) + "/" + url.lastPathComponent
    }

    public struct OwnershipError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Who manages the project: the owner marker on the engine, or its containers' source labels.
    public func ownership() async throws -> ProjectOwnership {
        let recorded = try await engine.projectOwner(project: project)
        if recorded != nil { return ProjectOwnership.decide(recorded: recorded, containerSources: [], source: source) }
        let containers = try await engine.listContainers(label: OwnershipLabel.project, value: project)
        return ProjectOwnership.decide(recorded: nil, containerSources: containers.map(\.source), source: source)
    }

    /// Makes sure this manifest directory manages the project, recording it when nobody does
    /// (`claim`), or moving the project here on purpose (`takeOver`). Throws, naming both
    /// directories, when another one manages it.
    public func claimOwnership(claim: Bool = true, takeOver: Bool = false) async throws {
        switch try await ownership() {
        case .ours:
            return
        case .unclaimed:
            guard claim else { return }
            try await engine.setProjectOwner(project: project, source: source)
            // Two directories claiming at once: the engine keeps the first volume; the other loses.
            if let owner = try await engine.projectOwner(project: project), owner != source {
                throw OwnershipError(description: "project \"\(project)\" was just claimed by \(owner); give this directory its own --project")
            }
        case .foreign(let owner):
            guard takeOver else {
                throw OwnershipError(description: "project \"\(project)\" is managed from \(owner), not from \(source); "
                    + "give this directory its own --project, or pass --take-over to move the project here on purpose")
            }
            guard claim else { return }
            try await engine.setProjectOwner(project: project, source: source)
            logger.warning("project taken over", metadata: ["project": "\(project)", "from": "\(owner)", "to": "\(source)"])
        }
    }

    /// The default project name: the manifest directory's own name, as a DNS label.
    public static func defaultProject(for directory: String) -> String {
        // Not resolving symlinks: with git-sync's `current -> rev-abc`, the project is "current".
        let url = URL(fileURLWithPath: directory).standardizedFileURL
        return sanitizeProject(url.lastPathComponent)
    }

    public static func sanitizeProject(_ name: String) -> String {
        var label = String(name.lowercased().map { ($0.isASCII && ($0.isLetter || $0.isNumber)) ? $0 : "-" })
        while label.hasPrefix("-") { label.removeFirst() }
        while label.hasSuffix("-") { label.removeLast() }
        if label.isEmpty { label = "default" }
        return String(label.prefix(40))
    }
}
