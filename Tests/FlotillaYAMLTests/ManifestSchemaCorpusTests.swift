import FlotillaCore
import FlotillaYAML
import Foundation
import Testing

/// The JSON Schema and the validator on a generated corpus (``SchemaCorpus``): on every manifest
/// they agree, or the case is in the allow-list (``SchemaGap``) and they do disagree.
@Suite("Manifest JSON Schema against the validator, on a generated corpus")
struct ManifestSchemaCorpusTests {
    @Test func schemaAndValidatorAgreeOrTheGapIsListed() throws {
        let corpus = SchemaCorpus.cases
        #expect(corpus.count >= 500, "the corpus has \(corpus.count) manifests")
        #expect(Set(corpus.map(\.name)).count == corpus.count, "case names are unique")
        let view = YAMLDocumentParser(limits: .init(extraTags: SchemaCorpus.viewTags))
        let verdicts = try ManifestSchemaTests.schemaVerdicts(corpus.map { ($0.name, $0.text) }, parser: view)

        var agreements = 0, bothValid = 0, listed: [SchemaGap: Int] = [:]
        for c in corpus {
            let validator = ManifestSchemaTests.documentIsValid(c.text)
            guard let verdict = verdicts[c.name] else { Issue.record("no schema verdict for \(c.name)"); continue }
            let schema = verdict == nil
            if validator == schema {
                agreements += 1
                if validator { bothValid += 1 }
                #expect(c.gap == nil, "\(c.name): listed as \(c.gap?.rawValue ?? ""), but the schema and the validator agree (\(validator ? "valid" : "invalid")); take it off the list\n\(c.text)")
            } else if let gap = c.gap {
                listed[gap, default: 0] += 1
            } else {
                let why = validator ? "the schema refuses it: \(verdict ?? "")" : "the schema accepts it: \(desired(c.text, file: "x.yaml").diagnostics.first?.message ?? "")"
                Issue.record("\(c.name): the validator says \(validator ? "valid" : "invalid") but \(why)\n\(c.text)")
            }
        }
        // Both outcomes are well represented, and every listed reason is shown by a case.
        #expect(bothValid >= 150 && corpus.count - bothValid >= 250, "\(bothValid) valid of \(corpus.count)")
        for gap in SchemaGap.allCases { #expect(listed[gap] != nil, "no case shows \(gap.rawValue)") }
        let exceptions = listed.values.reduce(0, +)
        print("schema corpus: \(corpus.count) manifests (\(bothValid) valid), \(agreements) agreements, \(exceptions) listed exceptions ("
              + SchemaGap.allCases.map { "\($0.rawValue) \(listed[$0] ?? 0)" }.joined(separator: ", ") + "), \(corpus.count - agreements - exceptions) unlisted")
    }

    /// The README's "Schema and validator" lists each entry of the allow-list.
    @Test func readmeListsEveryGap() throws {
        let readme = try String(contentsOfFile: ManifestSchemaTests.root + "/README.md", encoding: .utf8)
        let section = try #require(readme.components(separatedBy: "### Schema and validator\n").dropFirst().first?.components(separatedBy: "\n#").first)
        for gap in SchemaGap.allCases { #expect(section.contains("**\(gap.title)**"), "README lacks \(gap.title)") }
    }
}
