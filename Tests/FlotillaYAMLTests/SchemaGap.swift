/// The allow-list: where the JSON Schema and `flotilla validate` may disagree on one document,
/// each because a JSON Schema cannot state the rule. The README's "Schema and validator" lists
/// the same entries (a test checks that each `title` is there); every other disagreement on the
/// generated corpus fails the test.
enum SchemaGap: String, CaseIterable, Sendable {
    case numberSpelling, duplicateKeys, mergeKeys, tags, durationBounds, canaryAboveReplicas, selfDependency,
         sameRouteTwice, samePortTwice, sameNetworkTwice, envAndSecret

    /// The README's words for the entry.
    var title: String {
        switch self {
        case .numberSpelling: "how a number or boolean is spelt"
        case .duplicateKeys: "a key given twice"
        case .mergeKeys: "merge keys"
        case .tags: "tags the validator refuses"
        case .durationBounds: "duration bounds on sums and fractions"
        case .canaryAboveReplicas: "canary replicas at most replicas"
        case .selfDependency: "a service depending on itself"
        case .sameRouteTwice: "a route given twice in two forms"
        case .samePortTwice: "a port given twice in two forms"
        case .sameNetworkTwice: "a network given twice in two forms"
        case .envAndSecret: "a name in both env and secrets"
        }
    }

    /// Why a JSON Schema cannot state it.
    var reason: String {
        switch self {
        case .numberSpelling:
            "The schema sees the value YAML resolved, not its text: `replicas: 0x10`, `2.0` or `1e2` is a whole number to it, while the validator reads decimal digits; `name: +5`, `1.0`, `True` or `host: .5` is a number or a boolean whose text is not a name or a hostname; `.nan` meets every numeric bound."
        case .duplicateKeys:
            "A JSON object has one value per key: the second `replicas:` is gone before the schema looks."
        case .mergeKeys:
            "`<<` is an ordinary key once YAML is JSON; where any key is allowed (`labels`) the schema cannot refuse it."
        case .tags:
            "JSON has no tags: `!!binary`, `!!timestamp` or `!foo` values reach the schema as plain strings."
        case .durationBounds:
            "A duration is a sum of parts with fractions (`50ms50ms`, `0.05s`, `8761h`); its bounds (interval and timeout at least 100ms, auto_promote_after at least 1s, any duration at most a year) are arithmetic on that sum. The schema refuses the plain forms (`1ms`, `0s`)."
        case .canaryAboveReplicas:
            "A number compared with another field's number (`update.canary.replicas` against `replicas`, default 1)."
        case .selfDependency:
            "A value compared with another field's value (`depends_on` against `name`)."
        case .sameRouteTwice:
            "Uniqueness of host and path pairs across entries and forms (`host: a` and `hosts: [a]`, or `A.example` and `a.example`); `uniqueItems` only refuses identical items."
        case .samePortTwice:
            "Uniqueness of container ports and of fixed host ports across forms (`\"80\"`, `80` and `{container: 80}`; `8080:80` and `8080:81`)."
        case .sameNetworkTwice:
            "Uniqueness of network names across forms (`[a, {name: a}]`)."
        case .envAndSecret:
            "The keys of one mapping compared with the keys of another (`env` and `secrets`)."
        }
    }
}
