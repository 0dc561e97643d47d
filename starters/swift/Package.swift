// swift-tools-version:5.9
// Only the dependencies are merged into the runtime's package at build time; the rest is for IDEs.
// Add packages here (e.g. the Appwrite SDK: https://github.com/appwrite/sdk-for-swift).
import PackageDescription

let package = Package(
    name: "starter-function",
    dependencies: [],
    targets: [
        .executableTarget(name: "starter-function", dependencies: [], path: "Sources"),
    ]
)
