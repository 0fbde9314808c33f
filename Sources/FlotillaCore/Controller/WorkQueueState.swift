/// The decisions of a controller's work queue, as a value (the agent's `WorkQueue` adds the
/// waiting and the timers). Semantics of client-go's work queue:
///
/// - a key is queued at most once, however often it is added;
/// - a key is handed to one worker at a time: added while being processed, it is queued again
///   when that worker is ``done(_:)``, never given to a second worker;
/// - ``addAfter(_:due:)`` keeps the earliest due time per key; ``promoteDue(now:)`` moves due
///   keys into the queue;
/// - after ``shutDown()`` nothing more is handed out.
public struct WorkQueueState<Key: Hashable & Sendable>: Sendable {
    private var queue: [Key] = []
    private var head = 0
    private var queued: Set<Key> = []
    private var processing: Set<Key> = []
    private var dirty: Set<Key> = []
    private var delayed: [Key: Int64] = [:]
    public private(set) var isShutDown = false

    public init() {}

    public mutating func add(_ key: Key) {
        guard !isShutDown else { return }
        delayed[key] = nil
        if processing.contains(key) {
            dirty.insert(key)
        } else if queued.insert(key).inserted {
            queue.append(key)
        }
    }

    /// Adds `key` at `due` (Unix ms), unless it is due earlier already.
    public mutating func addAfter(_ key: Key, due: Int64) {
        guard !isShutDown, !queued.contains(key) else { return }
        if let existing = delayed[key], existing <= due { return }
        delayed[key] = due
    }

    /// Queues every delayed key due at `now`; returns the next due time still ahead.
    @discardableResult
    public mutating func promoteDue(now: Int64) -> Int64? {
        var next: Int64?
        for (key, due) in delayed {
            if due <= now {
                delayed[key] = nil
                add(key)
            } else {
                next = min(next ?? due, due)
            }
        }
        return next
    }

    /// The next key to process (marked as processing), or nil when none is queued.
    public mutating func take() -> Key? {
        guard !isShutDown, head < queue.count else { return nil }
        let key = queue[head]
        head += 1
        if head > 1024 && head * 2 > queue.count {
            queue.removeFirst(head)
            head = 0
        }
        queued.remove(key)
        processing.insert(key)
        return key
    }

    /// The worker finished `key`; it is queued again if it was added meanwhile.
    public mutating func done(_ key: Key) {
        processing.remove(key)
        if dirty.remove(key) != nil { add(key) }
    }

    public mutating func shutDown() { isShutDown = true }

    public var queuedCount: Int { queue.count - head }
    public var delayedCount: Int { delayed.count }
    /// Nothing queued, nothing being processed, nothing scheduled.
    public var isIdle: Bool { queuedCount == 0 && processing.isEmpty && delayed.isEmpty }
}
