// swift-tools-version:5.5
// Only the dependencies are read at build time; the rest is for IDEs.
import PackageDescription

let package = Package(
    name: "legacy-function",
    dependencies: [],
    targets: [
        .executableTarget(name: "legacy-function", dependencies: [], path: "Sources"),
    ]
)
