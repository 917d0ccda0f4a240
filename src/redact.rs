//! Redaction of secrets from every byte phasegate emits.
//!
//! Values Terraform marks sensitive are masked by the plan model before any
//! other module sees them, and their strings are registered here too (an
//! engine message, such as a failed apply's error, may quote one). Other
//! secrets are found later: the GitHub token, hard-coded credentials the
//! security gate spots in plain attributes. Every sink (log, stdout, files,
//! posted bodies, the journal) passes its text through [`Redactor::apply`].
//!
//! A plan can hold thousands of sensitive strings, so the secrets are matched
//! in one pass by an Aho-Corasick automaton; overlapping matches are merged,
//! so a secret that contains another, or two that overlap, are replaced whole. Adding only marks the automaton stale;
//! the next [`Redactor::apply`] rebuilds it once.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use aho_corasick::{AhoCorasick, MatchKind};

/// What a registered secret is replaced with.
pub const REDACTED: &str = "***";

/// Secrets shorter than this are not registered: masking every `a` or `1`
/// would mangle output without protecting anything.
const MIN_SECRET_CHARS: usize = 4;

/// Values Terraform marks sensitive shorter than this are not registered.
/// Whole blocks get marked (a database's `port`, a flag, an engine name such
/// as `mysql`), and masking such short words in every address, diff and
/// message would make the output unreadable while protecting nothing a
/// reader could not guess. Six characters keeps every value a generator or
/// a password policy produces (random providers default to 16; cloud
/// password rules ask for 8 or more) while dropping enum-like words.
pub const MIN_SENSITIVE_CHARS: usize = 6;

/// Words that are never secrets however they are marked: booleans, nulls and
/// the common enum values of sensitive blocks.
const NEVER_SECRET: &[&str] = &[
    "true", "false", "null", "none", "enabled", "disabled", "default", "unknown",
];

/// A shared, growing set of secret strings. `Debug` shows how many, never
/// which.
#[derive(Clone, Default)]
pub struct Redactor {
    inner: Arc<RwLock<Inner>>,
}

#[derive(Default)]
struct Inner {
    /// In registration order, each once.
    secrets: Vec<String>,
    seen: HashSet<String>,
    /// Secrets the Actions runner already masks (tokens it handed us): they
    /// are redacted like the rest but never announced with `::add-mask::`,
    /// since announcing prints them.
    known_to_runner: Vec<String>,
    /// The automaton over `secrets`; `None` when an add made it stale.
    matcher: Option<Arc<Matcher>>,
}

/// One pass over the text for all secrets; the per-secret loop only when the
/// automaton could not be built (its size limits), so redaction never fails.
enum Matcher {
    Automaton(AhoCorasick),
    EachInTurn(Vec<String>),
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} secrets hidden)", self.read().secrets.len())
    }
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a secret. Each line of a multi-line secret is registered too,
    /// since logs and comments may break it across lines.
    pub fn add(&self, secret: &str) {
        self.add_filtered(secret, |s| s.chars().count() >= MIN_SECRET_CHARS);
    }

    /// Registers a value Terraform marks sensitive, unless it is too short
    /// or too common to be a secret (see [`MIN_SENSITIVE_CHARS`]).
    pub fn add_sensitive(&self, value: &str) {
        self.add_filtered(value, |s| {
            s.chars().count() >= MIN_SENSITIVE_CHARS
                && !NEVER_SECRET.iter().any(|w| w.eq_ignore_ascii_case(s))
        });
    }

    fn add_filtered(&self, secret: &str, keep: impl Fn(&str) -> bool) {
        let mut inner = self.write();
        let mut push = |s: &str| {
            let s = s.trim();
            if keep(s) && !inner.seen.contains(s) {
                inner.seen.insert(s.to_string());
                inner.secrets.push(s.to_string());
                inner.matcher = None;
            }
        };
        push(secret);
        if secret.contains('\n') {
            secret.lines().for_each(&mut push);
        }
    }

    /// Registers a token the runner already masks: redacted everywhere, but
    /// left out of [`Redactor::secrets`].
    pub fn add_token(&self, token: &str) {
        self.add(token);
        self.write().known_to_runner.push(token.trim().to_string());
    }

    /// The registered secrets the runner does not know yet, for `::add-mask::`.
    pub fn secrets(&self) -> Vec<String> {
        let inner = self.read();
        inner
            .secrets
            .iter()
            .filter(|s| {
                !inner
                    .known_to_runner
                    .iter()
                    .any(|k| k == *s || k.contains(s.as_str()))
            })
            .cloned()
            .collect()
    }

    /// Returns `text` with every registered secret replaced by [`REDACTED`];
    /// where secrets overlap, their union is replaced by one mask.
    pub fn apply(&self, text: &str) -> String {
        self.apply_cow(text).into_owned()
    }

    /// [`Redactor::apply`], borrowing `text` when no secret occurs in it:
    /// one scan that stops at the first match, and no copy of a clean text
    /// (the writers of large files and of stdout use it).
    pub fn apply_cow<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let Some(m) = self.matcher() else {
            return Cow::Borrowed(text);
        };
        match m.as_ref() {
            Matcher::Automaton(ac) => match ac.find(text) {
                None => Cow::Borrowed(text),
                Some(_) => Cow::Owned(mask_spans(text, ac)),
            },
            Matcher::EachInTurn(secrets) => each_in_turn(text, secrets),
        }
    }

    /// A writer that passes everything written to it on to `inner` with
    /// every secret registered now masked, byte for byte as
    /// [`Redactor::apply`] would mask the whole text at once, but holding
    /// only a chunk of it. Call [`RedactingWriter::finish`] at the end: the
    /// last bytes are held back until then, since they may begin a secret.
    pub fn writer<W: std::io::Write>(&self, inner: W) -> RedactingWriter<W> {
        RedactingWriter {
            inner,
            matcher: self.matcher(),
            pending: Vec::with_capacity(STREAM_CHUNK + STREAM_CHUNK / 4),
            chunk: STREAM_CHUNK,
        }
    }

    /// The current automaton, built here if an add made it stale; `None`
    /// when nothing is registered.
    fn matcher(&self) -> Option<Arc<Matcher>> {
        {
            let inner = self.read();
            if inner.secrets.is_empty() {
                return None;
            }
            if let Some(m) = &inner.matcher {
                return Some(m.clone());
            }
        }
        let mut inner = self.write();
        if let Some(m) = &inner.matcher {
            return Some(m.clone());
        }
        let built = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(&inner.secrets)
            .map(Matcher::Automaton)
            .unwrap_or_else(|_| {
                let mut longest_first = inner.secrets.clone();
                longest_first.sort_by_key(|s| std::cmp::Reverse(s.len()));
                Matcher::EachInTurn(longest_first)
            });
        let built = Arc::new(built);
        inner.matcher = Some(built.clone());
        Some(built)
    }

    pub fn is_empty(&self) -> bool {
        self.read().secrets.is_empty()
    }
}

/// The fallback without an automaton: each secret replaced in turn, the
/// longest first.
fn each_in_turn<'a>(text: &'a str, secrets: &[String]) -> Cow<'a, str> {
    if !secrets.iter().any(|s| text.contains(s.as_str())) {
        return Cow::Borrowed(text);
    }
    let mut out = text.to_string();
    for secret in secrets {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), REDACTED);
        }
    }
    Cow::Owned(out)
}

/// How many bytes a [`RedactingWriter`] gathers before it scans them and
/// passes on what is settled.
const STREAM_CHUNK: usize = 64 * 1024;

/// See [`Redactor::writer`].
///
/// What is passed on is settled: a secret not yet seen whole can only start
/// within its longest length minus one byte of the end of what was gathered,
/// and it would merge with a masked span it touches, so the writer passes
/// on everything before that tail, or before the masked span that reaches
/// into it, and scans the rest again with the next chunk.
pub struct RedactingWriter<W: std::io::Write> {
    inner: W,
    matcher: Option<Arc<Matcher>>,
    /// Written, not yet passed on.
    pending: Vec<u8>,
    chunk: usize,
}

impl<W: std::io::Write> RedactingWriter<W> {
    /// Passes on the rest and returns the inner writer, flushed.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.pass_on(true)?;
        self.inner.flush()?;
        Ok(self.inner)
    }

    /// Passes on what is settled (everything, when `last`).
    fn pass_on(&mut self, last: bool) -> std::io::Result<()> {
        let Some(matcher) = self.matcher.clone() else {
            self.inner.write_all(&self.pending)?;
            self.pending.clear();
            return Ok(());
        };
        match matcher.as_ref() {
            // The fallback replaces secrets in turn over the whole text, so
            // the whole text is held until the end.
            Matcher::EachInTurn(_) if !last => {}
            Matcher::EachInTurn(secrets) => {
                let text = String::from_utf8_lossy(&self.pending);
                self.inner
                    .write_all(each_in_turn(&text, secrets).as_bytes())?;
                self.pending.clear();
            }
            Matcher::Automaton(ac) => {
                let text = &self.pending[..];
                let spans = match ac.find(text) {
                    None => Vec::new(),
                    Some(_) => spans(text, ac),
                };
                let mut cut = text.len();
                if !last {
                    // A match not yet seen whole starts at or after `open`.
                    let open = text
                        .len()
                        .saturating_sub(ac.max_pattern_len().saturating_sub(1));
                    cut = open;
                    if let Some(&(start, _)) = spans.iter().find(|&&(_, end)| end >= open) {
                        cut = cut.min(start);
                    }
                }
                let mut copied = 0;
                for &(start, end) in spans.iter().take_while(|&&(_, end)| end <= cut) {
                    self.inner.write_all(&text[copied..start])?;
                    self.inner.write_all(REDACTED.as_bytes())?;
                    copied = end;
                }
                self.inner.write_all(&text[copied..cut])?;
                self.pending.drain(..cut);
            }
        }
        Ok(())
    }
}

impl<W: std::io::Write> std::io::Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if self.pending.len() >= self.chunk {
            self.pass_on(false)?;
        }
        Ok(buf.len())
    }

    /// Passes on what is settled; a possible start of a secret stays held.
    fn flush(&mut self) -> std::io::Result<()> {
        self.pass_on(false)?;
        self.inner.flush()
    }
}

/// `text` with every span any secret covers replaced: overlapping matches
/// are merged first, so neither a secret containing another nor two secrets
/// sharing a middle leave a fragment of either.
fn mask_spans(text: &str, ac: &AhoCorasick) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (start, end) in spans(text.as_bytes(), ac) {
        out.push_str(&text[copied..start]);
        out.push_str(REDACTED);
        copied = end;
    }
    out.push_str(&text[copied..]);
    out
}

/// The spans of `text` that secrets cover, in order: every match, with
/// overlapping and touching matches merged into one span.
fn spans(text: &[u8], ac: &AhoCorasick) -> Vec<(usize, usize)> {
    let mut open: Option<(usize, usize)> = None;
    // Overlapping matches come ordered by end; a later one may start earlier
    // (a longer secret ending at the same place), so spans are merged on
    // their start against the open span.
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for m in ac.find_overlapping_iter(text) {
        let (start, end) = (m.start(), m.end());
        match open {
            Some((s, e)) if start <= e => open = Some((s.min(start), e.max(end))),
            Some(span) => {
                push_span(&mut spans, span);
                open = Some((start, end));
            }
            None => open = Some((start, end)),
        }
    }
    if let Some(span) = open {
        push_span(&mut spans, span);
    }
    spans
}

/// Appends a span, folding it into earlier ones it reaches back over.
fn push_span(spans: &mut Vec<(usize, usize)>, (mut start, mut end): (usize, usize)) {
    while let Some(&(s, e)) = spans.last() {
        if start <= e {
            start = start.min(s);
            end = end.max(e);
            spans.pop();
        } else {
            break;
        }
    }
    spans.push((start, end));
}

/// The process-wide redactor used by the log writer and the output sinks.
pub fn global() -> &'static Redactor {
    static GLOBAL: std::sync::OnceLock<Redactor> = std::sync::OnceLock::new();
    GLOBAL.get_or_init(Redactor::new)
}

/// A `tracing` writer that redacts every line before it reaches stderr.
#[derive(Clone, Copy, Default)]
pub struct RedactingStderr;

impl std::io::Write for RedactingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(global().apply(&text).as_bytes())?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for RedactingStderr {
    type Writer = RedactingStderr;
    fn make_writer(&'a self) -> Self::Writer {
        RedactingStderr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_secret_is_replaced_everywhere() {
        let r = Redactor::new();
        r.add("hunter22");
        assert_eq!(r.apply("a hunter22 b hunter22"), "a *** b ***");
    }

    #[test]
    fn a_clean_text_is_borrowed_and_a_dirty_one_masked() {
        let r = Redactor::new();
        assert!(matches!(r.apply_cow("nothing yet"), Cow::Borrowed(_)));
        r.add("s3cr3t-value");
        assert!(matches!(r.apply_cow("a clean line"), Cow::Borrowed(_)));
        let masked = r.apply_cow("x s3cr3t-value y");
        assert!(matches!(masked, Cow::Owned(_)));
        assert_eq!(masked, "x *** y");
    }

    #[test]
    fn each_line_of_a_multiline_secret_is_masked() {
        let r = Redactor::new();
        r.add("-----BEGIN KEY-----\nMIIEabcdef\n-----END KEY-----");
        let out = r.apply("line: MIIEabcdef");
        assert!(!out.contains("MIIEabcdef"), "{out}");
    }

    #[test]
    fn longer_secret_wins_over_its_prefix() {
        let r = Redactor::new();
        r.add("abcd");
        r.add("abcdefgh");
        assert_eq!(r.apply("xabcdefghx"), "x***x");
        // Registered in the other order, the longer one still wins.
        let r = Redactor::new();
        r.add("abcdefgh");
        r.add("abcd");
        assert_eq!(r.apply("xabcdefghx abcd"), "x***x ***");
    }

    #[test]
    fn overlapping_secrets_leave_no_fragment_of_either() {
        let r = Redactor::new();
        r.add("secret-one");
        r.add("one-two-three");
        let out = r.apply("[secret-one-two-three]");
        assert!(!out.contains("secret-one"), "{out}");
        assert!(!out.contains("two-three"), "{out}");
    }

    #[test]
    fn a_secret_added_after_use_is_masked_from_then_on() {
        let r = Redactor::new();
        r.add("first-secret");
        assert_eq!(r.apply("first-secret later-secret"), "*** later-secret");
        r.add("later-secret");
        assert_eq!(r.apply("first-secret later-secret"), "*** ***");
    }

    #[test]
    fn tokens_are_redacted_but_not_announced() {
        let r = Redactor::new();
        r.add_token("ghs_token_value");
        r.add("found-secret");
        assert_eq!(r.apply("ghs_token_value"), "***");
        assert_eq!(r.secrets(), vec!["found-secret".to_string()]);
    }

    #[test]
    fn too_short_values_are_not_registered() {
        let r = Redactor::new();
        r.add("ab");
        assert!(r.is_empty());
        assert_eq!(r.apply("ab"), "ab");
    }

    #[test]
    fn short_and_common_sensitive_values_are_not_registered() {
        let r = Redactor::new();
        for common in [
            "", "1", "true", "5432", "mysql", "FALSE", "enabled", "disabled",
        ] {
            r.add_sensitive(common);
        }
        assert!(r.is_empty(), "{:?}", r.secrets());
        r.add_sensitive("s3cr3t-pw");
        assert_eq!(
            r.apply("password s3cr3t-pw is true"),
            "password *** is true"
        );
    }

    #[test]
    fn thousands_of_secrets_are_masked_in_one_pass() {
        let r = Redactor::new();
        for i in 0..5_000 {
            r.add_sensitive(&format!("canary-{i:05}-value"));
        }
        let text: String = (0..5_000)
            .map(|i| format!("resource {i} has canary-{i:05}-value;"))
            .collect();
        let out = r.apply(&text);
        assert!(!out.contains("canary-"), "a secret survived");
        assert_eq!(out.matches(REDACTED).count(), 5_000);
    }

    /// `text` written through a redacting writer in pieces of `piece`
    /// bytes, with chunks of `chunk` bytes.
    fn streamed(r: &Redactor, text: &str, piece: usize, chunk: usize) -> String {
        use std::io::Write;
        let mut w = r.writer(Vec::new());
        w.chunk = chunk;
        for part in text.as_bytes().chunks(piece) {
            w.write_all(part).unwrap();
        }
        String::from_utf8(w.finish().unwrap()).unwrap()
    }

    #[test]
    fn a_secret_split_across_writes_and_chunks_is_masked_as_in_one_text() {
        let r = Redactor::new();
        r.add("split-secret-value");
        r.add("secret-value-tail");
        r.add("abab");
        // Secrets alone, overlapping, touching, containing one another and
        // repeated into a long run, at every offset from a boundary.
        let text = "..split-secret-value..split-secret-value-tail|abababababab\
                    split-secret-valuesplit-secret-value-secret-value-tail.ababx";
        let whole = r.apply(text);
        assert!(!whole.contains("secret"), "{whole}");
        for piece in 1..=text.len() {
            for chunk in [1, 2, 3, 5, 8, 17, 19, 40, 1_000] {
                assert_eq!(
                    streamed(&r, text, piece, chunk),
                    whole,
                    "pieces of {piece}, chunks of {chunk}"
                );
            }
        }
    }

    #[test]
    fn a_stream_without_secrets_passes_through_unchanged() {
        let r = Redactor::new();
        let text = "nothing to hide ".repeat(10_000);
        assert_eq!(streamed(&r, &text, 7, STREAM_CHUNK), text);
        r.add("z9-not-present");
        assert_eq!(streamed(&r, &text, 4_096, 100), text);
    }

    #[test]
    fn a_stream_masks_thousands_of_secrets_like_the_whole_text() {
        let r = Redactor::new();
        for i in 0..2_000 {
            r.add_sensitive(&format!("canary-{i:05}-value"));
        }
        let text: String = (0..2_000)
            .map(|i| format!("r{i} canary-{i:05}-value;canary-{:05}-value", i / 2))
            .collect();
        let whole = r.apply(&text);
        for (piece, chunk) in [(1, 64), (13, 1_000), (8_192, STREAM_CHUNK)] {
            assert_eq!(streamed(&r, &text, piece, chunk), whole);
        }
    }

    proptest::proptest! {
        #[test]
        fn any_stream_masks_as_the_whole_text(
            text in "[ab-]{0,80}",
            piece in 1usize..12,
            chunk in 1usize..30,
        ) {
            let r = Redactor::new();
            r.add("abab");
            r.add("ba-b");
            r.add("aaaa");
            r.add("b-a-b-a");
            proptest::prop_assert_eq!(streamed(&r, &text, piece, chunk), r.apply(&text));
        }
    }

    #[test]
    fn debug_never_shows_a_secret() {
        let r = Redactor::new();
        r.add("do-not-print-me");
        let shown = format!("{r:?}");
        assert!(!shown.contains("do-not-print"), "{shown}");
        assert!(shown.contains('1'), "{shown}");
    }
}
