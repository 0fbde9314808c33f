import FlotillaCore
import Foundation
import Testing

/// What every proxy must do with Flotilla's routes, checked with real requests through it: every
/// replica is reached; `/api` serves `/api` and `/api/…` but not `/apiary`; `strip_prefix`
/// forwards `/api/users` as `/users` and `/api` as `/`; a route with zero ready targets answers
/// 503; a canary release sends the canary roughly its share.
enum ProxyRoutingScenario {
    static let host = "shop.example.test"

    /// A busybox replica serving `files` (name → content, `PORT` expanded) from /w, answering
    /// `/healthz` when `healthy`. It takes a second to listen.
    static func service(_ name: String, replicas: Int, route: String, files: [String: String], healthy: Bool = true, extra: String = "") -> String {
        let writes = files.sorted { $0.key < $1.key }.map { "echo \($0.value) > /w/\($0.key)" }.joined(separator: " && ")
        return """
        name: \(name)
        image: \(TestEngine.image)
        command: ["/bin/sh", "-c", "mkdir -p /w && \(writes)\(healthy ? " && echo ok > /w/healthz" : "") && sleep 1 && exec /bin/httpd -f -p ${PORT} -h /w"]
        replicas: \(replicas)
        port: 8080
        network: host
        routes: [\(route)]
        health: { http: /healthz, interval: 1s, timeout: 1s, retries: 30 }
        stop_timeout: 1s
        \(extra)
        """
    }

    /// `web` on `/` (a canary release at 10 % when its spec changes); `/apiary` is one of its pages.
    static func web(mark: String) -> String {
        service("web", replicas: 2, route: "{ host: \(host), path: / }", files: ["index.html": "web-${PORT}", "apiary": "web-apiary"],
                extra: "update: { strategy: canary, canary: { replicas: 1, weight: 10 } }\nenv: { MARK: \"\(mark)\" }")
    }

    /// `api` on `/api`, stripped. `/ary` is what a prefix match without segment boundaries would
    /// make of `/apiary`.
    static let api = service("api", replicas: 1, route: "{ host: \(host), path: /api, strip_prefix: true }",
                             files: ["index.html": "api-${PORT}", "users": "api-users", "ary": "api-ary"])

    /// Never ready (no /healthz): its route stays, with zero targets.
    static let down = service("down", replicas: 1, route: "{ host: down.example.test }", files: ["index.html": "down"], healthy: false)

    static func run(_ stack: ProxyStack, _ s: Scenario) async throws {
        try stack.write("web.yaml", web(mark: "1"))
        try stack.write("api.yaml", api)
        try stack.write("down.yaml", down)
        try await stack.start()
        let daemon: DaemonProcess = stack.daemon
        func get(_ path: String, host: String = host) async -> String {
            guard let (status, body) = await stack.get(host, path) else { return "no answer" }
            return "\(status) \(body)"
        }
        func webReplicas() async throws -> [ObservedContainer] { try await s.containers("web").filter { $0.state == .running && $0.hostPort != nil } }

        let serving = await daemon.waitUntil(timeout: .seconds(30)) {
            let web = await get("/"), api = await get("/api/")
            return web.hasPrefix("200 web-") && api.hasPrefix("200 api-")
        }
        let servingDiagnosis = serving ? "" : await stack.diagnosis()
        #expect(serving, "\(daemon.log)\n\(servingDiagnosis)")

        // Every replica is reached.
        let two = Set(try await webReplicas().map { "web-\($0.hostPort!)" })
        #expect(two.count == 2)
        // A hang guard, not a timing check: on loaded CI cores the proxy can take a while to reach both.
        let covered = await daemon.waitUntil(timeout: .seconds(60)) { Set(await stack.replies(host, "/", 20)) == two }
        let coveredDiagnosis = covered ? "" : await stack.diagnosis()
        #expect(covered, "replies should cover \(two)\n\(coveredDiagnosis)")

        // Whole segments: /apiary is web's page, never api's /ary. The prefix is stripped.
        #expect(await get("/apiary") == "200 web-apiary", "\(stack.routes)")
        #expect(await get("/api/users") == "200 api-users")
        let apiIndex = await get("/api")
        #expect(apiIndex.hasPrefix("200 api-") && apiIndex != "200 api-users" && apiIndex != "200 api-ary", "\(apiIndex)")
        #expect(await get("/api/") == apiIndex)

        // Zero ready targets: 503.
        #expect(await get("/", host: "down.example.test").hasPrefix("503"), "\(stack.routes)")

        // A canary release at 10 %: the canary joins once ready and gets about its share.
        try stack.write("web.yaml", web(mark: "2"))
        var canaryPort: Int?
        #expect(await daemon.waitUntil(timeout: .seconds(30)) {
            canaryPort = (try? await webReplicas())?.first { $0.role == .canary }?.hostPort
            guard let canaryPort else { return false }
            return await stack.replies(host, "/", 20).contains("web-\(canaryPort)")
        }, "\(daemon.log)\n\(stack.routes)")
        let (replies, misses) = await stack.tally(host, "/", 200)
        let canary = replies.filter { $0 == "web-\(canaryPort ?? -1)" }.count
        #expect(misses.isEmpty, "\(misses.joined(separator: "\n"))\n\(stack.routes)\n\(stack.log)\n\(daemon.log)")
        #expect((2...80).contains(canary), "canary got \(canary) of \(replies.count): \(Dictionary(grouping: replies, by: { $0 }).mapValues(\.count)) \(stack.routes)")
        #expect(Set(replies) == two.union(["web-\(canaryPort ?? -1)"]))

        // Checked candidates only: no temp file is left next to the route file.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: stack.proxyDir).filter { $0.hasSuffix(".tmp") }
        #expect(leftovers.isEmpty, "\(leftovers)")
        #expect(!daemon.log.contains("failed the proxy's check") && !daemon.log.contains("proxy reload failed"), "\(daemon.log)")
        #expect(await stack.stop() == 0)
    }
}
