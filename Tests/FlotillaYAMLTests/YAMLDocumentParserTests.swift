import FlotillaCore
import FlotillaYAML
import Testing

@Suite("libyaml loader: documents, anchors, limits and every error path")
struct YAMLDocumentParserTests {
    let parser = YAMLDocumentParser()

    func parse(_ text: String) -> (documents: [YAMLNode], diagnostics: [Diagnostic]) { parser.parse(Array(text.utf8), file: "f.yaml") }
    func messages(_ text: String) -> [String] { parse(text).diagnostics.map(\.description) }

    @Test func severalDocumentsPerFileEachWithPositions() throws {
        let result = parse("a: 1\n---\nb: [x, \"y\"]\n...\n---\n  c: d\n")
        #expect(result.diagnostics.isEmpty)
        #expect(result.documents.count == 3)
        #expect(result.documents.map(\.mark) == [SourceMark(line: 1, column: 1), SourceMark(line: 3, column: 1), SourceMark(line: 6, column: 3)])
        guard case .mapping(let pairs) = result.documents[1].kind, case .sequence(let items) = pairs[0].value.kind else {
            Issue.record("expected mapping with a list"); return
        }
        #expect(items.map(\.mark) == [SourceMark(line: 3, column: 5), SourceMark(line: 3, column: 8)])
        #expect(items.map { $0.scalar?.isPlain } == [true, false])
    }

    @Test func anchorsAndAliasesExpand() {
        let state = desired("""
        name: web
        image: &img busybox
        env: &common { A: "1", B: "2" }
        labels: *common
        command: [*img]
        """)
        #expect(state.diagnostics == [])
        #expect(state.services.first?.labels == ["A": "1", "B": "2"])
        #expect(state.services.first?.command == ["busybox"])
    }

    @Test func aliasBombIsAnErrorNotAnOOM() {
        var bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n"
        for i in 1...9 { bomb += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 9).joined(separator: ", ") + "]\n" }
        let found = messages(bomb)
        #expect(found.count == 1)
        #expect(found.first?.contains("expands to more than 100000 nodes") == true)
    }

    @Test func undefinedAliasIsAnError() {
        #expect(messages("a: *nope\n") == ["f.yaml:1:4: error: alias *nope refers to no anchor &nope defined before it"])
    }

    @Test func anchorsDoNotLeakAcrossDocuments() {
        #expect(messages("a: &x 1\n---\nb: *x\n") == ["f.yaml:3:4: error: alias *x refers to no anchor &x defined before it"])
    }

    @Test func deepNestingIsBounded() {
        let deepFlow = String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)
        #expect(messages(deepFlow).first?.contains("nesting deeper than 100 levels") == true)
        var block = ""
        for i in 0..<150 { block += String(repeating: " ", count: i) + "k:\n" }
        #expect(messages(block).first?.contains("nesting deeper than") == true)
    }

    @Test func invalidUTF8IsReportedWithItsPosition() {
        let bytes: [UInt8] = Array("name: a\nimage: caf".utf8) + [0xc3, 0x28] + Array("\n".utf8)
        #expect(parser.parse(bytes, file: "f.yaml").diagnostics.map(\.description) == ["f.yaml:2:11: error: file is not valid UTF-8 (byte 0xc3 at offset 18); save it as UTF-8"])
        for bad: [UInt8] in [[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82]] {
            #expect(parser.parse(bad, file: "f").diagnostics.first?.message.contains("not valid UTF-8") == true)
        }
    }

    @Test func scannerErrorsCarryLibyamlsPositionAndProblem() {
        #expect(messages("a: b: c\n") == ["f.yaml:1:5: error: YAML syntax error: mapping values are not allowed in this context"])
        #expect(messages("a: \"unterminated\n") == ["f.yaml:2:1: error: YAML syntax error: found unexpected end of stream (while scanning a quoted scalar at 1:4)"])
        #expect(messages("a:\n\tb: 1\n") == ["f.yaml:2:1: error: YAML syntax error: found character that cannot start any token (while scanning for the next token at 2:1)"])
        #expect(messages("a: @b\n") == ["f.yaml:1:4: error: YAML syntax error: found character that cannot start any token (while scanning for the next token at 1:4)"])
        #expect(messages("a: &\n").first?.contains("did not find expected alphabetic or numeric character (while scanning an anchor") == true)
        #expect(messages("a: !<x\n").first?.contains("did not find the expected '>' (while scanning a tag at 1:4)") == true)
        #expect(messages("%YAML 9.9\n---\na: 1\n").first?.contains("found incompatible YAML document") == true)
    }

    @Test func parserErrorsCarryLibyamlsPositionAndProblem() {
        #expect(messages("a: [1, 2\n") == ["f.yaml:2:1: error: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence at 1:4)"])
        #expect(messages("a: 1\n b: 2\n") == ["f.yaml:2:3: error: YAML syntax error: mapping values are not allowed in this context"])
        #expect(messages("- a\nb: 1\n") == ["f.yaml:2:1: error: YAML syntax error: did not find expected '-' indicator (while parsing a block collection at 1:1)"])
        #expect(messages("a: {b: 1\n").first?.contains("while parsing a flow mapping at 1:4") == true)
        #expect(messages("a: 1\n---\n- x\n  y: 2\n").first?.hasPrefix("f.yaml:4:4: error: YAML syntax error:") == true)
    }

    @Test func readerErrorsAreReported() {
        // Control characters pass the UTF-8 check but libyaml's reader refuses them.
        let found = parser.parse(Array("a: b\u{1}\n".utf8), file: "f.yaml").diagnostics.map(\.description)
        #expect(found == ["f.yaml:1:5: error: cannot read file: control characters are not allowed"])
    }

    @Test func documentsBeforeAnErrorAreKept() {
        let result = parse("name: one\n---\nname: [two\n")
        #expect(result.documents.count == 1)
        #expect(result.diagnostics.count == 1)
    }

    @Test func tagsAndQuotingDecideScalarTypes() {
        let state = desired(minimal + "replicas: !!str 2\n")
        #expect(state.diagnostics.first?.message.contains("replicas must be a whole number") == true)
        #expect(desired(minimal + "replicas: !!int 2\n").services.first?.replicas == 2)
        #expect(desired(minimal + "env:\n  A: 'yes'\n  B: |\n    two\n    lines\n").services.first?.env == ["A": "yes", "B": "two\nlines\n"])
        // Other tags are refused, not read as text (`!!binary`) or dropped (`!foo`).
        for tagged in ["env: { A: !!binary aGVsbG8= }\n", "env: { A: !foo bar }\n", "labels: !foo { a: b }\n", "command: !!set [a]\n"] {
            #expect(desired(minimal + tagged).diagnostics.contains { $0.message.contains("is not supported in manifests") }, "\(tagged)")
        }
    }
}
