/// A named network a service joins, with the extra DNS names (aliases) its replicas answer to
/// on it. Flotilla creates a missing network (labelled as its own) and removes only those.
public struct NetworkAttachment: Sendable, Hashable, Codable {
    public var name: String
    public var aliases: [String]

    public init(name: String, aliases: [String] = []) {
        self.name = name
        self.aliases = aliases
    }
}
