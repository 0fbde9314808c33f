// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "Flotilla",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "flotilla", targets: ["flotilla"]),
        .executable(name: "flotilla-sim", targets: ["flotilla-sim"]),
        .library(name: "FlotillaCore", targets: ["FlotillaCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // SHA-256 (spec hashes) and HMAC (keyed secret digests): no hand-written primitives.
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        // The daemon's HTTP endpoint (metrics, status API, status page) and its metrics.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // libyaml from the system (Debian: libyaml-dev). No vendored parser.
        .systemLibrary(
            name: "CLibYAML",
            pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"])]
        ),
        // The pure core: manifest model, validation, spec hash, planner, routes. No I/O.
        .target(name: "FlotillaCore", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        // Adapter: libyaml's event parser → FlotillaCore.YAMLNode trees.
        .target(name: "FlotillaYAML", dependencies: ["CLibYAML", "FlotillaCore"]),
        // Adapter: the Docker Engine API over a unix socket (Docker and Podman).
        .target(
            name: "FlotillaEngine",
            dependencies: [
                "FlotillaCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // The agent: loads the manifest directory, applies plans, probes health.
        .target(
            name: "FlotillaAgent",
            dependencies: [
                "FlotillaCore", "FlotillaYAML", "FlotillaEngine",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Adapter: the daemon's HTTP endpoint (Hummingbird): /metrics (swift-prometheus),
        // /healthz, /readyz, /api/v1/status, /api/v1/events and the status page.
        .target(
            name: "FlotillaHTTP",
            dependencies: [
                "FlotillaCore", "FlotillaAgent",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // The deterministic simulator: an in-memory engine, a seeded scheduler on virtual time,
        // workloads and invariants around the real controller, daemon loop and route writer.
        .target(
            name: "FlotillaSimulation",
            dependencies: [
                "FlotillaCore", "FlotillaEngine", "FlotillaAgent",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(name: "flotilla-sim", dependencies: ["FlotillaSimulation"]),
        .executableTarget(
            name: "flotilla",
            dependencies: [
                "FlotillaCore", "FlotillaYAML", "FlotillaEngine", "FlotillaAgent", "FlotillaHTTP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(name: "FlotillaCoreTests", dependencies: ["FlotillaCore"], exclude: ["Golden"]),
        .testTarget(name: "FlotillaYAMLTests", dependencies: ["FlotillaYAML", "FlotillaCore", "FlotillaAgent", "FlotillaEngine"]),
        .testTarget(
            name: "FlotillaIntegrationTests",
            dependencies: ["FlotillaCore", "FlotillaEngine", "FlotillaAgent", "FlotillaYAML", "FlotillaHTTP"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
