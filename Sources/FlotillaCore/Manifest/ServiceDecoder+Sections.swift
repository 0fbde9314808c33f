/// The nested sections of a service: routes, health, update, env and labels.
extension ServiceDecoder {
    mutating func routes(_ node: YAMLNode) -> [Route] {
        guard case .sequence(let items) = node.kind else {
            if node.scalar?.isNull == true { return [] }
            error(node, "routes must be a list of {host, path}, found \(node.typeName)")
            return []
        }
        var result: [Route] = []
        var seen = Set<String>()
        for item in items {
            guard let fields = mapping(item, of: "a route", allowed: Self.routeKeys) else { continue }
            let hosts = oneOrMany(fields, single: "host", plural: "hosts", at: item, required: true) { value in
                ManifestRules.isHostname(value) ? nil
                    : "host \"\(value)\" is not a hostname; use letters, digits, \"-\" and \".\" (RFC 1123), optionally starting with \"*.\""
            }.map { $0.lowercased() }
            var paths = oneOrMany(fields, single: "path", plural: "paths", at: item, required: false) { value in
                ManifestRules.isRoutePath(value) ? nil
                    : "path \"\(ServiceDecoder.excerpt(value))\" must start with \"/\" and hold only letters, digits and - / . _ ~ ! & ( ) + , = : @ (characters every proxy reads literally; * ? [ ] are wildcards in some), and no \"//\", \"/./\" or \"/../\" (no request path has them once normalized: the route would never match)"
            }
            if fields["path"] == nil && fields["paths"] == nil { paths = ["/"] }
            var strip = false
            if let n = fields["strip_prefix"], let v = boolean(n, "strip_prefix") {
                strip = v
                if v, let bad = paths.first(where: { !ManifestRules.isStrippablePath($0) }) {
                    error(n, "strip_prefix needs paths of letters, digits and / . _ ~ - only; \"\(bad)\" has other characters")
                }
            }
            for host in hosts {
                for path in paths {
                    let route = Route(host: host, path: path, stripPrefix: strip)
                    if !seen.insert(route.key).inserted {
                        error(item, "route \(route.host)\(route.path) is listed twice")
                        continue
                    }
                    result.append(route)
                }
            }
        }
        return result
    }

    /// `key: value` or `keys: [values]` (not both); `problem` says what is wrong with a value.
    mutating func oneOrMany(_ fields: [String: YAMLNode], single: String, plural: String, at item: YAMLNode, required: Bool,
                            problem: (String) -> String?) -> [String] {
        func check(_ node: YAMLNode, _ value: String) -> String? {
            if let message = problem(value) { error(node, message); return nil }
            return value
        }
        switch (fields[single], fields[plural]) {
        case (.some, .some):
            error(fields[plural]!, "a route takes \(single) or \(plural), not both")
            return []
        case (.some(let n), nil):
            return string(n, single).flatMap { check(n, $0) }.map { [$0] } ?? []
        case (nil, .some(let n)):
            guard let values = stringList(n, plural, hint: "write it as a list, e.g. [a.example.com, b.example.com]") else { return [] }
            if values.isEmpty { error(n, "\(plural) must not be empty") }
            return values.enumerated().compactMap { i, v in check(listItem(n, i), v) }
        case (nil, nil):
            if required { diagnostics.append(Diagnostic(file: file, at: item.mark, "missing required key \"\(single)\" (or \"\(plural)\")")) }
            return []
        }
    }

    /// Either one check (`http`/`tcp` …: readiness and liveness together, the original form) or
    /// `readiness:` and/or `liveness:`, each a check of its own.
    mutating func health(_ node: YAMLNode) -> (readiness: HealthCheck?, liveness: HealthCheck?) {
        guard case .mapping(let pairs) = node.kind else {
            error(node, "health must be a mapping, found \(node.typeName)")
            return (nil, nil)
        }
        let keys = pairs.compactMap { $0.key.scalar?.value }
        let roles = keys.filter { Self.healthRoleKeys.contains($0) }
        let misspeltRole = keys.contains { !Self.probeKeys.contains($0) && EditDistance.suggestion(for: $0, in: Self.healthRoleKeys) != nil }
        if roles.isEmpty && !misspeltRole {
            let check = probe(node, of: "health")
            return (check, check)
        }
        guard let fields = mapping(node, of: "health (with readiness/liveness)", allowed: Self.healthRoleKeys) else { return (nil, nil) }
        return (fields["readiness"].flatMap { probe($0, of: "readiness") }, fields["liveness"].flatMap { probe($0, of: "liveness") })
    }

    mutating func probe(_ node: YAMLNode, of what: String) -> HealthCheck? {
        guard let fields = mapping(node, of: what, allowed: Self.probeKeys) else { return nil }
        var probe: HealthCheck.Probe?
        switch (fields["http"], fields["tcp"]) {
        case (.some, .some):
            error(node, "\(what) takes either http or tcp, not both")
        case (.some(let h), nil):
            if let path = string(h, "http") {
                if ManifestRules.isSafePath(path) { probe = .http(path: path) }
                else { error(h, "\(what) http path \"\(path)\" must start with \"/\" and contain no spaces, quotes, ; { } # $ or \\") }
            }
        case (nil, .some(let t)):
            if let on = boolean(t, "tcp") {
                if on { probe = .tcp } else { error(t, "tcp: false checks nothing; remove the \(what) section or use \"tcp: true\"") }
            }
        case (nil, nil):
            error(node, "\(what) needs a probe: add \"http: /path\" or \"tcp: true\"")
        }
        var check = HealthCheck(probe: probe ?? .tcp)
        if let n = fields["interval"], let v = duration(n, "interval", minimum: ManifestRules.minimumProbeMilliseconds) { check.interval = v }
        if let n = fields["timeout"], let v = duration(n, "timeout", minimum: ManifestRules.minimumProbeMilliseconds) { check.timeout = v }
        if let n = fields["retries"], let v = integer(n, "retries", in: ManifestRules.probeRetries) { check.retries = v }
        if let n = fields["start_period"], let v = duration(n, "start_period") { check.startPeriod = v }
        return probe == nil ? nil : check
    }

    mutating func update(_ node: YAMLNode) -> UpdatePolicy {
        var policy = UpdatePolicy()
        guard let fields = mapping(node, of: "update", allowed: Self.updateKeys) else { return policy }
        if let n = fields["strategy"], let v = oneOf(n, "strategy", UpdatePolicy.Strategy.self) { policy.strategy = v }
        if let n = fields["order"], let v = oneOf(n, "order", UpdatePolicy.Order.self) { policy.order = v }
        if let n = fields["parallelism"], let v = integer(n, "parallelism", in: ManifestRules.parallelism) { policy.parallelism = v }
        if let n = fields["canary"] {
            if policy.strategy != .canary {
                error(n, "canary settings need \"strategy: canary\" in update")
            }
            if let canary = mapping(n, of: "update.canary", allowed: Self.canaryKeys) {
                if let c = canary["replicas"], let v = integer(c, "canary replicas", in: ManifestRules.canaryReplicas) { policy.canary.replicas = v }
                if let c = canary["weight"], let v = integer(c, "canary weight", in: ManifestRules.canaryWeight) { policy.canary.weight = v }
                // `none` (never: the default, as the README's table writes it) or a duration.
                if let c = canary["auto_promote_after"], c.scalar?.value != "none",
                   let v = duration(c, "auto_promote_after", minimum: ManifestRules.minimumPromotionMilliseconds) { policy.canary.autoPromoteAfter = v }
            }
        }
        return policy
    }

    mutating func env(_ node: YAMLNode) -> [String: String] {
        guard let fields = mapping(node, of: "env", allowed: nil) else { return [:] }
        var result: [String: String] = [:]
        for (key, value) in fields {
            guard ManifestRules.isEnvName(key) else {
                error(keyNode(of: key, in: node) ?? value, "env name \"\(key)\" must match [A-Za-z_][A-Za-z0-9_]*")
                continue
            }
            guard let s = value.scalar, !s.isNull else {
                error(value, "env \(key) must be a scalar value, found \(value.typeName); write \"\" for an empty value")
                continue
            }
            guard !s.value.utf8.contains(0) else {
                error(value, "env \(key) must not contain a NUL byte (\\0); the process would see the value cut there")
                continue
            }
            result[key] = s.value
        }
        return result
    }

    mutating func labels(_ node: YAMLNode) -> [String: String] {
        guard let fields = mapping(node, of: "labels", allowed: nil) else { return [:] }
        var result: [String: String] = [:]
        for (key, value) in fields {
            // The key's position only when there is an error to report (a lookup per key would be quadratic).
            var at: YAMLNode { keyNode(of: key, in: node) ?? value }
            guard ManifestRules.isLabelKey(key) else { error(at, "label key \"\(key)\" must be printable ASCII without spaces"); continue }
            guard !key.hasPrefix(Self.reservedLabelPrefix) else {
                error(at, "label key \"\(key)\" uses the prefix \"\(Self.reservedLabelPrefix)\", which Flotilla reserves for its own labels")
                continue
            }
            guard let s = value.scalar, !s.isNull else { error(value, "label \(key) must be a scalar value, found \(value.typeName)"); continue }
            result[key] = s.value
        }
        return result
    }
}
