// swift-tools-version:6.0
import PackageDescription

/// One list of compiler settings for every target, as Hummingbird does: Swift 6 language mode everywhere
/// (strict concurrency is the language default there), and upcoming features we want to hold ourselves to.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "tchat",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tchatd", targets: ["tchatd"]),
        .executable(name: "tchat", targets: ["tchat"]),
        .executable(name: "tchat-bench", targets: ["tchat-bench"]),
        .library(name: "TChatProtocol", targets: ["TChatProtocol"]),
        .library(name: "TChatClient", targets: ["TChatClient"]),
        .library(name: "TChatServer", targets: ["TChatServer"]),
        .library(name: "TChatTUI", targets: ["TChatTUI"]),
        .library(name: "TChatAuth", targets: ["TChatAuth"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CNcurses",
            path: "Sources/CNcurses",
            providers: [.apt(["libncurses-dev"])]
        ),
        .target(
            name: "TChatProtocol",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio")
            ],
            swiftSettings: swiftSettings
        ),
        // Certificates, fingerprints, trust and why a handshake failed; shared by the server and the client.
        .target(
            name: "TChatIRC",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio")
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TChatTLS",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // Accounts' cryptography, pure: SCRAM-SHA-256 for both sides; shared by the server and the client.
        .target(
            name: "TChatAuth",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TChatServer",
            dependencies: [
                "TChatProtocol",
                "TChatIRC",
                "TChatTLS",
                "TChatAuth",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TChatClient",
            dependencies: [
                "TChatProtocol",
                "TChatAuth",
                "TChatTLS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TChatTUI",
            dependencies: [
                "CNcurses",
                "TChatIRC",
                "TChatClient",
                "TChatTLS",
                "TChatProtocol",
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: swiftSettings
        ),
        // The Prometheus endpoint: only tchatd links it, so `tchat --local` builds without it.
        .target(
            name: "TChatMetrics",
            dependencies: [
                "TChatServer",
                "TChatProtocol",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The PostgreSQL backend (`--store postgres://`): only tchatd links it, so `tchat --local` builds without it.
        .target(
            name: "TChatPostgres",
            dependencies: [
                "TChatProtocol",
                "TChatServer",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tchatd",
            dependencies: [
                "TChatServer",
                "TChatMetrics",
                "TChatPostgres",
                "TChatAuth",
                "TChatTLS",
                .product(name: "Yams", package: "Yams"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tchat",
            dependencies: [
                "TChatAuth",
                "TChatTUI",
                "TChatServer",
                "TChatClient",
                "TChatProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tchat-bench",
            dependencies: [
                "TChatAuth",
                "TChatClient",
                "TChatProtocol",
                "TChatTLS",
                "TChatServer",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            // The load generator touches its counters millions of times a second, each on one event loop only;
            // the run-time exclusivity check on every access would make it, not the server, the bottleneck.
            swiftSettings: swiftSettings + [.unsafeFlags(["-enforce-exclusivity=unchecked"])]
        ),
        // Shared by the fuzz tests of the codec and of the server; not shipped.
        .target(
            name: "TChatFuzzing",
            path: "Tests/TChatFuzzing",
            swiftSettings: swiftSettings
        ),
        // Shared by the tests that need a PostgreSQL of their own; not shipped.
        .target(
            name: "TChatTestSupport",
            dependencies: [
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/TChatTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TChatProtocolTests",
            dependencies: [
                "TChatProtocol",
                "TChatFuzzing",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TChatIRCTests",
            dependencies: [
                "TChatIRC",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TChatAuthTests",
            dependencies: ["TChatAuth"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TChatServerTests",
            dependencies: [
                "TChatServer",
                "TChatIRC",
                "TChatPostgres",
                "TChatTestSupport",
                "TChatMetrics",
                "TChatTLS",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                "TChatFuzzing",
                "TChatClient",
                "TChatTUI",
                "TChatProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "TChatClient",
                "TChatTLS",
                "TChatProtocol",
                "TChatTUI",
                "TChatTestSupport",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TChatTUITests",
            dependencies: [
                "TChatTUI",
                "TChatClient",
                "TChatProtocol",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TChatPostgresTests",
            dependencies: [
                "TChatPostgres",
                "TChatTestSupport",
                "TChatServer",
                "TChatClient",
                "TChatProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TChatClientTests",
            dependencies: [
                "TChatClient",
                "TChatProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
