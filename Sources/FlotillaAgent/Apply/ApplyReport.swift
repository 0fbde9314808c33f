import FlotillaCore

/// What one apply did, for the summary line, the exit code and the daemon's backoff.
public struct ApplyReport: Sendable {
    public var created = 0
    public var replaced = 0
    public var removed = 0
    public var unchanged = 0
    /// Services that did not converge, with why.
    public var failures: [String: String] = [:]
    /// Services with a replica that died or failed its health check in this run.
    public var crashed: Set<String> = []
    /// Services left out of the manifests but not removed: the prune budget held them back.
    public var heldBack: [String] = []
    /// Services something was done to.
    public var changedServices: Set<String> = []
    public var seconds: Double = 0

    public init() {}

    public var succeeded: Bool { failures.isEmpty }

    /// `created 3, replaced 1, removed 2, unchanged 5 in 1.8s`
    public var summary: String {
        var line = "created \(created), replaced \(replaced), removed \(removed), unchanged \(unchanged) in \(Self.format(seconds))"
        if !failures.isEmpty { line += "; \(failures.count) failed: " + failures.keys.sorted().joined(separator: ", ") }
        return line
    }

    static func format(_ seconds: Double) -> String {
        let tenths = Int((seconds * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)s"
    }
}
