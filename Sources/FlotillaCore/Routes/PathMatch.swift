/// How a route's `path` matches request paths: by whole segments, in every format.
///
/// Contract: `/` matches every path. `/api` matches `/api` itself and everything under `/api/`,
/// never `/apiary`. A path ending in `/` (`/api/`) matches everything under it, not `/api`. Every
/// renderer expresses exactly this with its proxy's own matchers: an exact match on ``exact``
/// (when there is one) or a plain prefix match on ``prefix``.
///
/// With `strip_prefix`, ``strippedPrefix`` is removed and an empty rest becomes `/`: `/api/users`
/// reaches the service as `/users`, `/api` and `/api/` as `/`.
public struct PathMatch: Sendable, Hashable {
    /// The one path matched exactly (`/api`), or nil when ``prefix`` covers everything matched.
    public var exact: String?
    /// Every request path starting with this matches; it always ends with `/`.
    public var prefix: String
    /// What `strip_prefix` removes: the path without a trailing `/` (empty for `/`).
    public var strippedPrefix: String

    public init(path: String) {
        if path.hasSuffix("/") {
            exact = nil
            prefix = path
            strippedPrefix = String(path.dropLast())
        } else {
            exact = path
            prefix = path + "/"
            strippedPrefix = path
        }
    }

    /// Whether `requestPath` (without the query string) is served by the route.
    public func matches(_ requestPath: String) -> Bool {
        requestPath == exact || requestPath.hasPrefix(prefix)
    }

    /// The path the service receives when the route strips its prefix (`requestPath` must match).
    public func stripped(_ requestPath: String) -> String {
        let rest = requestPath.dropFirst(strippedPrefix.count)
        return rest.isEmpty ? "/" : String(rest)
    }
}

extension RouteTable.Entry {
    /// How this entry's path matches requests (see ``PathMatch``).
    public var match: PathMatch { PathMatch(path: path) }
}
