import FlotillaCore
import Foundation
import Logging

extension SwarmReconciler {
    /// Waits until every sent spec's tasks run (``SwarmRollout``), one of them fails, or
    /// `timeout` passes. Returns the failures (Swarm service name → why), the services still
    /// waiting at the timeout included. `progress` gets a line whenever the counts change.
    public func waitUntilRunning(_ sent: [SwarmServiceBlueprint], timeout: Duration, progress: @Sendable (String) -> Void) async throws -> [String: String] {
        var pending = Dictionary(sent.map { (SwarmRollout.Expected($0).serviceName, SwarmRollout.Expected($0)) }, uniquingKeysWith: { _, b in b })
        var failures: [String: String] = [:]
        var lastLine = ""
        let deadline = AgentClock.now + timeout
        while !pending.isEmpty {
            let services = Dictionary(try await observe().map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            let tasks = try await engine.listSwarmTasks(project: project)
            var waiting: [String] = []
            for (name, expected) in pending.sorted(by: { $0.key < $1.key }) {
                switch SwarmRollout.verdict(expected, tasks: tasks, service: services[name]) {
                case .running:
                    pending[name] = nil
                    logger.info("running", metadata: ["service": "\(name)"])
                case .failed(let why):
                    pending[name] = nil
                    failures[name] = why
                case .waiting(let running, let wanted):
                    waiting.append("\(name) \(running)/\(wanted.map(String.init) ?? "all") running")
                }
            }
            if pending.isEmpty { break }
            let line = "waiting for the new tasks: " + waiting.joined(separator: ", ")
            if line != lastLine { progress(line); lastLine = line }
            if AgentClock.now >= deadline {
                for name in pending.keys { failures[name] = "its new tasks were not all running after \(timeout) (\(waiting.first { $0.hasPrefix(name + " ") } ?? name))" }
                break
            }
            // Often: every poll of delay is delay added to apply (at 500 ms, apply of 10 services
            // took 1.6× docker stack deploy's time to running, half of it waiting to look again).
            try await AgentClock.sleep(for: .milliseconds(150))
        }
        return failures
    }
}
