//! The one mapping from a gate verdict to what people and machines read:
//! the step-output key, the words in running text, the comment badge and the
//! check-run conclusion. Every surface asks here, so they cannot drift apart.

use crate::gates::Verdict;

/// Everything a verdict is called, on every surface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerdictWords {
    /// Machine form: step outputs, text reports (`ack_required`).
    pub key: &'static str,
    /// Running text (`acknowledgement required`).
    pub words: &'static str,
    /// The badge beside a section title in the comment.
    pub badge: &'static str,
    /// GitHub's check-run conclusion.
    pub conclusion: &'static str,
}

/// What `verdict` is called.
pub fn words(verdict: Verdict) -> VerdictWords {
    match verdict {
        Verdict::Pass => VerdictWords {
            key: "pass",
            words: "pass",
            badge: "✅ pass",
            conclusion: "success",
        },
        Verdict::Warn => VerdictWords {
            key: "warn",
            words: "warn",
            badge: "⚠️ warn",
            conclusion: "neutral",
        },
        Verdict::AckRequired => VerdictWords {
            key: "ack_required",
            words: "acknowledgement required",
            badge: "✋ ack required",
            conclusion: "action_required",
        },
        Verdict::Block => VerdictWords {
            key: "block",
            words: "block",
            badge: "⛔ block",
            conclusion: "failure",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_key_matches_the_json_name_of_the_verdict() {
        for v in [
            Verdict::Pass,
            Verdict::Warn,
            Verdict::AckRequired,
            Verdict::Block,
        ] {
            let json = serde_json::to_value(v).unwrap();
            assert_eq!(json.as_str(), Some(words(v).key));
        }
    }
}
