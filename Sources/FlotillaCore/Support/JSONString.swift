/// A string as a JSON string literal: quotes, backslashes and control characters escaped.
/// Used wherever Flotilla writes a value into text that must stay unambiguous (the canonical
/// spec form, the JSON route file).
enum JSONString {
    static func quote(_ s: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count + 2)
        append(s, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `s` quoted, as UTF-8, to `out`. Works on bytes: everything escaped is ASCII, and
    /// the bytes of multi-byte characters (all >= 0x80) are copied as they are.
    static func append(_ s: String, to out: inout [UInt8]) {
        var s = s
        out.append(0x22)
        s.withUTF8 { bytes in
            for b in bytes {
                switch b {
                case 0x22: out.append(0x5c); out.append(0x22)   // \"
                case 0x5c: out.append(0x5c); out.append(0x5c)   // \\
                case 0x0a: out.append(0x5c); out.append(0x6e)   // \n
                case 0..<0x20:                                  // \u00XX, lowercase hex
                    let hex: [UInt8] = Array("0123456789abcdef".utf8)
                    out += [0x5c, 0x75, 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 0xf)]]
                default: out.append(b)
                }
            }
        }
        out.append(0x22)
    }
}
