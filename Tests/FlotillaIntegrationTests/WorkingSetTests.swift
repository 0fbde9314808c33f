import FlotillaAgent
import Foundation
import Testing

/// The idle daemon's working-set release, on this process: it advises the read-only file
/// mappings (all of them: /proc/self/smaps is read to its end, not one 4 KiB read), and the
/// process goes on working.
@Suite("Working set")
struct WorkingSetTests {
    func residentKiB() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
    }

    @Test func releasesEveryReadOnlyFileMappingAndTheProcessGoesOn() throws {
        let smaps = try #require(WorkingSet.readProcFile("/proc/self/smaps"))
        #expect(smaps.utf8.count > 64 * 1024, "smaps read short: \(smaps.utf8.count) bytes")
        let before = residentKiB()
        let advised = WorkingSet.release()
        let after = residentKiB()
        // The test binary maps tens of MiB of code; far more than one mapping must be advised.
        #expect(advised > 32 << 20, "advised only \(advised >> 20) MiB")
        #expect(after < before, "resident \(before) KiB before, \(after) KiB after")
        #expect(try JSONSerialization.jsonObject(with: Data("[1]".utf8)) as? [Int] == [1])  // code faults back in
    }
}
