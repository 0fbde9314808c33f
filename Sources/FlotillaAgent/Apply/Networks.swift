import FlotillaCore
import FlotillaEngine
import Logging

/// Named networks: created before the replicas that join them, removed when nothing joins them.
struct Networks: Sendable {
    let engine: any ContainerEngine
    let project: String
    let logger: Logger
    /// `bridge` on one host; `overlay` (attachable) for Swarm services.
    var driver = "bridge"
    /// Networks the operator lets this project join although Flotilla did not create them for it
    /// (`--allow-network`).
    var allowed: Set<String> = []

    /// Creates the named networks `spec` joins; an existing one is joined only when it is this
    /// project's (created and labelled by Flotilla for it) or the operator allowed it: another
    /// project's private network is never joined.
    func ensure(for spec: ServiceSpec) async throws {
        try await ensure(names: spec.networks.map(\.name))
    }

    func ensure(names: [String]) async throws {
        for name in names {
            do {
                var owner = try await engine.networkOwner(name)
                if owner == .missing {
                    if try await engine.ensureNetwork(name, project: project, driver: driver) {
                        logger.info("network created", metadata: ["network": "\(name)", "driver": "\(driver)"])
                        continue
                    }
                    owner = try await engine.networkOwner(name)  // created meanwhile, by whom?
                }
                if let problem = ResourceRefused.problem(kind: "network", name: name, owner: owner, project: project, allowed: allowed) {
                    throw ResourceRefused(description: problem)
                }
            } catch {
                logger.error("cannot use network", metadata: ["network": "\(name)", "error": "\(error)"])
                throw error
            }
        }
    }

    /// Removes the project's own networks that no service joins any more (the engine refuses
    /// while a container is attached; that is left for a later pass).
    func prune(keeping: Set<String>) async {
        guard let owned = try? await engine.ownedNetworks(project: project) else { return }
        for name in owned where !keeping.contains(name) {
            if (try? await engine.removeNetwork(name)) != nil {
                logger.info("network removed (no service joins it)", metadata: ["network": "\(name)"])
            }
        }
    }
}
