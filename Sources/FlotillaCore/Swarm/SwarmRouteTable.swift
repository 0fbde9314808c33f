extension RouteTable {
    /// Swarm mode's route table: for every route of a `network: host` service with per-task
    /// ports, the live tasks (running, meant to run, past their health check) on nodes that are
    /// up and not drained, each at its node's address and its own port. Pure.
    ///
    /// A task on a node that is down is left out at once, before Swarm reschedules it; a
    /// drained node's tasks leave when Swarm marks them for shutdown, before they stop.
    public static func build(services: [ServiceSpec], project: String, tasks: [ObservedSwarmTask], nodes: [ObservedSwarmNode]) -> RouteTable {
        let nodesByID = Dictionary(nodes.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var entries: [Entry] = []
        for spec in services where !spec.routes.isEmpty {
            let swarmName = SwarmServiceBlueprint.serviceName(project: project, service: spec.name)
            let targets = tasks.compactMap { task -> Target? in
                guard task.serviceName == swarmName, task.isLive, let port = task.port,
                      let node = nodesByID[task.nodeID], node.isServing else { return nil }
                return Target(address: node.address, port: port, container: "\(swarmName).\(task.slot == 0 ? node.hostname : String(task.slot))")
            }.sorted { ($0.address, $0.port) < ($1.address, $1.port) }
            for route in spec.routes {
                entries.append(Entry(host: route.host, path: route.path, service: spec.name, targets: targets, stripPrefix: route.stripPrefix))
            }
        }
        return RouteTable(entries: entries)
    }
}
