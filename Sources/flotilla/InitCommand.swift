import ArgumentParser
import FlotillaAgent
import FlotillaCore
import Foundation

/// `flotilla init [DIR]`: a first manifest to edit, and a .gitignore that keeps secrets out of git.
struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Start a manifest directory: a commented example service and a .gitignore for secret files.",
        discussion: """
        Writes DIR/web.yaml (every field explained, most of them commented out), \
        DIR/.gitignore (env and secret files) and DIR/.flotilla/manifest.schema.json (the JSON \
        Schema this flotilla validates against: web.yaml names it for the YAML language server, \
        so editors complete and check fields). Existing files are left alone unless --force. \
        Then: edit web.yaml, flotilla validate DIR, flotilla plan DIR, flotilla apply DIR. \
        Coming from Compose? flotilla import compose docker-compose.yml -o DIR.
        """
    )

    @Argument(help: "The manifest directory to create.", completion: .directory)
    var directory: String = "manifests"

    @Flag(help: "Overwrite web.yaml and .gitignore when they exist.")
    var force = false

    func run() throws {
        let files = [("web.yaml", Self.starter), (".gitignore", Self.gitignore), (".flotilla/manifest.schema.json", ManifestSchema.text)]
        let existing = files.map(\.0).filter { FileManager.default.fileExists(atPath: directory + "/" + $0) }
        if !force, !existing.isEmpty {
            for name in existing { Console.error("\(directory)/\(name): error: the file exists; pass --force to overwrite it") }
            throw ExitCode(1)
        }
        do {
            try FileManager.default.createDirectory(atPath: directory + "/.flotilla", withIntermediateDirectories: true)
            for (name, text) in files { try AtomicFile.write(Data(text.utf8), to: directory + "/" + name) }
        } catch {
            Console.error("error: cannot write into \(directory): \(error)")
            throw ExitCode(1)
        }
        Console.out("wrote \(directory)/web.yaml, \(directory)/.gitignore and \(directory)/.flotilla/manifest.schema.json")
        Console.out("next: edit \(directory)/web.yaml, then flotilla validate \(directory) && flotilla plan \(directory)")
    }

    static let gitignore = """
    # Secret and env files stay out of git: keep them in the project's folder of the secrets
    # directory (--secrets-dir, default /etc/flotilla/secrets; /etc/flotilla/secrets/PROJECT/) and
    # name them from a manifest with secrets: { NAME: { file: /etc/flotilla/secrets/PROJECT/x } }.
    *.env
    .env
    .env.*
    *.secret
    *.key
    *.pem
    secrets/

    """

    static let starter = """
    # yaml-language-server: $schema=.flotilla/manifest.schema.json
    #
    # One service per YAML document; every *.yaml / *.yml file in this folder is read.
    # Check with `flotilla validate`, preview with `flotilla plan`, converge with `flotilla apply`
    # (once) or `flotilla run` (and keep converging). The README lists every field.

    # A DNS label, unique in the directory; containers are named after it.
    name: web
    # The image to run (pulled when missing; see pull:).
    image: docker.io/library/nginx:1.27-alpine
    # How many containers; 0 keeps the service defined but runs none.
    replicas: 2
    # The container port routes and health checks target. It is published on 127.0.0.1 only,
    # at a port the engine picks: the reverse proxy reaches it through the generated routes.
    port: 80

    # What the reverse proxy serves (flotilla run --routes-file ... writes its configuration).
    routes:
      - host: www.example.com
        path: /

    # Probed from the host. A replica takes traffic once ready; a rollout waits for it.
    health:
      http: /
      interval: 5s
      timeout: 2s
      retries: 3

    # Rolling updates start a new replica, wait until it is ready, then stop an old one.
    update:
      order: start-first
      parallelism: 1

    # Environment; values are strings as written.
    env:
      TZ: UTC

    # Secrets come from files outside git (see .gitignore); each becomes an environment variable.
    # secrets:
    #   DB_PASSWORD: { file: /etc/flotilla/secrets/PROJECT/db-password }

    # Other services started (and ready) first.
    # depends_on: [db]

    # Named volumes; host paths need the operator's --allow-host-mounts.
    # volumes: ["web-cache:/var/cache/nginx"]

    # resources: { memory: 256Mi, cpus: 0.5 }
    stop_timeout: 10s

    """
}
