import FlotillaAgent
import FlotillaCore
import FlotillaYAML
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// What a hostile committer (or a Windows editor, or a broken checkout) puts in a manifest
/// directory: it loads in linear time, never crashes, never hangs, and never vanishes silently.
@Suite("Loader hardening: linear, bounded, never silent")
struct LoaderHardeningTests {
    func tree(_ files: [String: String]) throws -> String {
        let root = NSTemporaryDirectory() + "flotilla-harden-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        for (path, text) in files {
            let full = root + "/" + path
            try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: full, atomically: false, encoding: .utf8)
        }
        return root
    }

    func timed<T>(_ body: () throws -> T) rethrows -> (T, Duration) {
        let clock = ContinuousClock(), start = clock.now
        let value = try body()
        return (value, clock.now - start)
    }

    func load(_ text: String) -> DesiredState {
        let (documents, diagnostics) = YAMLDocumentParser().parse(Array(text.utf8), file: "x.yaml")
        return DesiredState(files: [ManifestFile(path: "x.yaml", documents: documents, diagnostics: diagnostics)])
    }

    // Each of these took 15–31 s before (the tree builder copied a sequence or mapping on every
    // append; "did you mean" searched every name for every unknown name). Linear now: well under
    // a second even in a debug build; the bound catches a quadratic comeback.
    @Test func aFortyThousandItemCommandLoadsInLinearTime() {
        let command = "[" + (0..<40_000).map { "a\($0)" }.joined(separator: ", ") + "]"
        let (state, took) = timed { load("name: web\nimage: x\ncommand: \(command)\n") }
        #expect(state.isValid && state.services.first?.command?.count == 40_000)
        #expect(took < .seconds(5), "took \(took)")
    }

    @Test func aFortyThousandLabelMapLoadsInLinearTime() {
        let labels = (0..<40_000).map { "  l\($0): v\($0)" }.joined(separator: "\n")
        let (state, took) = timed { load("name: web\nimage: x\nlabels:\n\(labels)\n") }
        #expect(state.services.first?.labels.count == 40_000, "\(state.diagnostics.prefix(2))")
        #expect(took < .seconds(5), "took \(took)")
    }

    @Test func eightThousandUnknownDependenciesStayLinear() {
        let text = (0..<8_000).map { "name: s\($0)\nimage: x\ndepends_on: [missing\($0)]\n" }.joined(separator: "---\n")
        let (state, took) = timed { load(text) }
        #expect(state.diagnostics.count == 8_000)
        #expect(took < .seconds(10), "took \(took)")
    }

    /// 40,000 unknown keys took 3.7 s (a "did you mean" each) and printed 40,000 lines.
    @Test func errorsPerServiceAreCappedAndCounted() {
        let (state, took) = timed { load((0..<40_000).map { "k\($0): v" }.joined(separator: "\n") + "\n") }
        #expect(state.diagnostics.count < 110, "\(state.diagnostics.count)")
        #expect(state.diagnostics.last?.message.hasPrefix("39900 more errors in this service are not shown") == true, "\(state.diagnostics.last.map(\.description) ?? "")")
        #expect(state.diagnostics.last?.line == 40_000)
        #expect(took < .seconds(5), "took \(took)")
    }

    @Test func aFiftyThousandServiceDependencyChainDoesNotOverflowTheStack() {
        // Recursive cycle search crashed with SIGSEGV here.
        var graph: [String: [String]] = [:]
        for i in 0..<50_000 { graph["s\(i)"] = i == 0 ? [] : ["s\(i - 1)"] }
        let (cycles, took) = timed { DependencyGraph.cycles(in: graph) }
        #expect(cycles.isEmpty)
        graph["s0"] = ["s49999"]  // and closed into one long cycle
        #expect(DependencyGraph.cycles(in: graph).first?.count == 50_000)
        #expect(DependencyGraph.levels(of: graph).count == 1)
        #expect(took < .seconds(10), "took \(took)")
    }

    @Test func aByteOrderMarkIsNotAnError() {
        let state = load("\u{FEFF}name: web\nimage: x\n")
        #expect(state.isValid && state.services.map(\.name) == ["web"], "\(state.diagnostics)")
    }

    @Test func mergeKeysGetAClearMessage() {
        let state = load("name: web\nimage: x\n<<: { replicas: 2 }\n")
        #expect(state.diagnostics.contains { $0.message.contains("YAML merge keys (<<) are not supported") }, "\(state.diagnostics)")
        #expect(!state.diagnostics.contains { $0.message.contains("expected one of") })
    }

    /// libyaml also breaks lines at U+2028, U+2029, U+0085 and a lone CR; editors, `grep -n` and
    /// `git diff` do not, so every position after such a character was reported too far down.
    @Test func positionsCountLinesAsEditorsDo() {
        for odd in ["\u{2028}", "\u{2029}", "\u{85}", "\r"] {
            let state = load("name: web\nimage: x\nlabels:\n  note: \"a\(odd)b\"\n  other: \"c\(odd)d\"\nbogus: 1\n")
            #expect(state.diagnostics.map { "\($0.line):\($0.column)" } == ["6:1"], "\(odd.unicodeScalars.map(\.value)): \(state.diagnostics)")
        }
        // A classic-Mac file (CR only) counts its CRs; a CRLF file counts each CRLF once.
        #expect(load("name: web\rimage: x\r\rbogus: 1\r").diagnostics.map(\.line) == [4])
        #expect(load("name: web\r\nimage: x\r\n\r\nbogus: 1\r\n").diagnostics.map(\.line) == [4])
        // libyaml's own errors (and their context) are converted too.
        let syntax = load("name: \"a\u{2028}b\"\nimage: x\nlabels: [\n")
        #expect(syntax.diagnostics.first.map { "\($0.line)" } == "4", "\(syntax.diagnostics)")
    }

    @Test func diagnosticsCannotForgeLinesOrReachTheTerminal() {
        let state = load("name: web\nimage: x\nlabels: { \"a\\nweb.yaml:1:1: error: forged\": v }\nenv: { \"\\e[31mRED\": v }\n")
        #expect(!state.diagnostics.isEmpty)
        for diagnostic in state.diagnostics {
            #expect(!diagnostic.description.contains("\n") && !diagnostic.description.contains("\u{1B}"), "\(diagnostic.description)")
        }
        #expect(Diagnostic(file: "a\nb.yaml", line: 1, column: 1, message: "x\u{2028}y").description == "a\\nb.yaml:1:1: error: x\\u{2028}y")
    }

    @Test func filesThatCannotBeReadAreErrorsNeverMissingServices() throws {
        let root = try tree(["ok.yaml": "name: ok\nimage: x\n", "locked/inner.yaml": "name: inner\nimage: x\n"])
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(symlink("/nonexistent/web.yaml", root + "/web.yaml") == 0)
        // A name that is not UTF-8 (created with the raw bytes).
        let raw: [CChar] = Array((root + "/").utf8CString.dropLast()) + [0x62, -1, 0x2E, 0x79, 0x61, 0x6D, 0x6C, 0]
        let fd = open(raw, O_CREAT | O_WRONLY, 0o644)
        #expect(fd >= 0)
        close(fd)
        // A folder that cannot be opened (mode 0; root reads it anyway, so that part is checked
        // only when the tests do not run as root).
        chmod(root + "/locked", 0)
        defer { chmod(root + "/locked", 0o755) }
        let state = try ManifestDirectoryLoader().load(directory: root)
        let files = Set(state.failedFiles)
        #expect(files.contains("web.yaml"), "dangling symlink: \(state.diagnostics)")
        #expect(state.diagnostics.contains { $0.message.contains("not valid UTF-8") }, "\(state.diagnostics)")
        if geteuid() != 0 { #expect(files.contains("locked"), "unreadable folder: \(state.diagnostics)") }
        #expect(state.services.map(\.name).contains("ok"))
        // Prune safety holds: the broken entries name no service, so orphan removal is suspended.
        let plan = Planner.plan(desired: state, observed: [ObservedContainer(id: "1", name: "p-web-1", service: "web", specHash: "h", state: .running, created: 0)])
        #expect(plan.orphans.isEmpty)
    }

    /// `ln -s /etc/shadow manifests/x.yaml` printed the file's lines as unknown keys into logs
    /// and the status API; a FIFO or a device with a manifest's name was skipped in silence.
    /// Issue 26: the whole tree is capped (the operator's --max-manifest-bytes): files past the
    /// cap, in path order, are errors of their own, so their services are never pruned, and the
    /// files before it load as usual. A file alone over the per-file limit keeps its own message.
    @Test func theManifestTreeHasAByteCapAndWhatPassesItIsAnError() throws {
        let service = { (name: String) in "name: \(name)\nimage: x\nlabels: { pad: \"\(String(repeating: "p", count: 900))\" }\n" }
        let root = try tree(["a.yaml": service("a"), "b.yaml": service("b"), "c/d.yaml": service("d"), "e.yaml": service("e")])
        defer { try? FileManager.default.removeItem(atPath: root) }
        var loader = ManifestDirectoryLoader()
        #expect(try loader.load(directory: root).services.count == 4)
        let one = Array(service("a").utf8).count
        loader.maxTreeSize = 2 * one + one / 2  // a and b fit; c/d.yaml passes the cap
        let capped = try loader.load(directory: root)
        #expect(capped.services.map(\.name) == ["a", "b"])
        #expect(capped.failedFiles == ["c/d.yaml", "e.yaml"])
        #expect(capped.diagnostics.allSatisfy { $0.message.contains("--max-manifest-bytes") && $0.line == 1 }, "\(capped.diagnostics)")
        // Prune safety: the services past the cap are in failed files, never missing ones.
        #expect(!capped.isValid)
        loader.maxTreeSize = 1 << 30
        loader.maxFileSize = one - 1
        #expect(try loader.load(directory: root).diagnostics.allSatisfy { $0.message.contains("file is larger than") })
    }

    @Test func manifestsAreReadOnlyFromInsideTheTreeAndOnlyFromRegularFiles() throws {
        let outside = try tree(["secret.yaml": "root:$6$saltsalt$hashhashhashhashhash:19000:0:99999:7:::\n"])
        defer { try? FileManager.default.removeItem(atPath: outside) }
        let root = try tree(["ok.yaml": "name: ok\nimage: x\n", "real/inner.yaml": "name: inner\nimage: x\n"])
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(symlink(outside + "/secret.yaml", root + "/x.yaml") == 0)
        #expect(symlink("/dev/zero", root + "/zero.yaml") == 0)
        #expect(symlink("real/inner.yaml", root + "/linked.yaml") == 0)  // inside the tree: followed
        #expect(mkfifo(root + "/pipe.yaml", 0o644) == 0)
        try FileManager.default.createDirectory(atPath: root + "/folder.yaml", withIntermediateDirectories: true)
        let state = try ManifestDirectoryLoader().load(directory: root)
        let failed = Set(state.failedFiles)
        #expect(failed.isSuperset(of: ["x.yaml", "zero.yaml", "pipe.yaml", "folder.yaml"]), "\(state.diagnostics)")
        #expect(state.diagnostics.contains { $0.file == "folder.yaml" && $0.message.contains("a folder named like a manifest file") })
        #expect(state.diagnostics.contains { $0.file == "x.yaml" && $0.message.contains("outside the manifest directory") }, "\(state.diagnostics)")
        #expect(!state.diagnostics.contains { $0.description.contains("saltsalt") }, "the target was read: \(state.diagnostics)")
        #expect(state.diagnostics.contains { $0.file == "pipe.yaml" && $0.message.contains("not a regular file") })
        #expect(state.files.contains("linked.yaml") && !failed.contains("linked.yaml"), "\(state.diagnostics)")
        // An unknown key is shown as a short excerpt only.
        let long = String(repeating: "k", count: 200)
        let echoed = load("name: web\nimage: x\n\(long): 1\n")
        #expect(echoed.diagnostics.allSatisfy { !$0.message.contains(long) } && echoed.diagnostics.contains { $0.message.contains("unknown key") })
    }

    @Test func secretFilesMustBeRegularAndMayBeEmpty() throws {
        let root = try tree(["empty.secret": ""])
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(mkfifo(root + "/fifo.secret", 0o600) == 0)
        let reader = FileSecretReader(root: root)
        guard case .success(let empty) = reader.read("empty.secret", from: "web.yaml") else {
            Issue.record("an empty secret file is a valid empty value")
            return
        }
        #expect(empty.isEmpty)
        // A FIFO (or /dev/kmsg, /dev/stdin) would block the loader forever: refused at once.
        let (fifo, took) = timed { reader.read("fifo.secret", from: "web.yaml") }
        #expect(took < .seconds(2))
        guard case .failure(let problem) = fifo else { Issue.record("a FIFO must be refused"); return }
        #expect(problem.message.contains("not a regular file"))
        // A device inside an allowed folder is still not a regular file.
        let devices = FileSecretReader(root: root, secretsDirectory: "/dev")
        for device in ["/dev/zero", "/dev/kmsg", "/dev/stdin"] {
            let (result, took) = timed { devices.read(device, from: "web.yaml") }
            #expect(took < .seconds(2), "\(device) took \(took)")
            guard case .failure(let problem) = result else { Issue.record("\(device) must be refused"); continue }
            // (/dev/stdin is a pipe or a terminal here, which has no real path at all.)
            #expect(problem.message.contains("not a regular file") || device == "/dev/stdin", "\(device): \(problem.message)")
        }
    }

    /// Any committer could read any root-readable host file into a container before.
    @Test func secretFilesStayInsideTheManifestTreeOrTheSecretsDirectory() throws {
        let root = try tree(["app/web.yaml": "", "app/local.secret": "in-tree", "shared/db.secret": "in-tree-2"])
        let secrets = try tree(["db-password": "from-secrets-dir"])
        defer { for folder in [root, secrets] { try? FileManager.default.removeItem(atPath: folder) } }
        #expect(symlink("/etc/passwd", root + "/app/passwd.secret") == 0)
        #expect(symlink(secrets + "/db-password", root + "/app/linked.secret") == 0)
        let reader = FileSecretReader(root: root, secretsDirectory: secrets)
        func read(_ path: String) -> String {
            switch reader.read(path, from: "app/web.yaml") {
            case .success(let text): return text
            case .failure(let problem): return "refused: " + problem.message
            }
        }
        // Allowed: beside the manifest, elsewhere in the tree, in the secrets folder (also through a link).
        #expect(read("local.secret") == "in-tree")
        #expect(read("../shared/db.secret") == "in-tree-2")
        #expect(read(secrets + "/db-password") == "from-secrets-dir")
        #expect(read("linked.secret") == "from-secrets-dir")
        // Refused, whatever the spelling: absolute, climbing out, through a symlink, the daemon's own environment.
        for path in ["/etc/shadow", "/etc/passwd", "../../../../etc/passwd", "passwd.secret", "/proc/self/environ", secrets + "/../" + (root as NSString).lastPathComponent + "/../../etc/hostname"] {
            let result = read(path)
            #expect(result.hasPrefix("refused: ") && result.contains("outside the manifest directory and the secrets directory \(secrets)"), "\(path): \(result)")
        }
        // Through the loader: the error names the manifest's position.
        try "name: web\nimage: x\nsecrets:\n  A: { file: /etc/shadow }\n".write(toFile: root + "/app/web.yaml", atomically: false, encoding: .utf8)
        let state = try ManifestDirectoryLoader(access: HostAccess(secretsDirectory: secrets)).load(directory: root)
        #expect(state.diagnostics.map { "\($0.file):\($0.line):\($0.column)" } == ["app/web.yaml:4:14"], "\(state.diagnostics)")
        #expect(state.services.isEmpty)
    }

    /// Issue 26: the secrets directory was shared by every project, so project b could read
    /// `/etc/flotilla/secrets/a/...`. Each project now reads only its own subfolder; the old
    /// layout needs `--shared-secrets-dir` (deprecated).
    @Test func eachProjectReadsOnlyItsOwnFolderOfTheSecretsDirectory() throws {
        let root = try tree(["web.yaml": ""])
        let secrets = try tree(["a/db-password": "a's", "b/db-password": "b's", "top-level": "old layout"])
        defer { for folder in [root, secrets] { try? FileManager.default.removeItem(atPath: folder) } }
        func load(_ file: String, project: String, shared: Bool = false) throws -> (env: String?, problems: [String]) {
            try "name: web\nimage: x\nsecrets:\n  P: { file: \(file) }\n".write(toFile: root + "/web.yaml", atomically: false, encoding: .utf8)
            var access = HostAccess(secretsDirectory: secrets)
            access.project = project
            access.sharedSecrets = shared
            let state = try ManifestDirectoryLoader(access: access).load(directory: root)
            return (state.services.first?.secrets["P"]?.value, state.diagnostics.map(\.message))
        }
        #expect(try load(secrets + "/b/db-password", project: "b").env == "b's")
        let stolen = try load(secrets + "/a/db-password", project: "b")
        #expect(stolen.env == nil && stolen.problems.count == 1 && stolen.problems[0].contains("secrets directory \(secrets)/b"), "\(stolen.problems)")
        #expect(try load(secrets + "/top-level", project: "b").env == nil)
        // The old layout, on the operator's word.
        #expect(try load(secrets + "/a/db-password", project: "b", shared: true).env == "a's")
    }

    /// Host paths in `volumes` need the operator's `--allow-host-mounts`; prefixes hold whole
    /// segments and are checked after symlinks are followed.
    @Test func hostMountsAreTheOperatorsChoice() throws {
        let root = try tree(["web.yaml": ""])
        let allowed = try tree(["data/x": ""])
        defer { for folder in [root, allowed] { try? FileManager.default.removeItem(atPath: folder) } }
        #expect(symlink("/etc", allowed + "/data/etc-link") == 0)
        #expect(symlink(allowed + "/data/x", allowed + "/data/inner-link") == 0)
        func problems(_ volumes: [String], _ mounts: MountPolicy.Allowed, symlinks: Bool = false) throws -> [String] {
            try ("name: web\nimage: x\nvolumes:\n" + volumes.map { "  - \"\($0)\"\n" }.joined()).write(toFile: root + "/web.yaml", atomically: false, encoding: .utf8)
            return try ManifestDirectoryLoader(access: HostAccess(hostMounts: mounts, mountSymlinks: symlinks)).load(directory: root).diagnostics.map { "\($0.line):\($0.column) \($0.message)" }
        }
        // Named volumes need nothing.
        #expect(try problems(["data:/data", "cache:/cache:ro"], .none).isEmpty)
        // Host paths: refused by default, each at its own item.
        let refused = try problems(["/:/host", "/var/run/docker.sock:/var/run/docker.sock", "data:/data"], .none)
        #expect(refused.count == 2 && refused[0].hasPrefix("4:5 volume \"/\" mounts a host path") && refused[1].hasPrefix("5:5 "), "\(refused)")
        #expect(try problems(["/:/host", "/etc:/etc:ro"], .any).isEmpty)
        // Prefixes: whole segments, symlinks followed, no "..", no relative paths.
        #expect(try problems([allowed + "/data:/d", allowed + "/data/x:/x", allowed + "/data/new/folder:/n"], .under([allowed + "/data"])).isEmpty)
        let outside = try problems([allowed + "/database:/d", allowed + "/data/etc-link:/e", allowed + "/data/../data:/u", "./data:/r"], .under([allowed + "/data"]))
        #expect(outside.count == 4, "\(outside)")
        #expect(outside[0].contains("outside the host paths this host allows") && outside[1].contains("symbolic link \(allowed)/data/etc-link below the allowed folder"), "\(outside)")
        #expect(outside[2].contains("contains \"..\"") && outside[3].contains("relative host path"), "\(outside)")
        // A link below the prefix is refused even when it points inside (a container that can
        // write there could repoint it); --allow-mount-symlinks follows links, and the resolved
        // path must still be inside.
        let inner = try problems([allowed + "/data/inner-link:/i", allowed + "/data/inner-link/deeper:/j"], .under([allowed + "/data"]))
        #expect(inner.count == 2 && inner.allSatisfy { $0.contains("--allow-mount-symlinks") }, "\(inner)")
        #expect(try problems([allowed + "/data/inner-link:/i"], .under([allowed + "/data"]), symlinks: true).isEmpty)
        let followed = try problems([allowed + "/data/etc-link:/e"], .under([allowed + "/data"]), symlinks: true)
        #expect(followed.count == 1 && followed[0].contains("(really /etc)"), "\(followed)")
        // Swarm mode: the manager cannot check a worker's disk.
        let swarm = try problems([allowed + "/data/x:/x"], .noneOnSwarm)
        #expect(swarm.count == 1 && swarm[0].contains("--allow-swarm-host-mounts"), "\(swarm)")
    }
}
