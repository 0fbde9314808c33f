import Foundation

/// What the fuzzer starts from: the project's valid examples, and every hostile input known
/// (the hostile corpus, issue 26's list through the schema corpus, the libFuzzer seeds).
enum FuzzSeeds {
    static let root = ManifestSchemaTests.root
    /// Seeds over this size are left out: mutating them costs more than it finds.
    static let maxSeed = 64 << 10

    static func seeds(for target: FuzzTarget) -> [[UInt8]] {
        let all: [[UInt8]]
        switch target {
        case .loader: all = manifests
        case .compose: all = composeFiles
        }
        return all.filter { $0.count <= maxSeed }
    }

    static var manifests: [[UInt8]] {
        var seeds = files(in: root + "/manifests") + files(in: root + "/fuzz/corpus") + readmeBlocks.map { Array($0.utf8) }
        seeds += SchemaCorpus.cases.map { Array($0.text.utf8) }
        seeds += HostileInputTests.corpus.map(\.1)
        return seeds
    }

    static var composeFiles: [[UInt8]] {
        var seeds: [[UInt8]] = []
        if let walker = FileManager.default.enumerator(atPath: root + "/examples/compose") {
            for case let path as String in walker where path.hasSuffix(".yml") || path.hasSuffix(".yaml") {
                if let data = FileManager.default.contents(atPath: root + "/examples/compose/" + path) { seeds.append([UInt8](data)) }
            }
        }
        return seeds.sorted { $0.lexicographicallyPrecedes($1) } + hostileCompose.map { Array($0.utf8) }
    }

    static var readmeBlocks: [String] {
        let readme = (try? String(contentsOfFile: root + "/README.md", encoding: .utf8)) ?? ""
        return readme.components(separatedBy: "```yaml\n").dropFirst().map { $0.components(separatedBy: "```").first ?? "" }
    }

    static func files(in directory: String) -> [[UInt8]] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted().compactMap {
            FileManager.default.contents(atPath: directory + "/" + $0).map { [UInt8]($0) }
        }
    }

    /// Compose files at the import's edges: merge tags, interpolation, env files, names.
    static let hostileCompose = [
        "services:\n  web:\n    image: nginx:${TAG:-latest}\n    ports: [\"${PORT}:80\", \"0.0.0.0:443:443/tcp\"]\n    environment:\n      A: ${NL}\n      B: $${Q}\n",
        "name: ../../etc\nservices:\n  web: {image: x}\n",
        "services:\n  web:\n    image: x\n    env_file: [missing.env, {path: present.env, required: false}]\n",
        "services:\n  web:\n    image: x\n    ports: !reset []\n    environment: !override {A: b}\n    command: !reset null\n",
        "services:\n  web:\n    image: ${UNSET:?must be set}\n",
        "services:\n  a: {image: x, depends_on: {b: {condition: service_completed_successfully}}}\n  b: {image: y, depends_on: [a]}\n",
        "services:\n  web:\n    image: x\n    healthcheck: {test: [\"CMD-SHELL\", \"curl -f http://localhost/ || exit 1\"], interval: 1m30s, retries: 0}\n",
        "services:\n  web:\n    image: x\n    deploy: {replicas: 3, resources: {limits: {memory: 0, cpus: \"0.000\"}}, placement: {constraints: [\"node.role == manager\"]}}\n",
        "services:\n  web:\n    image: x\n    labels: [\"traefik.http.routers.w.rule=Host(`a.example`) && PathPrefix(`/api`)\", \"traefik.enable=true\"]\n",
        "services:\n  \"Web App!\": {image: x, container_name: \"-x\"}\n  web_app: {image: y}\n",
        "services:\n  web:\n    image: x\n    volumes: [\"./data:/data:ro\", \"var/run/docker.sock:/s\", {type: bind, source: /etc, target: /../../etc}]\n    secrets: [db]\nsecrets:\n  db: {file: ./db.txt}\n",
        "services:\n  web:\n    image: x\n    networks: {front: {aliases: [\"*.x\"]}, host: null}\n    network_mode: host\nnetworks:\n  front: {external: true}\n",
        "version: \"3\"\nservices: {}\n",
        "services: [web]\n",
        "x-base: &base {image: x, restart: on-failure:0}\nservices:\n  web:\n    <<: *base\n    stop_grace_period: 1ms\n",
        "A=1\nexport B=\"two\\nlines\"\nC='single'\n# comment\nD=${A}\n",
    ]
}
