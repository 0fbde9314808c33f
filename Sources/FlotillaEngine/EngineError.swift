/// What can go wrong talking to the engine, with the engine's own message when it sent one.
public enum EngineError: Error, Sendable, CustomStringConvertible {
    /// No socket answered; lists every endpoint tried and why each failed.
    case unreachable(tried: [String: String])
    /// 404: no such container or image.
    case notFound(String)
    /// 409: name in use, container running, and the like.
    case conflict(String)
    /// 400: the engine refused the request (bad parameter, unsupported option).
    case badRequest(String)
    /// 5xx or anything else unexpected.
    case server(status: Int, message: String)
    /// The engine answered with something that is not the JSON we expected.
    case malformedResponse(String)
    /// The engine's API is older than the oldest version Flotilla supports.
    case unsupportedVersion(engine: String, minimum: String)
    /// A pull stream reported an error.
    case pullFailed(image: String, message: String)
    case timeout(Duration)
    /// The engine accepted the connection and closed it without sending a response (seen on
    /// loaded hosts from both Docker and Podman): the request may or may not have taken effect.
    case noResponse(String)

    public var description: String {
        switch self {
        case .unreachable(let tried):
            let list = tried.keys.sorted().map { "  \($0): \(tried[$0]!)" }.joined(separator: "\n")
            return "no container engine answered; tried:\n\(list)\nstart Docker or Podman's API service (podman system service), or pass --engine unix:///path/to/socket"
        case .notFound(let m): return "not found: \(m)"
        case .conflict(let m): return "conflict: \(m)"
        case .badRequest(let m): return "engine refused the request: \(m)"
        case .server(let status, let m): return "engine error \(status): \(m)"
        case .malformedResponse(let m): return "unexpected engine response: \(m)"
        case .unsupportedVersion(let engine, let minimum): return "engine API \(engine) is older than the minimum Flotilla supports (\(minimum)); upgrade Docker or Podman"
        case .pullFailed(let image, let m): return "pull of \(image) failed: \(m)"
        case .timeout(let d): return "engine did not answer within \(d)"
        case .noResponse(let request): return "engine closed the connection without answering \(request)"
        }
    }
}

extension EngineError {
    /// The engine could not be reached or did not answer (as opposed to refusing a request):
    /// not a failure of the service at hand, so it must not count toward crash-loop backoff.
    public static func isUnavailable(_ error: any Error) -> Bool {
        guard let engineError = error as? EngineError else { return true }  // socket and transport errors
        switch engineError {
        case .unreachable, .timeout, .noResponse: return true
        case .server(let status, _): return status == 502 || status == 503
        default: return false
        }
    }
}
