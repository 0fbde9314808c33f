/// The rules between two fields of a service that a JSON Schema can state (draft-07 `if`/`then`),
/// each as the decoder enforces it (``ServiceDecoder/service(_:)``). The ones it cannot state
/// (a number compared with another, one value equal to another) are listed in the README's
/// "Schema and validator".
extension ManifestSchema {
    static var relations: [JSON] {
        func when(_ condition: [(String, JSON)], then: [(String, JSON)]) -> JSON { .object([("if", .object(condition)), ("then", .object(then))]) }
        func field(_ key: String, _ schema: [(String, JSON)]) -> [(String, JSON)] {
            [("required", .array([.string(key)])), ("properties", .object([(key, .object(schema))]))]
        }
        let containerPortOnly = JSON.object([("anyOf", .array([
            .object(string(pattern: ManifestRules.containerPortPattern)),
            .object([("type", .string("integer"))]),
            .object([("type", .string("object")), ("not", .object([("required", .array([.string("host")]))]))]),
        ]))])
        return [
            // Routes and health checks need the container port they go to.
            when(field("routes", [("type", .string("array")), ("minItems", .int(1))]), then: [("required", .array([.string("port")]))]),
            when([("required", .array([.string("health")]))], then: [("required", .array([.string("port")]))]),
            // A canary release needs a replica to replace.
            when(field("update", field("strategy", [("const", .string("canary"))])), then: [("properties", .object([("replicas", .object([("minimum", .int(1))]))]))]),
            // A fixed host port can be bound by one replica only.
            when(field("replicas", [("minimum", .int(2))]), then: [("properties", .object([("ports", .object([("items", containerPortOnly)]))]))]),
            // Host networking publishes nothing and joins no network.
            when(field("network", [("const", .string("host"))]),
                 then: [("properties", .object([("ports", .object([("maxItems", .int(0))])), ("networks", .object([("maxItems", .int(0)), ("maxProperties", .int(0))]))]))]),
        ]
    }
}
