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
        var remaining = Set(graph.keys)
        var placed = Set<String>()
        var levels: [[String]] = []
        while !remaining.isEmpty {
            let ready = remaining.filter { node in
                graph[node, default: []].allSatisfy { placed.contains($0) || graph[$0] == nil }
            }
            if ready.isEmpty {
                levels.append(remaining.sorted())
                break
            }
            levels.append(ready.sorted())
            placed.formUnion(ready)
            remaining.subtract(ready)
        }
        return levels
    }
}
