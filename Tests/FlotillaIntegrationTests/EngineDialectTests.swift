@testable import FlotillaEngine
import FlotillaCore
import Testing

/// Differences between Docker and Podman found while testing both, each handled in the engine
/// adapter (no engine needed for these).
@Suite("Engine dialects: Docker and Podman")
struct EngineDialectTests {
    @Test func eventActionNames() {
        // Docker: die / destroy; Podman: died / remove; both: oom. "kill", "stop" and "cleanup"
        // come with a death and are not separate reasons to reconcile.
        #expect(EngineEvent.kind(ofAction: "die") == .died)
        #expect(EngineEvent.kind(ofAction: "died") == .died)
        #expect(EngineEvent.kind(ofAction: "oom") == .died)
        #expect(EngineEvent.kind(ofAction: "destroy") == .removed)
        #expect(EngineEvent.kind(ofAction: "remove") == .removed)
        for other in ["kill", "stop", "cleanup", "create", "start", "exec_start: sh", "health_status: healthy"] {
            #expect(EngineEvent.kind(ofAction: other) == .other, "\(other)")
        }
    }

    @Test func eventPayloadsOfBothEngines() throws {
        let docker = #"{"status":"die","id":"abc","from":"img","Type":"container","Action":"die","Actor":{"ID":"abc","Attributes":{"exitCode":"137","io.flotilla.service":"web"}},"scope":"local","time":1795740000,"timeNano":1795740000123456789}"#
        let podman = #"{"status":"died","id":"def","from":"img","Type":"container","Action":"died","Actor":{"ID":"def","Attributes":{"containerExitCode":"137","io.flotilla.service":"api","image":"img","name":"x"}},"time":1795740001,"timeNano":1795740001000000000}"#
        let d = try #require(EngineEvent.parse(Array(docker.utf8)))
        let p = try #require(EngineEvent.parse(Array(podman.utf8)))
        var expected = EngineEvent(kind: .died, action: "die", containerID: "abc", service: "web", time: 1795740000, timeNano: 1795740000123456789)
        expected.exitCode = 137
        #expect(d == expected)
        #expect(p.kind == .died && p.service == "api" && p.containerID == "def" && p.time == 1795740001)
        // The exit code is in each engine's own attribute (logged when a container dies).
        #expect(p.exitCode == 137 && p.name == "x")
        #expect(EngineEvent.parse(Array(#"{"Type":"image","Action":"pull"}"#.utf8)) == nil)
        #expect(EngineEvent.parse(Array("not json".utf8)) == nil)
    }

    @Test func errorBodiesOfBothEngines() {
        // Docker: {"message": …}; Podman: {"cause": …, "message": …, "response": N}.
        let docker = HTTPResponse(status: 404, body: Array(#"{"message":"No such container: x"}"#.utf8))
        let podman = HTTPResponse(status: 409, body: Array(#"{"cause":"name is in use","message":"creating container storage: the container name \"a\" is already in use","response":409}"#.utf8))
        let causeOnly = HTTPResponse(status: 500, body: Array(#"{"cause":"boom"}"#.utf8))
        let plain = HTTPResponse(status: 400, body: Array("bad parameter\n".utf8))
        // Each must throw, and say what the engine said (a check that stops throwing fails here).
        func message(_ response: HTTPResponse) -> String? {
            (#expect(throws: EngineError.self) { try EngineClient.check(response) }).map { "\($0)" }
        }
        #expect(message(docker) == "not found: No such container: x")
        #expect(message(podman) == "conflict: creating container storage: the container name \"a\" is already in use")
        #expect(message(causeOnly) == "engine error 500: boom")
        #expect(message(plain) == "engine refused the request: bad parameter\n")
        #expect(throws: Never.self) { try EngineClient.check(HTTPResponse(status: 204, body: [])) }
    }

    @Test func containerStatesOfBothEngines() {
        #expect(ContainerState(engineState: "running") == .running)
        #expect(ContainerState(engineState: "exited") == .exited)
        #expect(ContainerState(engineState: "stopped") == .exited)       // Podman
        #expect(ContainerState(engineState: "configured") == .created)   // Podman
        #expect(ContainerState(engineState: "created") == .created)
        #expect(ContainerState(engineState: "dead") == .dead)
        #expect(ContainerState(engineState: "Running") == .running)
        #expect(ContainerState(engineState: "something-new") == .unknown)
        #expect(!ContainerState.unknown.isLive)
    }

    @Test func apiVersionsAndImageReferences() {
        #expect(APIVersion("1.41")! < APIVersion("1.43")!)
        #expect(APIVersion("1.9")! < APIVersion("1.10")!)
        #expect(APIVersion("4.3.1") == nil)  // Podman's libpod version is not the Docker API version
        #expect(min(APIVersion("1.50")!, EngineClient.maximumAPIVersion) == EngineClient.maximumAPIVersion)
        #expect(EngineClient.split(reference: "127.0.0.1:5000/a/b:1") == ("127.0.0.1:5000/a/b", "1"))
        #expect(EngineClient.split(reference: "127.0.0.1:5000/a/b") == ("127.0.0.1:5000/a/b", "latest"))
        #expect(EngineClient.split(reference: "busybox@sha256:abc") == ("busybox@sha256:abc", nil))
    }
}
