import FlotillaCore
import Testing

@Suite("Service decoding: every field, every rule, every position")
struct ServiceDecoderTests {
    @Test func fullExampleDecodesWithEveryField() throws {
        let state = desired([
            "web.yaml": """
            name: web
            image: localhost/flotilla-test:busybox
            command: ["/bin/httpd", "-f", "-p", "${PORT}"]
            replicas: 2
            port: 8080
            network: host
            env: { LOG_LEVEL: info, DEBUG: true, WORKERS: 4 }
            routes:
              - host: Web.Example.test
                path: /
              - host: "*.example.test"
            health:
              http: /healthz
              interval: 5s
              timeout: 2s
              retries: 3
              start_period: 1m30s
            update: { order: stop-first, parallelism: 2 }
            stop_timeout: 10s
            depends_on: [db]
            labels: { team: web }
            volumes: ["/srv/web:/data:ro"]
            pull: never
            """,
            "db.yml": "name: db\nimage: busybox\n",
        ])
        #expect(state.diagnostics == [])
        let web = try #require(state.services.first { $0.name == "web" })
        #expect(web.command == ["/bin/httpd", "-f", "-p", "${PORT}"])
        #expect(web.replicas == 2 && web.port == 8080 && web.network == .host)
        #expect(web.env == ["LOG_LEVEL": "info", "DEBUG": "true", "WORKERS": "4"])
        #expect(web.routes == [Route(host: "web.example.test", path: "/"), Route(host: "*.example.test", path: "/")])
        #expect(web.readiness == HealthCheck(probe: .http(path: "/healthz"), interval: .seconds(5), timeout: .seconds(2), retries: 3, startPeriod: .seconds(90)))
        #expect(web.update == UpdatePolicy(order: .stopFirst, parallelism: 2))
        #expect(web.stopTimeout == .seconds(10) && web.dependsOn == ["db"] && web.labels == ["team": "web"])
        #expect(web.volumes == ["/srv/web:/data:ro"] && web.pull == .never)
        #expect(state.sourceFile["web"] == "web.yaml" && state.files == ["db.yml", "web.yaml"])
    }

    @Test func defaults() throws {
        let spec = try #require(desired(minimal).services.first)
        #expect(spec == ServiceSpec(name: "web", image: "busybox"))
        #expect(spec.replicas == 1 && spec.network == .bridge && spec.stopTimeout == .seconds(10) && spec.pull == .missing)
        #expect(spec.update == UpdatePolicy(order: .startFirst, parallelism: 1))
        let health = try #require(desired(minimal + "port: 80\nhealth: { tcp: true }\n").services.first?.readiness)
        #expect(health == HealthCheck(probe: .tcp, interval: .seconds(5), timeout: .seconds(2), retries: 3, startPeriod: .seconds(0)))
    }

    @Test func replicasZeroKeepsTheService() {
        #expect(desired(minimal + "replicas: 0\n").services.map(\.replicas) == [0])
    }

    @Test func missingRequiredKeysAreReportedAtTheDocument() {
        #expect(errors("image: x\n") == ["svc.yaml:1:1: error: missing required key \"name\""])
        #expect(errors("---\nname: a\n") == ["svc.yaml:2:1: error: missing required key \"image\""])
    }

    @Test func unknownKeysSuggestTheClosestOne() {
        #expect(errors(minimal + "replica: 2\n") == ["svc.yaml:3:1: error: unknown key \"replica\" in a service; did you mean \"replicas\"?"])
        #expect(errors(minimal + "stop-timeout: 2s\n") == ["svc.yaml:3:1: error: unknown key \"stop-timeout\" in a service; did you mean \"stop_timeout\"?"])
        #expect(errors(minimal + "port: 1\nhealth: { htp: /x }\n").contains("svc.yaml:4:11: error: unknown key \"htp\" in health; did you mean \"http\"?"))
        #expect(errors(minimal + "port: 1\nroutes: [{ host: a.b, pth: / }]\n") == ["svc.yaml:4:23: error: unknown key \"pth\" in a route; did you mean \"path\"?"])
        // A path one proxy would read as a wildcard (Caddy: `/admin*` took another service's /admin).
        for path in ["/admin*", "/a?b", "/a[1]", "/a%2F"] {
            #expect(errors(minimal + "port: 1\nroutes: [{ host: a.b, path: \"\(path)\" }]\n").contains { $0.contains("every proxy reads literally") }, "\(path)")
        }
        #expect(errors(minimal + "port: 1\nroutes: [{ host: a.b, path: \"/a(b)+c,d=e:f@g!h&i\" }]\n").isEmpty)
        // Found by a hostile-input hunt (issue 26): each used to pass `validate`.
        #expect(errors(minimal + "env: { A: \"x\\0y\" }\n").contains { $0.contains("NUL byte") })
        #expect(errors(minimal + "command: [\"sh\", \"-c\\0rm\"]\n").contains { $0.contains("NUL byte") })
        #expect(errors(minimal + "ports: [\"8080:80\", \"8080:81\"]\n").contains { $0.contains("host port 8080/tcp is listed twice") })
        #expect(errors(minimal + "volumes: [\"var/run/docker.sock:/s\"]\n").contains { $0.contains("named volume") })
        #expect(errors(minimal + "volumes: [\"data:/../../etc\"]\n").contains { $0.contains("volume target") })
        #expect(errors(minimal + "volumes: [\"data:/var/lib/data\", \"my_vol-1.x:/y:ro\"]\n").isEmpty)
        #expect(errors(minimal + "zzzzzzzz: 1\n").first?.contains("expected one of: name, image") == true)
    }

    @Test func nameMustBeADNSLabel() {
        for bad in ["Web", "-web", "web-", "we_b", String(repeating: "a", count: 64), "\"\""] {
            #expect(errors("name: \(bad)\nimage: x\n").count == 1, "\(bad)")
        }
        #expect(errors("name: web\nimage: x\n") == [])
        #expect(errors("name: [web]\nimage: x\n") == ["svc.yaml:1:7: error: name must be a string, found a list"])
    }

    @Test func wrongTypesEverywhere() {
        let cases: [(String, String)] = [
            ("image: [a]", "svc.yaml:2:8: error: image must be a string, found a list"),
            ("image: ~", "svc.yaml:2:8: error: image must be a string, found null"),
            ("command: /bin/sh -c x", "command must be a list of strings, found a scalar; write it as a list"),
            ("command: [[a]]", "svc.yaml:3:11: error: command entries must be strings, found a list"),
            ("replicas: two", "svc.yaml:3:11: error: replicas must be a whole number, found \"two\""),
            ("replicas: \"2\"", "replicas must be a whole number, found the quoted string \"2\""),
            ("replicas: -1", "replicas must be between 0 and 1000, found -1"),
            ("replicas: 1.5", "replicas must be a whole number, found \"1.5\""),
            ("port: 0", "port must be between 1 and 65535, found 0"),
            ("port: 70000", "port must be between 1 and 65535, found 70000"),
            ("port: {a: 1}", "port must be a whole number, found a mapping"),
            ("network: hots", "network \"hots\" is not valid; did you mean \"host\"?"),
            ("pull: sometimes", "pull \"sometimes\" is not valid; expected one of: missing, always, never"),
            ("env: [A]", "env must be a mapping, found a list"),
            ("env: { A: [1] }", "env A must be a scalar value, found a list"),
            ("env: { A: ~ }", "env A must be a scalar value, found null"),
            ("env: { 1A: x }", "env name \"1A\" must match"),
            ("labels: { io.flotilla.service: x }", "which Flotilla reserves for its own labels"),
            ("labels: { a: {b: c} }", "label a must be a scalar value, found a mapping"),
            ("volumes: [\"/a\"]", "volume \"/a\" must be \"SOURCE:TARGET[:OPTIONS]\""),
            ("volumes: [\"/a:rel\"]", "with an absolute TARGET"),
            ("stop_timeout: 10", "stop_timeout must be a duration such as 500ms, 5s, 2m or 1h, found \"10\""),
            ("stop_timeout: 5 s", "stop_timeout must be a duration"),
            ("depends_on: db", "depends_on must be a list of strings, found a scalar"),
            ("depends_on: [web]", "service \"web\" cannot depend on itself"),
            ("update: { order: later }", "order \"later\" is not valid"),
            ("update: { parallelism: 0 }", "parallelism must be between 1 and 1000, found 0"),
            ("update: start-first", "update must be a mapping, found a scalar"),
            ("routes: { host: a }", "routes must be a list of {host, path}, found a mapping"),
            ("health: yes", "health must be a mapping, found a scalar"),
        ]
        for (line, expected) in cases {
            let found = errors((line.hasPrefix("image") ? "name: web\n" : minimal) + line + "\n")
            #expect(found.count == 1 && found[0].contains(expected), "\(line) → \(found)")
        }
    }

    @Test func routesAreValidatedAndNeedAPort() {
        #expect(errors(minimal + "routes: [{ host: a.test }]\n") == ["svc.yaml:3:9: error: routes need a port: add \"port: <container port>\" so the proxy knows where to send traffic"])
        for host in ["bad host", "a..b", "-a.test", "a.test;", "*", "*.", "a.*.test", "ex{ample}.test", "a/b"] {
            #expect(errors(minimal + "port: 1\nroutes: [{ host: \"\(host)\" }]\n").count == 1, "\(host)")
        }
        for path in ["nope", "/a b", "/a;b", "/a{", "/a}", "/a#", "/$host", "/a\\\"b", "/a'b", ""] {
            #expect(errors(minimal + "port: 1\nroutes: [{ host: a.test, path: \"\(path)\" }]\n").count == 1, "\(path)")
        }
        #expect(errors(minimal + "port: 1\nroutes: [{ host: a.test }, { host: A.test, path: / }]\n") == ["svc.yaml:4:28: error: route a.test/ is listed twice"])
        #expect(errors(minimal + "port: 1\nroutes: [{ path: /x }]\n") == ["svc.yaml:4:10: error: missing required key \"host\" (or \"hosts\")"])
    }

    @Test func healthNeedsExactlyOneProbeAndAPort() {
        #expect(errors(minimal + "health: { tcp: true }\n") == ["svc.yaml:3:9: error: health needs a port: add \"port: <container port>\" for the probe to connect to"])
        #expect(errors(minimal + "port: 1\nhealth: { interval: 1s }\n") == ["svc.yaml:4:9: error: health needs a probe: add \"http: /path\" or \"tcp: true\""])
        #expect(errors(minimal + "port: 1\nhealth: { http: /, tcp: true }\n") == ["svc.yaml:4:9: error: health takes either http or tcp, not both"])
        #expect(errors(minimal + "port: 1\nhealth: { tcp: false }\n").first?.contains("tcp: false checks nothing") == true)
        #expect(errors(minimal + "port: 1\nhealth: { tcp: maybe }\n") == ["svc.yaml:4:16: error: tcp must be true or false, found \"maybe\""])
        #expect(errors(minimal + "port: 1\nhealth: { tcp: true, interval: 10ms }\n").first?.contains("interval must be at least 100ms") == true)
        #expect(errors(minimal + "port: 1\nhealth: { tcp: true, retries: 0 }\n").first?.contains("retries must be between 1 and 100") == true)
    }

    @Test func allErrorsOfAFileAreReportedInPositionOrder() {
        let found = errors("""
        name: Bad_Name
        image: [x]
        replicas: many
        colour: blue
        """)
        #expect(found.map { $0.prefix(13) } == ["svc.yaml:1:7:", "svc.yaml:2:8:", "svc.yaml:3:11", "svc.yaml:4:1:"])
    }

    @Test func documentsMustBeMappings() {
        #expect(errors("- a\n- b\n") == ["svc.yaml:1:1: error: a service must be a mapping, found a list"])
        #expect(errors("just text\n") == ["svc.yaml:1:1: error: a service must be a mapping, found a scalar"])
        #expect(errors("[a]: 1\nname: a\nimage: b\n") == ["svc.yaml:1:1: error: keys in a service must be plain strings, found a list"])
    }

    @Test func emptyFilesAndEmptyDocumentsHoldNoServices() {
        #expect(desired("").isValid && desired("").services.isEmpty)
        #expect(desired("# only a comment\n").isValid)
        #expect(desired("---\n---\n" + minimal + "---\n").services.count == 1)
    }
}

@Suite("entrypoint")
struct EntrypointDecoderTests {
    @Test func entrypointIsAListAndChangesTheHashOnlyWhenSet() throws {
        func spec(_ text: String) -> ServiceSpec? { desired(text).services.first }
        let plain = try #require(spec("name: a\nimage: busybox\n"))
        let with = try #require(spec("name: a\nimage: busybox\nentrypoint: [/bin/sh, -c]\n"))
        #expect(with.entrypoint == ["/bin/sh", "-c"])
        #expect(with.specHash != plain.specHash)
        // Containers created before entrypoint existed keep their hash.
        #expect(!plain.canonicalContainerForm.contains("entrypoint"))
        #expect(spec("name: a\nimage: busybox\nentrypoint: /bin/sh\n") == nil, "a string is an error, as for command")
    }
}

/// Issue 26, found by a hostile-input hunt: values `validate` let through that the engine would
/// read otherwise, or that can never work.
@Suite("Values that would mean something else")
struct MisleadingValueTests {
    @Test func imageReferencesFollowTheEnginesGrammar() {
        for image in ["busybox", "busybox:1.36", "localhost/flotilla-test:busybox", "registry.example.com:5000/team/app:v2",
                      "ghcr.io/owner/app@sha256:" + String(repeating: "a", count: 64), "127.0.0.1:5000/x", "my_app/web__v2", "Registry.Example.com/app"] {
            #expect(errors("name: web\nimage: \"\(image)\"\n").isEmpty, "\(image)")
        }
        for image in ["--privileged", "-x", "UPPER/Case", "App", "a//b", "a:", "a@sha256:xyz", "x y"] {
            let found = errors("name: web\nimage: \"\(image)\"\n")
            #expect(found.count == 1 && found[0].contains("is not an image reference"), "\(image): \(found)")
        }
    }

    @Test func routePathsThatCanNeverMatchAreRefused() {
        for path in ["//z", "/a//b", "/../a", "/a/./b", "/a/..", "/."] {
            let found = errors("name: web\nimage: x\nport: 80\nroutes: [{ host: web.test, path: \"\(path)\" }]\n")
            #expect(found.count == 1 && found[0].contains("would never match"), "\(path): \(found)")
        }
        for path in ["/", "/api/", "/.well-known/acme", "/a..b", "/v1.2/x"] {
            #expect(errors("name: web\nimage: x\nport: 80\nroutes: [{ host: web.test, path: \"\(path)\" }]\n").isEmpty, "\(path)")
        }
    }

    @Test func aCanaryNeedsAReplica() {
        let found = errors("name: web\nimage: x\nreplicas: 0\nupdate: { strategy: canary, canary: { replicas: 1 } }\n")
        #expect(found.count == 1 && found[0].contains("svc.yaml:4:9") && found[0].contains("needs replicas of at least 1"), "\(found)")
    }
}
