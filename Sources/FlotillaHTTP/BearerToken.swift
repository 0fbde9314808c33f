import Hummingbird

/// `--listen-token-file`: every request but the probes' (`/healthz`, `/readyz`) and the status
/// page's own HTML (which holds no data: it reads the token from the page address's fragment,
/// `#token=…`, never sent to the server, and passes it to the APIs) must carry
/// `Authorization: Bearer <token>`; anything else is a 401. The comparison takes the same time
/// whatever the first differing byte.
struct BearerToken<Context: RequestContext>: RouterMiddleware {
    let token: [UInt8]
    static var open: Set<String> { ["/healthz", "/readyz", "/"] }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if Self.open.contains(request.uri.path) { return try await next(request, context) }
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "),
              Self.same(Array(header.utf8.dropFirst("Bearer ".utf8.count)), token) else {
            return Response(status: .unauthorized, headers: [.wwwAuthenticate: "Bearer", .contentType: "text/plain; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: "a bearer token is required (the daemon's --listen-token-file)\n")))
        }
        return try await next(request, context)
    }

    static func same(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for i in 0..<max(a.count, b.count) {
            difference |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return difference == 0 && a.count == b.count
    }
}
