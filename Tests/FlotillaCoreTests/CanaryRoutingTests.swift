@testable import FlotillaCore
import Testing

/// Weighted routes during a canary release, and prefix stripping, in every renderer.
@Suite("Canary weights and strip_prefix in every renderer")
struct CanaryRoutingTests {
    static let shop = ServiceSpec(name: "shop", image: "x", replicas: 2, port: 80, network: .host,
                                  routes: [Route(host: "shop.test", path: "/api", stripPrefix: true)],
                                  update: UpdatePolicy(strategy: .canary, canary: CanaryPolicy(replicas: 1, weight: 20)))

    static func replica(_ n: Int, hash: String, role: ReplicaRole = .regular) -> ObservedContainer {
        ObservedContainer(id: "s\(n)", name: "p-shop-\(n)", service: "shop", specHash: hash, state: .running, created: Int64(n), hostPort: 20000 + n, role: role)
    }

    static let observed = [replica(1, hash: "old"), replica(2, hash: "old"), replica(3, hash: shop.specHash, role: .canary)]
    static var table: RouteTable { RouteTable.build(services: [shop], observed: observed, ready: ["s1", "s2", "s3"]) }

    @Test func theTableWeighsCanariesAgainstTheOldReplicas() throws {
        let entry = try #require(Self.table.entries.first)
        #expect(entry.canaryPercent == 20 && entry.stripPrefix)
        #expect(entry.targets.map { "\($0.port):\($0.weight):\($0.canary)" } == ["20001:2:false", "20002:2:false", "20003:1:true"])
        // The canary's share of the total weight is the asked percent.
        let total = entry.targets.map(\.weight).reduce(0, +), canary = entry.targets.filter(\.canary).map(\.weight).reduce(0, +)
        #expect(canary * 100 == total * 20)
    }

    @Test func noSplitOutsideTheCanaryPhaseOrWithoutReadyReplicasOnBothSides() {
        // Steady: every replica weight 1.
        let steady = RouteTable.build(services: [Self.shop], observed: [Self.replica(1, hash: Self.shop.specHash)], ready: ["s1"])
        #expect(steady.entries[0].canaryPercent == nil && steady.entries[0].targets.allSatisfy { $0.weight == 1 && !$0.canary })
        // The canary is not ready yet: the old replicas take everything.
        let unready = RouteTable.build(services: [Self.shop], observed: Self.observed, ready: ["s1", "s2"])
        #expect(unready.entries[0].canaryPercent == nil && unready.entries[0].targets.count == 2)
        // Promoting (a regular replica of the new spec exists): plain round robin over all.
        let promoting = RouteTable.build(services: [Self.shop], observed: Self.observed + [Self.replica(4, hash: Self.shop.specHash)], ready: ["s1", "s2", "s3", "s4"])
        #expect(promoting.entries[0].canaryPercent == nil && promoting.entries[0].targets.allSatisfy { $0.weight == 1 })
    }

    @Test func nginxWeightsTheServersAndRewritesThePrefix() {
        let out = RouteFormat.nginx.render(Self.table, listen: "80", project: "p")
        #expect(out.contains("server 127.0.0.1:20001 weight=2 max_fails=1"))
        #expect(out.contains("server 127.0.0.1:20002 weight=2 max_fails=1"))
        #expect(out.contains("server 127.0.0.1:20003 max_fails=1 fail_timeout=2s;  # p_shop_3 canary"))
        #expect(out.contains("rewrite ^/api/?(.*)$ /$1 break;"))
    }

    @Test func haproxyWeightsTheServersAndReplacesThePathAfterRouting() {
        let out = RouteFormat.haproxy.render(Self.table, listen: "80", project: "p")
        #expect(out.contains("server p_shop_1 127.0.0.1:20001 weight 2\n"))
        #expect(out.contains("server p_shop_3 127.0.0.1:20003\n"))
        #expect(out.contains("http-request replace-path ^/api/?(.*) /\\1 if { var(txn.flotilla_route) -m int 0 }"))
        // The route is chosen before the path changes.
        let setVar = out.range(of: "set-var(txn.flotilla_route)")!, replace = out.range(of: "replace-path")!
        #expect(setVar.lowerBound < replace.lowerBound)
    }

    @Test func traefikUsesAWeightedServiceAndAStripPrefixMiddleware() {
        let out = RouteFormat.traefik.render(Self.table, listen: "80", project: "p")
        #expect(out.contains("""
            flotilla_p_shop:
              weighted:
                services:
                  - name: flotilla_p_shop_stable
                    weight: 80
                  - name: flotilla_p_shop_canary
                    weight: 20
        """))
        #expect(out.contains("    flotilla_p_shop_canary:\n      loadBalancer:\n        servers:\n          - url: \"http://127.0.0.1:20003\"\n"))
        #expect(out.contains("      middlewares:\n        - flotilla_p_strip_0\n"))
        #expect(out.contains("    flotilla_p_strip_0:\n      stripPrefix:\n        prefixes:\n          - \"/api\"\n"))
    }

    @Test func caddyRepeatsUpstreamsInProportionAndStripsThePrefix() {
        let out = RouteFormat.caddy.render(Self.table, listen: "80", project: "p")
        #expect(out.contains("\t@flotilla_0 path_regexp ^/api(/|$)\n\thandle @flotilla_0 {\n\t\turi strip_prefix /api\n"))
        #expect(out.contains("reverse_proxy 127.0.0.1:20001 127.0.0.1:20001 127.0.0.1:20002 127.0.0.1:20002 127.0.0.1:20003 {\n\t\t\tlb_policy round_robin"))
    }

    @Test func jsonCarriesWeightsAndTheSplit() {
        let out = RouteFormat.json.render(Self.table, listen: "80", project: "p")
        #expect(out.contains("\"strip_prefix\":true,\"canary_percent\":20"))
        #expect(out.contains("{\"address\":\"127.0.0.1\",\"port\":20003,\"container\":\"p-shop-3\",\"weight\":1,\"canary\":true}"))
    }
}
