import FlotillaAgent
import FlotillaCore
import FlotillaEngine
import Foundation
import Testing

/// The serving fields on the real engine: what reaches the container, canary releases through
/// the CLI, rollback markers.
@Suite("Serving on a real engine", .enabled(if: TestEngine.available, "needs FLOTILLA_TEST_ENGINE (run scripts/test)"), .serialized)
struct ServingIntegrationTests {
    @Test func resourcesRestartPolicyPortsNetworksAndSecretsReachTheEngine() async throws {
        let s = try await Scenario("fields", ports: 22500...22599)
        defer { Task { await s.cleanup() } }
        let net = "\(s.project)-back"
        try s.write("token", "s3cret-token\n")
        try s.write("app.env", "MODE=canary-test\n")
        let manifest = { (extra: String) in """
            name: api
            image: \(TestEngine.image)
            command: ["/bin/httpd", "-f", "-p", "8080", "-h", "/www"]
            port: 8080
            stop_timeout: 1s
            resources: { memory: 64Mi, cpus: 0.5 }
            restart_policy: on-failure:3
            ports: ["9100"]
            networks: [\(s.project)-front, { name: \(net), aliases: [api.internal] }]
            env_file: app.env
            secrets: { TOKEN: { file: token } }
            \(extra)
            """ }
        try s.write("api.yaml", manifest(""))
        let report = try await s.apply()
        #expect(report.succeeded, "\(report.failures)")
        let c = try #require(try await s.containers("api").first)
        let inspect = try await s.engine.inspectContainer(c.id)
        let host = try #require(inspect["HostConfig"] as? [String: Any])
        #expect((host["Memory"] as? NSNumber)?.int64Value == 64 << 20)
        #expect((host["NanoCpus"] as? NSNumber)?.int64Value == 500_000_000)
        #expect((host["RestartPolicy"] as? [String: Any])?["Name"] as? String == "on-failure")
        #expect(((host["RestartPolicy"] as? [String: Any])?["MaximumRetryCount"] as? NSNumber)?.intValue == 3)
        let bindings = host["PortBindings"] as? [String: [[String: Any]]]
        #expect(bindings?["9100/tcp"]?.first?["HostIp"] as? String == "127.0.0.1")
        #expect(bindings?["8080/tcp"]?.first?["HostIp"] as? String == "127.0.0.1")
        // The routed port is told apart from the extra one.
        #expect(c.hostPort == (try await s.engine.publishedPort(of: c.id, containerPort: 8080)))
        // No health check here: apply returns once the replica runs, and httpd may take a moment
        // to listen on loaded CI cores (seen once): up to 10 s for the first 200.
        var answered = false
        for _ in 0..<50 where !answered {
            answered = await httpGet(port: c.hostPort!)?.0 == 200
            if !answered { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(answered, "the routed port answers")
        let networks = try #require((inspect["NetworkSettings"] as? [String: Any])?["Networks"] as? [String: [String: Any]])
        #expect(Set(networks.keys) == ["\(s.project)-front", net])
        let aliases = Set(networks[net]?["Aliases"] as? [String] ?? [])
        #expect(aliases.isSuperset(of: ["api", "api.internal"]), "\(aliases)")
        #expect(Set(try await s.engine.ownedNetworks(project: s.project)) == ["\(s.project)-front", net])
        // The secret reaches the container's environment and nothing else.
        let env = (inspect["Config"] as? [String: Any])?["Env"] as? [String] ?? []
        #expect(env.contains("TOKEN=s3cret-token") && env.contains("MODE=canary-test"))
        // Labels carry an HMAC under the host's key (kept in the state directory), not a plain
        // SHA-256 prefix that a dictionary attack on `docker inspect` output would reverse.
        let key = try #require(StateStore(directory: s.stateDirectory).loadDigestKey(), "the key is created on first use")
        #expect(c.canonicalSpec?.contains("s3cret") == false, "\(c.canonicalSpec ?? "")")
        #expect(c.canonicalSpec?.contains("secret.TOKEN=\"\(key.digest(of: "s3cret-token"))\"") == true, "\(c.canonicalSpec ?? "")")
        #expect(c.canonicalSpec?.contains(String(Digests.sha256Hex(Array("s3cret-token".utf8)).prefix(12))) == false)

        // A changed secret replaces the container; plan shows digests, never values.
        try s.write("token", "rotated-token\n")
        let (code, out, err) = try s.cli("plan", ["--format", "json"])
        #expect(code == 2, "\(err)")
        #expect(out.contains("secret.TOKEN") && !out.contains("rotated-token") && !out.contains("s3cret-token"), "\(out)")
        let (_, text, _) = try s.cli("plan")
        // The CLI reads the same key: the old digest is the one on the container.
        #expect(text.contains("secret.TOKEN: \"\(key.digest(of: "s3cret-token"))\" -> \"\(key.digest(of: "rotated-token"))\"") && !text.contains("rotated-"), "\(text)")
        #expect(try await s.apply().replaced == 1)
        let replaced = try #require(try await s.containers("api").first)
        #expect(replaced.id != c.id)

        // down removes the networks Flotilla created.
        #expect(try await s.reconciler.down() == 1)
        #expect(try await s.engine.ownedNetworks(project: s.project).isEmpty)
        await s.cleanup()
    }

    @Test func canaryPromoteAndRollbackThroughTheCLI() async throws {
        let s = try await Scenario("canary", ports: 22600...22699)
        defer { Task { await s.cleanup() } }
        let canary = "update: { strategy: canary, canary: { replicas: 1, weight: 20 } }"
        try s.write("web.yaml", Scenario.httpService("web", replicas: 2, body: "v1", extra: canary))
        #expect(try await s.apply().created == 2)
        func bodies() async throws -> [String] {
            var result: [String] = []
            for c in try await s.containers("web").sorted(by: ObservedContainer.olderFirst) {
                result.append((await httpGet(port: c.hostPort!)?.1 ?? "?").trimmingCharacters(in: .whitespacesAndNewlines))
            }
            return result
        }
        #expect(try s.cli("promote", ["web"]).0 == 1)  // nothing to promote yet

        // A spec change starts one canary beside the two old replicas, labelled as such.
        try s.write("web.yaml", Scenario.httpService("web", replicas: 2, body: "v2", extra: canary))
        let started = try await s.apply()
        #expect(started.created == 1 && started.removed == 0)
        let roles = try await s.containers("web").map(\.role)
        #expect(roles.filter { $0 == .canary }.count == 1 && roles.count == 3)
        #expect(try await bodies().sorted() == ["v1", "v1", "v2"])
        #expect(!(try await s.plan().hasChanges))  // waits for a decision

        // promote: only new replicas are left.
        let (code, out, err) = try s.cli("promote", ["web"])
        #expect(code == 0, "\(err)")
        #expect(out.contains("promoted web"))
        #expect(try await bodies() == ["v2", "v2"])
        #expect(!(try await s.plan().hasChanges))

        // Next release, rolled back: only the old ones are left, and nothing brings the canary back.
        try s.write("web.yaml", Scenario.httpService("web", replicas: 2, body: "v3", extra: canary))
        #expect(try await s.apply().created == 1)
        #expect(try await bodies().sorted() == ["v2", "v2", "v3"])
        let rollback = try s.cli("rollback", ["web"])
        #expect(rollback.0 == 0, "\(rollback.2)")
        #expect(try await bodies() == ["v2", "v2"])
        #expect(try await s.engine.rollbackMarkers(project: s.project)["web"] != nil)
        let again = try await s.apply()
        #expect(again.created == 0 && again.removed == 0)
        #expect(try await s.plan().services[0].phase == .rolledBack)
        #expect(try s.cli("rollback", ["web"]).0 == 1)  // nothing left to roll back

        // The next edit clears the marker and starts a new canary.
        try s.write("web.yaml", Scenario.httpService("web", replicas: 2, body: "v4", extra: canary))
        #expect(try await s.apply().created == 1)
        #expect(try await s.engine.rollbackMarkers(project: s.project).isEmpty)
        #expect(try await bodies().sorted() == ["v2", "v2", "v4"])

        // A canary that cannot become ready is rolled back by itself.
        try s.write("web.yaml", Scenario.httpService("web", replicas: 2, body: "v5", extra: canary)
            .replacingOccurrences(of: "exec /bin/httpd", with: "exit 3; exec /bin/httpd"))
        let failed = try await s.apply()
        #expect(!failed.succeeded)
        #expect(try await s.engine.rollbackMarkers(project: s.project)["web"] != nil)
        #expect(try await s.plan().services[0].phase == .rolledBack)
        await s.cleanup()
        #expect(try await s.engine.rollbackMarkers(project: s.project).isEmpty)
    }

    @Test func commandsWaitForTheProjectsReconcileLock() async throws {
        let s = try await Scenario("lock", ports: 22700...22799)
        defer { Task { await s.cleanup() } }
        try s.write("web.yaml", Scenario.httpService("web"))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestEngine.binary)
        process.arguments = ["apply", s.directory, "--engine", TestEngine.endpoint!, "--project", s.project, "--state-dir", s.stateDirectory, "--port-range", "22700-22799"]
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        // While another process (this test) holds the lock, apply waits and changes nothing.
        try await s.reconciler.lock.withLock(logger: s.reconciler.logger) {
            try process.run()
            try await Task.sleep(for: .seconds(2))
            #expect(process.isRunning)
            #expect(try await s.containers().isEmpty)
        }
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(stderr)")
        #expect(stderr.contains("waiting for another flotilla working on this project"))
        #expect(try await s.containers("web").count == 1)
        await s.cleanup()
    }
}
