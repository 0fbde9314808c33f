import FlotillaSimulation
import Foundation

// flotilla-sim: the deterministic simulator (scripts/simulate runs it). See README, "How
// Flotilla is tested".
let usage = """
USAGE: flotilla-sim [--seeds N] [--from S] [--events E] [--jobs J] [--stop-at-first]
       flotilla-sim --seed S [--trace]

Runs the real controller, daemon loop and route writer against an in-memory engine on a virtual
clock, one seed at a time; each seed draws a workload of commits, kills, restarts, reboots,
commands and engine faults, and every invariant is checked as it runs.

  --seeds N    how many seeds (default 200)
  --from S     the first seed (default 1)
  --events E   workload events per seed (default 30)
  --jobs J     run the seeds in J processes at once (default 1; one per core is fastest)
  --stop-at-first
               stop at the first failing seed (hunting a planted fault)
  --seed S     run one seed; with --trace, print its whole trace (the same on every run)

Prints "N seeds, K failures"; exit 0 when no seed failed, 1 otherwise, 64 on bad usage.
"""

// Deterministic hashing, so that dictionaries iterate alike on every run: set it and start over.
if getenv("SWIFT_DETERMINISTIC_HASHING") == nil {
    setenv("SWIFT_DETERMINISTIC_HASHING", "1", 1)
    execv("/proc/self/exe", CommandLine.unsafeArgv)
}

var seeds: UInt64 = 200, from: UInt64 = 1, events = 30, jobs: UInt64 = 1
var single: UInt64?
var trace = false, stopAtFirst = false
var args = CommandLine.arguments.dropFirst()
@MainActor func value(_ flag: String) -> UInt64 {
    guard let text = args.popFirst(), let number = UInt64(text) else {
        FileHandle.standardError.write(Data("error: \(flag) needs a number\n\n\(usage)\n".utf8))
        exit(64)
    }
    return number
}
while let arg = args.popFirst() {
    switch arg {
    case "--seeds": seeds = value(arg)
    case "--from": from = value(arg)
    case "--events": events = Int(value(arg))
    case "--seed": single = value(arg)
    case "--trace": trace = true
    case "--jobs": jobs = max(1, value(arg))
    case "--stop-at-first": stopAtFirst = true
    case "-h", "--help": say(usage); exit(0)
    default:
        FileHandle.standardError.write(Data("error: unknown argument \(arg)\n\n\(usage)\n".utf8))
        exit(64)
    }
}

if jobs > 1 && single == nil && seeds > 1 {
    exit(runInParallel(seeds: seeds, from: from, events: events, jobs: min(jobs, seeds), stopAtFirst: stopAtFirst))
}

SimRuntime.install()
let options = (seeds: seeds, from: from, events: events, single: single, trace: trace, stopAtFirst: stopAtFirst)
Task { @Sendable in
    let (seeds, from, events, single, trace, stopAtFirst) = options
    let started = Date()
    var failures = 0
    let range = single.map { $0...$0 } ?? from...(from + max(seeds, 1) - 1)
    var ran = 0
    for seed in range {
        let outcome = await Simulation.run(seed: seed, events: events, echo: trace && single != nil)
        ran += 1
        if let failure = outcome.failure {
            failures += 1
            say("seed \(seed) FAILED: \(failure)")
            if !(trace && single != nil) {
                say("  last events (replay: scripts/simulate --seed \(seed) --trace):")
                for line in outcome.trace.suffix(25) { say("    " + line) }
            }
            if stopAtFirst { break }
        }
    }
    say("\(ran) seeds, \(failures) failures")
    FileHandle.standardError.write(Data(String(format: "(%.1f s)\n", Date().timeIntervalSince(started)).utf8))
    exit(failures == 0 ? 0 : 1)
}
try SimRuntime.run()
say("simulator stopped: no task left to run (a deadlock)")
exit(2)

/// `--jobs J`: the seeds split into J contiguous ranges, each run by a child process of this
/// binary; their reports are printed whole, one after the other, then the total. Returns the
/// exit code.
func runInParallel(seeds: UInt64, from: UInt64, events: Int, jobs: UInt64, stopAtFirst: Bool) -> Int32 {
    let started = Date()
    let chunk = (seeds + jobs - 1) / jobs
    // Each child writes to a file of its own (a pipe read one child after another stalled the
    // others once their reports filled the pipe).
    var children: [(Process, String)] = []
    var first = from
    while first < from + seeds {
        let count = min(chunk, from + seeds - first)
        let process = Process()
        let report = NSTemporaryDirectory() + "flotilla-sim-\(getpid())-\(first).out"
        guard FileManager.default.createFile(atPath: report, contents: nil), let output = FileHandle(forWritingAtPath: report) else {
            FileHandle.standardError.write(Data("error: cannot write \(report)\n".utf8))
            return 2
        }
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        process.arguments = ["--seeds", "\(count)", "--from", "\(first)", "--events", "\(events)"] + (stopAtFirst ? ["--stop-at-first"] : [])
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch {
            FileHandle.standardError.write(Data("error: cannot start a simulator process: \(error)\n".utf8))
            return 2
        }
        try? output.close()
        children.append((process, report))
        first += count
    }
    var ran = 0, failures = 0, broken = false
    for (process, report) in children {
        process.waitUntilExit()
        let output = (try? String(contentsOfFile: report, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(atPath: report)
        for line in output.split(separator: "\n", omittingEmptySubsequences: false) where !line.isEmpty {
            let words = line.split(separator: " ")
            if words.count == 4, words[1] == "seeds,", words[3] == "failures", let n = Int(words[0]), let k = Int(words[2]) {
                ran += n
                failures += k
            } else {
                say(String(line))
            }
        }
        if process.terminationStatus > 1 { broken = true }
    }
    say("\(ran) seeds, \(failures) failures")
    FileHandle.standardError.write(Data(String(format: "(%.1f s, %d processes)\n", Date().timeIntervalSince(started), children.count).utf8))
    return broken ? 2 : failures == 0 ? 0 : 1
}
