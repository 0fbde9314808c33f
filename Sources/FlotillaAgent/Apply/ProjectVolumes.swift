import FlotillaCore
import FlotillaEngine
import Logging

/// The named volumes a replica mounts: created and labelled for this project when missing; an
/// existing one is mounted only when it is this project's or the operator allowed it
/// (`--allow-volume`). Without this, any project on the host could mount another's database
/// volume by writing its name (`shop_pgdata:/steal`).
struct ProjectVolumes: Sendable {
    let engine: any ContainerEngine
    let project: String
    let logger: Logger
    /// Volumes the operator lets this project mount although Flotilla did not create them for it.
    var allowed: Set<String> = []

    func ensure(for spec: ServiceSpec) async throws {
        for name in Self.named(in: spec.volumes) {
            var owner = try await engine.volumeOwner(name)
            if owner == .missing {
                try await engine.createVolume(name, project: project)
                logger.info("volume created", metadata: ["volume": "\(name)"])
                owner = try await engine.volumeOwner(name)  // ours, unless another made it meanwhile
            }
            if let problem = ResourceRefused.problem(kind: "volume", name: name, owner: owner, project: project, allowed: allowed) {
                logger.error("cannot use volume", metadata: ["volume": "\(name)", "error": "\(problem)"])
                throw ResourceRefused(description: problem)
            }
        }
    }

    /// The named volumes among `SOURCE:TARGET[:MODE]` items (not host paths).
    static func named(in volumes: [String]) -> [String] {
        volumes.compactMap { item in
            let source = String(item.prefix { $0 != ":" })
            return source.isEmpty || source.hasPrefix("/") || source.hasPrefix(".") || source.hasPrefix("~") ? nil : source
        }
    }
}
