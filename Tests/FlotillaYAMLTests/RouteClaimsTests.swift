@testable import FlotillaAgent
import FlotillaCore
import FlotillaYAML
import Foundation
import Testing

/// Issue 26: the claims of projects that feed one proxy, on a real claim folder.
@Suite("Route claims across projects")
struct RouteClaimsTests {
    /// A claim folder and two projects' route files beside it (a claim is void without its file).
    struct Proxy {
        let dir = NSTemporaryDirectory() + "flotilla-claims-\(UUID().uuidString.prefix(8))"

        init() throws {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for project in ["a", "b"] { try "".write(toFile: dir + "/\(project).conf", atomically: true, encoding: .utf8) }
        }

        func claims(_ project: String, exclusiveHosts: Bool) -> RouteClaims {
            RouteClaims(directory: dir + "/claims", project: project, routesFile: dir + "/\(project).conf", exclusiveHosts: exclusiveHosts)
        }

        func remove() { try? FileManager.default.removeItem(atPath: dir) }
    }

    /// `b.yaml` routing `b.test/` and `shop.test/web`, loaded against `claimed`.
    static func loadB(_ claimed: ClaimedRoutes) -> DesiredState {
        let text = "name: web\nimage: busybox\nport: 80\nroutes:\n  - host: b.test\n  - host: shop.test\n    path: /web\n"
        let (documents, diagnostics) = YAMLDocumentParser().parse(Array(text.utf8), file: "b.yaml")
        return DesiredState(files: [ManifestFile(path: "b.yaml", documents: documents, diagnostics: diagnostics)], claimedRoutes: claimed)
    }

    /// Behind nginx or Caddy a host is one project's, every path of it: project `b` asking for
    /// `shop.test/web` while `a` serves `shop.test/api` is refused at the route, naming `a` (before,
    /// only the same host+path was refused: nginx then ignored b's server block for shop.test,
    /// and Caddy refused the whole configuration). A load racing `a`'s claim loses it at `sync`.
    /// Once `a` gives the host up, `b` gets it.
    @Test func behindNginxOrCaddyAHostBelongsToOneProjectWhateverThePath() throws {
        let proxy = try Proxy()
        defer { proxy.remove() }
        let a = proxy.claims("a", exclusiveHosts: true), b = proxy.claims("b", exclusiveHosts: true)
        #expect(try a.sync(routes: [Route(host: "shop.test", path: "/api")], release: true).isEmpty)

        let seen = b.snapshot()
        #expect(seen.byHost["shop.test"]?.project == "a" && seen.byHost["b.test"] == nil)
        let state = Self.loadB(seen)
        #expect(state.diagnostics.map(\.description) == [
            "b.yaml:7:11: error: route shop.test/web: host shop.test is already served by project \"a\" on this host (its route file \(proxy.dir)/a.conf), "
                + "and nginx and Caddy read each host from one project's file, whatever the paths (nginx ignores a second server block of a name, Caddy refuses two site blocks of one address): "
                + "give this service another host, or have project \"a\" drop its routes on shop.test first",
        ])
        // A load that did not see a's claim yet: the host's claim is lost, and with it the route.
        #expect(try b.sync(routes: [Route(host: "b.test"), Route(host: "shop.test", path: "/web")], release: true) == [Route(host: "shop.test", path: "/web")])
        #expect(b.snapshot().byHost["shop.test"]?.project == "a")
        #expect(a.snapshot().byHost["b.test"]?.project == "b" && a.snapshot().byHost["shop.test"] == nil)

        // a no longer routes shop.test: the host is free, and b's claim of it holds.
        #expect(try a.sync(routes: [], release: true).isEmpty)
        #expect(b.snapshot() == ClaimedRoutes())
        #expect(Self.loadB(b.snapshot()).isValid)
        #expect(try b.sync(routes: [Route(host: "b.test"), Route(host: "shop.test", path: "/web")], release: true).isEmpty)
        #expect(a.snapshot().byHost["shop.test"]?.project == "b")
    }

    /// Traefik and JSON consumers route by host and path: two projects may share a host by
    /// path, and only the same host+path is refused.
    @Test func otherProxiesShareAHostByPath() throws {
        let proxy = try Proxy()
        defer { proxy.remove() }
        let a = proxy.claims("a", exclusiveHosts: false), b = proxy.claims("b", exclusiveHosts: false)
        #expect(try a.sync(routes: [Route(host: "shop.test", path: "/api")], release: true).isEmpty)
        let seen = b.snapshot()
        #expect(seen.byHost.isEmpty && seen.byKey["shop.test/api"]?.project == "a")
        #expect(Self.loadB(seen).isValid)
        #expect(try b.sync(routes: [Route(host: "shop.test", path: "/web")], release: true).isEmpty)
        #expect(try b.sync(routes: [Route(host: "shop.test", path: "/api")], release: true) == [Route(host: "shop.test", path: "/api")])
    }
}
