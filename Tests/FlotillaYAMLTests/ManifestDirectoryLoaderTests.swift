import FlotillaAgent
import FlotillaCore
import Foundation
import Testing

@Suite("Manifest directory on disk")
struct ManifestDirectoryLoaderTests {
    func tree(_ files: [String: String]) throws -> String {
        let root = NSTemporaryDirectory() + "flotilla-loader-\(UUID().uuidString)"
        for (path, text) in files {
            let full = root + "/" + path
            try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: full, atomically: false, encoding: .utf8)
        }
        return root
    }

    @Test func findsManifestsRecursivelyAndSkipsHiddenFilesAndEditorLeftovers() throws {
        let root = try tree([
            "a.yaml": "name: a\nimage: x\n",
            "sub/deeper/b.yml": "name: b\nimage: x\n",
            "sub/notes.txt": "not yaml",
            ".hidden.yaml": "name: h\nimage: x\n",
            ".git/c.yaml": "name: c\nimage: x\n",
            "a.yaml~": "x", ".#a.yaml": "x", "a.yaml.swp": "x", ".a.yaml.swp": "x", "#a.yaml#": "x",
        ])
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(ManifestDirectoryLoader.manifestPaths(in: root) == ["a.yaml", "sub/deeper/b.yml"])
        let state = try ManifestDirectoryLoader().load(directory: root)
        #expect(state.isValid && state.services.map(\.name) == ["a", "b"] && state.files.count == 2)
    }

    @Test func fileSizeLimitIsAnError() throws {
        let root = try tree(["big.yaml": "name: a\nimage: x\n# " + String(repeating: "x", count: 2000) + "\n"])
        defer { try? FileManager.default.removeItem(atPath: root) }
        let state = try ManifestDirectoryLoader(maxFileSize: 1000).load(directory: root)
        #expect(state.diagnostics.map(\.description) == ["big.yaml:1:1: error: file is larger than 1000 bytes; split it into several manifest files"])
    }

    @Test func missingDirectoryThrows() {
        #expect(throws: ManifestDirectoryLoader.LoadError.self) { try ManifestDirectoryLoader().load(directory: "/nonexistent/flotilla") }
    }

    @Test func theShippedExampleIsValid() throws {
        let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let state = try ManifestDirectoryLoader().load(directory: here.appendingPathComponent("manifests").path)
        #expect(state.diagnostics == [])
        let web = try #require(state.services.first { $0.name == "web" })
        #expect(web.replicas == 2 && !web.routes.isEmpty && web.dependsOn.count == 1)
        if case .http = web.readiness?.probe {} else { Issue.record("web should have an HTTP health check") }
    }
}
