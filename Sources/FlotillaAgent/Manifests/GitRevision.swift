import Foundation

/// The git commit a manifest directory is checked out at: "which commit is running?" is the
/// first question in any incident. Read from the repository's files (HEAD, loose and packed
/// refs, worktrees such as git-sync's), without running git; only "is the tree dirty?" asks
/// `git status`, bounded by a timeout, and is left unknown when git is not installed.
public struct GitRevision: Sendable, Hashable, CustomStringConvertible {
    /// The full commit hash.
    public var commit: String
    /// Uncommitted changes in the manifest directory (nil: unknown).
    public var dirty: Bool?

    /// The first 12 hex digits, and `-dirty` for a tree with uncommitted changes.
    public var description: String { String(commit.prefix(12)) + (dirty == true ? "-dirty" : "") }

    /// The revision of the work tree holding `directory`, or nil when it is not in one.
    public static func read(directory: String, checkDirty: Bool = true) async -> GitRevision? {
        guard let (gitDir, commonDir, _) = locate(from: directory) else { return nil }
        guard let commit = resolveHead(gitDir: gitDir, commonDir: commonDir) else { return nil }
        var revision = GitRevision(commit: commit, dirty: nil)
        if checkDirty { revision.dirty = await isDirty(directory: directory, comparedWith: commit) }
        return revision
    }

    /// The `.git` folder (a worktree's own, when `.git` is a `gitdir:` file), the repository's
    /// common folder (refs live there), and the work tree's root, from `directory` upwards.
    static func locate(from directory: String) -> (gitDir: String, commonDir: String, workTree: String)? {
        var folder = URL(fileURLWithPath: directory).resolvingSymlinksInPath().path
        let files = FileManager.default
        while true {
            let dotGit = folder + "/.git"
            var isDirectory: ObjCBool = false
            if files.fileExists(atPath: dotGit, isDirectory: &isDirectory) {
                var gitDir = dotGit
                if !isDirectory.boolValue {
                    guard let text = try? String(contentsOfFile: dotGit, encoding: .utf8), text.hasPrefix("gitdir:") else { return nil }
                    let path = text.dropFirst("gitdir:".count).trimmingCharacters(in: .whitespacesAndNewlines)
                    gitDir = path.hasPrefix("/") ? path : (folder as NSString).appendingPathComponent(path)
                }
                var commonDir = gitDir
                if let common = try? String(contentsOfFile: gitDir + "/commondir", encoding: .utf8) {
                    let path = common.trimmingCharacters(in: .whitespacesAndNewlines)
                    commonDir = path.hasPrefix("/") ? path : (gitDir as NSString).appendingPathComponent(path)
                }
                return (gitDir, commonDir, folder)
            }
            if folder == "/" || folder.isEmpty { return nil }
            folder = (folder as NSString).deletingLastPathComponent
        }
    }

    static func resolveHead(gitDir: String, commonDir: String) -> String? {
        guard var head = try? String(contentsOfFile: gitDir + "/HEAD", encoding: .utf8) else { return nil }
        head = head.trimmingCharacters(in: .whitespacesAndNewlines)
        // Symbolic refs, at most a few levels deep.
        for _ in 0..<5 {
            guard head.hasPrefix("ref:") else { return isHash(head) ? head : nil }
            let ref = head.dropFirst(4).trimmingCharacters(in: .whitespaces)
            if let loose = (try? String(contentsOfFile: commonDir + "/" + ref, encoding: .utf8))
                ?? (try? String(contentsOfFile: gitDir + "/" + ref, encoding: .utf8)) {
                head = loose.trimmingCharacters(in: .whitespacesAndNewlines)
                continue
            }
            guard let packed = try? String(contentsOfFile: commonDir + "/packed-refs", encoding: .utf8) else { return nil }
            for line in packed.split(separator: "\n") where line.hasSuffix(" " + ref) {
                let hash = String(line.prefix { $0 != " " })
                return isHash(hash) ? hash : nil
            }
            return nil  // an unborn branch: no commit yet
        }
        return nil
    }

    static func isHash(_ s: String) -> Bool {
        (s.count == 40 || s.count == 64) && s.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    /// `git diff --quiet <commit> -- .` in the manifest directory (tracked files: staged or not),
    /// 2 s at most (``CommandRunner``: its own process group, waited for off the thread pool);
    /// the exit code says it. Compared with the commit that was read, not with `HEAD`: a
    /// `git commit` that lands between reading HEAD and running git would otherwise make files
    /// written after the old commit look like a clean copy of it.
    static func isDirty(directory: String, comparedWith commit: String) async -> Bool? {
        guard let git = ["/usr/bin/git", "/usr/local/bin/git", "/bin/git"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else { return nil }
        let absolute = URL(fileURLWithPath: directory).resolvingSymlinksInPath().path
        let result = await CommandRunner.run(arguments: [git, "-C", absolute, "--no-optional-locks", "diff", "--quiet", commit, "--", "."], timeout: .seconds(2))
        guard !result.timedOut else { return nil }
        switch result.status {
        case 0: return false
        case 1: return true
        default: return nil
        }
    }
}
