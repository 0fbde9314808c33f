/// Where the engine's API socket is: `--engine`, else `DOCKER_HOST`, else the Docker default,
/// else Podman's rootful default.
public enum EngineEndpoint {
    public static let defaults = ["unix:///var/run/docker.sock", "unix:///run/podman/podman.sock"]

    /// Candidates in the order they are tried.
    public static func candidates(explicit: String?, environment: [String: String]) -> [String] {
        if let explicit, !explicit.isEmpty { return [explicit] }
        if let host = environment["DOCKER_HOST"], !host.isEmpty { return [host] }
        return defaults
    }

    /// The socket path of a `unix://` URL (a bare absolute path is accepted too).
    public static func socketPath(of endpoint: String) -> String? {
        if endpoint.hasPrefix("unix://") { return String(endpoint.dropFirst("unix://".count)) }
        if endpoint.hasPrefix("/") { return endpoint }
        return nil
    }
}
