//! `.dockerignore` semantics, for leaving files out of a layer the way BuildKit leaves them out of a
//! build context: the ignore file's line rules (moby/patternmatcher/ignorefile), its patterns (Go's
//! `filepath.Match` syntax plus `**`, as moby/patternmatcher turns them into regular expressions),
//! and its verdict (`MatchesOrParentMatches`: the last pattern matching the path or one of its
//! parents decides, a `!` pattern re-includes).
//!
//! Written on bytes, since names need not be UTF-8, and matched by a small NFA rather than a regex
//! crate: time stays linear in the path whatever the pattern (`**/**/**/a` included).
//!
//! Where moby's regular-expression translation does something no one means, this follows the
//! `filepath.Match` reading instead: `\d`, `\w`... are the letters, not regex classes, and `*` or `?`
//! inside `[...]` are the characters themselves.

use crate::error::{Error, Result};

/// An ordered list of ignore patterns.
#[derive(Debug, Clone, Default)]
pub struct Ignore {
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone)]
struct Pattern {
    /// A `!` pattern: matching paths are included again.
    exclusion: bool,
    matcher: Matcher,
}

/// moby's four match types: plain comparisons for the common shapes, the NFA for the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Matcher {
    /// No wildcard: the path equals the pattern.
    Exact(Vec<u8>),
    /// `lit**`: the path starts with `lit`.
    Prefix(Vec<u8>),
    /// `**lit` (`**/lit` keeps its '/'): the path ends with `lit`, or is `lit` without its '/'.
    Suffix(Vec<u8>),
    Glob(Vec<Token>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Char(char),
    /// `?`: one character other than '/'.
    One,
    /// `*`: any characters other than '/'.
    Star,
    /// `[...]`: one character in (or, negated, not in) the ranges.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    /// `**/`, or `**` before more pattern: `(.*/)?`, zero or more whole directories.
    Dirs,
    /// `**` ending the pattern: `.*`.
    Rest,
    /// A bare `^`, which moby leaves in its regex as an anchor: only matches at the very start.
    Start,
}

impl Ignore {
    /// Patterns as `--exclude` gives them, one each, with the same syntax as ignore-file lines
    /// (no comments: a `#` is part of the pattern).
    pub fn from_patterns(what: &str, patterns: &[String]) -> Result<Ignore> {
        let mut ignore = Ignore::default();
        for pattern in patterns {
            ignore.add(what, pattern)?;
        }
        Ok(ignore)
    }

    /// The text of an ignore file: one pattern per line, lines starting with `#` are comments,
    /// blank lines are skipped, whitespace around a pattern is trimmed, `!` negates.
    pub fn parse_file(what: &str, text: &str) -> Result<Ignore> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut ignore = Ignore::default();
        for (number, line) in text.split('\n').enumerate() {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if !line.starts_with('#') {
                ignore.add(&format!("{what} line {}", number + 1), line)?;
            }
        }
        Ok(ignore)
    }

    /// Append `other`'s patterns: they come later, so they win.
    pub fn extend(&mut self, other: Ignore) {
        self.patterns.extend(other.patterns);
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether `path` (relative to the source root, '/'-separated, no leading '/', raw bytes) is
    /// left out: the last pattern that matches it or one of its parent directories decides.
    pub fn excludes(&self, path: &[u8]) -> bool {
        !path.is_empty() && self.decisive(path).is_some_and(|i| !self.patterns[i].exclusion)
    }

    /// For an excluded directory: could a `!` pattern include something below it? Then a walker
    /// must still descend (BuildKit's does, and sends the directory itself only if something below
    /// it is sent); otherwise it can skip the whole subtree. True for a directory not excluded.
    pub fn may_include_below(&self, dir: &[u8]) -> bool {
        let Some(decisive) = self.decisive(dir).filter(|&i| !self.patterns[i].exclusion) else {
            return true;
        };
        // Below `dir`, everything is excluded by that pattern (it matches a parent of every path
        // there) unless a later `!` pattern matches the path or a parent under `dir`.
        self.patterns[decisive + 1..].iter().any(|p| p.exclusion && p.matcher.matches_some_below(dir))
    }

    /// The index of the last pattern matching `path` or one of its parents.
    fn decisive(&self, path: &[u8]) -> Option<usize> {
        self.patterns.iter().rposition(|p| p.matcher.matches_self_or_parent(path))
    }

    /// One pattern, normalized as ignorefile.ReadAll and then patternmatcher.New do it.
    fn add(&mut self, what: &str, raw: &str) -> Result<()> {
        let mut pattern = raw.trim();
        if pattern.is_empty() {
            return Ok(());
        }
        let invert = pattern.starts_with('!');
        if invert {
            pattern = pattern[1..].trim();
        }
        let mut normalized = String::new();
        if !pattern.is_empty() {
            normalized = clean(pattern);
            if normalized.len() > 1 && normalized.starts_with('/') {
                normalized.remove(0);
            }
        }
        if invert {
            normalized.insert(0, '!');
        }
        let cleaned = clean(&normalized);
        let invalid = |why: &str| Error::option(format!("{what}: invalid pattern {:?}: {why}", raw.trim()));
        let (exclusion, body) = match cleaned.strip_prefix('!') {
            Some("") => return Err(invalid("illegal exclusion pattern \"!\"")),
            Some(body) => (true, body),
            None => (false, cleaned.as_str()),
        };
        let matcher = compile(body).ok_or_else(|| invalid("syntax error in pattern"))?;
        self.patterns.push(Pattern { exclusion, matcher });
        Ok(())
    }
}

/// Go's `path.Clean`: drop empty and `.` elements, resolve `..` lexically.
fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|&last| last != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            _ => parts.push(part),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// moby's `Pattern.compile`, validating as `filepath.Match` does. None: a syntax error.
fn compile(pattern: &str) -> Option<Matcher> {
    #[derive(PartialEq)]
    enum Kind {
        Exact,
        Prefix,
        Suffix,
        Glob,
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut kind = Kind::Exact;
    let mut tokens = Vec::new();
    let mut i = 0;
    let mut first = true;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i == chars.len() {
                    if kind == Kind::Exact {
                        kind = Kind::Prefix;
                    } else {
                        tokens.push(Token::Rest);
                        kind = Kind::Glob;
                    }
                } else {
                    tokens.push(Token::Dirs);
                    kind = Kind::Glob;
                }
                if first {
                    kind = Kind::Suffix;
                }
            }
            '*' => {
                tokens.push(Token::Star);
                kind = Kind::Glob;
            }
            '?' => {
                tokens.push(Token::One);
                kind = Kind::Glob;
            }
            '\\' => {
                tokens.push(Token::Char(*chars.get(i)?));
                i += 1;
                kind = Kind::Glob;
            }
            '[' => {
                tokens.push(class(&chars, &mut i)?);
                kind = Kind::Glob;
            }
            ']' => {
                tokens.push(Token::Char(']'));
                kind = Kind::Glob;
            }
            '^' => tokens.push(Token::Start),
            c => tokens.push(Token::Char(c)),
        }
        first = false;
    }
    let bytes = pattern.as_bytes();
    Some(match kind {
        Kind::Exact => Matcher::Exact(bytes.to_vec()),
        Kind::Prefix => Matcher::Prefix(bytes[..bytes.len() - 2].to_vec()),
        Kind::Suffix => Matcher::Suffix(bytes[2..].to_vec()),
        Kind::Glob => Matcher::Glob(tokens),
    })
}

/// A character class after its `[`, as `filepath.Match` reads it: optional `^`, then one or more
/// characters or `lo-hi` ranges (`\` escapes; an unescaped `-` or `]` cannot start one), then `]`.
fn class(chars: &[char], i: &mut usize) -> Option<Token> {
    let negated = chars.get(*i) == Some(&'^');
    if negated {
        *i += 1;
    }
    let mut ranges = Vec::new();
    loop {
        if chars.get(*i) == Some(&']') && !ranges.is_empty() {
            *i += 1;
            return Some(Token::Class { negated, ranges });
        }
        let lo = class_char(chars, i)?;
        let mut hi = lo;
        if chars.get(*i) == Some(&'-') {
            *i += 1;
            hi = class_char(chars, i)?;
        }
        // Go's regexp rejects a reversed range.
        if lo > hi {
            return None;
        }
        ranges.push((lo, hi));
    }
}

/// Go's `getEsc`: one (possibly escaped) class character, which something must follow.
fn class_char(chars: &[char], i: &mut usize) -> Option<char> {
    match chars.get(*i)? {
        '-' | ']' => return None,
        '\\' => *i += 1,
        _ => {}
    }
    let c = *chars.get(*i)?;
    *i += 1;
    (*i < chars.len()).then_some(c)
}

/// A path's characters as Go's regexp sees them: UTF-8 decoded, each invalid byte one U+FFFD.
fn chars(path: &[u8]) -> impl Iterator<Item = char> + '_ {
    path.utf8_chunks()
        .flat_map(|chunk| chunk.valid().chars().chain(chunk.invalid().iter().map(|_| char::REPLACEMENT_CHARACTER)))
}

impl Matcher {
    /// Whether the whole of `path` matches (moby's `MatchesExact` for one pattern).
    #[cfg(test)]
    fn matches(&self, path: &[u8]) -> bool {
        match self {
            Matcher::Glob(tokens) => Nfa::new(tokens).run(path, |_| false),
            _ => self.plain_matches(path),
        }
    }

    fn plain_matches(&self, path: &[u8]) -> bool {
        match self {
            Matcher::Exact(p) => path == p.as_slice(),
            Matcher::Prefix(p) => path.starts_with(p),
            Matcher::Suffix(s) => path.ends_with(s) || (s.first() == Some(&b'/') && path == &s[1..]),
            Matcher::Glob(_) => unreachable!("globs run the NFA"),
        }
    }

    /// Whether `path` or one of its parent directories matches.
    fn matches_self_or_parent(&self, path: &[u8]) -> bool {
        match self {
            // One pass: a parent is matched when the accepting state is reached just before a '/'.
            Matcher::Glob(tokens) => Nfa::new(tokens).run(path, |nfa| nfa.accepts()),
            _ => {
                let mut parents = path.iter().enumerate().filter(|&(_, &b)| b == b'/').map(|(i, _)| &path[..i]);
                self.plain_matches(path) || parents.any(|parent| self.plain_matches(parent))
            }
        }
    }

    /// Whether some path strictly below directory `dir` matches.
    fn matches_some_below(&self, dir: &[u8]) -> bool {
        let below = [dir, b"/"].concat();
        match self {
            Matcher::Exact(p) => p.len() > below.len() && p.starts_with(&below),
            Matcher::Prefix(p) => p.starts_with(&below) || below.starts_with(p),
            Matcher::Suffix(_) => true,
            Matcher::Glob(tokens) => {
                let mut nfa = Nfa::new(tokens);
                let mut alive = true;
                for c in chars(dir).chain(std::iter::once('/')) {
                    nfa.step(c);
                    if !nfa.any() {
                        alive = false;
                        break;
                    }
                }
                alive && nfa.can_continue()
            }
        }
    }
}

/// The state set of a glob's NFA. State `i` is "about to match token `i`" (`tokens.len()`
/// accepts); `inside[i]` is "within the `.*` of the `(.*/)?` at token `i`".
struct Nfa<'t> {
    tokens: &'t [Token],
    on: Vec<bool>,
    inside: Vec<bool>,
    next_on: Vec<bool>,
    next_inside: Vec<bool>,
}

impl<'t> Nfa<'t> {
    fn new(tokens: &'t [Token]) -> Nfa<'t> {
        let n = tokens.len() + 1;
        let mut nfa = Nfa {
            tokens,
            on: vec![false; n],
            inside: vec![false; n],
            next_on: vec![false; n],
            next_inside: vec![false; n],
        };
        nfa.on[0] = true;
        Self::close(tokens, &mut nfa.on, &mut nfa.inside, true);
        nfa
    }

    /// Follow the empty transitions (they only go forward, so one sweep suffices).
    fn close(tokens: &[Token], on: &mut [bool], inside: &mut [bool], at_start: bool) {
        for (i, token) in tokens.iter().enumerate() {
            if !on[i] {
                continue;
            }
            match token {
                Token::Star | Token::Rest => on[i + 1] = true,
                Token::Dirs => {
                    on[i + 1] = true;
                    inside[i] = true;
                }
                Token::Start if at_start => on[i + 1] = true,
                _ => {}
            }
        }
    }

    fn step(&mut self, c: char) {
        self.next_on.fill(false);
        self.next_inside.fill(false);
        for (i, token) in self.tokens.iter().enumerate() {
            // `.` does not match a newline in Go's regexp (no `s` flag); classes do.
            if self.inside[i] && c != '\n' {
                self.next_inside[i] = true;
                if c == '/' {
                    self.next_on[i + 1] = true;
                }
            }
            if !self.on[i] {
                continue;
            }
            match token {
                Token::Char(x) if *x == c => self.next_on[i + 1] = true,
                Token::One if c != '/' => self.next_on[i + 1] = true,
                Token::Star if c != '/' => self.next_on[i] = true,
                Token::Rest if c != '\n' => self.next_on[i] = true,
                Token::Class { negated, ranges } if ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated => {
                    self.next_on[i + 1] = true
                }
                _ => {}
            }
        }
        std::mem::swap(&mut self.on, &mut self.next_on);
        std::mem::swap(&mut self.inside, &mut self.next_inside);
        Self::close(self.tokens, &mut self.on, &mut self.inside, false);
    }

    fn accepts(&self) -> bool {
        self.on[self.tokens.len()]
    }

    fn any(&self) -> bool {
        self.on.iter().chain(&self.inside).any(|&b| b)
    }

    /// Whether one or more further characters can lead to acceptance (past the start, a state
    /// with a `^` still ahead is dead; every other state before the end can go on).
    fn can_continue(&self) -> bool {
        let first_live = self.tokens.iter().rposition(|t| *t == Token::Start).map_or(0, |s| s + 1);
        (first_live..self.tokens.len()).any(|i| self.on[i] || self.inside[i])
    }

    /// Match the whole `path`; `at_slash` is asked before each '/' whether to accept already.
    fn run(mut self, path: &[u8], at_slash: impl Fn(&Nfa) -> bool) -> bool {
        for c in chars(path) {
            if c == '/' && at_slash(&self) {
                return true;
            }
            self.step(c);
            if !self.any() {
                return false;
            }
        }
        self.accepts()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ignore(patterns: &[&str]) -> Ignore {
        let patterns: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
        Ignore::from_patterns("--exclude", &patterns).unwrap_or_else(|e| panic!("{patterns:?}: {e}"))
    }

    fn matcher(pattern: &str) -> Matcher {
        ignore(&[pattern]).patterns.remove(0).matcher
    }

    /// patternmatcher_test.go's TestMatches: (pattern, path, exact match, match of path or parent).
    #[test]
    fn moby_match_table() {
        let (exact, inexact, fail) = ((true, true), (false, true), (false, false));
        let cases = [
            ("**", "file", exact),
            ("**", "file/", exact),
            ("**/", "file", exact),
            ("**/", "file/", exact),
            ("**", "/", exact),
            ("**/", "/", exact),
            ("**", "dir/file", exact),
            ("**/", "dir/file", exact),
            ("**", "dir/file/", exact),
            ("**/", "dir/file/", exact),
            ("**/**", "dir/file", exact),
            ("**/**", "dir/file/", exact),
            ("dir/**", "dir/file", exact),
            ("dir/**", "dir/file/", exact),
            ("dir/**", "dir/dir2/file", exact),
            ("dir/**", "dir/dir2/file/", exact),
            ("**/dir", "dir", exact),
            ("**/dir", "dir/file", inexact),
            ("**/dir2/*", "dir/dir2/file", exact),
            ("**/dir2/*", "dir/dir2/file/", inexact),
            ("**/dir2/**", "dir/dir2/dir3/file", exact),
            ("**/dir2/**", "dir/dir2/dir3/file/", exact),
            ("**file", "file", exact),
            ("**file", "dir/file", exact),
            ("**/file", "dir/file", exact),
            ("**file", "dir/dir/file", exact),
            ("**/file", "dir/dir/file", exact),
            ("**/file*", "dir/dir/file", exact),
            ("**/file*", "dir/dir/file.txt", exact),
            ("**/file*txt", "dir/dir/file.txt", exact),
            ("**/file*.txt", "dir/dir/file.txt", exact),
            ("**/file*.txt*", "dir/dir/file.txt", exact),
            ("**/**/*.txt", "dir/dir/file.txt", exact),
            ("**/**/*.txt2", "dir/dir/file.txt", fail),
            ("**/*.txt", "file.txt", exact),
            ("**/**/*.txt", "file.txt", exact),
            ("a**/*.txt", "a/file.txt", exact),
            ("a**/*.txt", "a/dir/file.txt", exact),
            ("a**/*.txt", "a/dir/dir/file.txt", exact),
            ("a/*.txt", "a/dir/file.txt", fail),
            ("a/*.txt", "a/file.txt", exact),
            ("a/*.txt**", "a/file.txt", exact),
            ("a[b-d]e", "ae", fail),
            ("a[b-d]e", "ace", exact),
            ("a[b-d]e", "aae", fail),
            ("a[^b-d]e", "aze", exact),
            (".*", ".foo", exact),
            (".*", "foo", fail),
            ("abc.def", "abcdef", fail),
            ("abc.def", "abc.def", exact),
            ("abc.def", "abcZdef", fail),
            ("abc?def", "abcZdef", exact),
            ("abc?def", "abcdef", fail),
            ("**/foo/bar", "foo/bar", exact),
            ("**/foo/bar", "dir/foo/bar", exact),
            ("**/foo/bar", "dir/dir2/foo/bar", exact),
            ("abc/**", "abc", fail),
            ("abc/**", "abc/def", exact),
            ("abc/**", "abc/def/ghi", exact),
            ("**/.foo", ".foo", exact),
            ("**/.foo", "bar.foo", fail),
            ("a(b)c/def", "a(b)c/def", exact),
            ("a(b)c/def", "a(b)c/xyz", fail),
            ("a.|)$(}+{bc", "a.|)$(}+{bc", exact),
            (
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                exact,
            ),
            ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", exact),
            ("a\\\\", "a\\", exact),
            ("a\\*b", "a*b", exact),
        ];
        for (pattern, path, (whole, or_parent)) in cases {
            let m = matcher(pattern);
            assert_eq!(m.matches(path.as_bytes()), whole, "exact: pattern {pattern:?} path {path:?}");
            assert_eq!(
                m.matches_self_or_parent(path.as_bytes()),
                or_parent,
                "or parent: pattern {pattern:?} path {path:?}"
            );
            assert_eq!(ignore(&[pattern]).excludes(path.as_bytes()), or_parent, "{pattern:?} {path:?}");
        }
    }

    #[test]
    fn moby_multi_pattern_table() {
        let whl = "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl";
        assert!(!ignore(&["**", "!util/docker/web"]).excludes(b"util/docker/web/foo"));
        assert!(ignore(&["**", "!util/docker/web", "util/docker/web/foo"]).excludes(b"util/docker/web/foo"));
        assert!(!ignore(&["**", &format!("!{whl}")]).excludes(whl.as_bytes()));
        assert!(!ignore(&["**", "!dist/*.whl"]).excludes(whl.as_bytes()));
    }

    /// The match types moby's TestCompile expects.
    #[test]
    fn moby_compile_kinds() {
        let glob = |p: &str| matches!(matcher(p), Matcher::Glob(_));
        for p in ["*", "file*", "*file", "a*/b", "**/**", "**/dir2/*", "**/dir2/**", "**/file*txt", "**/**/*.txt"] {
            assert!(glob(p), "{p}");
        }
        for p in ["a[b-d]e", ".*", "abc?def"] {
            assert!(glob(p), "{p}");
        }
        assert_eq!(matcher("**"), Matcher::Suffix(vec![]));
        assert_eq!(matcher("dir/**"), Matcher::Prefix(b"dir/".to_vec()));
        assert_eq!(matcher("**/dir"), Matcher::Suffix(b"/dir".to_vec()));
        assert_eq!(matcher("**file"), Matcher::Suffix(b"file".to_vec()));
        assert_eq!(matcher("**/foo/bar"), Matcher::Suffix(b"/foo/bar".to_vec()));
        for p in ["abc.def", "a(b)c/def", "a.|)$(}+{bc"] {
            assert_eq!(matcher(p), Matcher::Exact(p.as_bytes().to_vec()), "{p}");
        }
    }

    /// Go's filepath.Match table (as patternmatcher_test.go replays it through `Matches`).
    #[test]
    fn go_filepath_match_table() {
        let cases = [
            ("abc", "abc", true),
            ("*", "abc", true),
            ("*c", "abc", true),
            ("a*", "a", true),
            ("a*", "abc", true),
            ("a*", "ab/c", true),
            ("a*/b", "abc/b", true),
            ("a*/b", "a/c/b", false),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", true),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/f", true),
            ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", false),
            ("a*b?c*x", "abxbbxdbxebxczzx", true),
            ("a*b?c*x", "abxbbxdbxebxczzy", false),
            ("ab[c]", "abc", true),
            ("ab[b-d]", "abc", true),
            ("ab[e-g]", "abc", false),
            ("ab[^c]", "abc", false),
            ("ab[^b-d]", "abc", false),
            ("ab[^e-g]", "abc", true),
            ("a\\*b", "a*b", true),
            ("a\\*b", "ab", false),
            ("a?b", "a☺b", true),
            ("a[^a]b", "a☺b", true),
            ("a???b", "a☺b", false),
            ("a[^a][^a][^a]b", "a☺b", false),
            ("[a-ζ]*", "α", true),
            ("*[a-ζ]", "A", false),
            ("a?b", "a/b", false),
            ("a*b", "a/b", false),
            ("[\\]a]", "]", true),
            ("[\\-]", "-", true),
            ("[x\\-]", "x", true),
            ("[x\\-]", "-", true),
            ("[x\\-]", "z", false),
            ("[\\-x]", "x", true),
            ("[\\-x]", "-", true),
            ("[\\-x]", "a", false),
            ("*x", "xxx", true),
        ];
        for (pattern, path, want) in cases {
            assert_eq!(ignore(&[pattern]).excludes(path.as_bytes()), want, "pattern {pattern:?} path {path:?}");
        }
        for bad in ["[]a]", "[-]", "[x-]", "[-x]", "\\", "[a-b-c]", "[", "[^", "[^bc", "a[", "[Local-Only]/", "[z-a]"] {
            let err = Ignore::from_patterns("--exclude", &[bad.to_string()]).unwrap_err();
            assert_eq!(err.kind, crate::error::ErrorKind::InvalidOption);
            assert!(err.message.starts_with("--exclude: invalid pattern"), "{}", err.message);
            assert!(err.message.contains(&format!("{bad:?}")), "{}", err.message);
        }
    }

    #[test]
    fn common_dockerignore_patterns() {
        let i = ignore(&["node_modules", "*.log", "!important.log", "**/.git", "docs/**/*.md"]);
        assert!(i.excludes(b"node_modules"));
        assert!(i.excludes(b"node_modules/left-pad/index.js"));
        assert!(!i.excludes(b"src/node_modules/x"), "a plain name only matches at the root");
        assert!(i.excludes(b"debug.log"));
        assert!(!i.excludes(b"logs/debug.log"), "* does not cross directories");
        assert!(!i.excludes(b"important.log"));
        assert!(i.excludes(b".git"));
        assert!(i.excludes(b".git/config"));
        assert!(i.excludes(b"vendor/lib/.git/HEAD"));
        assert!(!i.excludes(b".gitignore"));
        assert!(i.excludes(b"docs/a.md"));
        assert!(i.excludes(b"docs/guide/deep/b.md"));
        assert!(!i.excludes(b"docs/a.txt"));
        assert!(!i.excludes(b"README.md"));
        assert!(!i.excludes(b"src/main.rs"));
        assert!(!i.excludes(b""), "the root is never excluded");
    }

    #[test]
    fn later_patterns_win_and_parents_count() {
        assert!(ignore(&["!a.go", "*.go"]).excludes(b"a.go"));
        assert!(!ignore(&["*.go", "!a.go"]).excludes(b"a.go"));
        for dir in ["docs", "docs/", "docs/*"] {
            let i = ignore(&[dir, "!docs/README.md"]);
            assert!(!i.excludes(b"docs/README.md"), "{dir}");
            assert!(i.excludes(b"docs/other.md"), "{dir}");
        }
        // An exception for a directory re-includes what is under it.
        let i = ignore(&["*", "!keep"]);
        assert!(i.excludes(b"drop/x"));
        assert!(!i.excludes(b"keep/deep/x"));
    }

    #[test]
    fn reinclude_below_an_excluded_directory() {
        let i = ignore(&["dir", "!dir/keep"]);
        assert!(i.excludes(b"dir"));
        assert!(!i.excludes(b"dir/keep"));
        assert!(!i.excludes(b"dir/keep/inner"));
        assert!(i.excludes(b"dir/other"));
        assert!(i.may_include_below(b"dir"));
        assert!(!i.may_include_below(b"dir/other"));
        assert!(i.may_include_below(b"src"), "not excluded at all");

        assert!(!ignore(&["dir"]).may_include_below(b"dir"));
        assert!(!ignore(&["dir", "!other/keep"]).may_include_below(b"dir"));
        assert!(!ignore(&["dir", "!dirx/keep"]).may_include_below(b"dir"));
        assert!(!ignore(&["dir", "!dir"]).excludes(b"dir"));
        // A later exclusion of the directory overrides the earlier exception.
        assert!(!ignore(&["dir", "!dir/keep", "dir"]).may_include_below(b"dir"));
        // Wildcard exceptions: only if they can reach below.
        assert!(ignore(&["dir", "!**/*.md"]).may_include_below(b"dir"));
        assert!(ignore(&["dir", "!d*/*.md"]).may_include_below(b"dir"));
        assert!(!ignore(&["*", "!*.md"]).may_include_below(b"docs"));
        assert!(!ignore(&["*", "!*.md"]).excludes(b"a.md"));
        assert!(ignore(&["*", "!*.md"]).excludes(b"docs/a.md"));
        assert!(!ignore(&["a", "!a**"]).excludes(b"a"));
        assert!(ignore(&["a/b", "!a/b/c**"]).may_include_below(b"a/b"));
        assert!(!ignore(&["a/b", "!a/bc**"]).may_include_below(b"a/b"));
        assert!(!ignore(&["a/b", "!a/**"]).excludes(b"a/b"));
        assert!(ignore(&["a/b", "!a/**"]).may_include_below(b"a/b"));
        // `^` anchors at the start, where it is harmless; later it can never match.
        assert!(ignore(&["dir", "!^dir/x*"]).may_include_below(b"dir"));
        assert!(!ignore(&["dir", "!^dir/x*"]).excludes(b"dir/xy"));
        assert!(!ignore(&["dir", "!d*^/x*"]).may_include_below(b"dir"));
        assert!(ignore(&["dir", "!dir/x*"]).may_include_below(b"dir"));
        assert!(!ignore(&["dir", "!dir/x*"]).excludes(b"dir/xy"));
        assert!(!ignore(&["dir", "!dir"]).excludes(b"dir/a"));
        assert!(!ignore(&["dir/sub", "!dir/keep"]).may_include_below(b"dir/sub"));
    }

    #[test]
    fn non_utf8_names() {
        let i = ignore(&["*.bin", "raw"]);
        assert!(i.excludes(b"\xff\xfe.bin"));
        assert!(i.excludes(b"raw/\xff"));
        assert!(!i.excludes(b"\xff/x.txt"));
        // `?` is one character: a whole UTF-8 sequence, or one invalid byte.
        let q = ignore(&["?.txt"]);
        assert!(q.excludes("é.txt".as_bytes()));
        assert!(q.excludes(b"\xc3.txt"));
        assert!(!q.excludes(b"\xc3\xc3.txt"));
        assert!(ignore(&["é*"]).excludes("émile".as_bytes()));
        assert!(ignore(&["[é]x"]).excludes("éx".as_bytes()));
    }

    #[test]
    fn ignore_file_lines() {
        let text = "\u{feff}# comment\n\n  node_modules  \r\n/abs/path\ninverted\n! /inverted/abs/path\n  # not a comment\n./a/../b\n*.tmp\n";
        let i = Ignore::parse_file(".outportignore", text).unwrap();
        assert_eq!(i.patterns.len(), 7);
        assert!(i.excludes(b"inverted/other"));
        assert!(i.excludes(b"node_modules/x"));
        assert!(i.excludes(b"abs/path"));
        assert!(!i.excludes(b"inverted/abs/path"));
        assert!(i.excludes(b"# not a comment"));
        assert!(i.excludes(b"b"));
        assert!(!i.excludes(b"a/b"));
        assert!(i.excludes(b"x.tmp"));
        assert!(!i.excludes(b"comment"));
        assert!(Ignore::parse_file("f", "").unwrap().is_empty());
        assert!(Ignore::parse_file("f", "# only\n\n   \n").unwrap().is_empty());

        let err = Ignore::parse_file(".outportignore", "ok\n!\n").unwrap_err();
        assert_eq!(err.message, ".outportignore line 2: invalid pattern \"!\": illegal exclusion pattern \"!\"");
        let err = Ignore::parse_file(".outportignore", "a\nb\n[unterminated\n").unwrap_err();
        assert_eq!(err.message, ".outportignore line 3: invalid pattern \"[unterminated\": syntax error in pattern");
        assert!(Ignore::parse_file("f", "!  ").is_err());
    }

    #[test]
    fn cleaning() {
        assert_eq!(clean("./a"), "a");
        assert_eq!(clean("a//b"), "a/b");
        assert_eq!(clean("a/../b"), "b");
        assert_eq!(clean("../a"), "../a");
        assert_eq!(clean("/../a"), "/a");
        assert_eq!(clean("a/.."), ".");
        assert_eq!(clean("/"), "/");
        assert_eq!(clean("dir/"), "dir");
        assert!(ignore(&["./a//b/"]).excludes(b"a/b/c"));
        assert!(ignore(&["/etc"]).excludes(b"etc/passwd"));
        assert!(!ignore(&["/"]).excludes(b"a"), "\"/\" matches nothing");
        assert!(ignore(&["a/../b"]).excludes(b"b"));
    }

    #[test]
    fn extend_appends_later_patterns() {
        let mut i = ignore(&["*.log"]);
        assert!(!i.is_empty());
        i.extend(ignore(&["!keep.log"]));
        assert!(!i.excludes(b"keep.log"));
        assert!(i.excludes(b"other.log"));
        assert!(Ignore::default().is_empty());
        assert!(!Ignore::default().excludes(b"x"));
    }

    #[test]
    fn regex_corners_as_moby() {
        // A bare `^` is a regex anchor there: fine at the start, never matching later.
        assert!(ignore(&["^*.go"]).excludes(b"a.go"));
        assert!(!ignore(&["a*^b"]).excludes(b"a^b"));
        assert!(ignore(&["a^b"]).excludes(b"a^b"), "no wildcard: compared as text");
        // `**` is `.*`, which stops at a newline; `*` does not.
        assert!(!ignore(&["a/**/b*"]).excludes(b"a/x\ny/b"));
        assert!(ignore(&["a/*/b*"]).excludes(b"a/x\ny/b"));
        // `**lit` is a plain suffix comparison in moby.
        assert!(ignore(&["**foo"]).excludes(b"xfoo"));
        // A class may match '/' (it is a regex class).
        assert!(ignore(&["a[/]b"]).excludes(b"a/b"));
    }

    #[test]
    fn many_double_stars_stay_linear() {
        let pattern = "**/".repeat(40) + "a";
        let i = ignore(&[&pattern, "**/*x*x*x*x*x*x*x*x*x*x*y"]);
        let path = "b/".repeat(2000) + "c";
        assert!(!i.excludes(path.as_bytes()));
        assert!(i.excludes((path.clone() + "/a").as_bytes()));
        let long = "x".repeat(5000);
        assert!(!i.excludes(long.as_bytes()));
    }
}
