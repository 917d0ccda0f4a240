//! What can go wrong talking to GitHub, worded so a user knows what to fix.

use std::time::Duration;

/// A failed GitHub call. Messages never contain the token.
#[derive(Debug, thiserror::Error)]
pub enum GithubError {
    /// GitHub answered with an error status.
    #[error("GitHub refused to {action} ({status}{}){}", message_suffix(.message), permission_hint(.permission))]
    Api {
        action: String,
        status: u16,
        message: String,
        /// The permission the call needs, when a 403/404 points at a missing one.
        permission: Option<String>,
        /// Whether trying again may succeed (5xx, rate limits).
        transient: bool,
        /// How long the server asked us to wait.
        retry_after: Option<Duration>,
    },
    /// No answer: connection refused or dropped, timeout.
    #[error("could not {action}: GitHub did not answer ({detail}); check GITHUB_API_URL and the network")]
    Transport { action: String, detail: String },
    /// An answer we cannot read.
    #[error("could not {action}: GitHub's answer was not what its API describes ({detail})")]
    Decode { action: String, detail: String },
    /// A GraphQL call answered with errors.
    #[error("could not {action}: GraphQL error: {message}")]
    Graphql { action: String, message: String },
    /// No token in `--token` or `GITHUB_TOKEN`.
    #[error("no GitHub token: set GITHUB_TOKEN (in a workflow: `env: GITHUB_TOKEN: ${{{{ github.token }}}}`) or pass --token")]
    NoToken,
    /// The client could not be set up (a bad GITHUB_API_URL, ...).
    #[error("cannot set up the GitHub client: {0}")]
    Setup(String),
    /// Whose comments are ours cannot be decided, or the config contradicts
    /// GitHub: fixed in `phasegate.yml`, so it is bad input (exit 2).
    #[error("{0}")]
    Identity(String),
    /// Retries ran out; `last` is the final failure.
    #[error("{last} (gave up after {attempts} attempts)")]
    Exhausted {
        attempts: u32,
        last: Box<GithubError>,
    },
}

fn message_suffix(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(" {message}")
    }
}

fn permission_hint(permission: &Option<String>) -> String {
    match permission {
        Some(p) => format!(
            ": the token lacks {p}; grant it under `permissions:` in the workflow (or use a token that has it)"
        ),
        None => String::new(),
    }
}

impl GithubError {
    /// `Some(wait hint)` when trying again may succeed.
    pub fn retry_hint(&self) -> Option<Option<Duration>> {
        match self {
            GithubError::Api {
                transient: true,
                retry_after,
                ..
            } => Some(*retry_after),
            GithubError::Transport { .. } => Some(None),
            _ => None,
        }
    }

    /// The HTTP status, when GitHub answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            GithubError::Api { status, .. } => Some(*status),
            GithubError::Exhausted { last, .. } => last.status(),
            _ => None,
        }
    }

    /// GitHub said the body is longer than 65,536 characters.
    pub fn is_too_long(&self) -> bool {
        matches!(self, GithubError::Api { status: 422, message, .. } if message.contains("too long"))
    }

    /// Whether the request may have been applied although we saw no success
    /// (a 5xx or a dropped connection on a write).
    pub fn outcome_unknown(&self) -> bool {
        match self {
            GithubError::Api { status, .. } => *status >= 500,
            GithubError::Transport { .. } => true,
            GithubError::Exhausted { last, .. } => last.outcome_unknown(),
            _ => false,
        }
    }

    /// Removes `secret` from every message (defence in depth: error text
    /// from lower layers is not ours to trust).
    pub(crate) fn scrub(self, secret: &str) -> GithubError {
        if secret.is_empty() {
            return self;
        }
        let s = |t: String| t.replace(secret, "***");
        match self {
            GithubError::Api {
                action,
                status,
                message,
                permission,
                transient,
                retry_after,
            } => GithubError::Api {
                action: s(action),
                status,
                message: s(message),
                permission,
                transient,
                retry_after,
            },
            GithubError::Transport { action, detail } => GithubError::Transport {
                action: s(action),
                detail: s(detail),
            },
            GithubError::Decode { action, detail } => GithubError::Decode {
                action: s(action),
                detail: s(detail),
            },
            GithubError::Graphql { action, message } => GithubError::Graphql {
                action: s(action),
                message: s(message),
            },
            GithubError::Setup(m) => GithubError::Setup(s(m)),
            GithubError::Exhausted { attempts, last } => GithubError::Exhausted {
                attempts,
                last: Box::new(last.scrub(secret)),
            },
            other => other,
        }
    }
}

impl From<GithubError> for crate::error::Error {
    fn from(e: GithubError) -> Self {
        match e {
            GithubError::Identity(m) => crate::error::Error::Input(m),
            e => crate::error::Error::External(e.to_string()),
        }
    }
}

/// Turns `x-accepted-github-permissions` (`issues=write; pull_requests=write`)
/// into workflow syntax: "`issues: write` or `pull-requests: write`".
pub(crate) fn accepted_permissions(header: &str) -> Option<String> {
    let alternatives: Vec<String> = header
        .split(';')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|alt| {
            alt.split(',')
                .filter_map(|p| p.trim().split_once('='))
                .map(|(k, v)| format!("`{}: {}`", k.replace('_', "-"), v))
                .collect::<Vec<_>>()
                .join(" and ")
        })
        .filter(|a| !a.is_empty())
        .collect();
    (!alternatives.is_empty()).then(|| alternatives.join(" or "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_permissions_read_as_workflow_syntax() {
        assert_eq!(
            accepted_permissions("issues=write; pull_requests=write").as_deref(),
            Some("`issues: write` or `pull-requests: write`")
        );
        assert_eq!(accepted_permissions(""), None);
    }

    #[test]
    fn permission_error_names_the_permission_and_the_fix() {
        let e = GithubError::Api {
            action: "create a check run on a/b".into(),
            status: 403,
            message: "Resource not accessible by integration".into(),
            permission: Some("`checks: write`".into()),
            transient: false,
            retry_after: None,
        };
        let text = e.to_string();
        assert!(
            text.contains("`checks: write`") && text.contains("permissions:"),
            "{text}"
        );
        assert_eq!(
            crate::error::Error::from(e).exit_code(),
            crate::ExitCode::External
        );
    }
}
