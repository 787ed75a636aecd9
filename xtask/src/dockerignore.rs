//! Docker's exact `.dockerignore` semantics.
//!
//! This is a faithful port of moby's `patternmatcher` package
//! (`github.com/moby/patternmatcher`, `patternmatcher.go` and
//! `ignorefile/ignorefile.go`). The image tag is a hash of exactly the files
//! Docker sends to the daemon, so "close enough" glob semantics are not good
//! enough: a file we wrongly treat as excluded would let a stale image survive
//! a real change, and a file we wrongly include causes needless rebuilds.
//!
//! moby turns every pattern into a Go regular expression (after classifying
//! the trivial exact/prefix/suffix cases). Rather than approximating that with
//! a glob matcher, this module generates the *same* regular expression text
//! (checked against moby's own `compileTests` table) and evaluates it with a
//! small RE2-compatible Pike VM that understands the subset of Go regexp syntax
//! such patterns can produce. Only the escapes for Unicode classes and
//! quoting (`\pL`, `\PL`, `\Q...\E`) are rejected with an error instead of
//! being emulated; they have no sensible use in a path pattern.
//!
//! Paths are Linux style: `/` separated and relative to the build context.

use std::borrow::Cow;

use anyhow::{anyhow, bail, Context as _, Result};

/// A parsed `.dockerignore` file: the ordered list of patterns, last match wins.
#[derive(Debug, Clone, Default)]
pub struct DockerIgnore {
    patterns: Vec<Pattern>,
    /// Whether any pattern is an exception (`!pattern`); without one, an
    /// excluded directory can always be pruned.
    exclusions: bool,
}

impl DockerIgnore {
    /// Parses the text of a `.dockerignore` file.
    ///
    /// Mirrors `ignorefile.ReadAll` followed by `patternmatcher.New`: a UTF-8
    /// BOM is dropped, lines starting with `#` are comments, whitespace is
    /// trimmed, empty lines are skipped, `!` marks an exception, patterns are
    /// `filepath.Clean`ed and a leading `/` is dropped (everything is relative
    /// to the context root). Malformed patterns are reported with their line
    /// number, because Docker would reject them too.
    pub fn parse(text: &str) -> Result<Self> {
        let mut ignore = Self::empty();
        for (line, raw) in read_all(text) {
            let pattern = Pattern::new(&raw)
                .with_context(|| format!(".dockerignore line {line}: invalid pattern {raw:?}"))?;
            if let Some(pattern) = pattern {
                ignore.exclusions |= pattern.exclusion;
                ignore.patterns.push(pattern);
            }
        }
        Ok(ignore)
    }

    /// A matcher that excludes nothing (the context has no `.dockerignore`).
    pub fn empty() -> Self {
        Self::default()
    }

    /// Whether Docker leaves `rel_path` out of the build context.
    ///
    /// `rel_path` uses `/` separators, relative to the context root, without a
    /// leading `./`. A pattern matching a parent directory also matches
    /// everything below it (moby's `MatchesOrParentMatches`).
    pub fn is_excluded(&self, rel_path: &str) -> bool {
        if self.patterns.is_empty() {
            return false;
        }
        let file = clean(rel_path);
        // moby: "Don't let them exclude everything, kind of silly."
        if file == "." {
            return false;
        }
        self.matches_or_parent_matches(&file)
    }

    /// Whether the walker may skip `rel_dir` and everything below it.
    ///
    /// moby's rule, as both of Docker's context walkers apply it: an excluded directory is
    /// skipped unless an exception could re-include something beneath it. The classic
    /// builder (`TarWithOptions` in moby's `pkg/archive`) descends only when an exception's
    /// cleaned pattern plus `/` starts with `dir/`; BuildKit's sender (fsutil) does the same
    /// as long as every exception is a literal path, and descends into every excluded
    /// directory once one holds a wildcard. Here an exception keeps the walk going when its
    /// literal part (the text before its first wildcard) could lie beneath the directory:
    /// exactly moby's test for literal exceptions, and for wildcard ones what BuildKit would
    /// send, so the tag covers whatever either builder sends (under the classic builder a
    /// wildcard exception can only cost a needless rebuild, never a stale image). Pruning
    /// never changes the result compared with [`Self::is_excluded`] on every file.
    pub fn can_skip_dir(&self, rel_dir: &str) -> bool {
        if !self.is_excluded(rel_dir) {
            return false;
        }
        if !self.exclusions {
            return true;
        }
        let dir_slash = format!("{}/", clean(rel_dir));
        !self
            .patterns
            .iter()
            .filter(|p| p.exclusion)
            .any(|p| p.may_match_below(&dir_slash))
    }

    /// Port of `PatternMatcher.MatchesOrParentMatches` (no cleaning; the
    /// moby tests call it with raw strings such as `"dir/file/"`).
    fn matches_or_parent_matches(&self, file: &str) -> bool {
        let parent = go_dir(file);
        // The parent directories are the same for every pattern; this runs
        // for every file of the context, so compute them once.
        let parents: Vec<&str> = if parent == "." {
            Vec::new()
        } else {
            parent_prefixes(&parent).collect()
        };
        let mut matched = false;
        for pattern in &self.patterns {
            // An inclusion can't change an already matched file, and an
            // exclusion can't change one that has not matched yet.
            if pattern.exclusion != matched {
                continue;
            }
            if pattern.matches(file) || parents.iter().any(|dir| pattern.matches(dir)) {
                matched = !pattern.exclusion;
            }
        }
        matched
    }

    /// Port of `PatternMatcher.MatchesExact` (no parent matching).
    #[cfg(test)]
    fn matches_exact(&self, file: &str) -> bool {
        let mut matched = false;
        for pattern in &self.patterns {
            if pattern.exclusion != matched {
                continue;
            }
            if pattern.matches(file) {
                matched = !pattern.exclusion;
            }
        }
        matched
    }
}

/// Port of `ignorefile.ReadAll`: returns `(line number, pattern)` pairs.
fn read_all(text: &str) -> Vec<(usize, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate() {
        // Comments are recognised before trimming, exactly like Docker.
        if line.starts_with('#') {
            continue;
        }
        let mut pattern = line.trim();
        if pattern.is_empty() {
            continue;
        }
        let invert = pattern.starts_with('!');
        if invert {
            pattern = pattern[1..].trim();
        }
        let mut cleaned = String::new();
        if !pattern.is_empty() {
            cleaned = go_clean(pattern);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
        }
        if invert {
            cleaned.insert(0, '!');
        }
        out.push((index + 1, cleaned));
    }
    out
}

/// One compiled pattern.
#[derive(Debug, Clone)]
struct Pattern {
    /// The cleaned pattern without its leading `!`.
    cleaned: String,
    /// `true` for exceptions (`!pattern`), which re-include files.
    exclusion: bool,
    kind: MatchKind,
}

/// moby's `matchType`: most patterns avoid the regexp engine entirely.
#[derive(Debug, Clone)]
enum MatchKind {
    Exact,
    /// `dir/**`: the cleaned pattern minus the trailing `**`.
    Prefix(String),
    /// `**/name`: the cleaned pattern minus the leading `**`.
    Suffix(String),
    Regexp(Regex),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MatchType {
    Exact,
    Prefix,
    Suffix,
    Regexp,
}

impl Pattern {
    /// Port of the loop body of `patternmatcher.New`; `Ok(None)` for blanks.
    fn new(raw: &str) -> Result<Option<Self>> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Ok(None);
        }
        let mut pattern = go_clean(trimmed);
        let exclusion = pattern.starts_with('!');
        if exclusion {
            if pattern.len() == 1 {
                bail!("illegal exclusion pattern: \"!\"");
            }
            pattern.remove(0);
        }
        validate_glob(&pattern).map_err(|()| anyhow!("syntax error in pattern"))?;
        // moby compiles lazily and fails on first use; compiling eagerly turns
        // that into a parse error so matching itself is infallible.
        let (match_type, regexp) = compile(&pattern);
        let kind = match match_type {
            MatchType::Exact => MatchKind::Exact,
            MatchType::Prefix => MatchKind::Prefix(pattern[..pattern.len() - 2].to_owned()),
            MatchType::Suffix => MatchKind::Suffix(pattern[2..].to_owned()),
            MatchType::Regexp => MatchKind::Regexp(
                Regex::new(&regexp).map_err(|e| anyhow!("syntax error in pattern: {e}"))?,
            ),
        };
        Ok(Some(Self {
            cleaned: pattern,
            exclusion,
            kind,
        }))
    }

    /// Port of `Pattern.match`.
    fn matches(&self, path: &str) -> bool {
        match &self.kind {
            MatchKind::Exact => path == self.cleaned,
            MatchKind::Prefix(prefix) => path.starts_with(prefix.as_str()),
            MatchKind::Suffix(suffix) => {
                path.ends_with(suffix.as_str())
                    // `**/foo` matches "foo".
                    || suffix.strip_prefix('/') == Some(path)
            }
            MatchKind::Regexp(re) => re.is_match(path),
        }
    }

    /// Whether this pattern could match some path strictly below the
    /// directory `dir_slash` (which ends in `/`), directly rather than via a
    /// parent. Every path the pattern matches starts with its literal prefix
    /// (the text before the first metacharacter), so the prefix and the
    /// directory must be compatible.
    fn may_match_below(&self, dir_slash: &str) -> bool {
        if let MatchKind::Exact = self.kind {
            // moby's walk rule: descend when `pattern + "/"` starts with `dir/`.
            return format!("{}/", self.cleaned).starts_with(dir_slash);
        }
        let literal_end = self
            .cleaned
            .find(['*', '?', '[', ']', '\\', '^'])
            .unwrap_or(self.cleaned.len());
        let literal = &self.cleaned[..literal_end];
        literal.starts_with(dir_slash) || dir_slash.starts_with(literal)
    }
}

/// The parent directories of `parent` from the top: `a`, `a/b`, `a/b/c`.
///
/// Equivalent to moby's `strings.Join(parentPathDirs[:i+1], "/")` loop.
fn parent_prefixes(parent: &str) -> impl Iterator<Item = &str> {
    parent
        .match_indices('/')
        .map(move |(i, _)| &parent[..i])
        .chain(std::iter::once(parent))
}

/// Port of `Pattern.compile` for `/` separators: classifies the pattern and
/// builds the Go regular expression text (used only for [`MatchType::Regexp`]).
fn compile(pattern: &str) -> (MatchType, String) {
    let mut re = String::from("^");
    let mut kind = MatchType::Exact;
    let mut chars = pattern.chars().peekable();
    let mut i = 0;
    while let Some(ch) = chars.next() {
        match ch {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                // Treat `**/` as `**`.
                if chars.peek() == Some(&'/') {
                    chars.next();
                }
                if chars.peek().is_none() {
                    // Trailing `**`: like .gitignore, accept everything.
                    if kind == MatchType::Exact {
                        kind = MatchType::Prefix;
                    } else {
                        re.push_str(".*");
                        kind = MatchType::Regexp;
                    }
                } else {
                    // Any number of directories, even none.
                    re.push_str("(.*/)?");
                    kind = MatchType::Regexp;
                }
                if i == 0 {
                    kind = MatchType::Suffix;
                }
            }
            '*' => {
                re.push_str("[^/]*");
                kind = MatchType::Regexp;
            }
            '?' => {
                re.push_str("[^/]");
                kind = MatchType::Regexp;
            }
            '.' | '+' | '(' | ')' | '|' | '{' | '}' | '$' => {
                re.push('\\');
                re.push(ch);
            }
            '\\' => match chars.next() {
                Some(next) => {
                    re.push('\\');
                    re.push(next);
                    kind = MatchType::Regexp;
                }
                None => re.push('\\'),
            },
            '[' | ']' => {
                re.push(ch);
                kind = MatchType::Regexp;
            }
            _ => re.push(ch),
        }
        i += 1;
    }
    if kind == MatchType::Regexp {
        re.push('$');
    }
    (kind, re)
}

/// Port of Go's `path.Clean`: lexical normalisation of a `/` path.
fn go_clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_owned();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if !rooted => parts.push(".."),
                _ => {}
            },
            _ => parts.push(segment),
        }
    }
    let joined = parts.join("/");
    if rooted {
        format!("/{joined}")
    } else if joined.is_empty() {
        ".".to_owned()
    } else {
        joined
    }
}

/// [`go_clean`] without allocating for paths that are already clean, which
/// is every path a directory walk produces (this runs once per file).
fn clean(path: &str) -> Cow<'_, str> {
    let is_clean = !path.is_empty()
        && !path.ends_with('/')
        && path.split('/').enumerate().all(|(i, segment)| {
            (i == 0 || !segment.is_empty()) && segment != "." && segment != ".."
        });
    if is_clean {
        Cow::Borrowed(path)
    } else {
        Cow::Owned(go_clean(path))
    }
}

/// Port of Go's `filepath.Dir` on Unix.
fn go_dir(path: &str) -> Cow<'_, str> {
    match path.rfind('/') {
        Some(i) => clean(&path[..=i]),
        None => Cow::Borrowed("."),
    }
}

/// moby's syntax check: whether Go's `filepath.Match(pattern, ".")` fails.
///
/// Go only reports errors in the part of the pattern it actually evaluates
/// against `"."`, so e.g. `x*[a-]` passes here (and later compiles to a valid
/// regexp) while `[a-]` does not. Anything this lets through that Go's regexp
/// would reject is caught when compiling the regexp.
fn validate_glob(pattern: &str) -> Result<(), ()> {
    filepath_match(pattern.as_bytes(), b".").map(drop)
}

/// Port of Go's `filepath.Match` (Unix), errors included.
fn filepath_match(mut pattern: &[u8], mut name: &[u8]) -> Result<bool, ()> {
    'pattern: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            // Trailing `*` matches the rest of the name unless it has a `/`.
            return Ok(!name.contains(&b'/'));
        }
        let (tail, ok) = match_chunk(chunk, name)?;
        if ok && (tail.is_empty() || !pattern.is_empty()) {
            name = tail;
            continue;
        }
        if star {
            // Retry after skipping 1, 2, ... bytes, never skipping a `/`.
            let mut i = 0;
            while i < name.len() && name[i] != b'/' {
                let (tail, ok) = match_chunk(chunk, &name[i + 1..])?;
                if ok {
                    if pattern.is_empty() && !tail.is_empty() {
                        i += 1;
                        continue;
                    }
                    name = tail;
                    continue 'pattern;
                }
                i += 1;
            }
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

/// Port of Go's `filepath.scanChunk`: leading stars, then the text up to the
/// next unescaped `*` outside a character class.
fn scan_chunk(mut pattern: &[u8]) -> (bool, &[u8], &[u8]) {
    let mut star = false;
    while let [b'*', tail @ ..] = pattern {
        pattern = tail;
        star = true;
    }
    let mut in_range = false;
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            b'\\' if i + 1 < pattern.len() => i += 1,
            b'[' => in_range = true,
            b']' => in_range = false,
            b'*' if !in_range => break,
            _ => {}
        }
        i += 1;
    }
    let (chunk, rest) = pattern.split_at(i);
    (star, chunk, rest)
}

/// Port of Go's `filepath.matchChunk`: matches `chunk` at the start of `s`
/// and returns the rest of `s`. After a mismatch it keeps scanning the chunk
/// only to report syntax errors, exactly like Go.
fn match_chunk<'a>(mut chunk: &[u8], mut s: &'a [u8]) -> Result<(&'a [u8], bool), ()> {
    let mut failed = false;
    while let Some(&c) = chunk.first() {
        if !failed && s.is_empty() {
            failed = true;
        }
        match c {
            b'[' => {
                let mut rune = 0;
                if !failed {
                    let (r, width) = decode_rune(s);
                    rune = r;
                    s = &s[width..];
                }
                chunk = &chunk[1..];
                let negated = chunk.first() == Some(&b'^');
                if negated {
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut ranges = 0;
                loop {
                    if ranges > 0 && chunk.first() == Some(&b']') {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (lo, rest) = get_esc(chunk)?;
                    chunk = rest;
                    let mut hi = lo;
                    // get_esc guarantees a non-empty remainder.
                    if chunk[0] == b'-' {
                        let (h, rest) = get_esc(&chunk[1..])?;
                        hi = h;
                        chunk = rest;
                    }
                    if lo <= rune && rune <= hi {
                        matched = true;
                    }
                    ranges += 1;
                }
                if matched == negated {
                    failed = true;
                }
            }
            b'?' => {
                if !failed {
                    if s[0] == b'/' {
                        failed = true;
                    }
                    s = &s[decode_rune(s).1..];
                }
                chunk = &chunk[1..];
            }
            _ => {
                if c == b'\\' {
                    chunk = &chunk[1..];
                    if chunk.is_empty() {
                        return Err(());
                    }
                }
                if !failed {
                    if chunk[0] != s[0] {
                        failed = true;
                    }
                    s = &s[1..];
                }
                chunk = &chunk[1..];
            }
        }
    }
    if failed {
        Ok((&[], false))
    } else {
        Ok((s, true))
    }
}

/// Port of Go's `filepath.getEsc`: one (possibly escaped) range endpoint.
fn get_esc(mut chunk: &[u8]) -> Result<(u32, &[u8]), ()> {
    match chunk.first() {
        None | Some(b'-') | Some(b']') => return Err(()),
        Some(b'\\') => {
            chunk = &chunk[1..];
            if chunk.is_empty() {
                return Err(());
            }
        }
        Some(_) => {}
    }
    let (rune, width) = decode_rune(chunk);
    if rune == RUNE_ERROR && width == 1 {
        return Err(());
    }
    let rest = &chunk[width..];
    if rest.is_empty() {
        return Err(());
    }
    Ok((rune, rest))
}

const RUNE_ERROR: u32 = 0xFFFD;

/// Go's `utf8.DecodeRune` on a non-empty slice: invalid input decodes as
/// `RuneError` of width 1 (byte-wise matching can split a character).
fn decode_rune(bytes: &[u8]) -> (u32, usize) {
    let width = match bytes[0] {
        b if b < 0x80 => 1,
        b if b < 0xE0 => 2,
        b if b < 0xF0 => 3,
        _ => 4,
    };
    match bytes.get(..width).map(std::str::from_utf8) {
        Some(Ok(text)) => text
            .chars()
            .next()
            .map_or((RUNE_ERROR, 1), |c| (u32::from(c), width)),
        _ => (RUNE_ERROR, 1),
    }
}

// ---------------------------------------------------------------------------
// A minimal Go-regexp (RE2 syntax, Perl flags) engine.
//
// Pattern compilation only emits: literals, `.`, `^`, `$`, `[^/]`, classes
// copied from the pattern, escapes, `*`, `?` and the group `(.*/)?`. The
// escapes `\pX`, `\PX` and `\Q...\E` are not supported (an error). Go's
// defaults apply: `.` does not match `\n`, negated classes do, `$` is the
// end of the text, matching is case sensitive and works on Unicode scalars.
// ---------------------------------------------------------------------------

/// A compiled regular expression, evaluated by a Pike VM (linear time, so a
/// hostile pattern can't blow up the walk).
#[derive(Debug, Clone)]
struct Regex {
    program: Vec<Inst>,
    classes: Vec<Class>,
    /// Literal text every match starts with (the characters right after the
    /// leading `^`), checked before running the VM: most paths fail here.
    prefix: String,
    /// Literal text every match ends with (the characters before a final `$`).
    suffix: String,
}

#[derive(Debug, Clone, Copy)]
enum Inst {
    Char(char),
    AnyNotNl,
    Class(usize),
    Split(usize, usize),
    Jmp(usize),
    Assert(Assertion),
    Match,
}

#[derive(Debug, Clone)]
enum Node {
    Char(char),
    AnyNotNl,
    Class(Class),
    Group(Vec<Node>),
    Assert(Assertion),
    Star(Box<Node>),
    Plus(Box<Node>),
    Quest(Box<Node>),
}

/// Zero-width assertions (`^`/`\A`, `$`/`\z`, `\b`, `\B`).
#[derive(Debug, Clone, Copy)]
enum Assertion {
    BeginText,
    EndText,
    WordBoundary,
    NotWordBoundary,
}

impl Assertion {
    /// Whether the assertion holds between `prev` and `next` (`None` at the
    /// ends of the text). Go's `\b` uses ASCII word characters.
    fn holds(self, prev: Option<char>, next: Option<char>) -> bool {
        let is_word = |c: Option<char>| c.is_some_and(|c| in_ranges(WORD, c));
        match self {
            Self::BeginText => prev.is_none(),
            Self::EndText => next.is_none(),
            Self::WordBoundary => is_word(prev) != is_word(next),
            Self::NotWordBoundary => is_word(prev) == is_word(next),
        }
    }
}

#[derive(Debug, Clone)]
struct Class {
    negated: bool,
    items: Vec<ClassItem>,
}

#[derive(Debug, Clone, Copy)]
enum ClassItem {
    Range(char, char),
    Set(&'static [(char, char)], bool),
}

impl Class {
    fn matches(&self, c: char) -> bool {
        let hit = self.items.iter().any(|item| match *item {
            ClassItem::Range(lo, hi) => (lo..=hi).contains(&c),
            ClassItem::Set(ranges, negated) => in_ranges(ranges, c) != negated,
        });
        hit != self.negated
    }
}

fn in_ranges(ranges: &[(char, char)], c: char) -> bool {
    ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&c))
}

const DIGIT: &[(char, char)] = &[('0', '9')];
const SPACE_PERL: &[(char, char)] = &[('\t', '\n'), ('\x0c', '\r'), (' ', ' ')];
const WORD: &[(char, char)] = &[('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')];

/// Go's POSIX `[:name:]` classes.
fn posix_class(name: &str) -> Option<&'static [(char, char)]> {
    Some(match name {
        "alnum" => &[('0', '9'), ('A', 'Z'), ('a', 'z')],
        "alpha" => &[('A', 'Z'), ('a', 'z')],
        "ascii" => &[('\0', '\x7f')],
        "blank" => &[('\t', '\t'), (' ', ' ')],
        "cntrl" => &[('\0', '\x1f'), ('\x7f', '\x7f')],
        "digit" => DIGIT,
        "graph" => &[('!', '~')],
        "lower" => &[('a', 'z')],
        "print" => &[(' ', '~')],
        "punct" => &[('!', '/'), (':', '@'), ('[', '`'), ('{', '~')],
        "space" => &[('\t', '\r'), (' ', ' ')],
        "upper" => &[('A', 'Z')],
        "word" => WORD,
        "xdigit" => &[('0', '9'), ('A', 'F'), ('a', 'f')],
        _ => return None,
    })
}

/// What a backslash escape denotes.
enum Escape {
    Char(char),
    Set(&'static [(char, char)], bool),
    /// Only outside character classes.
    Assert(Assertion),
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    fn sequence(&mut self, in_group: bool) -> Result<Vec<Node>, String> {
        let mut seq = Vec::new();
        while let Some(c) = self.peek() {
            if c == ')' {
                if in_group {
                    return Ok(seq);
                }
                return Err("unexpected )".into());
            }
            self.pos += 1;
            let node = match c {
                '(' => {
                    if self.peek() == Some('?') {
                        return Err("unsupported group flags".into());
                    }
                    let inner = self.sequence(true)?;
                    if self.bump() != Some(')') {
                        return Err("missing closing )".into());
                    }
                    Node::Group(inner)
                }
                '*' | '+' | '?' => {
                    let last = seq
                        .pop()
                        .ok_or_else(|| format!("missing argument to repetition operator: {c}"))?;
                    if matches!(last, Node::Star(_) | Node::Plus(_) | Node::Quest(_)) {
                        return Err(format!("invalid nested repetition operator: {c}"));
                    }
                    // A trailing `?` makes it non-greedy, which can't change
                    // whether a match exists.
                    if self.peek() == Some('?') {
                        self.pos += 1;
                    }
                    let inner = Box::new(last);
                    match c {
                        '*' => Node::Star(inner),
                        '+' => Node::Plus(inner),
                        _ => Node::Quest(inner),
                    }
                }
                '|' => return Err("unsupported alternation".into()),
                '.' => Node::AnyNotNl,
                '^' => Node::Assert(Assertion::BeginText),
                '$' => Node::Assert(Assertion::EndText),
                '[' => Node::Class(self.class()?),
                '\\' => match self.escape(false)? {
                    Escape::Char(c) => Node::Char(c),
                    Escape::Set(ranges, negated) => Node::Class(Class {
                        negated: false,
                        items: vec![ClassItem::Set(ranges, negated)],
                    }),
                    Escape::Assert(assertion) => Node::Assert(assertion),
                },
                _ => Node::Char(c),
            };
            seq.push(node);
        }
        if in_group {
            return Err("missing closing )".into());
        }
        Ok(seq)
    }

    /// Parses an escape; the backslash has been consumed.
    fn escape(&mut self, in_class: bool) -> Result<Escape, String> {
        let c = self
            .bump()
            .ok_or("trailing backslash at end of expression")?;
        Ok(match c {
            c if c.is_ascii() && !c.is_ascii_alphanumeric() => Escape::Char(c),
            'a' => Escape::Char('\x07'),
            'f' => Escape::Char('\x0c'),
            'n' => Escape::Char('\n'),
            'r' => Escape::Char('\r'),
            't' => Escape::Char('\t'),
            'v' => Escape::Char('\x0b'),
            'd' => Escape::Set(DIGIT, false),
            'D' => Escape::Set(DIGIT, true),
            's' => Escape::Set(SPACE_PERL, false),
            'S' => Escape::Set(SPACE_PERL, true),
            'w' => Escape::Set(WORD, false),
            'W' => Escape::Set(WORD, true),
            'A' if !in_class => Escape::Assert(Assertion::BeginText),
            'z' if !in_class => Escape::Assert(Assertion::EndText),
            'b' if !in_class => Escape::Assert(Assertion::WordBoundary),
            'B' if !in_class => Escape::Assert(Assertion::NotWordBoundary),
            // Octal: `\0`, `\012`, `\12` (a lone `\1`-`\7` would be a
            // backreference, which Go rejects).
            '0'..='7' if c == '0' || self.peek().is_some_and(|d| ('0'..='7').contains(&d)) => {
                let mut value = c as u32 - '0' as u32;
                for _ in 0..2 {
                    match self.peek() {
                        Some(d @ '0'..='7') => {
                            value = value * 8 + (d as u32 - '0' as u32);
                            self.pos += 1;
                        }
                        _ => break,
                    }
                }
                Escape::Char(char::from_u32(value).ok_or("invalid escape")?)
            }
            // `\xHH` (the `\x{...}` form can't occur: compile escapes `{`).
            'x' => {
                let hex = |c: Option<char>| c.and_then(|c| c.to_digit(16));
                match (hex(self.peek()), hex(self.peek_at(1))) {
                    (Some(hi), Some(lo)) => {
                        self.pos += 2;
                        Escape::Char(char::from_u32(hi * 16 + lo).ok_or("invalid escape")?)
                    }
                    _ => return Err("invalid escape sequence \\x".into()),
                }
            }
            _ => {
                let place = if in_class { " in class" } else { "" };
                return Err(format!("unsupported escape sequence \\{c}{place}"));
            }
        })
    }

    /// Parses a character class; the `[` has been consumed.
    fn class(&mut self) -> Result<Class, String> {
        let negated = self.peek() == Some('^');
        if negated {
            self.pos += 1;
        }
        let mut items = Vec::new();
        let mut first = true;
        loop {
            let c = self.peek().ok_or("missing closing ]")?;
            // A `]` right after `[` or `[^` is a literal.
            if c == ']' && !first {
                self.pos += 1;
                break;
            }
            first = false;
            if c == '[' && self.peek_at(1) == Some(':') {
                if let Some(item) = self.posix_class()? {
                    items.push(item);
                    continue;
                }
            }
            if c == '\\' {
                self.pos += 1;
                match self.escape(true)? {
                    Escape::Set(ranges, negated) => {
                        items.push(ClassItem::Set(ranges, negated));
                        continue;
                    }
                    Escape::Char(lo) => {
                        let hi = self.range_end(lo)?;
                        items.push(ClassItem::Range(lo, hi));
                        continue;
                    }
                    // escape(true) never yields one; keep the parser total.
                    Escape::Assert(_) => return Err("invalid escape in class".into()),
                }
            }
            self.pos += 1;
            let hi = self.range_end(c)?;
            items.push(ClassItem::Range(c, hi));
        }
        Ok(Class { negated, items })
    }

    /// Parses an optional `-hi` after `lo` (`[a-]` means `a` or `-`).
    fn range_end(&mut self, lo: char) -> Result<char, String> {
        if self.peek() != Some('-') || matches!(self.peek_at(1), None | Some(']')) {
            return Ok(lo);
        }
        self.pos += 1;
        let hi = match self.bump().ok_or("missing closing ]")? {
            '\\' => match self.escape(true)? {
                Escape::Char(c) => c,
                Escape::Set(..) | Escape::Assert(_) => {
                    return Err("invalid character class range".into())
                }
            },
            c => c,
        };
        if hi < lo {
            return Err(format!("invalid character class range: {lo}-{hi}"));
        }
        Ok(hi)
    }

    /// Parses `[:name:]` or `[:^name:]` at the cursor, if it is one.
    fn posix_class(&mut self) -> Result<Option<ClassItem>, String> {
        let rest: String = self.chars[self.pos + 2..].iter().collect();
        let Some(end) = rest.find(":]") else {
            return Ok(None);
        };
        let name = &rest[..end];
        let (negated, bare) = match name.strip_prefix('^') {
            Some(bare) => (true, bare),
            None => (false, name),
        };
        let ranges = posix_class(bare)
            .ok_or_else(|| format!("invalid character class range: [:{name}:]"))?;
        self.pos += 2 + name.chars().count() + 2;
        Ok(Some(ClassItem::Set(ranges, negated)))
    }
}

impl Regex {
    fn new(expr: &str) -> Result<Self, String> {
        let mut parser = Parser {
            chars: expr.chars().collect(),
            pos: 0,
        };
        let nodes = parser.sequence(false)?;
        let literal = |node: &Node| match node {
            Node::Char(c) => Some(*c),
            _ => None,
        };
        let prefix = match nodes.first() {
            Some(Node::Assert(Assertion::BeginText)) => {
                nodes[1..].iter().map_while(literal).collect()
            }
            _ => String::new(),
        };
        let suffix = match nodes.split_last() {
            Some((Node::Assert(Assertion::EndText), rest)) => {
                let mut chars: Vec<char> = rest.iter().rev().map_while(literal).collect();
                chars.reverse();
                chars.into_iter().collect()
            }
            _ => String::new(),
        };
        let mut regex = Self {
            program: Vec::new(),
            classes: Vec::new(),
            prefix,
            suffix,
        };
        for node in &nodes {
            regex.emit(node);
        }
        regex.program.push(Inst::Match);
        Ok(regex)
    }

    fn emit(&mut self, node: &Node) {
        match node {
            Node::Char(c) => self.program.push(Inst::Char(*c)),
            Node::AnyNotNl => self.program.push(Inst::AnyNotNl),
            Node::Class(class) => {
                self.classes.push(class.clone());
                self.program.push(Inst::Class(self.classes.len() - 1));
            }
            Node::Group(nodes) => nodes.iter().for_each(|n| self.emit(n)),
            Node::Assert(assertion) => self.program.push(Inst::Assert(*assertion)),
            Node::Star(inner) => {
                let split = self.program.len();
                self.program.push(Inst::Split(0, 0));
                self.emit(inner);
                self.program.push(Inst::Jmp(split));
                self.program[split] = Inst::Split(split + 1, self.program.len());
            }
            Node::Plus(inner) => {
                let start = self.program.len();
                self.emit(inner);
                self.program
                    .push(Inst::Split(start, self.program.len() + 1));
            }
            Node::Quest(inner) => {
                let split = self.program.len();
                self.program.push(Inst::Split(0, 0));
                self.emit(inner);
                self.program[split] = Inst::Split(split + 1, self.program.len());
            }
        }
    }

    /// Go's `MatchString`: is there a match anywhere in `text`?
    fn is_match(&self, text: &str) -> bool {
        if !text.starts_with(self.prefix.as_str()) || !text.ends_with(self.suffix.as_str()) {
            return false;
        }
        let mut current = ThreadList::new(self.program.len());
        let mut next = ThreadList::new(self.program.len());
        let mut chars = text.chars().peekable();
        let mut prev = None;
        loop {
            let here = chars.peek().copied();
            // Unanchored search: a new thread may start at every position.
            if self.add(&mut current, 0, prev, here) {
                return true;
            }
            let Some(c) = chars.next() else {
                return false;
            };
            let after = chars.peek().copied();
            for &pc in &current.dense {
                let advance = match self.program[pc] {
                    Inst::Char(x) => x == c,
                    Inst::AnyNotNl => c != '\n',
                    Inst::Class(i) => self.classes[i].matches(c),
                    _ => false,
                };
                if advance && self.add(&mut next, pc + 1, Some(c), after) {
                    return true;
                }
            }
            std::mem::swap(&mut current, &mut next);
            next.clear();
            prev = Some(c);
        }
    }

    /// Adds `pc` and its epsilon closure at the position between `prev` and
    /// `next`; returns true on reaching `Match`.
    fn add(
        &self,
        list: &mut ThreadList,
        pc: usize,
        prev: Option<char>,
        next: Option<char>,
    ) -> bool {
        if !list.insert(pc) {
            return false;
        }
        match self.program[pc] {
            Inst::Match => true,
            Inst::Jmp(target) => self.add(list, target, prev, next),
            Inst::Split(a, b) => self.add(list, a, prev, next) || self.add(list, b, prev, next),
            Inst::Assert(assertion) => {
                assertion.holds(prev, next) && self.add(list, pc + 1, prev, next)
            }
            Inst::Char(_) | Inst::AnyNotNl | Inst::Class(_) => false,
        }
    }
}

/// A set of program counters with insertion order (a sparse set).
struct ThreadList {
    dense: Vec<usize>,
    present: Vec<bool>,
}

impl ThreadList {
    fn new(size: usize) -> Self {
        Self {
            dense: Vec::with_capacity(size),
            present: vec![false; size],
        }
    }

    fn insert(&mut self, pc: usize) -> bool {
        if self.present[pc] {
            return false;
        }
        self.present[pc] = true;
        self.dense.push(pc);
        true
    }

    fn clear(&mut self) {
        for &pc in &self.dense {
            self.present[pc] = false;
        }
        self.dense.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// moby's package-level `MatchesOrParentMatches(file, patterns)`.
    fn matches(file: &str, patterns: &[&str]) -> Result<bool> {
        let ignore = new_matcher(patterns)?;
        Ok(ignore.is_excluded(file))
    }

    /// moby's `New(patterns)` (no `.dockerignore` line processing).
    fn new_matcher(patterns: &[&str]) -> Result<DockerIgnore> {
        let mut ignore = DockerIgnore::empty();
        for raw in patterns {
            if let Some(p) = Pattern::new(raw)? {
                ignore.exclusions |= p.exclusion;
                ignore.patterns.push(p);
            }
        }
        Ok(ignore)
    }

    #[test]
    fn wildcard_and_simple_matches() {
        // TestWildcardMatches, TestPatternMatches
        assert!(matches("fileutils.go", &["*"]).unwrap());
        assert!(matches("fileutils.go", &["*.go"]).unwrap());
        // TestExclusionPatternMatchesPatternBefore
        assert!(matches("fileutils.go", &["!fileutils.go", "*.go"]).unwrap());
        // TestPatternMatchesFolderExclusions / WithSlash / Wildcard
        assert!(!matches("docs/README.md", &["docs", "!docs/README.md"]).unwrap());
        assert!(!matches("docs/README.md", &["docs/", "!docs/README.md"]).unwrap());
        assert!(!matches("docs/README.md", &["docs/*", "!docs/README.md"]).unwrap());
        // TestExclusionPatternMatchesPatternAfter
        assert!(!matches("fileutils.go", &["*.go", "!fileutils.go"]).unwrap());
        // TestExclusionPatternMatchesWholeDirectory
        assert!(!matches(".", &["*.go"]).unwrap());
        // TestSingleExclamationError
        assert!(matches("fileutils.go", &["!"]).is_err());
        // TestMatchesWithNoPatterns
        assert!(!matches("/any/path/there", &[]).unwrap());
        // TestMatchesWithMalformedPatterns
        assert!(matches("/any/path/there", &["["]).is_err());
    }

    #[derive(Clone, Copy, PartialEq, Debug)]
    enum Pass {
        Fail,
        Exact,
        Inexact,
    }

    /// TestMatches `tests` (plus the non-Windows rows).
    const MATCH_TESTS: &[(&str, &str, Pass)] = {
        use Pass::*;
        &[
            ("**", "file", Exact),
            ("**", "file/", Exact),
            ("**/", "file", Exact),
            ("**/", "file/", Exact),
            ("**", "/", Exact),
            ("**/", "/", Exact),
            ("**", "dir/file", Exact),
            ("**/", "dir/file", Exact),
            ("**", "dir/file/", Exact),
            ("**/", "dir/file/", Exact),
            ("**/**", "dir/file", Exact),
            ("**/**", "dir/file/", Exact),
            ("dir/**", "dir/file", Exact),
            ("dir/**", "dir/file/", Exact),
            ("dir/**", "dir/dir2/file", Exact),
            ("dir/**", "dir/dir2/file/", Exact),
            ("**/dir", "dir", Exact),
            ("**/dir", "dir/file", Inexact),
            ("**/dir2/*", "dir/dir2/file", Exact),
            ("**/dir2/*", "dir/dir2/file/", Inexact),
            ("**/dir2/**", "dir/dir2/dir3/file", Exact),
            ("**/dir2/**", "dir/dir2/dir3/file/", Exact),
            ("**file", "file", Exact),
            ("**file", "dir/file", Exact),
            ("**/file", "dir/file", Exact),
            ("**file", "dir/dir/file", Exact),
            ("**/file", "dir/dir/file", Exact),
            ("**/file*", "dir/dir/file", Exact),
            ("**/file*", "dir/dir/file.txt", Exact),
            ("**/file*txt", "dir/dir/file.txt", Exact),
            ("**/file*.txt", "dir/dir/file.txt", Exact),
            ("**/file*.txt*", "dir/dir/file.txt", Exact),
            ("**/**/*.txt", "dir/dir/file.txt", Exact),
            ("**/**/*.txt2", "dir/dir/file.txt", Fail),
            ("**/*.txt", "file.txt", Exact),
            ("**/**/*.txt", "file.txt", Exact),
            ("a**/*.txt", "a/file.txt", Exact),
            ("a**/*.txt", "a/dir/file.txt", Exact),
            ("a**/*.txt", "a/dir/dir/file.txt", Exact),
            ("a/*.txt", "a/dir/file.txt", Fail),
            ("a/*.txt", "a/file.txt", Exact),
            ("a/*.txt**", "a/file.txt", Exact),
            ("a[b-d]e", "ae", Fail),
            ("a[b-d]e", "ace", Exact),
            ("a[b-d]e", "aae", Fail),
            ("a[^b-d]e", "aze", Exact),
            (".*", ".foo", Exact),
            (".*", "foo", Fail),
            ("abc.def", "abcdef", Fail),
            ("abc.def", "abc.def", Exact),
            ("abc.def", "abcZdef", Fail),
            ("abc?def", "abcZdef", Exact),
            ("abc?def", "abcdef", Fail),
            ("**/foo/bar", "foo/bar", Exact),
            ("**/foo/bar", "dir/foo/bar", Exact),
            ("**/foo/bar", "dir/dir2/foo/bar", Exact),
            ("abc/**", "abc", Fail),
            ("abc/**", "abc/def", Exact),
            ("abc/**", "abc/def/ghi", Exact),
            ("**/.foo", ".foo", Exact),
            ("**/.foo", "bar.foo", Fail),
            ("a(b)c/def", "a(b)c/def", Exact),
            ("a(b)c/def", "a(b)c/xyz", Fail),
            ("a.|)$(}+{bc", "a.|)$(}+{bc", Exact),
            (
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                Exact,
            ),
            (
                "dist/*.whl",
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                Exact,
            ),
            // Non-Windows rows.
            ("a\\\\", "a\\", Exact),
            ("a\\*b", "a*b", Exact),
        ]
    };

    /// TestMatches `multiPatternTests`.
    const MULTI_PATTERN_TESTS: &[(&[&str], &str, Pass)] = &[
        (
            &["**", "!util/docker/web"],
            "util/docker/web/foo",
            Pass::Fail,
        ),
        (
            &["**", "!util/docker/web", "util/docker/web/foo"],
            "util/docker/web/foo",
            Pass::Exact,
        ),
        (
            &[
                "**",
                "!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            ],
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            Pass::Fail,
        ),
        (
            &["**", "!dist/*.whl"],
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            Pass::Fail,
        ),
    ];

    #[test]
    fn matches_exact_table() {
        for &(pattern, text, pass) in MATCH_TESTS {
            let pm = new_matcher(&[pattern]).unwrap();
            assert_eq!(
                pm.matches_exact(text),
                pass == Pass::Exact,
                "pattern={pattern:?} text={text:?}"
            );
        }
    }

    #[test]
    fn matches_or_parent_matches_table() {
        for &(pattern, text, pass) in MATCH_TESTS {
            let pm = new_matcher(&[pattern]).unwrap();
            assert_eq!(
                pm.matches_or_parent_matches(text),
                pass != Pass::Fail,
                "pattern={pattern:?} text={text:?}"
            );
        }
        for &(patterns, text, pass) in MULTI_PATTERN_TESTS {
            let pm = new_matcher(patterns).unwrap();
            assert_eq!(
                pm.matches_or_parent_matches(text),
                pass != Pass::Fail,
                "patterns={patterns:?} text={text:?}"
            );
        }
    }

    #[test]
    fn clean_patterns() {
        // TestCleanPatterns, ...StripEmptyPatterns
        assert_eq!(new_matcher(&["docs", "config"]).unwrap().patterns.len(), 2);
        assert_eq!(
            new_matcher(&["docs", "config", ""]).unwrap().patterns.len(),
            2
        );
        // ...ExceptionFlag, ...LeadingSpaceTrimmed, ...TrailingSpaceTrimmed
        assert!(
            new_matcher(&["docs", "!docs/README.md"])
                .unwrap()
                .exclusions
        );
        assert!(
            new_matcher(&["docs", "  !docs/README.md"])
                .unwrap()
                .exclusions
        );
        assert!(
            new_matcher(&["docs", "!docs/README.md  "])
                .unwrap()
                .exclusions
        );
        // ...ErrorSingleException
        assert!(new_matcher(&["!"]).is_err());
    }

    /// `matchTests`, taken by moby from Go's `filepath.Match` tests:
    /// (pattern, name, matches, is a syntax error).
    const GO_MATCH_TESTS: &[(&str, &str, bool, bool)] = &[
        ("abc", "abc", true, false),
        ("*", "abc", true, false),
        ("*c", "abc", true, false),
        ("a*", "a", true, false),
        ("a*", "abc", true, false),
        ("a*", "ab/c", true, false),
        ("a*/b", "abc/b", true, false),
        ("a*/b", "a/c/b", false, false),
        ("a*b*c*d*e*/f", "axbxcxdxe/f", true, false),
        ("a*b*c*d*e*/f", "axbxcxdxexxx/f", true, false),
        ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false, false),
        ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", false, false),
        ("a*b?c*x", "abxbbxdbxebxczzx", true, false),
        ("a*b?c*x", "abxbbxdbxebxczzy", false, false),
        ("ab[c]", "abc", true, false),
        ("ab[b-d]", "abc", true, false),
        ("ab[e-g]", "abc", false, false),
        ("ab[^c]", "abc", false, false),
        ("ab[^b-d]", "abc", false, false),
        ("ab[^e-g]", "abc", true, false),
        ("a\\*b", "a*b", true, false),
        ("a\\*b", "ab", false, false),
        ("a?b", "a☺b", true, false),
        ("a[^a]b", "a☺b", true, false),
        ("a???b", "a☺b", false, false),
        ("a[^a][^a][^a]b", "a☺b", false, false),
        ("[a-ζ]*", "α", true, false),
        ("*[a-ζ]", "A", false, false),
        ("a?b", "a/b", false, false),
        ("a*b", "a/b", false, false),
        ("[\\]a]", "]", true, false),
        ("[\\-]", "-", true, false),
        ("[x\\-]", "x", true, false),
        ("[x\\-]", "-", true, false),
        ("[x\\-]", "z", false, false),
        ("[\\-x]", "x", true, false),
        ("[\\-x]", "-", true, false),
        ("[\\-x]", "a", false, false),
        ("[]a]", "]", false, true),
        ("[-]", "-", false, true),
        ("[x-]", "x", false, true),
        ("[x-]", "-", false, true),
        ("[x-]", "z", false, true),
        ("[-x]", "x", false, true),
        ("[-x]", "-", false, true),
        ("[-x]", "a", false, true),
        ("\\", "a", false, true),
        ("[a-b-c]", "a", false, true),
        ("[", "a", false, true),
        ("[^", "a", false, true),
        ("[^bc", "a", false, true),
        ("a[", "a", false, true),
        ("a[", "ab", false, true),
        ("*x", "xxx", true, false),
    ];

    #[test]
    fn go_match_table() {
        for &(pattern, name, want, bad) in GO_MATCH_TESTS {
            match matches(name, &[pattern]) {
                Ok(got) => {
                    assert!(!bad, "pattern={pattern:?} should be a syntax error");
                    assert_eq!(got, want, "pattern={pattern:?} name={name:?}");
                }
                Err(e) => assert!(bad, "pattern={pattern:?} unexpected error {e:#}"),
            }
        }
    }

    /// `compileTests`: (pattern, match type, regexp for `/` separators).
    const COMPILE_TESTS: &[(&str, MatchType, &str)] = {
        use MatchType::*;
        &[
            ("*", Regexp, r"^[^/]*$"),
            ("file*", Regexp, r"^file[^/]*$"),
            ("*file", Regexp, r"^[^/]*file$"),
            ("a*/b", Regexp, r"^a[^/]*/b$"),
            ("**", Suffix, ""),
            ("**/**", Regexp, r"^(.*/)?.*$"),
            ("dir/**", Prefix, ""),
            ("**/dir", Suffix, ""),
            ("**/dir2/*", Regexp, r"^(.*/)?dir2/[^/]*$"),
            ("**/dir2/**", Regexp, r"^(.*/)?dir2/.*$"),
            ("**file", Suffix, ""),
            ("**/file*txt", Regexp, r"^(.*/)?file[^/]*txt$"),
            ("**/**/*.txt", Regexp, r"^(.*/)?(.*/)?[^/]*\.txt$"),
            ("a[b-d]e", Regexp, r"^a[b-d]e$"),
            (".*", Regexp, r"^\.[^/]*$"),
            ("abc.def", Exact, ""),
            ("abc?def", Regexp, r"^abc[^/]def$"),
            ("**/foo/bar", Suffix, ""),
            ("a(b)c/def", Exact, ""),
            ("a.|)$(}+{bc", Exact, ""),
            (
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                Exact,
                "",
            ),
        ]
    };

    #[test]
    fn compile_table() {
        for &(pattern, want_type, want_re) in COMPILE_TESTS {
            let (got_type, got_re) = compile(&go_clean(pattern));
            assert_eq!(got_type, want_type, "pattern={pattern:?}");
            if want_type == MatchType::Regexp {
                assert_eq!(got_re, want_re, "pattern={pattern:?}");
                assert!(Regex::new(&got_re).is_ok(), "pattern={pattern:?}");
            }
        }
    }

    #[test]
    fn malformed_pattern_fails_at_parse_time() {
        // TestMatchesOrParentMatchesMalformedPatternDoesNotPanicOnRepeatedCall:
        // Go accepts "[Local-Only]/" in New but every match then fails with
        // ErrBadPattern (the regexp range `l-O` is invalid); we fail up front.
        assert!(new_matcher(&["[Local-Only]/"]).is_err());
    }

    #[test]
    fn read_all_table() {
        // ignorefile_test.go TestReadAll
        let content = "test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n!\n! ";
        let got: Vec<String> = read_all(content).into_iter().map(|(_, p)| p).collect();
        assert_eq!(
            got,
            [
                "test1",
                "test2",
                "a/file/here",
                "lastfile",
                "!inverted/abs/path",
                "!",
                "!"
            ]
        );
        assert!(read_all("").is_empty());
    }

    #[test]
    fn parse_reports_line_of_bad_pattern() {
        let err = DockerIgnore::parse("node_modules\n# ok\nfoo[\n").unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("line 3"), "{msg}");
        assert!(msg.contains("foo["), "{msg}");
        let err = DockerIgnore::parse("a\n!\n").unwrap_err();
        assert!(format!("{err:#}").contains("line 2"));
    }

    #[test]
    fn parse_handles_bom_crlf_and_indented_comments() {
        let ignore =
            DockerIgnore::parse("\u{feff}*.md\r\n  # not a comment\r\n/dist/\r\n").unwrap();
        assert!(ignore.is_excluded("README.md"));
        assert!(ignore.is_excluded("dist/app.js"));
        assert!(ignore.is_excluded("# not a comment"));
        assert!(!ignore.is_excluded("src/README.md"));
    }

    #[test]
    fn docker_docs_examples() {
        let ignore =
            DockerIgnore::parse("*/temp*\n*/*/temp*\ntemp?\n*.md\n!README*.md\nREADME-secret.md\n")
                .unwrap();
        assert!(ignore.is_excluded("somedir/temporary.txt"));
        assert!(ignore.is_excluded("somedir/temp"));
        assert!(ignore.is_excluded("somedir/subdir/temporary.txt"));
        assert!(ignore.is_excluded("tempa"));
        assert!(!ignore.is_excluded("temp"));
        assert!(ignore.is_excluded("CHANGELOG.md"));
        assert!(!ignore.is_excluded("README.md"));
        assert!(ignore.is_excluded("README-secret.md"));
    }

    #[test]
    fn regex_edge_cases_follow_go() {
        // POSIX classes inside a bracket expression are Go regexp syntax.
        let ignore = DockerIgnore::parse("file[[:digit:]]").unwrap();
        assert!(ignore.is_excluded("file7"));
        assert!(!ignore.is_excluded("filex"));
        // Negated classes cross `/` in Go's regexp.
        let ignore = DockerIgnore::parse("a[^x]b").unwrap();
        assert!(ignore.is_excluded("a/b"));
        // `\.` is a literal dot.
        let ignore = DockerIgnore::parse(r"a\.b*").unwrap();
        assert!(ignore.is_excluded("a.bc"));
        assert!(!ignore.is_excluded("axbc"));
        // Reversed ranges are fine for filepath.Match but not for regexp.
        assert!(DockerIgnore::parse("[z-a]").is_err());
        // Go's syntax check stops at the first mismatch against ".", so this
        // is accepted and `[a-]` is then a regexp class of `a` and `-`.
        let ignore = DockerIgnore::parse("x*[a-]").unwrap();
        assert!(ignore.is_excluded("xya"));
        assert!(ignore.is_excluded("x-"));
        assert!(!ignore.is_excluded("xb"));
        assert!(DockerIgnore::parse("[a-]").is_err());
        // Go regexp escapes that survive pattern compilation.
        let ignore = DockerIgnore::parse(r"\x41*\b").unwrap();
        assert!(ignore.is_excluded("Abc"));
        assert!(!ignore.is_excluded("abc"));
        let ignore = DockerIgnore::parse(r"a\101\d").unwrap();
        assert!(ignore.is_excluded("aA7"));
        assert!(!ignore.is_excluded("a\\101\\d"));
        // A lone `\1` would be a backreference; `\pL` and `\Q` are unsupported.
        assert!(DockerIgnore::parse(r"a\1").is_err());
        assert!(DockerIgnore::parse(r"a\pL").is_err());
    }

    #[test]
    fn can_skip_dir_prunes_only_safely() {
        let ignore = DockerIgnore::parse("node_modules\n.next\n*.md\n!docs/keep.md\n").unwrap();
        assert!(ignore.can_skip_dir("node_modules"));
        assert!(ignore.can_skip_dir(".next"));
        assert!(!ignore.can_skip_dir("src"));
        // `docs.md` is excluded as a directory name but not a prefix of the exception.
        assert!(ignore.can_skip_dir("docs.md"));

        let ignore = DockerIgnore::parse("docs\n!docs/keep.md\n").unwrap();
        assert!(!ignore.can_skip_dir("docs"));
        // moby: `docs/keep.md/` does not start with `docs/sub/`, so `docs/sub` is skipped.
        assert!(ignore.can_skip_dir("docs/sub"));
        assert!(!ignore.is_excluded("docs/keep.md"));
        assert!(ignore.is_excluded("docs/other.md"));

        let ignore = DockerIgnore::parse("vendor\n!**/LICENSE\n").unwrap();
        assert!(!ignore.can_skip_dir("vendor"));
        assert!(!ignore.is_excluded("vendor/x/LICENSE"));

        let ignore = DockerIgnore::parse("build\n!src/*.keep\n").unwrap();
        assert!(ignore.can_skip_dir("build"));

        let ignore = DockerIgnore::parse("*\n!src\n").unwrap();
        assert!(ignore.can_skip_dir("node_modules"));
        assert!(!ignore.can_skip_dir("src"));
        assert!(!ignore.is_excluded("src/app/page.tsx"));
    }

    #[test]
    fn empty_excludes_nothing() {
        let ignore = DockerIgnore::empty();
        assert!(!ignore.is_excluded("anything/at/all"));
        assert!(!ignore.can_skip_dir("node_modules"));
    }
}
