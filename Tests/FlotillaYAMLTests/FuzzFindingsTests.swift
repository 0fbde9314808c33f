@testable import FlotillaCore
import FlotillaYAML
import Foundation
import Testing

/// What the fuzzer (``Fuzzer``) found, each kept as a regression test.
@Suite("Fuzzer findings")
struct FuzzFindingsTests {
    /// `image: 1.51.51.5…` (found as hang-loader-seed1-input30759): Swift's `Regex` on the image
    /// pattern took exponential time (30 parts: minutes; 100: forever), freezing validation.
    @Test func anImageReferenceIsCheckedInLinearTime() {
        let hostile = ["1" + String(repeating: ".51", count: 170), String(repeating: "a.", count: 255) + "a:/x", "a" + String(repeating: "-a", count: 255) + ":"]
        let cpuStart = HostileInputTests.threadCPUTime()
        #expect(ManifestRules.isImageReference(hostile[0]))
        #expect(!ManifestRules.isImageReference(hostile[1]))
        #expect(!ManifestRules.isImageReference(hostile[2]))
        #expect(!errors("name: web\nimage: \(hostile[0])\nreplicas: -1\n").isEmpty)
        // Microseconds each now; the bound only tells a hang from a slow machine.
        #expect(HostileInputTests.threadCPUTime() - cpuStart < .seconds(5))
    }

    /// The hand-written reader takes exactly what ``ManifestRules/imagePattern`` (the schema's
    /// pattern) matches, on seeded random strings over the grammar's alphabet.
    @Test func theImageReaderMatchesThePattern() throws {
        let regex = try NSRegularExpression(pattern: ManifestRules.imagePattern)
        let pieces = ["a", "b", "z", "0", "9", "A", "Z", ".", "_", "__", "-", "--", "/", ":", "@", "[", "]", "::1", "localhost", "5000",
                      "sha256:", String(repeating: "ab", count: 16), "x.y", "tag", ":v1", "@sha256:" + String(repeating: "0f", count: 16)]
        var rng = SplitMix(seed: 26)
        var accepted = 0
        for _ in 0..<20_000 {
            let s = (0..<(1 + rng.next() % 8)).map { _ in pieces[Int(rng.next() % UInt64(pieces.count))] }.joined()
            let byPattern = regex.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
            if byPattern { accepted += 1 }
            #expect(ManifestRules.isImageReference(s) == byPattern, "\(s): pattern \(byPattern)")
        }
        #expect(accepted > 1000, "only \(accepted) of the random strings are images")
    }

    /// A CR-only file's invalid byte or control character (violation-compose-seed1-input34525,
    /// violation-loader-seed1-input11588): reported on line 1 at a column past that line's end;
    /// lines in such a file end at CR, as everywhere else in the loader.
    @Test func aByteErrorInACROnlyFileIsOnItsLine() throws {
        let invalid: [UInt8] = Array("name: web\rimage: x\rlabels: {a: b".utf8) + [0xbf] + Array("}\r".utf8)
        let (_, problems) = YAMLDocumentParser().parse(invalid, file: "m.yaml")
        let problem = try #require(problems.first)
        #expect((problem.line, problem.column) == (3, 14), "\(problem)")
        let control: [UInt8] = Array("name: web\rimage: x\rroutes:\r  - hos".utf8) + [0x00] + Array("t.test\r".utf8)
        let (_, more) = YAMLDocumentParser().parse(control, file: "m.yaml")
        let second = try #require(more.first)
        #expect(second.line == 4 && second.column <= 8, "\(second)")
        // With an LF anywhere, a CR is inside a line.
        let mixed: [UInt8] = Array("a: b\rc\n".utf8) + [0xff]
        #expect(YAMLDocumentParser().parse(mixed, file: "m.yaml").diagnostics.first.map { ($0.line, $0.column) } ?? (0, 0) == (2, 1))
    }
}
