import Foundation
import Testing

/// The mutation fuzzer on the manifest loader and on the Compose importer. A normal test run
/// fuzzes each briefly with a fixed seed and a fixed number of inputs (the same inputs every
/// run); `scripts/fuzz` sets the environment for long runs and replays:
///
///     FLOTILLA_FUZZ_SECONDS=600     fuzz for that long instead (per target)
///     FLOTILLA_FUZZ_TARGET=loader   only that target (loader or compose)
///     FLOTILLA_FUZZ_SEED=7          another sequence of inputs (default 1)
///     FLOTILLA_FUZZ_REPLAY=FILE     run one saved input instead (crash-…, hang-…, violation-…)
///     FLOTILLA_FUZZ_FINDINGS=DIR    where inputs are saved (default .build/fuzz-findings)
///     FLOTILLA_FUZZ_HANG_SECONDS=30 how long one input may run before it counts as a hang
///     FLOTILLA_FUZZ_SELFTEST=crash  the first mutated input traps (or `hang`): the guard must save it
@Suite("Fuzzing the loader and the Compose importer", .serialized)
struct FuzzTests {
    static let environment = ProcessInfo.processInfo.environment

    /// Inputs per target in a normal run (a few seconds in a debug build).
    static let briefInputs: [FuzzTarget: Int] = [.loader: 3000, .compose: 1500]
    /// Kinds of diagnostics a brief run must reach: fewer means the mutations no longer get past
    /// the parser into the decoder or the converter.
    static let minimumDistinct: [FuzzTarget: Int] = [.loader: 150, .compose: 60]

    @Test(arguments: FuzzTarget.allCases)
    func fuzz(_ target: FuzzTarget) throws {
        if let only = Self.environment["FLOTILLA_FUZZ_TARGET"], only != target.rawValue { return }
        if let path = Self.environment["FLOTILLA_FUZZ_REPLAY"] {
            let outcome = Fuzzer.replay(path, target: target)
            print("replay \(target.rawValue) \(path): \(outcome.valid ? "valid" : "diagnostics: \(outcome.signatures.count)")\(outcome.violation.map { "; VIOLATION: \($0)" } ?? "")")
            #expect(outcome.violation == nil, "\(outcome.violation ?? "")")
            return
        }
        let seconds = Self.environment["FLOTILLA_FUZZ_SECONDS"].flatMap(Double.init)
        let seed = Self.environment["FLOTILLA_FUZZ_SEED"].flatMap(UInt64.init) ?? 1
        let findings = Self.environment["FLOTILLA_FUZZ_FINDINGS"] ?? ManifestSchemaTests.root + "/.build/fuzz-findings"
        let maxInputs = seconds == nil ? Self.briefInputs[target]! : nil
        var fuzzer = Fuzzer(target: target, seed: seed, findings: findings)
        if let hang = Self.environment["FLOTILLA_FUZZ_HANG_SECONDS"].flatMap(Int.init) { fuzzer.hangLimit = .seconds(hang) }
        fuzzer.selfTest = Self.environment["FLOTILLA_FUZZ_SELFTEST"]
        let report = fuzzer.run(seconds: seconds, maxInputs: maxInputs)
        print(report)
        for violation in report.violations { Issue.record("\(violation)") }
        if let maxInputs { #expect(report.inputs == maxInputs) }
        #expect(report.distinct >= Self.minimumDistinct[target]!, "only \(report.distinct) distinct diagnostics: \(report)")
        #expect(report.valid > 0, "no input was valid: the seeds no longer load")
    }
}
