//! Redaction of secrets from every byte phasegate emits.
//!
//! Values Terraform marks sensitive are masked by the plan model before any
//! other module sees them. Some secrets are found later, though: the GitHub
//! token, hard-coded credentials the security gate spots in plain attributes.
//! Those are registered here, and every sink (log, stdout, files, posted
//! bodies) passes its text through [`Redactor::apply`] on the way out.

use std::sync::{Arc, RwLock};

/// What a registered secret is replaced with.
pub const REDACTED: &str = "***";

/// Secrets shorter than this are not registered: masking every `a` or `1`
/// would mangle output without protecting anything.
const MIN_SECRET_CHARS: usize = 4;

/// A shared, growing set of secret strings.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Arc<RwLock<Vec<String>>>,
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a secret. Each line of a multi-line secret is registered too,
    /// since logs and comments may break it across lines.
    pub fn add(&self, secret: &str) {
        let mut secrets = self.secrets.write().unwrap_or_else(|e| e.into_inner());
        let mut push = |s: &str| {
            let s = s.trim();
            if s.chars().count() >= MIN_SECRET_CHARS && !secrets.iter().any(|k| k == s) {
                secrets.push(s.to_string());
            }
        };
        push(secret);
        if secret.contains('\n') {
            secret.lines().for_each(&mut push);
        }
        // Longest first, so that a secret containing another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// The registered secrets, for `::add-mask::`.
    pub fn secrets(&self) -> Vec<String> {
        self.secrets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Returns `text` with every registered secret replaced by [`REDACTED`].
    pub fn apply(&self, text: &str) -> String {
        let secrets = self.secrets.read().unwrap_or_else(|e| e.into_inner());
        let mut out = text.to_string();
        for secret in secrets.iter() {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.secrets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }
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
    }

    #[test]
    fn too_short_values_are_not_registered() {
        let r = Redactor::new();
        r.add("ab");
        assert!(r.is_empty());
        assert_eq!(r.apply("ab"), "ab");
    }
}
