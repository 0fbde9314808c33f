extension ServiceSpec {
    /// The canonical form of everything that shapes a container: sorted keys, defaults filled in,
    /// one unambiguous encoding. Key order, comments and YAML formatting cannot change it.
    ///
    /// Secrets appear as digests, never as values.
    ///
    /// Deliberately left out: `replicas` (scaling must not replace), `routes`, `health`,
    /// `update`, `depends_on` and `pull` (they steer Flotilla and the proxy, not the container),
    /// so that changing them never restarts a running service.
    public var canonicalContainerForm: String { String(decoding: canonicalContainerBytes, as: UTF8.self) }

    /// ``canonicalContainerForm`` as UTF-8, built as bytes: this runs for every service on every
    /// plan, and appending to a `String` piece by piece was a third of the cost of planning.
    var canonicalContainerBytes: [UInt8] {
        var out: [UInt8] = Array("flotilla.spec.v1\n".utf8)
        out.reserveCapacity(512)
        func field(_ key: String, _ value: String) {
            out += key.utf8
            out.append(0x3d)  // =
            JSONString.append(value, to: &out)
            out.append(0x0a)
        }
        field("name", name)
        field("image", image)
        if let command { field("command", "[" + command.map(Self.quote).joined(separator: ",") + "]") } else { field("command", "~") }
        field("port", port.map(String.init) ?? "~")
        field("network", network.rawValue)
        for key in env.keys.sorted() { field("env." + key, env[key]!) }
        for key in labels.keys.sorted() { field("label." + key, labels[key]!) }
        for volume in volumes { field("volume", volume) }
        field("stop_timeout", String(stopTimeout.milliseconds))
        // Fields added after v1 appear only when set, so containers created before they existed
        // keep their hash (an upgrade of Flotilla replaces nothing).
        for key in secrets.keys.sorted() { field("secret." + key, secrets[key]!.digest) }
        if let memory = resources.memoryBytes { field("resources.memory", String(memory)) }
        if let cpus = resources.nanoCPUs { field("resources.nano_cpus", String(cpus)) }
        if restartPolicy != .no { field("restart_policy", restartPolicy.rawValue + (restartMaxRetries.map { ":\($0)" } ?? "")) }
        for mapping in ports { field("ports", mapping.description) }
        if let entrypoint { field("entrypoint", "[" + entrypoint.map(Self.quote).joined(separator: ",") + "]") }
        for attachment in networks { field("network." + attachment.name, attachment.aliases.joined(separator: ",")) }
        return out
    }

    /// A stable digest of ``canonicalContainerForm`` (first 16 hex digits of SHA-256), stored
    /// in each container's labels to tell whether it still matches its manifest.
    public var specHash: String {
        memo.get { String(Digests.sha256Hex(canonicalContainerBytes).prefix(16)) }
    }

    static func quote(_ s: String) -> String { JSONString.quote(s) }
}
