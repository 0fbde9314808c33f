/// Host ports for the tasks of a `network: host` service in Swarm mode, so that several replicas
/// can share a node and the route file can name each task's port without asking the node.
///
/// Each such service owns a block of ``blockSize`` ports from `--port-range`, recorded in its
/// labels (``blockLabel``). The block has two halves of 100; a spec uses one half, and every
/// update moves to the other, so that a start-first update never starts a task on the port its
/// predecessor still holds. Within the half a task's port is `half + slot` (replicated tasks have
/// slots 1…99) or the half itself (global tasks have no slot: one per node). Swarm expands the
/// task's `PORT` from a template (``portTemplate(half:)``); the half is also a label of the task's
/// container (``halfLabel``), so the port of every task is known from the task list alone.
public enum SwarmPorts {
    public static let blockSize = 200
    /// Replicated services with per-task ports have at most this many replicas (slots 1…99).
    public static let maxReplicas = 99
    /// The service's block (its first port).
    public static let blockLabel = "io.flotilla.swarm.port-block"
    /// The half a spec's tasks use (service label and task container label).
    public static let halfLabel = "io.flotilla.swarm.port-base"
    /// On the stable service: the half of its canary block the last canary used.
    public static let lastCanaryHalfLabel = "io.flotilla.swarm.canary-port-base"

    /// Whether the service's tasks get per-task host ports.
    public static func needsPorts(_ spec: ServiceSpec) -> Bool { spec.network == .host && spec.port != nil }

    /// The port of a task: `half + slot` (replicated), `half` (global: slot 0).
    public static func port(half: Int, slot: Int) -> Int { half + slot }

    /// Swarm's Go template for `PORT`: the half's hundreds, then the slot in two digits
    /// (`24100` + slot 7 → `24107`). Swarm's template context gives the slot as a string.
    public static func portTemplate(half: Int) -> String {
        "\(half / 100){{if lt (len .Task.Slot) 2}}0{{end}}{{.Task.Slot}}"
    }

    /// The half the next spec of a service uses: the block's first half for a new service, the
    /// other half than the current one for an update.
    public static func nextHalf(block: Int, current: Int?) -> Int {
        guard let current else { return block }
        return current == block ? block + 100 : block
    }

    /// Blocks for the services that need one: a service keeps the block its labels name; a new
    /// one gets the lowest free block in `range` (blocks start at multiples of 100), skipping
    /// every block any Swarm service on the cluster holds (`taken`). A service for which no block
    /// is left is missing from the result.
    public static func assign(needing: [String], current: [String: Int], taken: Set<Int>, range: ClosedRange<Int>) -> [String: Int] {
        var result: [String: Int] = [:]
        var used = taken
        for name in needing {
            if let block = current[name] {
                result[name] = block
                used.insert(block)
            }
        }
        var next = (range.lowerBound + 99) / 100 * 100
        for name in needing.sorted() where result[name] == nil {
            while used.contains(next) || used.contains(next - 100) || used.contains(next + 100) { next += 100 }
            guard next + blockSize - 1 <= range.upperBound else { break }
            result[name] = next
            used.insert(next)
            next += blockSize
        }
        return result
    }
}
