/// Where a decoded service wrote what the checks across files point at: its name, each route,
/// each `depends_on` entry. Kept in place of the YAML document, which weighs far more.
struct ServiceMarks: Sendable {
    var name: SourceMark
    var routes: [String: SourceMark]
    var routesFallback: SourceMark
    var dependsOn: [SourceMark]
    var dependsOnFallback: SourceMark

    init(of spec: ServiceSpec, in document: YAMLNode) {
        name = DesiredState.valueMark(of: "name", in: document)
        routesFallback = DesiredState.valueMark(of: "routes", in: document)
        var routes: [String: SourceMark] = [:]
        for route in spec.routes where routes[route.key] == nil { routes[route.key] = DesiredState.routeMark(of: route, in: document) }
        self.routes = routes
        dependsOn = spec.dependsOn.indices.map { DesiredState.dependsOnMark($0, in: document) }
        dependsOnFallback = DesiredState.valueMark(of: "depends_on", in: document)
    }

    func route(_ route: Route) -> SourceMark { routes[route.key] ?? routesFallback }

    func dependsOn(_ index: Int) -> SourceMark { dependsOn.indices.contains(index) ? dependsOn[index] : dependsOnFallback }
}
