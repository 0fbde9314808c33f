import FlotillaCore
import FlotillaEngine

/// Named networks: created before the replicas that join them, removed when nothing joins them.
extension Applier {
    /// Creates the named networks the specs join, once each. Returns, per service name, why a
    /// network it joins is not available (the service is then skipped like on an image failure).
    func ensureNetworks(for specs: [ServiceSpec]) async -> [String: String] {
        var unavailable: [String: String] = [:]  // network → why
        for name in Set(specs.flatMap { $0.networks.map(\.name) }).sorted() {
            do {
                if try await engine.ensureNetwork(name, project: options.project) {
                    logger.info("network created", metadata: ["network": "\(name)"])
                }
            } catch {
                logger.error("cannot create network", metadata: ["network": "\(name)", "error": "\(error)"])
                unavailable[name] = "network \(name): \(error)"
            }
        }
        var failures: [String: String] = [:]
        for spec in specs {
            if let why = spec.networks.lazy.compactMap({ unavailable[$0.name] }).first { failures[spec.name] = why }
        }
        return failures
    }

    /// Removes the project's own networks that no service joins any more (the engine refuses
    /// while a container is attached; that is left for a later pass).
    func pruneNetworks(keeping: Set<String>) async {
        guard let owned = try? await engine.ownedNetworks(project: options.project) else { return }
        for name in owned where !keeping.contains(name) {
            if (try? await engine.removeNetwork(name)) != nil {
                logger.info("network removed (no service joins it)", metadata: ["network": "\(name)"])
            }
        }
    }
}
