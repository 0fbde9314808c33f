/// A value kept in memory and written through to storage whenever it changes.
///
/// Contract: ``save(_:write:)`` calls `write` when the value changed, and also when the last write
/// failed, changed or not: a state directory that was full and got space back must receive the
/// value even if nothing changed since (otherwise a restart reads the older file).
public struct WriteThrough<Value: Equatable & Sendable>: Sendable {
    /// What the process holds.
    public private(set) var value: Value
    /// The last write failed: storage holds something older than ``value``.
    public private(set) var unsaved = false

    /// A value as read from storage (so nothing is unsaved).
    public init(_ value: Value) { self.value = value }

    /// Takes `next` and writes it when it differs from ``value`` or the last write failed.
    /// Returns the write's error, if it failed (the value is kept in memory either way).
    @discardableResult
    public mutating func save(_ next: Value, write: (Value) throws -> Void) -> (any Error)? {
        guard next != value || unsaved else { return nil }
        value = next
        do {
            try write(next)
            unsaved = false
            return nil
        } catch {
            unsaved = true
            return error
        }
    }
}
