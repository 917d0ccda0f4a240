//! Whose comment is it: the login phasegate's token posts as, decided from
//! facts and never assumed, and the one rule that says which comments are
//! phasegate's own.
//!
//! How the login is decided (see [`decide`]):
//! 1. GitHub is asked, with the GraphQL `viewer { login }`. It answers user
//!    tokens with the user's login and installation tokens (a GitHub App's,
//!    including the workflow's default `GITHUB_TOKEN`, which belongs to the
//!    GitHub Actions app) with the app's bot login, `<app-slug>[bot]`
//!    (`github-actions[bot]` for the default token). That is GitHub's own
//!    answer for this very token, not an assumption about which token it is;
//!    the old rule "`GET /user` is refused, so it must be
//!    `github-actions[bot]`" was wrong for every other app. When GraphQL
//!    gives no login, `GET /user` is asked (user tokens only).
//! 2. `github.bot_login` in `phasegate.yml` is an assertion: when GitHub
//!    answered, the two must agree (else exit 2, naming the setting); when
//!    GitHub could not say (no GraphQL, or a GHES that refuses `viewer` to
//!    installations), the setting decides.
//! 3. Neither: a clear error (exit 2) that names the setting to add.
//!
//! A comment is ours only when GitHub says our login wrote it; for an app's
//! bot, a comment GitHub reports as `performed_via_github_app` must name
//! that same app. A marker pasted by anyone else (a user, or another app's
//! bot such as `github-actions[bot]` from another workflow) is ignored.

use super::{Comment, GithubError, Identity};

/// The bot suffix GitHub gives every app's account.
const BOT_SUFFIX: &str = "[bot]";

/// Where an identity came from, for logs and error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentitySource {
    /// `GET /user` (a user token).
    User,
    /// GraphQL `viewer` (an installation token).
    Viewer,
    /// `github.bot_login` in `phasegate.yml`, GitHub having no answer.
    Config,
}

/// What GitHub said about the token's login, before the config is weighed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiAnswer {
    /// GitHub named the login.
    Login {
        login: String,
        source: IdentitySource,
    },
    /// GitHub refused to say (why, for the error message).
    Unknown(String),
}

/// The app slug of a bot login (`my-app[bot]` → `my-app`).
pub fn app_slug(login: &str) -> Option<&str> {
    login.strip_suffix(BOT_SUFFIX).filter(|s| !s.is_empty())
}

pub use crate::config::is_valid_login;

fn identity(login: String, source: IdentitySource) -> Identity {
    Identity {
        is_bot: app_slug(&login).is_some(),
        login,
        source,
    }
}

fn setting_hint() -> String {
    format!(
        "set `github: {{ bot_login: ... }}` in phasegate.yml to the login the token comments as: \
         `{}` for the workflow's default GITHUB_TOKEN, `<app-slug>[bot]` for a GitHub App's token, \
         or the user's login for a personal token",
        super::ACTIONS_BOT
    )
}

/// Decides the identity from GitHub's answer and the configured login.
pub fn decide(api: ApiAnswer, configured: Option<&str>) -> Result<Identity, GithubError> {
    match (api, configured) {
        (ApiAnswer::Login { login, source }, None) => Ok(identity(login, source)),
        (ApiAnswer::Login { login, source }, Some(c)) => {
            if login.eq_ignore_ascii_case(c) {
                Ok(identity(login, source))
            } else {
                Err(GithubError::Identity(format!(
                    "phasegate.yml sets `github.bot_login: {c}`, but GitHub says this token acts as `{login}`: \
                     set `github.bot_login: \"{login}\"`, or remove the setting, or use the token of `{c}`"
                )))
            }
        }
        (ApiAnswer::Unknown(_), Some(c)) => Ok(identity(c.to_owned(), IdentitySource::Config)),
        (ApiAnswer::Unknown(why), None) => Err(GithubError::Identity(format!(
            "cannot tell which login this token comments as ({why}), so phasegate cannot tell its own \
             comment from a copy: {}",
            setting_hint()
        ))),
    }
}

/// Whether `c` was written by `me`: GitHub's author login (logins are
/// case-insensitive) and, for an app's bot, the app GitHub says the comment
/// was performed via, when it says one.
pub fn authored_by(c: &Comment, me: &Identity) -> bool {
    wrote(&c.author, c.via_app.as_deref(), me)
}

/// [`authored_by`] for anything GitHub names an author (and maybe an app)
/// of: comments, issues.
pub fn wrote(author: &str, via_app: Option<&str>, me: &Identity) -> bool {
    if !author.eq_ignore_ascii_case(&me.login) {
        return false;
    }
    match (app_slug(&me.login), via_app) {
        (Some(mine), Some(via)) => via.eq_ignore_ascii_case(mine),
        _ => true,
    }
}

/// The check made after phasegate creates a comment: GitHub's answer names
/// the author, so a configured login that is wrong is caught before a second
/// copy is ever made.
pub fn confirm_author(created: &Comment, me: &Identity) -> Result<(), GithubError> {
    if authored_by(created, me) {
        return Ok(());
    }
    let via = created
        .via_app
        .as_deref()
        .map(|a| format!(" (via the app `{a}`)"))
        .unwrap_or_default();
    Err(GithubError::Identity(format!(
        "phasegate took this token to be `{}`, but GitHub shows its comment written by `{}`{via}: \
         set `github.bot_login: \"{}\"` in phasegate.yml",
        me.login, created.author, created.author
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comment(author: &str, via: Option<&str>) -> Comment {
        Comment {
            id: 1,
            node_id: "IC_1".into(),
            author: author.into(),
            via_app: via.map(str::to_owned),
            body: String::new(),
            created_at: String::new(),
            html_url: String::new(),
        }
    }

    fn login(l: &str, source: IdentitySource) -> ApiAnswer {
        ApiAnswer::Login {
            login: l.into(),
            source,
        }
    }

    #[test]
    fn github_s_answer_decides_without_config() {
        let me = decide(login("deployer[bot]", IdentitySource::Viewer), None).unwrap();
        assert_eq!(me.login, "deployer[bot]");
        assert!(me.is_bot);
        assert_eq!(me.source, IdentitySource::Viewer);
        let me = decide(login("alice", IdentitySource::User), None).unwrap();
        assert!(!me.is_bot);
    }

    #[test]
    fn a_configured_login_must_agree_with_github() {
        let me = decide(
            login("Deployer[bot]", IdentitySource::Viewer),
            Some("deployer[bot]"),
        )
        .unwrap();
        assert_eq!(me.login, "Deployer[bot]");
        let err = decide(
            login("deployer[bot]", IdentitySource::Viewer),
            Some("github-actions[bot]"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("github.bot_login"), "{err}");
    }

    #[test]
    fn the_setting_decides_when_github_cannot_and_its_absence_is_an_error() {
        let me = decide(
            ApiAnswer::Unknown("no viewer".into()),
            Some("deployer[bot]"),
        )
        .unwrap();
        assert_eq!(me.source, IdentitySource::Config);
        let err = decide(ApiAnswer::Unknown("no viewer".into()), None).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("bot_login") && text.contains("no viewer"),
            "{text}"
        );
        assert_eq!(
            crate::error::Error::from(err).exit_code(),
            crate::error::ExitCode::BadInput
        );
    }

    #[test]
    fn only_our_login_and_our_app_author_our_comments() {
        let me = decide(login("deployer[bot]", IdentitySource::Viewer), None).unwrap();
        assert!(authored_by(
            &comment("deployer[bot]", Some("deployer")),
            &me
        ));
        assert!(authored_by(&comment("deployer[bot]", None), &me));
        assert!(!authored_by(&comment("deployer[bot]", Some("other")), &me));
        assert!(!authored_by(
            &comment("github-actions[bot]", Some("github-actions")),
            &me
        ));
        assert!(!authored_by(&comment("mallory", None), &me));
    }

    #[test]
    fn a_created_comment_by_someone_else_is_an_identity_error() {
        let me = decide(ApiAnswer::Unknown("x".into()), Some("github-actions[bot]")).unwrap();
        let created = comment("deployer[bot]", Some("deployer"));
        let err = confirm_author(&created, &me).unwrap_err();
        assert!(
            err.to_string()
                .contains("github.bot_login: \"deployer[bot]\""),
            "{err}"
        );
    }

    #[test]
    fn login_shapes() {
        for ok in ["alice", "a-b", "deployer[bot]", "github-actions[bot]"] {
            assert!(is_valid_login(ok), "{ok}");
        }
        for bad in ["", "[bot]", "-a", "a b", "a@b", "x[bot][bot]", "é"] {
            assert!(!is_valid_login(bad), "{bad}");
        }
    }
}
