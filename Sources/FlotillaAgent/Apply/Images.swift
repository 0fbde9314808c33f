import FlotillaCore
import FlotillaEngine
import Logging

/// Makes a service's image available per its pull policy, before any replica of it is created.
/// An image found present is taken as present for a few seconds: a cold start of 500 services
/// of one image asked the engine 500 times (9 ms each on Podman), each time the same answer.
actor Images {
    let engine: any ContainerEngine
    let logger: Logger
    /// When each image was last found present (or pulled).
    private var seen: [String: AgentClock.Instant] = [:]
    static let remembered = Duration.seconds(10)

    init(engine: any ContainerEngine, logger: Logger) {
        self.engine = engine
        self.logger = logger
    }

    func ensure(_ image: String, policy: PullPolicy) async throws {
        if policy != .always, let at = seen[image], .now - at < Self.remembered { return }
        switch policy {
        case .never:
            guard try await engine.imageExists(image) else {
                throw EngineError.notFound("image \(image) is not on this host and its pull policy is never")
            }
        case .missing:
            if try await engine.imageExists(image) {
                seen[image] = .now
                return
            }
            try await pull(image)
        case .always:
            try await pull(image)
        }
        seen[image] = .now
    }

    /// The image may be gone (a create failed): ask the engine again next time.
    func forget(_ image: String) { seen[image] = nil }

    private func pull(_ image: String) async throws {
        let clock = AgentClock(), start = clock.now
        logger.info("pulling image", metadata: ["image": "\(image)"])
        try await engine.pullImage(image)
        logger.info("pulled image", metadata: ["image": "\(image)", "duration": "\(Replicas.format(clock.now - start))"])
    }
}

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
