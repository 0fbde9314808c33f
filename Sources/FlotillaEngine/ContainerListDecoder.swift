import FlotillaCore

/// Reads the engine's container list (`GET /containers/json`) in one pass over its bytes, taking
/// only what an ``ObservedContainer`` is made of.
///
/// Why not `JSONDecoder`: at 500 containers the list is about half a megabyte, and the keyed
/// decoding into a dictionary of every label of every container was a third of the watchdog's
/// CPU (issue 27). Here a label that is not Flotilla's is skipped without being copied, and the
/// ones that are land in ``OwnedLabels`` fields, not a dictionary.
///
/// Contract: for every well-formed list it yields what the keyed decoding of
/// ``ContainerSummaryDTO`` yields for these fields (`ContainerListDecoderTests` compares them);
/// malformed JSON throws ``EngineError/malformedResponse(_:)``, never a partial list.
public enum ContainerListDecoder {
    /// One container of the list: the fields Flotilla reads.
    public struct Summary: Sendable {
        public var id = ""
        public var name: String?
        public var state = ""
        public var created: Int64 = 0
        public var published: [(privatePort: Int?, publicPort: Int)] = []
        public var labels = OwnedLabels()
    }

    /// Every container of the list, in the engine's order. `ownerLabel`: the label whose value
    /// says who owns a container (``OwnershipLabel/project``).
    public static func decode(_ bytes: [UInt8], ownerLabel: String) throws -> [Summary] {
        let keys = OwnedLabels.Keys(owner: ownerLabel)
        return try bytes.withUnsafeBufferPointer { buffer in
            var scanner = JSONScanner(buffer)
            var all: [Summary] = []
            try scanner.array { all.append(try summary(&$0, keys: keys)) }
            try scanner.expectEnd()
            return all
        }
    }

    static func summary(_ s: inout JSONScanner, keys: OwnedLabels.Keys) throws -> Summary {
        var out = Summary()
        try s.object { s, key in
            if s.equals(key, "Id") {
                out.id = try s.string() ?? ""
            } else if s.equals(key, "Names") {
                guard try !s.consumeNull() else { return }
                try s.array { s in
                    let name = try s.string()
                    if out.name == nil { out.name = name }
                }
            } else if s.equals(key, "State") {
                // A string in both engines' compat lists; anything else reads as unknown.
                if s.peekIsString() { out.state = try s.string() ?? "" } else { try s.skipValue() }
            } else if s.equals(key, "Created") {
                out.created = try s.integer() ?? 0
            } else if s.equals(key, "Ports") {
                guard try !s.consumeNull() else { return }
                try s.array { s in
                    var privatePort: Int?, publicPort: Int?
                    guard try !s.consumeNull() else { return }
                    try s.object { s, key in
                        if s.equals(key, "PrivatePort") {
                            privatePort = try s.integer().map { Int($0) }
                        } else if s.equals(key, "PublicPort") {
                            publicPort = try s.integer().map { Int($0) }
                        } else {
                            try s.skipValue()
                        }
                    }
                    if let publicPort, publicPort != 0 { out.published.append((privatePort, publicPort)) }
                }
            } else if s.equals(key, "Labels") {
                guard try !s.consumeNull() else { return }
                try s.object { s, key in
                    if let field = keys.field(of: key, in: s) {
                        out.labels[field] = try s.string()
                    } else {
                        try s.skipValue()
                    }
                }
            } else {
                try s.skipValue()
            }
        }
        return out
    }
}

/// Flotilla's own labels of one container, each in its field (nil: absent).
public struct OwnedLabels: Sendable, Hashable {
    public enum Field: Int, CaseIterable, Sendable {
        case owner, service, specHash, hostPort, containerPort, canonicalSpec, createdAt, role, checks, source, seal, revision
    }

    public var owner: String?
    public var service: String?
    public var specHash: String?
    public var hostPort: String?
    public var containerPort: String?
    public var canonicalSpec: String?
    public var createdAt: String?
    public var role: String?
    public var checks: String?
    public var source: String?
    public var seal: String?
    public var revision: String?

    public init() {}

    /// From a container's whole label dictionary (an inspect document, the simulator's engine).
    public init(_ labels: [String: String], ownerLabel: String) {
        for field in Field.allCases { self[field] = labels[Keys.name(of: field, owner: ownerLabel)] }
    }

    public subscript(_ field: Field) -> String? {
        get { self[keyPath: Self.keyPath(field)] }
        set { self[keyPath: Self.keyPath(field)] = newValue }
    }

    static func keyPath(_ field: Field) -> WritableKeyPath<OwnedLabels, String?> {
        switch field {
        case .owner: \.owner
        case .service: \.service
        case .specHash: \.specHash
        case .hostPort: \.hostPort
        case .containerPort: \.containerPort
        case .canonicalSpec: \.canonicalSpec
        case .createdAt: \.createdAt
        case .role: \.role
        case .checks: \.checks
        case .source: \.source
        case .seal: \.seal
        case .revision: \.revision
        }
    }

    /// The label names, as bytes, in ``Field`` order.
    struct Keys {
        let names: [[UInt8]]

        init(owner: String) {
            names = Field.allCases.map { Array(Self.name(of: $0, owner: owner).utf8) }
        }

        static func name(of field: Field, owner: String) -> String {
            switch field {
            case .owner: owner
            case .service: OwnershipLabel.service
            case .specHash: OwnershipLabel.specHash
            case .hostPort: OwnershipLabel.hostPort
            case .containerPort: OwnershipLabel.containerPort
            case .canonicalSpec: OwnershipLabel.canonicalSpec
            case .createdAt: OwnershipLabel.createdAt
            case .role: OwnershipLabel.role
            case .checks: OwnershipLabel.checks
            case .source: OwnershipLabel.source
            case .seal: OwnershipLabel.seal
            case .revision: OwnershipLabel.revision
            }
        }

        /// Which field a label key names, if any.
        func field(of key: JSONScanner.StringSpan, in scanner: JSONScanner) -> Field? {
            for (index, name) in names.enumerated() where scanner.equals(key, name) { return Field(rawValue: index) }
            return nil
        }
    }
}
