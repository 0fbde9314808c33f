// swift-tools-version: 6.0
// A libFuzzer harness for the manifest loader (libyaml → YAMLDocumentParser → DesiredState).
//
// A separate package so that fuzzing never touches the main package's manifest or .build.
// `FlotillaYAML` is not a product of the parent package, so instead of `.package(path: "..")`
// the three targets the loader needs are compiled here from symlinks to ../Sources
// (Sources/CLibYAML, Sources/FlotillaCore, Sources/FlotillaYAML). They are the same files, so
// the harness always fuzzes the current code, and the parent's swift-nio / argument-parser /
// swift-log / service-lifecycle dependencies (not used by the loader) are not fetched or built.
// Only FlotillaCore's own package dependency (swift-crypto) is mirrored below: if ../Package.swift
// gives FlotillaCore or FlotillaYAML another dependency, add it here too.
//
// Build (see run.sh):
//   swift build -c release --package-path fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
import PackageDescription

let package = Package(
    name: "FlotillaFuzz",
    products: [
        .executable(name: "LoaderFuzzer", targets: ["LoaderFuzzer"]),
    ],
    dependencies: [
        // Mirrors the parent's dependencies of FlotillaCore (keep in step with ../Package.swift).
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        .systemLibrary(name: "CLibYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        .target(name: "FlotillaCore", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "FlotillaYAML", dependencies: ["CLibYAML", "FlotillaCore"]),
        // SwiftPM renames an executable's main to LoaderFuzzer_main; this C target defines it
        // and starts libFuzzer's driver (see FuzzerEntry.c).
        .target(name: "FuzzerEntry"),
        .executableTarget(name: "LoaderFuzzer", dependencies: ["FlotillaCore", "FlotillaYAML", "FuzzerEntry"]),
    ],
    swiftLanguageModes: [.v6]
)
