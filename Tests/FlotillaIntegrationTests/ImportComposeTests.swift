import FlotillaCore
import Foundation
import Testing

/// `flotilla import compose` as a user runs it: the built binary on real Compose files.
@Suite("Importing Compose files", .enabled(if: FileManager.default.isExecutableFile(atPath: TestEngine.binary), "needs the built binary"))
struct ImportComposeTests {
    static let corpus = TestEngine.packageRoot.appendingPathComponent("examples/compose").path

    /// Every line on stderr is a positioned finding or the closing summary.
    static func positioned(_ stderr: String) -> [String] {
        stderr.split(separator: "\n").map(String.init).filter { line in
            line.range(of: #"^[^:\s]+:\d+:\d+: (warning|error): \S"#, options: .regularExpression) == nil && !line.hasPrefix("not converted: ")
                && line.range(of: #"^\d+ more findings are not shown"#, options: .regularExpression) == nil
        }
    }

    static func temporaryFolder(_ name: String) -> String {
        let path = NSTemporaryDirectory() + "flotilla-import-\(name)-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    struct Case: Sendable, CustomStringConvertible {
        var files: [String]
        var converts: Bool
        /// Texts that must appear in stderr (each a reason the user has to read).
        var says: [String]
        var validateArguments: [String] = []
        var description: String { files.joined(separator: " + ") }
    }

    static let cases: [Case] = [
        Case(files: ["web-db/docker-compose.yml"], converts: true,
             says: ["docker-compose.yml:44:13: warning: the health check is not imported: \"pg_isready\""],
             validateArguments: ["--allow-host-mounts", "--secrets-dir", corpus + "/web-db", "--shared-secrets-dir"]),
        Case(files: ["traefik/compose.yaml"], converts: true,
             says: ["compose.yaml:35:40: warning: Traefik rule of router \"admin\" is not imported: the HeadersRegexp matcher", "tls is not imported"],
             validateArguments: ["--allow-host-mounts"]),
        Case(files: ["deploy/compose.yaml"], converts: true,
             says: ["deploy.resources.reservations are not imported", "update_config.delay is not imported", "deploy.endpoint_mode is not imported"]),
        Case(files: ["build-only/compose.yaml"], converts: false,
             says: ["compose.yaml:4:5: error: build without image cannot be imported", "not converted: 1 error; nothing was written"]),
        Case(files: ["interpolation/compose.yaml"], converts: true,
             says: ["compose.yaml:8:17: warning: variable USER_NAME is not set"]),
        Case(files: ["override/compose.yaml", "override/compose.override.yaml"], converts: true, says: []),
    ]

    @Test(arguments: cases)
    func eachCorpusFileConvertsIntoAValidDirectoryOrSaysWhyNot(_ c: Case) throws {
        let out = Self.temporaryFolder("corpus")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let (code, stdout, stderr) = try runFlotilla(["import", "compose"] + c.files.map { Self.corpus + "/" + $0 } + ["-o", out])
        #expect(code == (c.converts ? 0 : 1), "\(stdout)\n\(stderr)")
        #expect(Self.positioned(stderr).isEmpty, "unpositioned lines: \(Self.positioned(stderr))")
        for text in c.says { #expect(stderr.contains(text), "missing \"\(text)\" in:\n\(stderr)") }
        let written = (try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []
        if c.converts {
            #expect(!written.isEmpty)
            #expect(stdout.contains("next: flotilla validate"), "\(stdout)")
            let (valid, vout, verr) = try runFlotilla(["validate", out] + c.validateArguments)
            #expect(valid == 0, "flotilla validate rejected the import:\n\(vout)\n\(verr)")
            for file in written {
                let text = try String(contentsOfFile: out + "/" + file, encoding: .utf8)
                #expect(text.hasPrefix("# Imported by `flotilla import compose` from "), "\(file): \(text)")
            }
        } else {
            #expect(written.isEmpty, "nothing may be written when the import fails: \(written)")
        }
    }

    @Test func mappingsCarryComposeMeaning() throws {
        let out = Self.temporaryFolder("mapping")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let (code, _, stderr) = try runFlotilla(["import", "compose", Self.corpus + "/web-db/docker-compose.yml", "-o", out])
        #expect(code == 0, "\(stderr)")
        let app = try String(contentsOfFile: out + "/app.yaml", encoding: .utf8)
        // Compose publishes on every interface; the import keeps that and says so.
        #expect(app.contains("ports: [\"0.0.0.0:8000:8000\"]"), "\(app)")
        #expect(app.contains("Flotilla's own default is 127.0.0.1 only"))
        // DATABASE_PASSWORD_FILE=/run/secrets/db_password becomes the secret DATABASE_PASSWORD.
        #expect(app.contains("DATABASE_PASSWORD:\n    file: \(Self.corpus)/web-db/secrets/db_password.txt"), "\(app)")
        #expect(!app.contains("DATABASE_PASSWORD_FILE:"))
        #expect(app.contains("health:\n  http: /healthz\n  interval: 10s\n  timeout: 3s\n  start_period: 20s\n  retries: 5"))
        #expect(app.contains("depends_on: [db, cache]"))
        #expect(app.contains("  - web-db_media:/srv/media"), "named volumes keep Compose's names")
        #expect(app.contains("networks: [web-db_default]"))
        #expect(app.contains("WORKERS: \"4\""))
        let cache = try String(contentsOfFile: out + "/cache.yaml", encoding: .utf8)
        #expect(cache.contains("command: [redis-server, --appendonly, \"yes\", --maxmemory, 128mb]"), "\(cache)")
        #expect(cache.contains("health:\n  tcp: true"), "\(cache)")

        let traefik = Self.temporaryFolder("traefik")
        defer { try? FileManager.default.removeItem(atPath: traefik) }
        #expect(try runFlotilla(["import", "compose", Self.corpus + "/traefik/compose.yaml", "-o", traefik]).0 == 0)
        let api = try String(contentsOfFile: traefik + "/api.yaml", encoding: .utf8)
        #expect(api.contains("routes:\n  - host: example.com\n    paths: [/api, /v2]\n    strip_prefix: true"), "\(api)")
        #expect(api.contains("port: 3000"))
        let whoami = try String(contentsOfFile: traefik + "/whoami.yaml", encoding: .utf8)
        #expect(whoami.contains("replicas: 3") && whoami.contains("- host: whoami.example.com") && whoami.contains("- host: who.example.com"), "\(whoami)")
        let deploy = Self.temporaryFolder("deploy")
        defer { try? FileManager.default.removeItem(atPath: deploy) }
        #expect(try runFlotilla(["import", "compose", Self.corpus + "/deploy/compose.yaml", "-o", deploy]).0 == 0)
        let frontend = try String(contentsOfFile: deploy + "/frontend.yaml", encoding: .utf8)
        #expect(frontend.contains("placement:\n  constraints: [\"node.role == worker\"]\n  max_per_node: 2"), "\(frontend)")
        let worker = try String(contentsOfFile: traefik + "/internal.yaml", encoding: .utf8)
        #expect(!worker.contains("routes:"), "traefik.enable=false has no routes")
    }

    @Test func existingManifestsAreNeverOverwrittenWithoutForce() throws {
        let out = Self.temporaryFolder("force")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let file = Self.corpus + "/override/compose.yaml"
        try "mine\n".write(toFile: out + "/api.yaml", atomically: true, encoding: .utf8)
        let (code, _, stderr) = try runFlotilla(["import", "compose", file, "-o", out])
        #expect(code == 1)
        #expect(stderr.contains("api.yaml:1:1: error: the file exists; pass --force to overwrite it"), "\(stderr)")
        #expect(try String(contentsOfFile: out + "/api.yaml", encoding: .utf8) == "mine\n")
        #expect(try runFlotilla(["import", "compose", file, "-o", out, "--force"]).0 == 0)
        #expect(try String(contentsOfFile: out + "/api.yaml", encoding: .utf8).contains("name: api"))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasSuffix(".tmp") }
        #expect(leftovers.isEmpty)
    }

    /// Issue 27: a stack file's host networking (the one network it joins is the external `host`,
    /// as `docker stack deploy` files write it) is `network: host`, not a refused network name:
    /// the same stack file deploys with both.
    @Test func aStackFilesExternalHostNetworkIsHostNetworking() throws {
        let dir = Self.temporaryFolder("stack-host")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let web = "  web:\n    image: busybox\n    command: [\"sleep\", \"100000\"]\n    networks: [hostnet]\n"
        let host = "networks:\n  hostnet: { external: true, name: host }\n"
        try ("services:\n" + web + "  db:\n    image: busybox\n    networks: [hostnet, private]\n" + host + "  private: {}\n")
            .write(toFile: dir + "/stack.yaml", atomically: true, encoding: .utf8)
        let out = dir + "/out"
        let (code, _, stderr) = try runFlotilla(["import", "compose", dir + "/stack.yaml", "-o", out])
        // db joins host and another network: that is not host networking, and "host" is no network name.
        #expect(code == 1 && stderr.contains("network name \"host\""), "\(stderr)")
        try ("services:\n" + web + host).write(toFile: dir + "/stack.yaml", atomically: true, encoding: .utf8)
        let (ok, _, warnings) = try runFlotilla(["import", "compose", dir + "/stack.yaml", "-o", out])
        #expect(ok == 0 && !warnings.contains("warning"), "\(warnings)")
        let manifest = try String(contentsOfFile: out + "/web.yaml", encoding: .utf8)
        #expect(manifest.contains("network: host") && !manifest.contains("networks:"), "\(manifest)")
        #expect(try runFlotilla(["validate", out]).0 == 0)
    }

    /// Issue 26: an import killed between staging and renaming (SIGKILL, a lost host) left its
    /// staged files behind; the next import removes those whose process is gone, says so, and
    /// leaves a live writer's alone.
    @Test func aKilledImportsStagedFilesAreRemovedByTheNext() throws {
        let out = Self.temporaryFolder("killed")
        defer { try? FileManager.default.removeItem(atPath: out) }
        // A process that has ended: its pid names the killed import.
        let gone = Process()
        gone.executableURL = URL(fileURLWithPath: "/bin/true")
        try gone.run()
        gone.waitUntilExit()
        let dead = ".api.yaml.flotilla-\(gone.processIdentifier)-12345.tmp", live = ".web.yaml.flotilla-\(getpid())-678.tmp"
        for name in [dead, live] { try "half\n".write(toFile: out + "/" + name, atomically: false, encoding: .utf8) }
        let (code, _, stderr) = try runFlotilla(["import", "compose", Self.corpus + "/override/compose.yaml", "-o", out])
        #expect(code == 0, "\(stderr)")
        #expect(stderr.contains("removed 1 staged file an earlier, killed import left") && stderr.contains(dead), "\(stderr)")
        let left = try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasSuffix(".tmp") }
        #expect(left == [live])
    }

    /// Each case was found by a review of the import against Compose's behaviour; each failed before its fix.
    @Test func composeSemanticsFoundInReview() throws {
        let dir = Self.temporaryFolder("review")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func write(_ name: String, _ text: String) throws { try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8) }
        func run(_ files: [String], _ extra: [String] = []) throws -> (Int32, String, String, String) {
            let out = dir + "/out-\(UInt32.random(in: 0...UInt32.max))"
            let (code, stdout, stderr) = try runFlotilla(["import", "compose"] + files.map { dir + "/" + $0 } + ["-o", out] + extra)
            return (code, stdout, stderr, out)
        }
        func manifest(_ out: String, _ name: String) -> String { (try? String(contentsOfFile: out + "/" + name, encoding: .utf8)) ?? "" }

        // Files merge environment key by key whatever form each uses, and one mount per target.
        try write("base.yml", "services:\n  a:\n    image: x\n    environment: { TZ: UTC, LOG: info }\n    volumes: [\"./one:/data\"]\n")
        try write("over.yml", "services:\n  a:\n    environment: [LOG=trace]\n    volumes: [\"./two:/data\"]\n")
        var (code, _, err, out) = try run(["base.yml", "over.yml"])
        #expect(code == 0, "\(err)")
        #expect(manifest(out, "a.yaml").contains("env:\n  TZ: UTC\n  LOG: trace"), "\(manifest(out, "a.yaml"))")
        #expect(manifest(out, "a.yaml").contains("volumes: [\"\(dir)/two:/data\"]"), "\(manifest(out, "a.yaml"))")

        // container_name stays reachable as an alias; a relative long-syntax bind is a host path.
        try write("names.yml", "services:\n  db:\n    image: mysql\n    container_name: wp-mysql\n    volumes: [{ type: bind, source: data, target: /var/lib/mysql }]\n")
        (code, _, err, out) = try run(["names.yml"])
        #expect(code == 0 && err.contains("container_name \"wp-mysql\" is not kept"), "\(err)")
        #expect(manifest(out, "db.yaml").contains("aliases: [wp-mysql]"), "\(manifest(out, "db.yaml"))")
        #expect(manifest(out, "db.yaml").contains("\(dir)/data:/var/lib/mysql"), "\(manifest(out, "db.yaml"))")

        // A secret never silently replaces an environment variable of the same name.
        try write("clash.yml", "services:\n  a:\n    image: x\n    environment: { DB_PASSWORD: plain }\n    secrets: [db_password]\nsecrets:\n  db_password: { file: ./pw }\n")
        (code, _, err, _) = try run(["clash.yml"])
        #expect(code == 1 && err.contains("clash.yml:5:15: error: secret \"db_password\" would be passed as DB_PASSWORD, which environment: also sets"), "\(err)")

        // Optional things that are absent are left out, as Compose does; duplicate keys are errors.
        try write("optional.yml", "services:\n  a:\n    image: x\n    env_file: [{ path: ./missing.env, required: false }]\n    depends_on:\n      ghost: { condition: service_started, required: false }\n")
        (code, _, err, out) = try run(["optional.yml"])
        #expect(code == 0 && !manifest(out, "a.yaml").contains("\nenv_file:") && err.contains("optional.yml:6:7: warning: depends_on \"ghost\""), "\(err)")
        #expect(try runFlotilla(["validate", out]).0 == 0)
        try write("dup.yml", "services:\n  a:\n    image: nginx\n    image: httpd\n")
        (code, _, err, _) = try run(["dup.yml"])
        #expect(code == 1 && err.contains("dup.yml:4:5: error: duplicate key \"image\""), "\(err)")

        // Secret files in unrelated folders never make "/" the suggested --secrets-dir.
        try write("spread.yml", "services:\n  a:\n    image: x\n    env_file: ./app.env\n    secrets: [host]\nsecrets:\n  host: { file: /etc/hostname }\n")
        try write("app.env", "A=1 # a comment Compose strips\n")
        let spread = try run(["spread.yml"])
        let stdout = spread.1
        code = spread.0
        #expect(code == 0 && !stdout.contains("--secrets-dir /,") && !stdout.contains("--secrets-dir / ") && stdout.contains("move them into the project's folder"), "\(stdout)")

        // .env as Compose reads it: inline comments stripped, quoted values over several lines.
        try write(".env", "TAG=1.27 # pinned\nMULTI=\"one\ntwo\"\n")
        try write("dotenv.yml", "services:\n  a:\n    image: nginx:${TAG}\n    environment: { M: \"${MULTI}\" }\n")
        (code, _, err, out) = try run(["dotenv.yml"])
        #expect(code == 0 && manifest(out, "a.yaml").contains("image: nginx:1.27\n") && manifest(out, "a.yaml").contains("M: \"one\\ntwo\""), "\(err)\n\(manifest(out, "a.yaml"))")

        // The output folder's other manifests count: a service name they hold is not taken twice;
        // a dangling symlink in the way is not replaced.
        let shared = dir + "/shared"
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
        try "name: a\nimage: legacy\n".write(toFile: shared + "/legacy.yml", atomically: true, encoding: .utf8)
        try write("plain.yml", "services:\n  a:\n    image: x\n")
        var result = try runFlotilla(["import", "compose", dir + "/plain.yml", "-o", shared])
        #expect(result.0 == 1 && result.2.contains("already defined"), "\(result.2)")
        try FileManager.default.removeItem(atPath: shared + "/legacy.yml")
        try FileManager.default.createSymbolicLink(atPath: shared + "/a.yaml", withDestinationPath: "/nonexistent/target")
        result = try runFlotilla(["import", "compose", dir + "/plain.yml", "-o", shared, "--force"])
        #expect(result.0 == 1 && result.2.contains("something other than a file is there"), "\(result.2)")
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: shared + "/a.yaml")) == "/nonexistent/target")
    }

    @Test func initWritesAStarterThatValidatesAndNeverOverwrites() throws {
        let dir = Self.temporaryFolder("init") + "/manifests"
        defer { try? FileManager.default.removeItem(atPath: (dir as NSString).deletingLastPathComponent) }
        let (code, out, err) = try runFlotilla(["init", dir])
        #expect(code == 0, "\(out)\(err)")
        let (valid, vout, verr) = try runFlotilla(["validate", dir])
        #expect(valid == 0 && vout.contains("1 service in 1 file"), "\(vout)\(verr)")
        let starter = try String(contentsOfFile: dir + "/web.yaml", encoding: .utf8)
        #expect(starter.hasPrefix("# yaml-language-server: $schema=.flotilla/manifest.schema.json"))
        let schema = try String(contentsOfFile: dir + "/.flotilla/manifest.schema.json", encoding: .utf8)
        #expect(schema == (try String(contentsOfFile: TestEngine.packageRoot.appendingPathComponent("schema/flotilla-manifest.schema.json").path, encoding: .utf8)))
        #expect(try String(contentsOfFile: dir + "/.gitignore", encoding: .utf8).contains("*.secret"))
        try "name: mine\nimage: x\n".write(toFile: dir + "/web.yaml", atomically: true, encoding: .utf8)
        let (again, _, againErr) = try runFlotilla(["init", dir])
        #expect(again == 1 && againErr.contains("web.yaml: error: the file exists; pass --force to overwrite it"), "\(againErr)")
        #expect(try String(contentsOfFile: dir + "/web.yaml", encoding: .utf8) == "name: mine\nimage: x\n")
    }

    /// The same bounds as manifests, and linear work: each hostile file is refused or converted
    /// well within the guard (≈10× what it takes), never a crash.
    /// A FIFO as the Compose file blocked the import forever; a FIFO or a folder as `.env` was
    /// ignored in silence. Both are errors now, at once.
    @Test func aComposeFileOrEnvFileThatIsNotARegularFileIsAnError() throws {
        let dir = Self.temporaryFolder("fifo")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(mkfifo(dir + "/compose.yaml", 0o644) == 0)
        let fifo = try runFlotilla(["import", "compose", dir + "/compose.yaml", "-o", dir + "/out"])
        #expect(fifo.0 == 1 && fifo.2.contains("not a regular file"), "\(fifo.2)")
        try "services:\n  web:\n    image: busybox\n".write(toFile: dir + "/docker-compose.yml", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: dir + "/.env", withIntermediateDirectories: true)
        let folder = try runFlotilla(["import", "compose", dir + "/docker-compose.yml", "-o", dir + "/out"])
        #expect(folder.0 == 1 && folder.2.contains("env file") && folder.2.contains("not a regular file"), "\(folder.2)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/out/web.yaml"))
        // A project name is used as given or refused, never quietly made into another.
        try FileManager.default.removeItem(atPath: dir + "/.env")
        let renamed = try runFlotilla(["import", "compose", dir + "/docker-compose.yml", "-o", dir + "/out", "--project-name", "../../etc"])
        #expect(renamed.0 == 64 && renamed.2.contains("not a Compose project name"), "\(renamed.0) \(renamed.2)")
        // `web.yml` already there: no second file for the same service, even with --force.
        try FileManager.default.createDirectory(atPath: dir + "/out2", withIntermediateDirectories: true)
        try "name: web\nimage: busybox\n".write(toFile: dir + "/out2/web.yml", atomically: true, encoding: .utf8)
        let twin = try runFlotilla(["import", "compose", dir + "/docker-compose.yml", "-o", dir + "/out2", "--force"])
        #expect(twin.0 == 1 && twin.2.contains("web.yml") && !FileManager.default.fileExists(atPath: dir + "/out2/web.yaml"), "\(twin.2)")
        // A required env_file that does not exist: an error, as in Compose (before: exit 0 and a
        // manifest `validate` refused).
        try "services:\n  web:\n    image: busybox\n    env_file: ./missing.env\n".write(toFile: dir + "/docker-compose.yml", atomically: true, encoding: .utf8)
        let missing = try runFlotilla(["import", "compose", dir + "/docker-compose.yml", "-o", dir + "/out3"])
        #expect(missing.0 == 1 && missing.2.contains("missing.env does not exist"), "\(missing.2)")
        // Compose's own merge tags still read (manifests refuse every tag but YAML's core ones).
        try "services:\n  web:\n    image: busybox\n    ports: !reset []\n".write(toFile: dir + "/docker-compose.yml", atomically: true, encoding: .utf8)
        let reset = try runFlotilla(["import", "compose", dir + "/docker-compose.yml", "-o", dir + "/out4"])
        #expect(reset.0 == 0 && !reset.2.contains("not supported in manifests"), "\(reset.2)")
    }

    @Test func hostileComposeFilesAreBoundedAndNeverCrash() throws {
        let dir = Self.temporaryFolder("hostile")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var many = "services:\n"
        for i in 0..<1000 {
            many += "  s\(i):\n    image: busybox\n    depends_on: [\(i == 999 ? "" : "s\(i + 1)")]\n"
            many += "    labels: [\"traefik.http.routers.r\(i).rule=Host(`h\(i).example.com`)\", traefik.http.services.r\(i).loadbalancer.server.port=80]\n"
        }
        let deep = "services:\n  a:\n    image: busybox\n    labels:\n" + String(repeating: "      - [", count: 1) + String(repeating: "[", count: 200) + String(repeating: "]", count: 201) + "\n"
        let letters = ["a", "b", "c", "d", "e", "f", "g"]
        let laughs = "x-a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
            + (1...6).map { "x-\(letters[$0]): &\(letters[$0]) [" + Array(repeating: "*\(letters[$0 - 1])", count: 10).joined(separator: ",") + "]" }.joined(separator: "\n")
            + "\nservices:\n  a:\n    image: busybox\n"
        let rule = "services:\n  a:\n    image: busybox\n    labels:\n      traefik.http.routers.a.rule: \"" + Array(repeating: "(Host(`a.b`) || Host(`c.d`))", count: 40).joined(separator: " && ") + "\"\n"
        let nested = "services:\n  a:\n    image: \"${A:-" + String(repeating: "${A:-", count: 50) + "x" + String(repeating: "}", count: 51) + "\"\n"
        let big = "services:\n  a:\n    image: busybox\n    command: \"" + String(repeating: "x", count: 1_100_000) + "\"\n"
        // Inputs that were quadratic before (a warning per service, long env and label lists,
        // many top-level volumes): each converts in about 1 s (debug build), well inside the guard;
        // quadratic code took minutes at these sizes. (Kept moderate: the suite runs beside timing tests.)
        let warnings = "services:\n" + (0..<1000).map { "  s\($0):\n    image: busybox\n    privileged: true\n    user: x\n" }.joined()
        let env = "services:\n  a:\n    image: busybox\n    environment:\n" + (0..<20000).map { "      - K\($0)=v\n" }.joined()
        let routers = "services:\n  a:\n    image: busybox\n    labels:\n" + (0..<10000).map { "      - traefik.http.routers.r\($0).entrypoints=web\n" }.joined()
        let volumes = "volumes:\n" + (0..<2500).map { "  v\($0): {}\n" }.joined() + "services:\n" + (0..<1000).map { "  s\($0):\n    image: busybox\n    volumes: [\"v\($0):/d\"]\n" }.joined()
        let inputs = ["warnings.yml": (warnings, 0), "env.yml": (env, 0), "routers.yml": (routers, 0), "volumes.yml": (volumes, 0),
                      "many.yml": (many, 0), "deep.yml": (deep, 1), "laughs.yml": (laughs, 1), "rule.yml": (rule, 0), "nested.yml": (nested, 1), "big.yml": (big, 1)]
        for (name, (text, expected)) in inputs {
            try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8)
            let started = ContinuousClock.now
            let (code, _, stderr) = try runFlotilla(["import", "compose", dir + "/" + name, "-o", dir + "/out-" + name])
            let elapsed = ContinuousClock.now - started
            #expect(code == Int32(expected), "\(name): exit \(code)\n\(stderr.prefix(2000))")
            // A hang guard (quadratic code took minutes): 25 s was seen once with a 500-container
            // benchmark running beside the suite on the 2 cores.
            #expect(elapsed < .seconds(60), "\(name) took \(elapsed)")
            #expect(Self.positioned(stderr).filter { !$0.hasPrefix("imported ") }.isEmpty, "\(name): \(Self.positioned(stderr).prefix(5))")
        }
    }
}

extension EndToEndSuites {
    /// The done-when of the import: a converted multi-service stack comes up with `apply` on a
    /// real engine and serves through a real nginx from the generated routes.
    @Suite("An imported Compose stack served through nginx",
           .enabled(if: TestEngine.available && FileManager.default.isExecutableFile(atPath: "/usr/sbin/nginx"), "needs the engine and nginx (run scripts/test)"),
           .serialized)
    struct ImportedStackTests {
        @Test func importedStackComesUpWithApplyAndServesThroughNginx() async throws {
            let s = try await Scenario("import", ports: 25300...25349)
            let stack = try await NginxStack(s)
            defer { Task { await stack.stop(); await s.cleanup() } }
            let compose = s.directory + "/compose"
            try FileManager.default.createDirectory(atPath: compose, withIntermediateDirectories: true)
            try """
            name: \(s.project)
            services:
              web:
                image: ${IMAGE}
                command: ["/bin/sh", "-c", "mkdir -p /w && echo web > /w/index.html && (wget -qO /w/upstream.html http://api:9000/ || echo unreachable > /w/upstream.html) && exec /bin/httpd -f -p 8080 -h /w"]
                labels:
                  traefik.http.routers.web.rule: Host(`shop.import.test`)
                  traefik.http.services.web.loadbalancer.server.port: "8080"
                healthcheck:
                  test: ["CMD", "wget", "--spider", "-q", "http://localhost:8080/"]
                  interval: 1s
                deploy:
                  replicas: 2
                depends_on:
                  api:
                    condition: service_healthy
                stop_grace_period: 1s
              api:
                image: ${IMAGE}
                command: sh -c 'mkdir -p /w && echo "api $$GREETING" > /w/index.html && exec /bin/httpd -f -p 9000 -h /w'
                environment:
                  GREETING: ${GREETING:-hello}
                labels:
                  - traefik.http.routers.api.rule=Host(`shop.import.test`) && PathPrefix(`/api`)
                  - traefik.http.routers.api.middlewares=strip
                  - traefik.http.middlewares.strip.stripprefix.prefixes=/api
                expose: ["9000"]
                ports: ["127.0.0.1:25351:9000"]
                healthcheck:
                  test: nc -z localhost 9000 || exit 1
                  interval: 1s
                stop_grace_period: 1s
            """.write(toFile: compose + "/compose.yaml", atomically: true, encoding: .utf8)
            try "IMAGE=\(TestEngine.image)\n".write(toFile: compose + "/.env", atomically: true, encoding: .utf8)

            let (imported, out, err) = try runFlotilla(["import", "compose", compose + "/compose.yaml", "-o", stack.manifests])
            #expect(imported == 0, "\(out)\n\(err)")
            #expect(err.isEmpty, "this stack maps without a warning: \(err)")

            try stack.startProxy()
            let range = s.portRange
            let (applied, aout, aerr) = try runFlotilla(["apply", stack.manifests, "--engine", TestEngine.endpoint!, "--project", s.project,
                                                          "--state-dir", s.stateDirectory, "--port-range", "\(range.lowerBound)-\(range.upperBound)"] + stack.routeArguments)
            #expect(applied == 0, "\(aout)\n\(aerr)")
            #expect(try await s.containers("web").filter { $0.state == .running }.count == 2)

            // apply returns once the replicas run; they answer when their servers listen (each web
            // replica first asks api, which on Podman's DNS-less networks takes a while to fail).
            // Wait for every replica: ten answers in a row, not the first one.
            let deadline = ContinuousClock.now + .seconds(40)
            var inARow = 0
            while ContinuousClock.now < deadline, inARow < 10 {
                inARow = await stack.get("shop.import.test", "/")?.0 == 200 ? inARow + 1 : 0
                try await Task.sleep(for: .milliseconds(100))
            }
            let web = await stack.get("shop.import.test", "/")
            #expect(web?.0 == 200 && web?.1.trimmingCharacters(in: .whitespacesAndNewlines) == "web", "\(String(describing: web))\n\(aerr)")
            // strip_prefix from the Traefik middleware: /api/ reaches the api's /.
            let api = await stack.get("shop.import.test", "/api/")
            #expect(api?.0 == 200 && api?.1.trimmingCharacters(in: .whitespacesAndNewlines) == "api hello", "\(String(describing: api))\n\(stack.routes)")
            // Compose's project network: web reaches api by its service name. (Podman's CNI networks
            // here have no DNS plugin, so by name only on Docker; on both, both join the network.)
            let network = "\(s.project)_default"
            for service in ["web", "api"] {
                for container in try await s.containers(service) {
                    let inspect = try await s.engine.inspectContainer(container.id)
                    let networks = (inspect["NetworkSettings"] as? [String: Any])?["Networks"] as? [String: Any] ?? [:]
                    #expect(networks[network] != nil, "\(service) is not on \(network): \(networks.keys)")
                }
            }
            // The extra port publishes the routed port again; the loopback binding Flotilla routes to stays.
            for container in try await s.containers("api") {
                let inspect = try await s.engine.inspectContainer(container.id)
                let bindings = ((inspect["HostConfig"] as? [String: Any])?["PortBindings"] as? [String: Any])?["9000/tcp"] as? [[String: Any]] ?? []
                #expect(bindings.count == 2, "\(bindings)")
                #expect(bindings.contains { $0["HostPort"] as? String == "25351" })
            }
            if !TestEngine.isPodman {
                let upstream = await stack.get("shop.import.test", "/upstream.html")
                #expect(upstream?.1.trimmingCharacters(in: .whitespacesAndNewlines) == "api hello", "\(String(describing: upstream))")
            }
            // Here, not only in the defer: its Task may not run before the test process ends.
            await stack.stop()
            await s.cleanup()
        }
    }
}
