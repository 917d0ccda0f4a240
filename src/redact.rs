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
    /// Secrets the Actions runner already masks (tokens it handed us): they
    /// are redacted like the rest but never announced with `::add-mask::`,
    /// since announcing prints them.
    known_to_runner: Arc<RwLock<Vec<String>>>,
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

    /// Registers a token the runner already masks: redacted everywhere, but
    /// left out of [`Redactor::secrets`].
    pub fn add_token(&self, token: &str) {
        self.add(token);
        self.known_to_runner
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(token.trim().to_string());
    }

    /// The registered secrets the runner does not know yet, for `::add-mask::`.
    pub fn secrets(&self) -> Vec<String> {
        let known = self
            .known_to_runner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        self.secrets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|s| !known.iter().any(|k| k == *s || k.contains(s.as_str())))
            .cloned()
            .collect()
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
}
