import ArgumentParser
import FlotillaAgent
import FlotillaCore
import Foundation

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure Flotilla's own costs (no engine needed).",
        discussion: "Engine benchmarks against docker-compose live in benchmarks/run.",
        subcommands: [LoadBench.self]
    )
}

struct LoadBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Generate N service manifests, then time load + validate + plan over several runs."
    )

    @Option(help: "Service counts to measure (comma-separated).")
    var services: String = "100,1000"

    @Option(help: "Runs per count; the median and the spread are printed.")
    var runs: Int = 5

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    @Option(help: "Only write the generated manifests of the first count into this directory, measure nothing.")
    var writeTo: String?

    @Option(help: "Load this directory (made by --write-to) instead of generating one; for instruction counts under callgrind (toggle on measuredLoadValidatePlan).")
    var directory: String?

    struct Row: Encodable {
        var services: Int
        var files: Int
        var loadMedianMS: Double
        var loadMinMS: Double
        var loadMaxMS: Double
        var planMedianMS: Double
        var planMinMS: Double
        var planMaxMS: Double
        /// Load + validate + plan, median over the runs, per service (microseconds).
        var perServiceMicros: Double
        var peakRSSKiB: Int
    }

    func run() throws {
        let counts = services.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        if let writeTo {
            try FileManager.default.createDirectory(atPath: writeTo, withIntermediateDirectories: true)
            for i in 0..<(counts.first ?? 0) { try Self.manifest(i).write(toFile: "\(writeTo)/svc-\(i).yaml", atomically: false, encoding: .utf8) }
            return
        }
        if let directory {
            let (state, planned) = Self.measuredLoadValidatePlan(directory: directory)
            guard state.isValid else { throw ValidationError("manifests did not load cleanly: \(state.diagnostics.prefix(3))") }
            Console.out("loaded, validated and planned \(state.services.count) services (\(planned) plan actions)")
            return
        }
        var rows: [Row] = []
        for n in counts {
            let dir = NSTemporaryDirectory() + "flotilla-bench-\(n)-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            for i in 0..<n { try Self.manifest(i).write(toFile: "\(dir)/svc-\(i).yaml", atomically: false, encoding: .utf8) }

            var loads: [Double] = [], plans: [Double] = []
            var state: DesiredState?
            for _ in 0..<max(1, runs) {
                let clock = ContinuousClock()
                let t0 = clock.now
                let loaded = try ManifestDirectoryLoader().load(directory: dir)
                let t1 = clock.now
                // The engine's answer, prepared outside the timing: one running replica per service.
                let observed = loaded.services.map {
                    ObservedContainer(id: $0.name, name: $0.name, service: $0.name, specHash: $0.specHash, state: .running, created: 0)
                }
                let t1b = clock.now
                _ = Planner.plan(desired: loaded, observed: observed)
                let t2 = clock.now
                loads.append(Self.ms(t1 - t0))
                plans.append(Self.ms(t2 - t1b))
                state = loaded
            }
            guard let state, state.isValid, state.services.count == n else {
                throw ValidationError("generated manifests did not load cleanly: \(state?.diagnostics.prefix(3) ?? [])")
            }
            let totals = zip(loads, plans).map { $0 + $1 }
            rows.append(Row(services: n, files: n, loadMedianMS: Self.median(loads), loadMinMS: loads.min()!, loadMaxMS: loads.max()!,
                            planMedianMS: Self.median(plans), planMinMS: plans.min()!, planMaxMS: plans.max()!,
                            perServiceMicros: Self.median(totals) * 1000 / Double(n), peakRSSKiB: Self.peakRSSKiB()))
        }
        switch format {
        case .json: Console.out(try JSONOutput.encode(rows))
        case .text:
            Console.out("services  load+validate median (min-max)      plan median   peak RSS")
            for r in rows {
                Console.out(String(format: "%8d  %9.1f ms (%.1f-%.1f ms)  %10.2f ms  %6d KiB  (%.3f ms/service)",
                                   r.services, r.loadMedianMS, r.loadMinMS, r.loadMaxMS, r.planMedianMS, r.peakRSSKiB, r.loadMedianMS / Double(r.services)))
            }
        }
    }

    static func manifest(_ i: Int) -> String {
        """
        name: svc-\(i)
        image: localhost/flotilla-test:busybox
        command: ["/bin/httpd", "-f", "-p", "${PORT}", "-h", "/www"]
        replicas: \(1 + i % 3)
        port: 8080
        network: host
        env: { LOG_LEVEL: info, INDEX: "\(i)" }
        routes:
          - host: svc-\(i).example.test
            path: /
        health: { http: /, interval: 5s }
        depends_on: [\(i > 0 ? "svc-\(i - 1)" : "")]
        labels: { team: t\(i % 7) }

        """
    }

    /// What the callgrind regression guard counts (benchmarks/run): the same work as one timed
    /// run above, on a directory written beforehand. Not inlined, so callgrind can toggle on it.
    @inline(never)
    static func measuredLoadValidatePlan(directory: String) -> (DesiredState, Int) {
        guard let loaded = try? ManifestDirectoryLoader().load(directory: directory) else { return (DesiredState(files: []), 0) }
        let observed = loaded.services.map {
            ObservedContainer(id: $0.name, name: $0.name, service: $0.name, specHash: $0.specHash, state: .running, created: 0)
        }
        let plan = Planner.plan(desired: loaded, observed: observed)
        return (loaded, plan.actions.count)
    }

    static func ms(_ d: Duration) -> Double { d.fractionalSeconds * 1000 }
    static func median(_ v: [Double]) -> Double { let s = v.sorted(); return s[s.count / 2] }

    static func peakRSSKiB() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
        }
        return 0
    }
}
