/// An extra published port: `"9090"`, `"9443:443"`, `"0.0.0.0:5353:53/udp"`.
///
/// Without an address the port is published on 127.0.0.1 (Flotilla's services sit behind a
/// proxy; publishing on every interface must be asked for). Without a host port the engine picks one.
public struct PortMapping: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Proto: String, Sendable, Hashable, Codable, CaseIterable { case tcp, udp }

    public var container: Int
    public var host: Int?
    public var address: String
    public var proto: Proto

    public init(container: Int, host: Int? = nil, address: String = "127.0.0.1", proto: Proto = .tcp) {
        self.container = container
        self.host = host
        self.address = address
        self.proto = proto
    }

    /// `[ADDRESS:]HOST:CONTAINER[/PROTO]` or `CONTAINER[/PROTO]`; nil when malformed.
    public init?(parsing text: String) {
        var body = Substring(text)
        var proto = Proto.tcp
        if let slash = body.lastIndex(of: "/") {
            guard let p = Proto(rawValue: String(body[body.index(after: slash)...])) else { return nil }
            proto = p
            body = body[..<slash]
        }
        let parts = body.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        func port(_ s: String) -> Int? { Int(s).flatMap { (1...65535).contains($0) && s.allSatisfy(\.isNumber) ? $0 : nil } }
        switch parts.count {
        case 1:
            guard let c = port(parts[0]) else { return nil }
            self.init(container: c, proto: proto)
        case 2:
            guard let h = port(parts[0]), let c = port(parts[1]) else { return nil }
            self.init(container: c, host: h, proto: proto)
        case 3:
            guard ManifestRules.isIPv4(parts[0]), let h = port(parts[1]), let c = port(parts[2]) else { return nil }
            self.init(container: c, host: h, address: parts[0], proto: proto)
        default:
            return nil
        }
    }

    public var description: String {
        (host.map { "\(address):\($0):" } ?? "\(address)::") + "\(container)/\(proto.rawValue)"
    }
}
