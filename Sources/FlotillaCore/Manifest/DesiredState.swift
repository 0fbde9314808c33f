/// The whole desired state of a manifest directory: every service, validated one by one and
/// then together (unique names, route ownership, `depends_on` targets and cycles).
///
/// It also remembers which files failed, because prune safety depends on it: a service whose
/// file failed to load must never be mistaken for a removed one.
public struct DesiredState: Sendable {
    /// Valid services from files that loaded without errors, sorted by name.
    public private(set) var services: [ServiceSpec] = []
    /// Which file each service (valid or not) came from.
    public private(set) var sourceFile: [String: String] = [:]
    /// Every manifest file considered, sorted.
    public private(set) var files: [String] = []
    /// Files with at least one error. Their services are excluded from ``services``.
    public private(set) var failedFiles: Set<String> = []
    /// Names of services decoded from failed files (those that got far enough to have one).
    public private(set) var servicesInFailedFiles: Set<String> = []
    /// Every problem, sorted by file and position.
    public private(set) var diagnostics: [Diagnostic] = []
    /// The git commit the manifests were read at (`3f2a91c0d4e1`, `-dirty` with uncommitted
    /// changes), when the directory is in a git work tree. Set by the loader.
    public var revision: String?

    public var isValid: Bool { diagnostics.isEmpty }

    /// - Parameters:
    ///   - secrets: reads the files named by `env_file` and `secrets`.
    ///   - mounts: which host paths `volumes` may bind-mount (the operator's choice).
    ///   - digestKey: keys the digests that stand for secret values (the host's key).
    ///   - claimedRoutes: hosts and paths other projects on this host serve through the same proxy.
    public init(files manifestFiles: [ManifestFile], secrets: any SecretReader = NoSecretReader(), mounts: MountPolicy = .refuseHostPaths,
                digestKey: SecretDigestKey = .ephemeral, claimedRoutes: ClaimedRoutes = ClaimedRoutes()) {
        var builder = Builder(secrets: secrets, mounts: mounts, digestKey: digestKey)
        for file in manifestFiles.sorted(by: { $0.path < $1.path }) { builder.add(file) }
        self = builder.finish(claimedRoutes: claimedRoutes)
    }

    /// Builds a ``DesiredState`` one file at a time, so that a file's YAML documents can be
    /// dropped once decoded: a directory's documents together weighed about 10× its bytes, and
    /// were all held until the checks across files had run. Those checks need only positions,
    /// which ``ServiceMarks`` keeps. Files must be added in path order.
    public struct Builder {
        let secrets: any SecretReader
        let mounts: MountPolicy
        let digestKey: SecretDigestKey
        var state = DesiredState()
        var decoded: [(spec: ServiceSpec, file: String, marks: ServiceMarks)] = []
        var diagnostics: [Diagnostic] = []

        public init(secrets: any SecretReader = NoSecretReader(), mounts: MountPolicy = .refuseHostPaths, digestKey: SecretDigestKey = .ephemeral) {
            self.secrets = secrets
            self.mounts = mounts
            self.digestKey = digestKey
        }

        /// Decodes every document of `file` (each on its own) and keeps what the checks across
        /// files need.
        public mutating func add(_ file: ManifestFile) {
            state.files.append(file.path)
            diagnostics += file.diagnostics
            for document in file.documents where document.scalar?.isNull != true {  // an empty document ("---" alone)
                let (spec, problems) = ServiceDecoder.decode(document, file: file.path, secrets: secrets, mounts: mounts, digestKey: digestKey)
                diagnostics += problems
                if let spec {
                    decoded.append((spec, file.path, ServiceMarks(of: spec, in: document)))
                } else if let name = DesiredState.declaredName(in: document) {
                    state.sourceFile[name] = file.path
                    state.servicesInFailedFiles.insert(name)
                }
            }
        }

        /// The checks across files (unique names, route owners and claims, `depends_on`
        /// targets and cycles), then the state.
        public func finish(claimedRoutes: ClaimedRoutes = ClaimedRoutes()) -> DesiredState {
            var state = state
            var diagnostics = diagnostics
            let decoded = decoded

            // Unique names across the directory. `byName` holds indices into `decoded` (never copies
            // of the entries: a ServiceSpec is large, and copying them dominated at 10,000 services).
            var byName: [String: Int] = [:]
            byName.reserveCapacity(decoded.count)
            for (index, entry) in decoded.enumerated() {
                if let firstIndex = byName[entry.spec.name] {
                    let first = decoded[firstIndex]
                    diagnostics.append(Diagnostic(file: entry.file, at: entry.marks.name,
                        "service \"\(entry.spec.name)\" is already defined at \(first.file):\(first.marks.name); service names must be unique across the directory"))
                } else {
                    byName[entry.spec.name] = index
                }
                state.sourceFile[entry.spec.name] = state.sourceFile[entry.spec.name] ?? entry.file
            }

            // Each host+path belongs to one service.
            var routeOwner: [String: (service: String, file: String, mark: SourceMark)] = [:]
            for entry in decoded where byName[entry.spec.name].map({ decoded[$0].file }) == entry.file {
                for route in entry.spec.routes {
                    let mark = entry.marks.route(route)
                    if let holder = claimedRoutes.byKey[route.key] {
                        diagnostics.append(Diagnostic(file: entry.file, at: mark,
                            "route \(route.host)\(route.path) is already served by project \"\(holder.project)\" on this host (its route file \(holder.routesFile)); "
                            + "a host and path belong to one project of a shared proxy: give this service another host or path, or have project \"\(holder.project)\" drop the route first"))
                        continue
                    }
                    if let holder = claimedRoutes.byHost[route.host] {
                        diagnostics.append(Diagnostic(file: entry.file, at: mark,
                            "route \(route.host)\(route.path): host \(route.host) is already served by project \"\(holder.project)\" on this host (its route file \(holder.routesFile)), "
                            + "and nginx and Caddy read each host from one project's file, whatever the paths (nginx ignores a second server block of a name, Caddy refuses two site blocks of one address): "
                            + "give this service another host, or have project \"\(holder.project)\" drop its routes on \(route.host) first"))
                        continue
                    }
                    if let owner = routeOwner[route.key] {
                        guard owner.service != entry.spec.name else { continue }
                        diagnostics.append(Diagnostic(file: entry.file, at: mark,
                            "route \(route.host)\(route.path) is already served by service \"\(owner.service)\" (\(owner.file):\(owner.mark)); give one of them another host or path"))
                    } else {
                        routeOwner[route.key] = (entry.spec.name, entry.file, mark)
                    }
                }
            }

            // depends_on targets exist (a service in a failed file counts as existing: its file has its own error).
            // "Did you mean" compares against every name: bounded, so thousands of unknown names stay linear.
            let names = byName.keys.sorted()
            var hintBudget = 1_000_000
            for entry in decoded {
                for (i, dependency) in entry.spec.dependsOn.enumerated() where byName[dependency] == nil && !state.servicesInFailedFiles.contains(dependency) {
                    hintBudget -= names.count
                    let hint = hintBudget < 0 ? "" : EditDistance.suggestion(for: dependency, in: names).map { "; did you mean \"\($0)\"?" } ?? ""
                    diagnostics.append(Diagnostic(file: entry.file, at: entry.marks.dependsOn(i),
                        "service \"\(entry.spec.name)\" depends on unknown service \"\(dependency)\"\(hint)"))
                }
            }

            // No dependency cycles; each cycle is reported once, at its alphabetically first member.
            let graph = byName.mapValues { decoded[$0].spec.dependsOn.filter { byName[$0] != nil } }
            for cycle in DependencyGraph.cycles(in: graph) {
                let first = cycle[0]
                let entry = decoded[byName[first]!]
                let index = entry.spec.dependsOn.firstIndex(of: cycle.count > 1 ? cycle[1] : first) ?? 0
                diagnostics.append(Diagnostic(file: entry.file, at: entry.marks.dependsOn(index),
                    "dependency cycle: " + (cycle + [first]).joined(separator: " -> ") + "; remove one of these depends_on entries"))
            }

            state.diagnostics = diagnostics.sortedByLocation()
            state.failedFiles = Set(state.diagnostics.map(\.file))
            for entry in decoded where state.failedFiles.contains(entry.file) { state.servicesInFailedFiles.insert(entry.spec.name) }
            // Sorted as (name, index) pairs, each spec copied once at the end: a comparison that
            // reached a name through `decoded[i]` copied the whole entry, a retain and a release
            // per field of the spec (8% of load + plan at 10,000 services).
            state.services = byName.filter { !state.failedFiles.contains(decoded[$0.value].file) }
                .sorted { $0.key < $1.key }.map { decoded[$0.value].spec }
            return state
        }
    }

    init() {}

    /// For planner tests: a state with the given services and failed files (file → service names).
    mutating func setForTesting(services: [ServiceSpec], failedFiles: [String: [String]]) {
        self.services = services.sorted { $0.name < $1.name }
        self.failedFiles = Set(failedFiles.keys)
        self.servicesInFailedFiles = Set(failedFiles.values.joined())
        self.diagnostics = failedFiles.keys.sorted().map { Diagnostic(file: $0, line: 1, column: 1, message: "failed") }
    }

    // MARK: - Locating nodes for messages

    static func declaredName(in document: YAMLNode) -> String? {
        guard case .mapping(let pairs) = document.kind,
              let value = pairs.first(where: { $0.key.scalar?.value == "name" })?.value.scalar?.value,
              ManifestRules.isDNSLabel(value) else { return nil }
        return value
    }

    /// The value of `key` in a service document (nil: not a mapping, or no such key).
    public static func value(of key: String, in document: YAMLNode) -> YAMLNode? {
        guard case .mapping(let pairs) = document.kind else { return nil }
        return pairs.first { $0.key.scalar?.value == key }?.value
    }

    static func valueMark(of key: String, in document: YAMLNode) -> SourceMark {
        value(of: key, in: document)?.mark ?? document.mark
    }

    /// The route item that declares `route`: its host (`host:` or one of `hosts:`) and its path
    /// (`path:`, one of `paths:`, or neither for "/"). Points at the path when one is written.
    static func routeMark(of route: Route, in document: YAMLNode) -> SourceMark {
        guard let routes = value(of: "routes", in: document), case .sequence(let items) = routes.kind else {
            return valueMark(of: "routes", in: document)
        }
        func entries(_ node: YAMLNode?) -> [YAMLNode] {
            guard let node else { return [] }
            if case .sequence(let list) = node.kind { return list }
            return [node]
        }
        for item in items {
            let hosts = entries(value(of: "host", in: item)) + entries(value(of: "hosts", in: item))
            guard hosts.contains(where: { $0.scalar?.value.lowercased() == route.host }) else { continue }
            let paths = entries(value(of: "path", in: item)) + entries(value(of: "paths", in: item))
            if paths.isEmpty, route.path == "/" { return item.mark }
            if let path = paths.first(where: { $0.scalar?.value == route.path }) { return path.mark }
        }
        return routes.mark
    }

    static func dependsOnMark(_ index: Int, in document: YAMLNode) -> SourceMark {
        guard let list = value(of: "depends_on", in: document), case .sequence(let items) = list.kind,
              items.indices.contains(index) else { return valueMark(of: "depends_on", in: document) }
        return items[index].mark
    }
}
