import FlotillaEngine

/// A named network or volume this project may not use: another project's, or one Flotilla did
/// not create that the operator did not allow.
struct ResourceRefused: Error, CustomStringConvertible {
    var description: String

    static func problem(kind: String, name: String, owner: ResourceOwner, project: String, allowed: Set<String>) -> String? {
        if allowed.contains(name) { return nil }
        switch owner {
        case .missing: return nil
        case .project(project): return nil
        case .project(let other):
            return "\(kind) \"\(name)\" belongs to project \"\(other)\"; use a \(kind) of this project's own (another name), or ask the operator to allow it with --allow-\(kind) \(name)"
        case .unlabelled:
            return "\(kind) \"\(name)\" exists but was not created by Flotilla for this project; use another name (Flotilla creates it), or ask the operator to allow it with --allow-\(kind) \(name)"
        }
    }
}
