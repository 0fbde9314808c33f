import FlotillaAgent
import Foundation

/// Runs seeds, one after another, each in a world of its own on ``SimScheduler``.
public enum Simulation {
    public struct Outcome: Sendable {
        public var seed: UInt64
        public var failure: String?
        public var trace: [String]
    }

    /// One seed from a clean scheduler: the same seed gives the same outcome and trace.
    public static func run(seed: UInt64, events: Int = 30, echo: Bool = false) async -> Outcome {
        SimScheduler.shared.reset(seed: seed)
        SimRuntime.names = .init(generator: SplitMix64(seed: seed ^ 0xA11CE))
        let trace = Trace()
        trace.echo = echo
        // In memory where there is a tmpfs (the manifests, route file, state and lock files are
        // real files, written and read all the time).
        let base = access("/dev/shm", W_OK) == 0 ? "/dev/shm/" : NSTemporaryDirectory()
        let root = base + "flotilla-sim-\(getpid())"
        trace.root = root
        let world = World(seed: seed, trace: trace, root: root)
        SimScheduler.shared.onBusy = {
            trace.add("INVARIANT BROKEN: no busy loop: virtual time stuck after \(SimScheduler.shared.busyLimit) jobs")
            say("seed \(seed) FAILED: no busy loop: virtual time stuck at \(SimScheduler.shared.stamp)")
            for line in trace.lines.suffix(25) { say("    " + line) }
            say("stopped at seed \(seed): a busy loop never yields to the clock")
            exit(1)
        }
        let failure = await world.run(events: events)
        try? FileManager.default.removeItem(atPath: root)
        return Outcome(seed: seed, failure: failure, trace: trace.lines)
    }
}

/// One line on standard output, written at once (a failure shows as it is found, also when the
/// output goes to a file or a pipe).
public func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
