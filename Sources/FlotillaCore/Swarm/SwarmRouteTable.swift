extension RouteTable {
    /// Swarm mode's route table: for every route of a `network: host` service with per-task
    /// ports, the live tasks (running, meant to run, past their health check) on nodes that are
    /// up and not drained, each at its node's address and its own port. Pure.
    ///
    /// A task on a node that is down is left out at once, before Swarm reschedules it; a
    /// drained node's tasks leave when Swarm marks them for shutdown, before they stop. During a
    /// canary release the canary service's live tasks are targets too, weighted so that they get
    /// `update.canary.weight` percent of the requests together (as on one host).
    public static func build(services: [ServiceSpec], project: String, tasks: [ObservedSwarmTask], nodes: [ObservedSwarmNode]) -> RouteTable {
        let nodesByID = Dictionary(nodes.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let byService = Dictionary(grouping: tasks, by: \.serviceName)
        func targets(of swarmName: String, canary: Bool) -> [Target] {
            (byService[swarmName] ?? []).compactMap { task -> Target? in
                guard task.isLive, let port = task.port, let node = nodesByID[task.nodeID], node.isServing else { return nil }
                return Target(address: node.address, port: port, container: "\(swarmName).\(task.slot == 0 ? node.hostname : String(task.slot))", canary: canary)
            }
        }
        var entries: [Entry] = []
        for spec in services where !spec.routes.isEmpty {
            var stable = targets(of: SwarmServiceBlueprint.serviceName(project: project, service: spec.name), canary: false)
            var canaries = targets(of: SwarmServiceBlueprint.canaryName(project: project, service: spec.name), canary: true)
            var percent: Int?
            if !stable.isEmpty, !canaries.isEmpty {
                let w = Rollout.weights(stable: stable.count, canary: canaries.count, percent: spec.update.canary.weight)
                percent = spec.update.canary.weight
                for i in stable.indices { stable[i].weight = w.stable }
                for i in canaries.indices { canaries[i].weight = w.canary }
            }
            let all = (stable + canaries).sorted { ($0.canary ? 1 : 0, $0.address, $0.port) < ($1.canary ? 1 : 0, $1.address, $1.port) }
            for route in spec.routes {
                // The same guards as on one host: no renderer ever sees a value outside the manifest rules.
                guard ManifestRules.isHostname(route.host), ManifestRules.isRoutePath(route.path) else { continue }
                let strip = route.stripPrefix && route.path != "/" && ManifestRules.isStrippablePath(route.path)
                entries.append(Entry(host: route.host, path: route.path, service: spec.name, targets: all, stripPrefix: strip, canaryPercent: percent))
            }
        }
        return RouteTable(entries: entries)
    }
}
