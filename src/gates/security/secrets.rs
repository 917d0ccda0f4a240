//! Hard-coded secret detection: which strings look like credentials, and how
//! to show them masked. The raw match only leaves this module inside a
//! [`SecretHit`], whose owner hands it to the redactor and to nothing else.

use std::sync::LazyLock;

use regex::Regex;

/// One secret found in a string.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SecretHit {
    /// What kind of secret (`AWS access key id`).
    pub kind: &'static str,
    /// The secret itself. Never printed; registered with the redactor.
    pub raw: String,
    /// A masked excerpt safe to show (`AKIA************MPLE`).
    pub masked: String,
}

struct Detector {
    kind: &'static str,
    regex: Regex,
    /// Capture group holding the secret (0 for the whole match).
    group: usize,
}

static DETECTORS: LazyLock<Vec<Detector>> = LazyLock::new(|| {
    let d = |kind, re: &str, group| Detector {
        kind,
        regex: Regex::new(re).expect("secret detector regex compiles"),
        group,
    };
    vec![
        d("AWS access key id", r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b", 0),
        d(
            "private key",
            r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----[\s\S]*?(?:-----END (?:[A-Z]+ )?PRIVATE KEY-----|$)",
            0,
        ),
        d(
            "GitHub token",
            r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})\b",
            0,
        ),
        d("Slack token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b", 0),
        d(
            "password assignment",
            r#"(?i)\b(?:password|passwd|pwd|secret|api_?key|auth_?token)\s*[:=]\s*["']?([^\s"'$;&|]{6,})"#,
            1,
        ),
    ]
});

/// Every secret in `text`, in order of appearance, each reported once.
pub(crate) fn scan(text: &str) -> Vec<SecretHit> {
    let mut hits: Vec<(usize, SecretHit)> = Vec::new();
    for det in DETECTORS.iter() {
        for caps in det.regex.captures_iter(text) {
            let Some(m) = caps.get(det.group) else {
                continue;
            };
            let raw = m.as_str().trim_end().to_string();
            // A reference (`${var.x}`, `{{ secret }}`) names a secret, it is not one.
            if raw.starts_with("${") || raw.starts_with("{{") {
                continue;
            }
            if hits
                .iter()
                .any(|(_, h)| h.raw.contains(&raw) || raw.contains(&h.raw))
            {
                continue;
            }
            hits.push((
                m.start(),
                SecretHit {
                    kind: det.kind,
                    masked: mask(&raw),
                    raw,
                },
            ));
        }
    }
    hits.sort_by_key(|(at, _)| *at);
    hits.into_iter().map(|(_, h)| h).collect()
}

/// Keeps the first and last four characters of long secrets (enough to find
/// the key in a vault), and nothing of short ones or of private keys.
pub(crate) fn mask(secret: &str) -> String {
    if secret.starts_with("-----BEGIN") {
        return "-----BEGIN … PRIVATE KEY----- (key body hidden)".to_string();
    }
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() < 16 {
        return "*".repeat(chars.len().max(8));
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_key_is_masked_to_its_ends() {
        let hits = scan("export AWS_ACCESS_KEY_ID=AKIAQ7PGTESTKEY00042\n");
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].kind, "AWS access key id");
        assert_eq!(hits[0].masked, "AKIA************0042");
        assert!(!hits[0].masked.contains("Q7PGTESTKEY"));
    }

    #[test]
    fn private_key_body_is_never_shown() {
        let text = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----";
        let hits = scan(text);
        assert_eq!(hits.len(), 1);
        assert!(!hits[0].masked.contains("MIIEow"));
        assert_eq!(hits[0].raw, text);
    }

    #[test]
    fn tokens_and_password_assignments_are_found() {
        let text = format!(
            "GH=ghp_{} SLACK=xoxb-1234567890-abcdefghij password=hunter2secret",
            "a".repeat(36)
        );
        let kinds: Vec<_> = scan(&text).iter().map(|h| h.kind).collect();
        assert_eq!(
            kinds,
            ["GitHub token", "Slack token", "password assignment"]
        );
    }

    #[test]
    fn references_and_plain_text_are_not_secrets() {
        assert!(scan("password = ${var.db_password}").is_empty());
        assert!(scan("#!/bin/bash\napt-get install -y nginx\n").is_empty());
    }
}
