/// The hosts and paths other projects on this host already serve through the same proxy (a
/// snapshot of the claim folder, read once per load). A manifest routing one of them is refused
/// at its route, with the holder named: the project that claimed it first keeps serving.
public struct ClaimedRoutes: Sendable, Equatable {
    /// Who holds a host+path.
    public struct Holder: Sendable, Equatable, Codable {
        public var project: String
        /// The holder's route file (a claim whose route file is gone is void).
        public var routesFile: String

        public init(project: String, routesFile: String) {
            self.project = project
            self.routesFile = routesFile
        }

        enum CodingKeys: String, CodingKey { case project, routesFile = "routes_file" }
    }

    /// ``Route/key`` → its holder, other projects only.
    public var byKey: [String: Holder]
    /// Hosts another project holds whole: no path of them may be routed here. Behind a proxy
    /// that reads each host from one file (nginx, Caddy; see
    /// ``RouteFormat/readsEachHostFromOneFile``) a second project's paths on a host would be
    /// ignored (nginx) or break the whole configuration (Caddy), distinct paths or not.
    public var byHost: [String: Holder]

    public init(_ byKey: [String: Holder] = [:], byHost: [String: Holder] = [:]) {
        self.byKey = byKey
        self.byHost = byHost
    }
}
