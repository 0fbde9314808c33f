import FlotillaCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The host-wide register of which project serves each host+path through one proxy: a folder
/// of claim files, by default beside the project's first route file
/// (`<folder>/.flotilla-route-claims/`), since projects that share a proxy write their route
/// files where it includes them. One file per host+path (named by a digest of it), holding the
/// claimant's project and route file as JSON.
///
/// Behind nginx or Caddy (``exclusiveHosts``) a project also claims each of its hosts whole (a
/// claim with an empty path), and a host where another project holds any path is refused: those
/// proxies read a host from one file only.
///
/// A claim is made with `link(2)` of a finished temp file, so two projects claiming at once
/// cannot both win (two projects claiming different paths of one host at once race for the
/// host's claim); it is void once the claimant's route file is gone (the project was taken
/// down, or moved to another proxy), and released by its project when a valid load no longer
/// routes it, or by `flotilla down`.
public struct RouteClaims: Sendable {
    public let directory: String
    public let project: String
    /// This project's route file, recorded in its claims.
    public let routesFile: String
    /// The proxy reads each host from one file (``RouteFormat/readsEachHostFromOneFile``): a host
    /// belongs to one project, every path of it.
    public let exclusiveHosts: Bool

    public init(directory: String, project: String, routesFile: String, exclusiveHosts: Bool = false) {
        self.directory = directory
        self.project = project
        self.routesFile = routesFile
        self.exclusiveHosts = exclusiveHosts
    }

    /// The default folder for a route file: beside it, hidden.
    public static func defaultDirectory(forRoutesFile file: String) -> String {
        let folder = (file as NSString).deletingLastPathComponent
        return (folder.isEmpty ? "." : folder) + "/.flotilla-route-claims"
    }

    /// What other projects hold now (void claims left out): their host+path pairs, and the hosts
    /// they hold whole (claimed whole, or, with ``exclusiveHosts``, any path of).
    public func snapshot() -> ClaimedRoutes {
        var held: [String: ClaimedRoutes.Holder] = [:], hosts: [String: ClaimedRoutes.Holder] = [:]
        for (record, holder) in readAll() where holder.project != project && Self.isLive(holder) {
            if record.path.isEmpty || exclusiveHosts { hosts[record.host] = hosts[record.host] ?? holder }
            if !record.path.isEmpty { held[record.host + record.path] = holder }
        }
        return ClaimedRoutes(held, byHost: hosts)
    }

    /// Claims every route in `routes` for this project, and (`release`) gives up this project's
    /// other claims. Returns the routes another project claimed first (a load that raced this
    /// one); the caller loads again and is refused at the route.
    public func sync(routes: [Route], release: Bool) throws -> [Route] {
        try prepare()
        var lost: [Route] = []
        // A host's whole claim first: a route of a host another project holds is lost with it.
        let hosts = exclusiveHosts ? Set(routes.map(\.host)).sorted().map { Route(host: $0, path: "") } : []
        var lostHosts = Set<String>()
        for host in hosts where try !claim(host) { lostHosts.insert(host.host) }
        for route in routes {
            if lostHosts.contains(route.host) { lost.append(route); continue }
            if try !claim(route) { lost.append(route) }
        }
        if release {
            let wanted = Set((routes + hosts).map(\.key))
            for (record, holder) in readAll() where holder.project == project && !wanted.contains(record.host + record.path) {
                unlink(path(forKey: record.host + record.path))
            }
        }
        return lost
    }

    /// Gives up every claim of this project (`flotilla down`).
    public func releaseAll() {
        for (record, holder) in readAll() where holder.project == project { unlink(path(forKey: record.host + record.path)) }
    }

    // MARK: - Files

    struct Record: Codable {
        var host: String
        var path: String
        var project: String
        var routesFile: String
        enum CodingKeys: String, CodingKey { case host, path, project, routesFile = "routes_file" }
    }

    func path(forKey key: String) -> String {
        directory + "/" + String(Digests.sha256Hex(Array(key.utf8)).prefix(32)) + ".claim"
    }

    static func isLive(_ holder: ClaimedRoutes.Holder) -> Bool {
        FileManager.default.fileExists(atPath: holder.routesFile)
    }

    /// The folder, private to the daemon's user when Flotilla creates it (readable by the
    /// projects' daemons, which share the user).
    func prepare() throws {
        if mkdir(directory, 0o755) != 0 && errno != EEXIST {
            throw AtomicFile.WriteError(description: "cannot create the route claim folder \(directory): \(String(cString: strerror(errno)))")
        }
    }

    /// Whether this project holds `route` now (claimed here, already ours, or taken over from a
    /// void claim).
    func claim(_ route: Route) throws -> Bool {
        let target = path(forKey: route.key)
        let record = Record(host: route.host, path: route.path, project: project, routesFile: routesFile)
        let data = try JSONEncoder().encode(record)
        let temp = try AtomicFile.stage(data, nextTo: target, mode: 0o644)
        defer { unlink(temp) }
        if link(temp, target) == 0 { return true }
        guard errno == EEXIST else {
            throw AtomicFile.WriteError(description: "cannot claim \(route.host)\(route.path) in \(directory): \(String(cString: strerror(errno)))")
        }
        guard let existing = read(target) else {
            // Unreadable or half-gone: take it over.
            return rename(temp, target) == 0
        }
        if existing.project == project {
            if existing.routesFile != routesFile { _ = rename(temp, target) }
            return true
        }
        if Self.isLive(ClaimedRoutes.Holder(project: existing.project, routesFile: existing.routesFile)) { return false }
        return rename(temp, target) == 0  // a void claim: its route file is gone
    }

    func read(_ file: String) -> Record? {
        guard let data = FileManager.default.contents(atPath: file), data.count < 64 * 1024 else { return nil }
        return try? JSONDecoder().decode(Record.self, from: data)
    }

    /// Every claim: a route's (`path` `/…`) or a whole host's (`path` empty).
    func readAll() -> [(record: Record, holder: ClaimedRoutes.Holder)] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        return names.filter { $0.hasSuffix(".claim") }.sorted().compactMap { name in
            guard let record = read(directory + "/" + name) else { return nil }
            return (record, ClaimedRoutes.Holder(project: record.project, routesFile: record.routesFile))
        }
    }
}
