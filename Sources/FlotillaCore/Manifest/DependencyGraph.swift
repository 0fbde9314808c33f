/// Ordering and cycle detection over `depends_on`.
public enum DependencyGraph {
    /// Every elementary cycle found by a depth-first search, each rotated to start at its
    /// smallest name and listed once, sorted. `graph` maps a service to the services it depends on.
    public static func cycles(in graph: [String: [String]]) -> [[String]] {
        // Iterative depth-first search (a 50,000-service chain must not overflow the stack).
        var state: [String: Int] = [:]  // 1 = on the path, 2 = done
        var path: [String] = []
        var position: [String: Int] = [:]  // index in `path`
        var found = Set<[String]>()
        for root in graph.keys.sorted() where state[root] == nil {
            var frames: [(node: String, next: [String], index: Int)] = [(root, graph[root, default: []].sorted(), 0)]
            state[root] = 1
            position[root] = 0
            path.append(root)
            while !frames.isEmpty {
                let top = frames.count - 1
                guard frames[top].index < frames[top].next.count else {
                    let node = frames.removeLast().node
                    path.removeLast()
                    position[node] = nil
                    state[node] = 2
                    continue
                }
                let next = frames[top].next[frames[top].index]
                frames[top].index += 1
                switch state[next] {
                case 1:
                    let cycle = Array(path[position[next]!...])
                    let pivot = cycle.firstIndex(of: cycle.min()!)!
                    found.insert(Array(cycle[pivot...] + cycle[..<pivot]))
                case nil:
                    state[next] = 1
                    position[next] = path.count
                    path.append(next)
                    frames.append((next, graph[next, default: []].sorted(), 0))
                default:
                    break
                }
            }
        }
        return found.sorted { $0.joined(separator: ",") < $1.joined(separator: ",") }
    }

    /// Services grouped in start order: each level depends only on earlier levels.
    /// Dependencies outside `graph` are ignored; members of a cycle end up in a final level.
    public static func levels(of graph: [String: [String]]) -> [[String]] {
        // Kahn's algorithm, O(services + edges): a service's level is one past its deepest dependency.
        var pending: [String: Int] = [:]
        var dependents: [String: [String]] = [:]
        for (node, deps) in graph {
            let inside = Set(deps.filter { graph[$0] != nil })
            pending[node] = inside.count
            for dep in inside { dependents[dep, default: []].append(node) }
        }
        var level: [String: Int] = [:]
        var ready = pending.filter { $0.value == 0 }.map(\.key)
        for node in ready { level[node] = 0 }
        while let node = ready.popLast() {
            for next in dependents[node, default: []] {
                level[next] = max(level[next] ?? 0, level[node]! + 1)
                pending[next]! -= 1
                if pending[next] == 0 { ready.append(next) }
            }
        }
        var levels: [[String]] = Array(repeating: [], count: (level.values.max() ?? -1) + 1)
        for (node, l) in level { levels[l].append(node) }
        levels = levels.map { $0.sorted() }
        let cyclic = graph.keys.filter { level[$0] == nil }.sorted()
        if !cyclic.isEmpty { levels.append(cyclic) }
        return levels
    }
}
