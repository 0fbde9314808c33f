/// Splits a command string into words the way Compose does for `command: "..."` and
/// `entrypoint: "..."` (POSIX shell quoting: single quotes, double quotes with `\` escapes,
/// backslash outside quotes), without any expansion. Nil when a quote is left open.
public enum ShellWords {
    public static func split(_ text: String) -> [String]? {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        var escaped = false
        for c in text {
            if escaped {
                // In double quotes a backslash escapes only $ ` " \ and newline, as in sh.
                if quote == "\"", !"$`\"\\\n".contains(c) { current.append("\\") }
                if c != "\n" { current.append(c) }
                escaped = false
                continue
            }
            switch (quote, c) {
            case ("'", "'"), ("\"", "\""): quote = nil
            case ("'", _): current.append(c)
            case ("\"", "\\"), (nil, "\\"): escaped = true; inWord = true
            case ("\"", _): current.append(c)
            case (nil, "'"), (nil, "\""): quote = c; inWord = true
            case (nil, _) where c == " " || c == "\t" || c == "\n" || c == "\r":
                if inWord { words.append(current); current = ""; inWord = false }
            default: current.append(c); inWord = true
            }
        }
        guard quote == nil, !escaped else { return nil }
        if inWord { words.append(current) }
        return words
    }
}
