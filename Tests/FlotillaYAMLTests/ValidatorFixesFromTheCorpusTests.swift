import FlotillaCore
import Testing

/// Where the schema corpus (``SchemaCorpus``) showed the validator wrong, not the schema.
@Suite("Validator rules the schema corpus corrected")
struct ValidatorFixesFromTheCorpusTests {
    /// U+212A KELVIN SIGN lowercases to "k": the host was taken, and served as k.example.
    @Test func aHostnameIsASCIIBeforeItIsLowercased() {
        #expect(!ManifestRules.isHostname("\u{212A}.example"))
        #expect(errors(minimal + "port: 80\nroutes: [{host: \"\\u212A.example\"}]\n").first?.contains("is not a hostname") == true)
        #expect(ManifestRules.isHostname("K.example"))
    }

    /// `data:/x:` has an empty options part, which the engines refuse at create.
    @Test func volumeOptionsAreNotEmpty() {
        #expect(!ManifestRules.isVolume("data:/x:"))
        #expect(ManifestRules.isVolume("data:/x:ro"))
        #expect(!errors(minimal + "volumes: [\"data:/x:\"]\n").isEmpty)
    }

    /// The README's table writes the default as `auto_promote_after: none`: it means never.
    @Test func autoPromoteAfterNoneIsTheDefault() throws {
        let spec = try #require(desired(minimal + "update: {strategy: canary, canary: {auto_promote_after: none}}\n").services.first)
        #expect(spec.update.canary.autoPromoteAfter == nil)
        #expect(!errors(minimal + "update: {strategy: canary, canary: {auto_promote_after: never}}\n").isEmpty)
    }

    /// `cpus` is a number as YAML reads one: not `!!str 0.5`, not Swift's `0x1p3`.
    @Test func cpusIsAYAMLNumber() throws {
        #expect(try #require(desired(minimal + "resources: {cpus: .5}\n").services.first).resources.nanoCPUs == 500_000_000)
        #expect(try #require(desired(minimal + "resources: {cpus: 1e1}\n").services.first).resources.nanoCPUs == 10_000_000_000)
        for text in ["!!str 0.5", "0x1p3", ".nan", "\"1\""] {
            #expect(!errors(minimal + "resources: {cpus: \(text)}\n").isEmpty, "cpus: \(text)")
        }
    }

    /// `! 5` carries the non-specific tag, which makes a plain scalar a string in YAML.
    @Test func theNonSpecificTagMakesAString() {
        #expect(errors(minimal + "replicas: ! 5\n").first?.contains("must be a whole number") == true)
        #expect(errors(minimal + "env: {A: ! 5}\n").isEmpty)
    }
}
