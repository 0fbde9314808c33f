/// The table itself, for anything else to consume:
/// `{"routes":[{"host":…,"path":…,"match":{"exact":…,"prefix":…},"project":…,"service":…,"strip_prefix":…,"canary_percent":…,"targets":[{"address":…,"port":…,"container":…,"weight":…,"canary":…}]}]}`
/// with keys in a fixed order and one route per line. `match` spells out which request paths the
/// route serves (whole segments, see ``PathMatch``): the path equal to `exact` (null: none) or any
/// path starting with `prefix`; `/api` gives `{"exact":"/api","prefix":"/api/"}`, never `/apiary`.
/// Each route names its project beside its service: a consumer merging several projects' files
/// would otherwise see two services `web` as one.
enum JSONRouteRenderer {
    static func render(_ table: RouteTable, project: String) -> String {
        let routes = table.entries.map { entry in
            let targets = entry.targets.map {
                "{\"address\":\(quote($0.address)),\"port\":\($0.port),\"container\":\(quote($0.container)),\"weight\":\($0.weight),\"canary\":\($0.canary)}"
            }
            let match = entry.match
            return "    {\"host\":\(quote(entry.host)),\"path\":\(quote(entry.path)),"
                + "\"match\":{\"exact\":\(match.exact.map(quote) ?? "null"),\"prefix\":\(quote(match.prefix))},\"project\":\(quote(project)),\"service\":\(quote(entry.service)),\"strip_prefix\":\(entry.stripPrefix),"
                + "\"canary_percent\":\(entry.canaryPercent.map(String.init) ?? "null"),\"targets\":[" + targets.joined(separator: ",") + "]}"
        }
        return "{\n  \"generated_by\": \"flotilla\",\n  \"routes\": [\n" + routes.joined(separator: ",\n") + (routes.isEmpty ? "" : "\n") + "  ]\n}\n"
    }

    static func quote(_ s: String) -> String { JSONString.quote(s) }
}
