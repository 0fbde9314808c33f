import FlotillaCore
import FlotillaEngine
import FlotillaYAML
import Foundation

/// What `plan` says before anything is created: the named volumes and networks the manifests
/// use that this project may not (another project's, or ones made by hand that the operator did
/// not allow), each an error at the manifest line that names it. The same rule as the create
/// (``ProjectVolumes``, ``Networks``), asked read-only: nothing is created here.
public enum ResourceRefusals {
    public static func find(_ desired: DesiredState, directory: String, project: String, engine: any ContainerEngine,
                            allowedVolumes: Set<String>, allowedNetworks: Set<String>) async throws -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        var owners: [String: ResourceOwner] = [:]  // "volume:x" → owner, asked once per name
        for spec in desired.services {
            let wanted = ProjectVolumes.named(in: spec.volumes).map { ("volume", $0, allowedVolumes) }
                + spec.networks.map(\.name).map { ("network", $0, allowedNetworks) }
            for (kind, name, allowed) in wanted {
                let key = kind + ":" + name
                let owner: ResourceOwner
                if let known = owners[key] { owner = known } else {
                    owner = kind == "volume" ? try await engine.volumeOwner(name) : try await engine.networkOwner(name)
                    owners[key] = owner
                }
                guard let problem = ResourceRefused.problem(kind: kind, name: name, owner: owner, project: project, allowed: allowed) else { continue }
                let file = desired.sourceFile[spec.name] ?? ""
                let mark = locate(kind: kind, name: name, service: spec.name, in: directory + "/" + file)
                diagnostics.append(Diagnostic(file: file, line: mark.line, column: mark.column, message: problem))
            }
        }
        return diagnostics.sortedByLocation()
    }

    /// Where the service's manifest names the volume or network (re-read: the loaded state keeps
    /// no documents); the file's start when it cannot be found.
    static func locate(kind: String, name: String, service: String, in path: String) -> SourceMark {
        let start = SourceMark(line: 1, column: 1)
        guard case .success(let bytes) = RegularFile.read(path, maxSize: 1 << 20) else { return start }
        let (documents, _) = YAMLDocumentParser().parse(bytes, file: path)
        guard let document = documents.first(where: { DesiredState.value(of: "name", in: $0)?.scalar?.value == service }) else { return start }
        let key = kind == "volume" ? "volumes" : "networks"
        guard let list = DesiredState.value(of: key, in: document) else { return document.mark }
        switch list.kind {
        case .sequence(let items):
            for item in items {
                if let text = item.scalar?.value {
                    if kind == "volume" ? text.hasPrefix(name + ":") : text == name { return item.mark }
                } else if DesiredState.value(of: "name", in: item)?.scalar?.value == name {
                    return item.mark
                }
            }
        case .mapping(let pairs):  // compose's form of networks: { backend: null, … }
            if let pair = pairs.first(where: { $0.key.scalar?.value == name }) { return pair.key.mark }
        case .scalar:
            break
        }
        return list.mark
    }
}
