// libFuzzer entry point for the manifest loader: bytes → YAMLDocumentParser → DesiredState,
// exactly as Tests/FlotillaYAMLTests/LoaderHardeningTests.swift `load(_:)` (and the agent's
// ManifestDirectoryLoader) call them, with the default secret reader (reads nothing: no file I/O).
//
// libFuzzer reports as bugs: any crash (Swift trap: force unwrap, index out of range, integer
// overflow, precondition; ASan: memory errors, e.g. in the libyaml bridge), any input that takes
// over -timeout seconds (a hang), and any input that needs over -rss_limit_mb (an OOM).
//
// On top of "does not crash", it checks contracts the loader documents (a violation traps, so
// libFuzzer saves the input like any crash):
//   1. Diagnostic.description is one line with no control characters or line separators
//      (Diagnostic.swift: "One line, whatever the manifest held").
//   2. Every diagnostic has a 1-based position (line >= 1, column >= 1).
//   3. A file with any diagnostic contributes no services (DesiredState: "Valid services from
//      files that loaded without errors"), and a state is valid iff it has no diagnostics.
// Set FLOTILLA_FUZZ_NO_INVARIANTS=1 to check crashes/hangs/OOMs only, and FLOTILLA_FUZZ_PRINT=1
// to print each input's diagnostics and accepted services (for triage: run the binary on files).
import FlotillaCore
import FlotillaYAML

#if canImport(Glibc)
import Glibc
#endif

private let checkInvariants = getenv("FLOTILLA_FUZZ_NO_INVARIANTS") == nil
private let printResults = getenv("FLOTILLA_FUZZ_PRINT") != nil

private func check(_ diagnostic: Diagnostic, _ where: String) {
    let text = diagnostic.description
    guard checkInvariants else { return }
    if text.unicodeScalars.contains(where: Diagnostic.needsEscape) {
        fatalError("invariant 1 (\(`where`)): Diagnostic.description is not one clean line: \(text.debugDescription)")
    }
    if diagnostic.line < 1 || diagnostic.column < 1 {
        fatalError("invariant 2 (\(`where`)): position \(diagnostic.line):\(diagnostic.column) is not 1-based: \(text.debugDescription)")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let file = "x.yaml"

    let (documents, parseDiagnostics) = YAMLDocumentParser().parse(bytes, file: file)
    for d in parseDiagnostics { check(d, "parser") }

    let state = DesiredState(files: [ManifestFile(path: file, documents: documents, diagnostics: parseDiagnostics)])
    for d in state.diagnostics { check(d, "DesiredState") }

    if printResults {
        print("services: \(state.services.map(\.name)); \(state.diagnostics.count) diagnostics")
        for d in state.diagnostics { print("  \(d)") }
    }

    if checkInvariants {
        if state.isValid != state.diagnostics.isEmpty {
            fatalError("invariant 3: isValid \(state.isValid) but \(state.diagnostics.count) diagnostics")
        }
        if !state.diagnostics.isEmpty && !state.services.isEmpty {
            fatalError("invariant 3: file has \(state.diagnostics.count) diagnostics but \(state.services.count) services were accepted: \(state.diagnostics[0].description.debugDescription)")
        }
        if !parseDiagnostics.isEmpty && state.diagnostics.isEmpty {
            fatalError("invariant 3: parser diagnostics were dropped by DesiredState")
        }
    }
    return 0
}
