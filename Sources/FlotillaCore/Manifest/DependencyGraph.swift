/// Ordering and cycle detection over `depends_on`.
public enum DependencyGraph {
    /// Every elementary cycle found by a depth-first search, each rotated to start at its
    /// smallest name and listed once, sorted. `graph` maps a service to the services it depends on.
    public static func cycles(in graph: [String: [String]]) -> [[String]] {
        var state: [String: Int] = [:]  // 1 = on the stack, 2 = done
        var stack: [String] = []
        var found = Set<[String]>()

        func visit(_ node: String) {
            state[node] = 1
            stack.append(node)
            for next in graph[node, default: []].sorted() {
                switch state[next] {
                case 1:
                    let start = stack.lastIndex(of: next)!
                    let cycle = Array(stack[start...])
                    let pivot = cycle.firstIndex(of: cycle.min()!)!
                    found.insert(Array(cycle[pivot...] + cycle[..<pivot]))
                case nil:
                    visit(next)
                default:
                    break
                }
            }
            stack.removeLast()
            state[node] = 2
        }

        for node in graph.keys.sorted() where state[node] == nil { visit(node) }
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
