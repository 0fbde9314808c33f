import FlotillaCore
import Foundation
import Testing

/// The fields added for serving: health roles, canary updates, route hosts/paths/strip_prefix,
/// values from files, resources, restart policy, ports and networks.
@Suite("Service decoding: the serving fields")
struct ServingSpecDecoderTests {
    let base = minimal + "port: 8080\n"

    @Test func healthHasTwoRolesAndTheOriginalFormMeansBoth() throws {
        let both = try #require(desired(base + "health: { http: /healthz, interval: 2s }\n").services.first)
        #expect(both.readiness == HealthCheck(probe: .http(path: "/healthz"), interval: .seconds(2)))
        #expect(both.liveness == both.readiness)

        let split = try #require(desired(base + """
        health:
          readiness: { http: /ready, interval: 1s, retries: 2 }
          liveness: { tcp: true, interval: 10s, retries: 3, start_period: 30s }
        """).services.first)
        #expect(split.readiness == HealthCheck(probe: .http(path: "/ready"), interval: .seconds(1), retries: 2))
        #expect(split.liveness == HealthCheck(probe: .tcp, interval: .seconds(10), retries: 3, startPeriod: .seconds(30)))

        let onlyLiveness = try #require(desired(base + "health: { liveness: { tcp: true } }\n").services.first)
        #expect(onlyLiveness.readiness == nil && onlyLiveness.liveness?.probe == .tcp)

        #expect(errors(base + "health: { readiness: { tcp: true }, http: /x }\n")
            == ["svc.yaml:4:37: error: unknown key \"http\" in health (with readiness/liveness); expected one of: readiness, liveness"])
        #expect(errors(base + "health: { readines: { tcp: true } }\n").first?.contains("did you mean") == true)
        #expect(errors(base + "health: { liveness: { interval: 1s } }\n") == ["svc.yaml:4:21: error: liveness needs a probe: add \"http: /path\" or \"tcp: true\""])
    }

    @Test func canaryUpdates() throws {
        let spec = try #require(desired(minimal + "replicas: 4\nupdate: { strategy: canary, canary: { replicas: 2, weight: 25, auto_promote_after: 5m } }\n").services.first)
        #expect(spec.update.strategy == .canary)
        #expect(spec.update.canary == CanaryPolicy(replicas: 2, weight: 25, autoPromoteAfter: TimeSpan(milliseconds: 300_000)))
        let defaults = try #require(desired(minimal + "replicas: 2\nupdate: { strategy: canary }\n").services.first)
        #expect(defaults.update.canary == CanaryPolicy(replicas: 1, weight: 10))

        #expect(errors(minimal + "update: { canary: { weight: 5 } }\n") == ["svc.yaml:3:19: error: canary settings need \"strategy: canary\" in update"])
        #expect(errors(minimal + "update: { strategy: canry }\n") == ["svc.yaml:3:21: error: strategy \"canry\" is not valid; did you mean \"canary\"?"])
        #expect(errors(minimal + "replicas: 2\nupdate: { strategy: canary, canary: { weight: 100 } }\n").first?.contains("canary weight must be between 1 and 99") == true)
        #expect(errors(minimal + "replicas: 1\nupdate: { strategy: canary, canary: { replicas: 2 } }\n").first?.contains("cannot exceed replicas (1)") == true)
        #expect(errors(minimal + "update: { strategy: canary, canary: { auto_promote_after: 10ms } }\n").first?.contains("at least 1s") == true)
    }

    @Test func routesTakeSeveralHostsAndPathsAndStripPrefix() throws {
        let spec = try #require(desired(base + """
        routes:
          - hosts: [a.test, B.test]
            paths: [/api, /v2]
            strip_prefix: true
          - host: c.test
        """).services.first)
        #expect(spec.routes == [
            Route(host: "a.test", path: "/api", stripPrefix: true), Route(host: "a.test", path: "/v2", stripPrefix: true),
            Route(host: "b.test", path: "/api", stripPrefix: true), Route(host: "b.test", path: "/v2", stripPrefix: true),
            Route(host: "c.test"),
        ])
        #expect(errors(base + "routes: [{ host: a.test, hosts: [b.test] }]\n") == ["svc.yaml:4:33: error: a route takes host or hosts, not both"])
        #expect(errors(base + "routes: [{ hosts: [] }]\n") == ["svc.yaml:4:19: error: hosts must not be empty"])
        #expect(errors(base + "routes: [{ hosts: [ok.test, \"bad host\"] }]\n").first?.hasPrefix("svc.yaml:4:29: error: host \"bad host\" is not a hostname") == true)
        #expect(errors(base + "routes: [{ host: a.test, path: \"/a(b)\", strip_prefix: true }]\n").first?.contains("strip_prefix needs paths of letters") == true)
        // Conflicts are found per host and path, at the route that names the host.
        let conflict = desired(["a.yaml": base + "routes: [{ hosts: [x.test, y.test] }]\n",
                                "b.yaml": "name: api\nimage: busybox\nport: 1\nroutes:\n  - host: z.test\n  - host: y.test\n"])
        #expect(conflict.diagnostics.map(\.description) == [#"b.yaml:6:5: error: route y.test/ is already served by service "web" (a.yaml:4:10); give one of them another host or path"#])
    }

    @Test func resourcesRestartPolicyPortsAndNetworks() throws {
        let spec = try #require(desired(base + """
        resources: { memory: 256Mi, cpus: 0.5 }
        restart_policy: unless-stopped
        ports: ["9100", "127.0.0.1:9443:443", "0.0.0.0:5353:53/udp"]
        networks: [backend, { name: front, aliases: [api, Api.internal] }]
        """).services.first)
        #expect(spec.resources == Resources(memoryBytes: 256 << 20, nanoCPUs: 500_000_000))
        #expect(spec.restartPolicy == .unlessStopped)
        #expect(spec.ports == [PortMapping(container: 9100), PortMapping(container: 443, host: 9443),
                               PortMapping(container: 53, host: 5353, address: "0.0.0.0", proto: .udp)])
        #expect(spec.networks == [NetworkAttachment(name: "backend"), NetworkAttachment(name: "front", aliases: ["api", "api.internal"])])

        // The other spellings: port mappings and compose's networks mapping.
        let other = try #require(desired(base + """
        ports: [9100, { container: 53, host: 5353, address: 0.0.0.0, protocol: udp }]
        networks: { backend: { aliases: [db] }, front: null }
        """).services.first)
        #expect(other.ports == [PortMapping(container: 9100), PortMapping(container: 53, host: 5353, address: "0.0.0.0", proto: .udp)])
        #expect(other.networks == [NetworkAttachment(name: "backend", aliases: ["db"]), NetworkAttachment(name: "front")])
        #expect(errors(minimal + "ports: [{ host: 1 }]\n").first?.contains("missing required key \"container\"") == true)
        #expect(errors(minimal + "ports: [{ container: 1, protocol: sctp }]\n").first?.contains("protocol \"sctp\" is not valid") == true)
        #expect(errors(minimal + "networks: { host: null }\n").first?.contains("must match") == true)

        #expect(Resources.parseMemory("64MiB") == 64 << 20 && Resources.parseMemory("1GB") == 1_000_000_000 && Resources.parseMemory("2b") == 2)
        let limited = try #require(desired(minimal + "restart_policy: on-failure:3\n").services.first)
        #expect(limited.restartPolicy == .onFailure && limited.restartMaxRetries == 3)
        #expect(limited.canonicalContainerForm.contains("restart_policy=\"on-failure:3\""))
        #expect(errors(minimal + "restart_policy: on-failure:x\n").first?.contains("needs a retry count") == true)
        #expect(Resources.parseMemory("1Gi") == 1 << 30 && Resources.parseMemory("512M") == 512_000_000 && Resources.parseMemory("64m") == 64 << 20)
        #expect(Resources.parseMemory("lots") == nil && Resources.parseMemory("-1Mi") == nil && Resources.parseMemory("99999999999999Ti") == nil)
        #expect(errors(minimal + "resources: { memory: 1k }\n").first?.contains("memory must be a size of at least 6Mi") == true)
        #expect(errors(minimal + "resources: { cpus: \"half\" }\n").first?.contains("cpus must be a number of cores") == true)
        #expect(errors(minimal + "resources: { disk: 1Gi }\n").first?.contains("unknown key \"disk\" in resources") == true)
        #expect(errors(minimal + "restart_policy: sometimes\n").first?.contains("restart_policy \"sometimes\" is not valid") == true)
        #expect(errors(minimal + "ports: [\"70000\"]\n").first?.contains("must be \"CONTAINER\"") == true)
        #expect(errors(minimal + "ports: [\"1.2.3:80:80\"]\n").count == 1)
        #expect(errors(minimal + "replicas: 2\nports: [\"9000:9000\"]\n").first?.contains("can be bound by one replica only") == true)
        #expect(errors(minimal + "ports: [\"80\", \"80/tcp\"]\n").first?.contains("listed twice") == true)
        #expect(errors(minimal + "network: host\nports: [\"80\"]\n").first?.contains("not published with \"network: host\"") == true)
        #expect(errors(minimal + "network: host\nnetworks: [a]\n").first?.contains("cannot be joined with \"network: host\"") == true)
        #expect(errors(minimal + "networks: [host]\n").first?.contains("must match") == true)
        #expect(errors(minimal + "networks: [{ name: a, aliases: [\"*.x\"] }]\n").first?.contains("alias \"*.x\" is not a DNS name") == true)
    }

    @Test func valuesFromFilesAreSecretsKnownOnlyByDigest() throws {
        let files = ["app.env": "# comment\nexport A=1\nB=\"two words\"\n\nC='x=y'\n", "secrets/token": "s3cret-value\n"]
        let state = desired(["svc.yaml": base + "env_file: app.env\nsecrets: { TOKEN: { file: secrets/token } }\n"], secretFiles: files)
        let spec = try #require(state.services.first)
        #expect(spec.secrets.mapValues(\.value) == ["A": "1", "B": "two words", "C": "x=y", "TOKEN": "s3cret-value"])
        #expect(spec.env.isEmpty)

        // Never in clear: not in the description, the JSON encoding, the canonical form or the labels.
        let blueprint = ContainerBlueprint(spec: spec, project: "p", hostPort: nil)
        #expect(blueprint.env["TOKEN"] == "s3cret-value")  // only the container gets it
        let json = String(decoding: try JSONEncoder().encode(spec), as: UTF8.self)
        for shown in [json, spec.canonicalContainerForm, "\(spec)", String(describing: spec.secrets), blueprint.labels.values.joined(separator: " ")] {
            #expect(!shown.contains("s3cret-value") && !shown.contains("two words"), "\(shown)")
        }
        #expect(spec.canonicalContainerForm.contains("secret.TOKEN=\"hmac-sha256:"))

        // A changed value changes the hash (the container is replaced); the same value does not.
        let changed = try #require(desired(["svc.yaml": base + "secrets: { TOKEN: { file: t } }\n"], secretFiles: ["t": "other"]).services.first)
        let same = try #require(desired(["svc.yaml": base + "secrets: { TOKEN: { file: t } }\n"], secretFiles: ["t": "other\n"]).services.first)
        let original = try #require(desired(["svc.yaml": base + "secrets: { TOKEN: { file: t } }\n"], secretFiles: ["t": "s3cret-value"]).services.first)
        #expect(changed.specHash != original.specHash)
        #expect(changed.specHash == same.specHash)

        // Errors name the manifest position, never the content.
        #expect(desired(["svc.yaml": base + "secrets: { TOKEN: { file: missing } }\n"]).diagnostics.map(\.description)
            == ["svc.yaml:4:27: error: secret TOKEN file \"missing\": missing does not exist"])
        let badEnv = desired(["svc.yaml": base + "env_file: bad.env\n"], secretFiles: ["bad.env": "OK=1\nnot a pair\n"]).diagnostics.map(\.description)
        #expect(badEnv == ["svc.yaml:4:11: error: env_file \"bad.env\" line 2: expected KEY=VALUE"])
        #expect(errors(base + "env: { TOKEN: x }\nsecrets: { TOKEN: { file: t } }\n").contains { $0.contains("TOKEN is set both in env and from a file") } == false)
        let twice = desired(["svc.yaml": base + "env: { TOKEN: x }\nsecrets: { TOKEN: { file: t } }\n"], secretFiles: ["t": "v"]).diagnostics.map(\.description)
        #expect(twice == ["svc.yaml:4:8: error: TOKEN is set both in env and from a file (env_file or secrets); keep one"])
        #expect(errors(base + "secrets: { TOKEN: \"literal\" }\n").first?.contains("secret TOKEN must be a mapping") == true)
    }
}
