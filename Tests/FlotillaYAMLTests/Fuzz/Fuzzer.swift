import Foundation

/// A mutation fuzzer without coverage: every seed as it is, then mutations of the pool, where an
/// input that showed a diagnostic not seen before joins the pool (messages stand in for
/// coverage). Deterministic for a seed: input N is the same in every run, whatever the time limit.
struct Fuzzer {
    struct Report: CustomStringConvertible {
        var target: FuzzTarget
        var seed: UInt64
        var inputs = 0
        var valid = 0
        var seconds = 0.0
        var distinct = 0
        var pool = 0
        var slowest: (Duration, index: Int) = (.zero, 0)
        var violations: [String] = []

        var description: String {
            let rate = seconds > 0 ? Double(inputs) / seconds : 0
            return "fuzz \(target.rawValue) seed \(seed): \(inputs) inputs in \(String(format: "%.1f", seconds)) s (\(Int(rate)) inputs/s), "
                + "\(valid) valid, \(distinct) distinct diagnostics, pool \(pool), slowest \(slowest.0) (input \(slowest.index)), "
                + "\(violations.count) violations, 0 crashes, 0 hangs (a crash or a hang stops the process and saves the input)"
        }
    }

    let target: FuzzTarget
    let seed: UInt64
    let findings: String
    var hangLimit: Duration = .seconds(30)
    /// `crash` or `hang`: the first mutated input traps or sleeps past the hang limit, to see the
    /// guard save it (`scripts/fuzz --selftest crash`).
    var selfTest: String?

    static let maxPooled = 32 << 10

    /// Runs until `seconds` have passed or `maxInputs` inputs ran, whichever comes first.
    func run(seconds: Double?, maxInputs: Int?) -> Report {
        let seeds = FuzzSeeds.seeds(for: target)
        precondition(!seeds.isEmpty, "no seeds for \(target)")
        let mutator = FuzzMutator(words: Self.words)
        let guardian = FuzzGuard(findings: findings, hangLimit: hangLimit)
        defer { guardian.stop() }
        let scratch = NSTemporaryDirectory() + "flotilla-fuzz-\(target.rawValue)-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: scratch) }

        var rng = SplitMix(seed: seed)
        var pool = seeds
        var seen = Set<String>()
        var report = Report(target: target, seed: seed)
        let clock = ContinuousClock(), start = clock.now
        let limit = seconds.map { Duration.milliseconds(Int($0 * 1000)) }
        var index = 0
        while maxInputs.map({ index < $0 }) ?? true, limit.map({ clock.now - start < $0 }) ?? true {
            let input: [UInt8]
            if index < seeds.count {
                input = seeds[index]
            } else {
                let base = pool[Int(rng.next() % UInt64(pool.count))], other = pool[Int(rng.next() % UInt64(pool.count))]
                input = mutator.mutate(base, other: other, rng: &rng)
            }
            let label = "\(target.rawValue)-seed\(seed)-input\(index)"
            let began = clock.now
            guardian.begin(input, label: label)
            if index == seeds.count, let selfTest {
                if selfTest == "hang" { Thread.sleep(forTimeInterval: Double(hangLimit.components.seconds) * 2 + 1) }
                if selfTest == "crash" { preconditionFailure("fuzz self-test: a trap on \(label)") }
            }
            let outcome = target.run(input, index: index, scratch: scratch)
            guardian.end()
            let took = clock.now - began
            if took > report.slowest.0 { report.slowest = (took, index) }
            if outcome.valid { report.valid += 1 }
            var fresh = false
            for signature in outcome.signatures where seen.insert(signature).inserted { fresh = true }
            // Big inputs are made again from small ones; kept, they would slow every later run.
            if fresh, input.count <= Self.maxPooled {
                if pool.count < 4096 { pool.append(input) } else { pool[seeds.count + Int(rng.next() % UInt64(pool.count - seeds.count))] = input }
            }
            if let violation = outcome.violation, report.violations.count < 20 {
                let path = findings + "/violation-" + label + ".yaml"
                _ = FileManager.default.createFile(atPath: path, contents: Data(input))
                report.violations.append("\(label): \(violation) (input saved to \(path))")
            }
            index += 1
        }
        report.inputs = index
        report.seconds = Double((clock.now - start).components.seconds) + Double((clock.now - start).components.attoseconds) / 1e18
        report.distinct = seen.count
        report.pool = pool.count
        return report
    }

    /// Runs one saved input (a crash, hang or violation file) and says what it gave.
    static func replay(_ path: String, target: FuzzTarget) -> FuzzTarget.Outcome {
        let bytes = FileManager.default.contents(atPath: path).map { [UInt8]($0) } ?? []
        let scratch = NSTemporaryDirectory() + "flotilla-fuzz-replay-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        // Index 0: also through a manifest directory (with the first of its hostile neighbours).
        return target.run(bytes, index: 0, scratch: scratch)
    }

    /// Keys of manifests and Compose files, and values the validator and the importer decide on.
    static let words = [
        "name", "image", "command", "entrypoint", "replicas", "port", "network", "env", "env_file", "secrets", "routes", "health", "update",
        "resources", "restart_policy", "ports", "networks", "stop_timeout", "depends_on", "labels", "volumes", "pull", "placement",
        "host", "hosts", "path", "paths", "strip_prefix", "http", "tcp", "interval", "timeout", "retries", "start_period", "readiness",
        "liveness", "strategy", "canary", "order", "parallelism", "weight", "auto_promote_after", "memory", "cpus", "aliases", "container",
        "address", "protocol", "file", "constraints", "max_per_node", "mode",
        "services", "build", "environment", "expose", "network_mode", "healthcheck", "deploy", "restart", "stop_grace_period", "scale",
        "pull_policy", "mem_limit", "container_name", "links", "external", "driver", "configs", "include", "x-base", "condition", "required",
        "test", "CMD-SHELL", "NONE", "limits", "reservations", "target", "source", "type", "bind", "volume", "tmpfs", "read_only", "published",
        "web", "busybox", "nginx:1.27", "--privileged", "UPPER/Case", "a.example", "*.a.example", "/api", "//z", "/../a", "/admin*", "none", "canary",
        "rolling", "host", "bridge", "0:80", "99999", "8080:80", "0.0.0.0:5353:53/udp", "on-failure:0", "on-failure:3", "256Mi", "0", "6Mi",
        "268435456", "1ms", ".5s", "1m30s", "8761h", "var/run/docker.sock:/s", "data:/../../etc", "data:/x:", "/srv:/x", "node.role==manager",
        "io.flotilla.x", "[sleep, 10]", "{A: x}", "{file: f}", "[{host: a.example}]", "{tcp: true}", "{http: /}", "\"a\\0b\"", "\"\\u212A\"",
        "${PORT}", "${TAG:-x}", "${X:?e}", "Host(`a.example`)", "PathPrefix(`/x`)", "service_healthy", "service_completed_successfully",
    ]
}
