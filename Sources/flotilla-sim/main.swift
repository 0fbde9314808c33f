import FlotillaSimulation
import Foundation

// flotilla-sim: the deterministic simulator (scripts/simulate runs it). See README, "How
// Flotilla is tested".
let usage = """
USAGE: flotilla-sim [--seeds N] [--from S] [--events E]
       flotilla-sim --seed S [--trace]

Runs the real controller, daemon loop and route writer against an in-memory engine on a virtual
clock, one seed at a time; each seed draws a workload of commits, kills, restarts, reboots,
commands and engine faults, and every invariant is checked as it runs.

  --seeds N    how many seeds (default 200)
  --from S     the first seed (default 1)
  --events E   workload events per seed (default 30)
  --seed S     run one seed; with --trace, print its whole trace (the same on every run)

Prints "N seeds, K failures"; exit 0 when no seed failed, 1 otherwise, 64 on bad usage.
"""

// Deterministic hashing, so that dictionaries iterate alike on every run: set it and start over.
if getenv("SWIFT_DETERMINISTIC_HASHING") == nil {
    setenv("SWIFT_DETERMINISTIC_HASHING", "1", 1)
    execv("/proc/self/exe", CommandLine.unsafeArgv)
}

var seeds: UInt64 = 200, from: UInt64 = 1, events = 30
var single: UInt64?
var trace = false
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
    case "-h", "--help": say(usage); exit(0)
    default:
        FileHandle.standardError.write(Data("error: unknown argument \(arg)\n\n\(usage)\n".utf8))
        exit(64)
    }
}

SimRuntime.install()
let options = (seeds: seeds, from: from, events: events, single: single, trace: trace)
Task { @Sendable in
    let (seeds, from, events, single, trace) = options
    let started = Date()
    var failures = 0
    let range = single.map { $0...$0 } ?? from...(from + max(seeds, 1) - 1)
    for seed in range {
        let outcome = await Simulation.run(seed: seed, events: events, echo: trace && single != nil)
        if let failure = outcome.failure {
            failures += 1
            say("seed \(seed) FAILED: \(failure)")
            if !(trace && single != nil) {
                say("  last events (replay: scripts/simulate --seed \(seed) --trace):")
                for line in outcome.trace.suffix(25) { say("    " + line) }
            }
        }
    }
    say("\(range.count) seeds, \(failures) failures")
    FileHandle.standardError.write(Data(String(format: "(%.1f s)\n", Date().timeIntervalSince(started)).utf8))
    exit(failures == 0 ? 0 : 1)
}
try SimRuntime.run()
say("simulator stopped: no task left to run (a deadlock)")
exit(2)
