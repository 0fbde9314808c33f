import ArgumentParser
import FlotillaCore

/// `flotilla schema`: the manifest format's JSON Schema, for editors and CI.
struct SchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Print the JSON Schema of a manifest document (for editors and CI).",
        discussion: """
        Generated from the validator's own rules (keys, enums, ranges, patterns), so it matches \
        what flotilla validate accepts for one document. The repository keeps a copy in \
        schema/flotilla-manifest.schema.json. With the YAML language server (VS Code's YAML \
        extension, Neovim, Helix), put this first in a manifest:
          # yaml-language-server: $schema=../schema/flotilla-manifest.schema.json
        or map the schema to manifests/*.yaml in the editor's yaml.schemas setting.
        """
    )

    func run() throws {
        print(ManifestSchema.text, terminator: "")
    }
}
