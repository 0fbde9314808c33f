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
