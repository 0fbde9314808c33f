/// One `host` + `path` that the reverse proxy serves from a service.
public struct Route: Sendable, Hashable, Codable {
    public var host: String
    public var path: String
    /// The proxy removes the matched `path` prefix before forwarding (`/api/users` → `/users`).
    public var stripPrefix: Bool

    public init(host: String, path: String = "/", stripPrefix: Bool = false) {
        self.host = host
        self.path = path
        self.stripPrefix = stripPrefix
    }

    /// What must be unique across the directory: one service per host + path.
    public var key: String { host + path }

    enum CodingKeys: String, CodingKey { case host, path, stripPrefix = "strip_prefix" }
}
