/// Where the agent's non-secret randomness comes from (replica name suffixes): the system, or
/// the simulator's seeded generator, so that one seed names the same replicas every run.
/// Keys and seals never come from here.
public enum Entropy {
    /// Set once, before any task runs (the simulator's entry point); never changed after.
    nonisolated(unsafe) public private(set) static var next: @Sendable () -> UInt32 = { UInt32.random(in: 0...UInt32.max) }

    public static func install(_ source: @escaping @Sendable () -> UInt32) { next = source }
}
