//! One issue per thing it tracks (drift: a project and environment; a failed
//! apply: a change and phase): found by a hidden marker line among the
//! issues with its label that we opened, opened when the trouble appears,
//! updated while it lasts, reopened when it comes back, and closed with a
//! comment when it is gone.
//!
//! Never two issues for one pair: a create whose outcome is unknown (a 5xx,
//! a dropped connection) is never resent blindly; the issues are listed again
//! and the one GitHub made, if it made one, is taken up. Issues anyone else
//! opened are ignored whatever they contain: anyone can paste a marker.

use super::comment::escape_id;
use super::identity::wrote;
use super::{Forge, GithubError, Identity, Issue, IssueUpdate, PrTarget, RepoRef};
use crate::surface::COMMENT_BUDGET;

/// Bound on list/write rounds in one sync (unknown outcomes, too-long bodies).
const MAX_ROUNDS: usize = 6;

/// What differs between the kinds of issue phasegate keeps.
#[derive(Debug)]
pub struct IssueKind {
    /// What one issue tracks, in the note closing a duplicate (`this drift`).
    pub tracks: &'static str,
    /// The label's colour and description when phasegate creates it.
    pub label_color: &'static str,
    pub label_description: &'static str,
    /// Marks our closing comment, so a retry after an unknown outcome finds it.
    pub closed_marker: &'static str,
    /// What the issue is, in messages (`drift issue`).
    pub noun: &'static str,
}

/// The drift issue of a project and environment.
pub const DRIFT: IssueKind = IssueKind {
    tracks: "this drift",
    label_color: "d93f0b",
    label_description: "Infrastructure changed outside Terraform (phasegate drift)",
    closed_marker: "<!-- phasegate:drift-closed -->",
    noun: "drift issue",
};

/// The hidden line that names the pair an issue is about. Both names are
/// percent-encoded, so neither can close the comment or forge another marker.
pub fn drift_marker(project: &str, environment: &str) -> String {
    format!(
        "<!-- phasegate:drift project={} env={} -->",
        escape_id(project),
        escape_id(environment)
    )
}

/// The pair and where its issue lives.
#[derive(Debug, Clone)]
pub struct IssueTarget {
    pub repo: RepoRef,
    pub project: String,
    pub environment: String,
    /// The label every drift issue carries (created when missing).
    pub label: String,
}

/// One marked issue of any kind and where it lives.
#[derive(Debug, Clone)]
pub struct MarkedTarget {
    pub repo: RepoRef,
    /// The label every issue of the kind carries (created when missing).
    pub label: String,
    /// The hidden line naming what the issue is about; the body starts with it.
    pub marker: String,
    pub kind: &'static IssueKind,
}

impl MarkedTarget {
    /// The drift issue of `target`'s pair.
    pub fn drift(target: &IssueTarget) -> MarkedTarget {
        MarkedTarget {
            repo: target.repo.clone(),
            label: target.label.clone(),
            marker: drift_marker(&target.project, &target.environment),
            kind: &DRIFT,
        }
    }
}

/// What the sync should leave behind.
pub enum Desired<'a> {
    /// The trouble exists (drift, a failed apply): an open issue with this
    /// title and a body rendered within the given number of characters (it
    /// starts with the marker).
    Drifted {
        title: String,
        body: &'a dyn Fn(usize) -> String,
    },
    /// The trouble is gone: close any open issue with this comment.
    Clean { comment: String },
}

/// What the sync did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueAction {
    Opened,
    Updated,
    Reopened,
    Closed,
    /// No trouble and no open issue.
    Nothing,
}

/// The issue after a sync.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IssueOutcome {
    pub action: IssueAction,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Further open copies of ours (from an older build or a race) that were
    /// closed in favour of the oldest.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub duplicates_closed: Vec<u64>,
}

impl IssueOutcome {
    fn of(action: IssueAction, issue: Option<&Issue>) -> IssueOutcome {
        IssueOutcome {
            action,
            number: issue.map(|i| i.number),
            url: issue.map(|i| i.html_url.clone()).filter(|u| !u.is_empty()),
            duplicates_closed: Vec::new(),
        }
    }
}

/// Whether `issue` is ours and about the pair `marker` names.
pub fn is_ours(issue: &Issue, me: &Identity, marker: &str) -> bool {
    wrote(&issue.author, issue.via_app.as_deref(), me)
        && issue.body.lines().any(|l| l.trim_end() == marker)
}

/// Our issues for the pair, oldest first.
async fn ours<F: Forge>(
    forge: &F,
    target: &MarkedTarget,
    me: &Identity,
    marker: &str,
) -> Result<Vec<Issue>, GithubError> {
    let all = forge
        .list_issues(&target.repo, std::slice::from_ref(&target.label), "all")
        .await?;
    let mut mine: Vec<Issue> = all.into_iter().filter(|i| is_ours(i, me, marker)).collect();
    mine.sort_by_key(|i| i.number);
    Ok(mine)
}

/// Brings the pair's drift issue in line with `desired`.
pub async fn sync<F: Forge>(
    forge: &F,
    target: &IssueTarget,
    desired: &Desired<'_>,
) -> Result<IssueOutcome, GithubError> {
    sync_marked(forge, &MarkedTarget::drift(target), desired).await
}

/// Brings the issue `target` marks in line with `desired`.
pub async fn sync_marked<F: Forge>(
    forge: &F,
    target: &MarkedTarget,
    desired: &Desired<'_>,
) -> Result<IssueOutcome, GithubError> {
    let me = forge.identity().await?;
    let marker = target.marker.clone();
    let mine = ours(forge, target, &me, &marker).await?;
    match desired {
        Desired::Clean { comment } => close_all(forge, target, &mine, &me, comment).await,
        Desired::Drifted { title, body } => {
            forge
                .ensure_label(
                    &target.repo,
                    &target.label,
                    target.kind.label_color,
                    target.kind.label_description,
                )
                .await?;
            open_or_update(forge, target, mine, &me, &marker, title, *body).await
        }
    }
}

async fn open_or_update<F: Forge>(
    forge: &F,
    target: &MarkedTarget,
    mut mine: Vec<Issue>,
    me: &Identity,
    marker: &str,
    title: &str,
    body: &dyn Fn(usize) -> String,
) -> Result<IssueOutcome, GithubError> {
    let mut budget = COMMENT_BUDGET;
    let mut tried_create = false;
    let mut last_error: Option<GithubError> = None;
    for round in 0..MAX_ROUNDS {
        if round > 0 {
            mine = ours(forge, target, me, marker).await?;
        }
        let text = body(budget);
        let open: Vec<&Issue> = mine.iter().filter(|i| i.state == "open").collect();
        // The oldest open issue is the one; else the newest closed one comes back.
        let (keep, action) = match (open.first(), mine.last()) {
            (Some(i), _) if tried_create => (*i, IssueAction::Opened),
            (Some(i), _) => (*i, IssueAction::Updated),
            (None, Some(i)) => (i, IssueAction::Reopened),
            (None, None) => {
                tried_create = true;
                match forge
                    .create_issue(
                        &target.repo,
                        title,
                        &text,
                        std::slice::from_ref(&target.label),
                    )
                    .await
                {
                    Ok(made) => {
                        if !wrote(&made.author, made.via_app.as_deref(), me) {
                            return Err(GithubError::Identity(format!(
                                "phasegate took this token to be `{}`, but GitHub shows issue #{} opened by `{}`: \
                                 set `github.bot_login: \"{}\"` in phasegate.yml",
                                me.login, made.number, made.author, made.author
                            )));
                        }
                        return Ok(IssueOutcome::of(IssueAction::Opened, Some(&made)));
                    }
                    // GitHub may have made it: list again before anything else.
                    Err(e) if e.outcome_unknown() => {
                        tracing::warn!(
                            "opening the {} had an unknown outcome, checking: {e}",
                            target.kind.noun
                        );
                        last_error = Some(e);
                        continue;
                    }
                    Err(e) if e.is_too_long() => {
                        budget = budget * 7 / 8;
                        last_error = Some(e);
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        let update = IssueUpdate {
            title: (keep.title != title).then(|| title.to_owned()),
            body: (keep.body != text).then_some(text),
            state: (keep.state != "open").then(|| "open".to_owned()),
            labels: None,
        };
        let updated = if update == IssueUpdate::default() {
            keep.clone()
        } else {
            match forge.update_issue(&target.repo, keep.number, &update).await {
                Ok(i) => i,
                Err(e) if e.is_too_long() => {
                    budget = budget * 7 / 8;
                    last_error = Some(e);
                    continue;
                }
                Err(e) => return Err(e),
            }
        };
        let mut outcome = IssueOutcome::of(action, Some(&updated));
        let dups: Vec<Issue> = open.iter().skip(1).map(|i| (*i).clone()).collect();
        for dup in dups {
            let note = format!(
                "{}\nClosed by phasegate: #{} tracks {}.",
                target.kind.closed_marker, updated.number, target.kind.tracks
            );
            close_one(forge, target, &dup, me, &note).await?;
            outcome.duplicates_closed.push(dup.number);
        }
        return Ok(outcome);
    }
    Err(GithubError::Exhausted {
        attempts: MAX_ROUNDS as u32,
        last: Box::new(last_error.unwrap_or_else(|| GithubError::Decode {
            action: format!("open the {} on {}", target.kind.noun, target.repo),
            detail: "the issues kept changing under us".to_owned(),
        })),
    })
}

async fn close_all<F: Forge>(
    forge: &F,
    target: &MarkedTarget,
    mine: &[Issue],
    me: &Identity,
    comment: &str,
) -> Result<IssueOutcome, GithubError> {
    let open: Vec<&Issue> = mine.iter().filter(|i| i.state == "open").collect();
    let Some(first) = open.first() else {
        return Ok(IssueOutcome::of(IssueAction::Nothing, None));
    };
    let note = format!("{}\n{comment}", target.kind.closed_marker);
    let mut outcome = IssueOutcome::of(IssueAction::Closed, Some(first));
    for (n, issue) in open.iter().enumerate() {
        close_one(forge, target, issue, me, &note).await?;
        if n > 0 {
            outcome.duplicates_closed.push(issue.number);
        }
    }
    Ok(outcome)
}

/// Comments (once, even after an unknown outcome) and closes.
async fn close_one<F: Forge>(
    forge: &F,
    target: &MarkedTarget,
    issue: &Issue,
    me: &Identity,
    note: &str,
) -> Result<(), GithubError> {
    let on = PrTarget {
        repo: target.repo.clone(),
        number: issue.number,
    };
    if let Err(e) = forge.create_comment(&on, note).await {
        if !e.outcome_unknown() {
            return Err(e);
        }
        let posted = forge.list_comments(&on).await?.iter().any(|c| {
            wrote(&c.author, c.via_app.as_deref(), me)
                && c.body
                    .lines()
                    .any(|l| l.trim_end() == target.kind.closed_marker)
        });
        if !posted {
            forge.create_comment(&on, note).await?;
        }
    }
    let close = IssueUpdate {
        state: Some("closed".to_owned()),
        ..IssueUpdate::default()
    };
    forge
        .update_issue(&target.repo, issue.number, &close)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::identity::IdentitySource;

    fn me() -> Identity {
        Identity {
            login: "github-actions[bot]".into(),
            is_bot: true,
            source: IdentitySource::Viewer,
        }
    }

    fn issue(author: &str, body: &str) -> Issue {
        Issue {
            number: 1,
            title: "t".into(),
            body: body.into(),
            state: "open".into(),
            labels: vec![],
            author: author.into(),
            via_app: None,
            html_url: String::new(),
        }
    }

    #[test]
    fn a_marker_cannot_be_closed_or_forged_by_hostile_names() {
        let m = drift_marker("a --> <!-- phasegate:x", "prod env");
        assert_eq!(m.matches("-->").count(), 1, "{m}");
        assert!(m.contains("project=a%20--%3E%20%3C%21--%20phasegate%3Ax"));
        assert!(m.contains("env=prod%20env"));
    }

    #[test]
    fn only_our_issues_with_the_exact_marker_line_count() {
        let m = drift_marker("app", "dev");
        assert!(is_ours(
            &issue("github-actions[bot]", &format!("{m}\nbody")),
            &me(),
            &m
        ));
        assert!(!is_ours(
            &issue("mallory", &format!("{m}\nbody")),
            &me(),
            &m
        ));
        assert!(!is_ours(
            &issue("github-actions[bot]", &drift_marker("app", "prod")),
            &me(),
            &m
        ));
        assert!(!is_ours(
            &issue("github-actions[bot]", &format!("quoted {m}")),
            &me(),
            &m
        ));
    }
}
