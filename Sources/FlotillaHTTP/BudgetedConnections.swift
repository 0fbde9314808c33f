import FlotillaAgent
import HummingbirdCore

/// How many clients the status server takes at once: at most `cap`, and while the daemon's
/// descriptors are low (``DescriptorBudget``) one at a time, so that `/healthz` can still say so
/// and the rest stay in the listen backlog, costing the daemon nothing. (One, not none: a paused
/// listener with no open connection would never be asked again.)
struct BudgetedConnections: AvailableConnectionsDelegate {
    let cap: Int
    let descriptors: DescriptorBudget?
    var open = 0

    init(cap: Int, descriptors: DescriptorBudget?) {
        self.cap = cap
        self.descriptors = descriptors
    }

    mutating func connectionOpened() { open += 1 }
    mutating func connectionClosed() { open -= 1 }

    func isAcceptingNewConnections() -> Bool {
        if descriptors?.isLow == true { return open == 0 }
        return open < cap
    }
}
