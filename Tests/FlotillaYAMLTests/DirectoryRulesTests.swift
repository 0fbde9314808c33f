import FlotillaCore
import Testing

@Suite("Rules across the whole directory")
struct DirectoryRulesTests {
    @Test func namesAreUniqueAcrossFiles() {
        let state = desired(["a.yaml": "name: web\nimage: x\n", "b/c.yaml": "\n\nname: web\nimage: y\n"])
        #expect(state.diagnostics.map(\.description) == [
            "b/c.yaml:3:7: error: service \"web\" is already defined at a.yaml:1:7; service names must be unique across the directory",
        ])
        #expect(state.failedFiles == ["b/c.yaml"])
        #expect(state.services.map(\.image) == ["x"])
    }

    @Test func twoServicesCannotClaimTheSameHostAndPath() {
        let state = desired([
            "a.yaml": "name: a\nimage: x\nport: 1\nroutes: [{ host: w.test, path: /api }]\n",
            "b.yaml": "name: b\nimage: x\nport: 1\nroutes:\n  - { host: w.test, path: /other }\n  - { host: W.test, path: /api }\n",
        ])
        // Both positions name the path that conflicts, not the first item with the same host.
        #expect(state.diagnostics.map(\.description) == [
            "b.yaml:6:27: error: route w.test/api is already served by service \"a\" (a.yaml:4:32); give one of them another host or path",
        ])
    }

    @Test func dependsOnTargetsMustExist() {
        let state = desired(["a.yaml": "name: web\nimage: x\ndepends_on: [api, dbb]\n", "db.yaml": "name: db\nimage: x\n", "api.yaml": "name: api\nimage: x\n"])
        #expect(state.diagnostics.map(\.description) == ["a.yaml:3:19: error: service \"web\" depends on unknown service \"dbb\"; did you mean \"db\"?"])
    }

    @Test func dependencyCyclesAreNamed() {
        let state = desired([
            "a.yaml": "name: a\nimage: x\ndepends_on: [b]\n",
            "b.yaml": "name: b\nimage: x\ndepends_on: [c]\n",
            "c.yaml": "name: c\nimage: x\ndepends_on: [a]\n",
            "d.yaml": "name: d\nimage: x\ndepends_on: [a]\n",
        ])
        #expect(state.diagnostics.map(\.description) == ["a.yaml:3:14: error: dependency cycle: a -> b -> c -> a; remove one of these depends_on entries"])
    }

    @Test func servicesOfFailedFilesAreKnownButNotDesired() {
        let state = desired([
            "good.yaml": "name: good\nimage: x\n",
            "bad.yaml": "name: kept\nimage: x\n---\nname: broken\nimage: x\nreplicas: lots\n",
            "syntax.yaml": "name: half\nimage: x\n---\nname: [oops\n",
        ])
        #expect(state.services.map(\.name) == ["good"])
        #expect(state.failedFiles == ["bad.yaml", "syntax.yaml"])
        #expect(state.servicesInFailedFiles == ["kept", "broken", "half"])
    }

    @Test func dependingOnAServiceInABrokenFileIsNotASecondError() {
        let state = desired(["a.yaml": "name: a\nimage: x\ndepends_on: [b]\n", "b.yaml": "name: b\nimage: x\nport: zero\n"])
        #expect(state.diagnostics.count == 1 && state.diagnostics[0].file == "b.yaml")
    }
}
