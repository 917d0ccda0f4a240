//! The human gate before an apply: who approved which plan, from GitHub's
//! environment review log or from a `/phasegate approve` comment (the
//! fallback when no environment gate exists), and whether that suffices.

use super::comment::{ApprovalSource, CommentState, RecordedApproval};
use super::{Forge, GithubError, RepoRef};

/// Shortest digest prefix an approval comment may use.
pub const MIN_DIGEST_PREFIX: usize = 12;

/// Who may approve through `/phasegate approve`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FallbackPolicy {
    /// `triage`, `write`, `maintain` or `admin`; `write` when `None`.
    pub min_permission: Option<String>,
    /// Users who may approve whatever their permission.
    pub approvers: Vec<String>,
}

/// Everything the pre-apply check needs.
#[derive(Debug, Clone, Copy)]
pub struct ApprovalCheck<'a> {
    pub repo: &'a RepoRef,
    /// The workflow run whose environment approvals count; `None` outside Actions.
    pub run_id: Option<u64>,
    pub pr_author: &'a str,
    /// phasegate's environment (and phase) name.
    pub env_name: &'a str,
    pub github_environment: &'a str,
    pub reviewers_required: bool,
    pub prevent_self_review: bool,
    /// The full digest of the plan about to be applied.
    pub digest: &'a str,
    pub fallback: &'a FallbackPolicy,
    pub state: &'a CommentState,
}

/// One approval that counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalEvidence {
    pub approver: String,
    pub env: String,
    pub at: String,
    pub source: ApprovalSource,
}

/// The verdict: apply only when `allowed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalDecision {
    pub env: String,
    pub allowed: bool,
    pub evidence: Vec<ApprovalEvidence>,
    /// Why not (or why an approval did not count), for the user.
    pub refusals: Vec<String>,
}

const LEVELS: [&str; 6] = ["none", "read", "triage", "write", "maintain", "admin"];

fn rank(permission: &str) -> usize {
    LEVELS.iter().position(|l| *l == permission).unwrap_or(0)
}

/// Length of a full plan digest (hex sha256).
pub const FULL_DIGEST_LEN: usize = 64;

/// The first `n` characters of a digest, for people to read. Cut by
/// characters, not bytes: a digest read from a comment or a flag is not
/// trusted to be ASCII, and slicing it at a byte index could panic.
pub fn abbreviate(digest: &str, n: usize) -> &str {
    digest
        .char_indices()
        .nth(n)
        .map_or(digest, |(i, _)| &digest[..i])
}

fn short(digest: &str) -> &str {
    abbreviate(digest, MIN_DIGEST_PREFIX)
}

/// Why a digest given on the command line was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestArgError {
    #[error("{0:?} is not a plan digest: use only the hex characters 0-9 and a-f, as the plan comment shows it")]
    NotHex(String),
    #[error("{given:?} is too short: a plan digest prefix needs at least {MIN_DIGEST_PREFIX} hex characters, it has {len}")]
    TooShort { given: String, len: usize },
    #[error(
        "{given:?} is longer than a plan digest ({FULL_DIGEST_LEN} hex characters), it has {len}"
    )]
    TooLong { given: String, len: usize },
}

/// Checks a digest or digest prefix given by a user (`--digest`): hex only,
/// at least [`MIN_DIGEST_PREFIX`] and at most [`FULL_DIGEST_LEN`] characters.
/// Returns it in lower case.
pub fn parse_digest_arg(given: &str) -> Result<String, DigestArgError> {
    let d = given.trim();
    if d.is_empty() || !d.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(DigestArgError::NotHex(given.to_owned()));
    }
    // All ASCII from here on, so the byte length is the character count.
    if d.len() < MIN_DIGEST_PREFIX {
        return Err(DigestArgError::TooShort {
            given: given.to_owned(),
            len: d.len(),
        });
    }
    if d.len() > FULL_DIGEST_LEN {
        return Err(DigestArgError::TooLong {
            given: given.to_owned(),
            len: d.len(),
        });
    }
    Ok(d.to_ascii_lowercase())
}

/// Whether `user` may approve by comment; `Err` says why not.
async fn may_approve<F: Forge>(
    forge: &F,
    repo: &RepoRef,
    user: &str,
    policy: &FallbackPolicy,
) -> Result<Result<(), String>, GithubError> {
    if policy
        .approvers
        .iter()
        .any(|a| a.eq_ignore_ascii_case(user))
    {
        return Ok(Ok(()));
    }
    let min = policy.min_permission.as_deref().unwrap_or("write");
    let have = forge.collaborator_permission(repo, user).await?;
    if rank(&have) >= rank(min) {
        Ok(Ok(()))
    } else {
        Ok(Err(format!(
            "@{user} has `{have}` permission on {repo}; approving needs at least `{min}` or a place in `approvals.approvers`"
        )))
    }
}

/// Decides whether the plan with `check.digest` may be applied to
/// `check.env_name`.
pub async fn check_approval<F: Forge>(
    forge: &F,
    check: ApprovalCheck<'_>,
) -> Result<ApprovalDecision, GithubError> {
    let gh = check.github_environment;
    let mut refusals = Vec::new();
    let mut ignored = Vec::new();
    let mut evidence = Vec::new();
    let env = forge.get_environment(check.repo, gh).await?;
    let has_reviewers = env.as_ref().is_some_and(|e| !e.reviewers.is_empty());
    if check.reviewers_required && !has_reviewers {
        refusals.push(format!(
            "GitHub environment `{gh}` has no required reviewers (or does not exist), but phasegate.yml requires them for `{}`",
            check.env_name
        ));
    }
    if let (true, Some(run_id)) = (has_reviewers, check.run_id) {
        for a in forge.run_approvals(check.repo, run_id).await? {
            if a.state != "approved" || !a.environments.iter().any(|e| e == gh) {
                continue;
            }
            if check.prevent_self_review && a.user.eq_ignore_ascii_case(check.pr_author) {
                ignored.push(format!(
                    "@{} approved their own change in environment `{gh}`; self-approval is not allowed",
                    a.user
                ));
                continue;
            }
            evidence.push(ApprovalEvidence {
                approver: a.user,
                env: check.env_name.to_owned(),
                at: a.at,
                source: ApprovalSource::Environment,
            });
        }
    }
    let recorded = check
        .state
        .phases
        .get(check.env_name)
        .map(|p| p.approvals.as_slice())
        .unwrap_or_default();
    for a in recorded
        .iter()
        .filter(|a| a.source == ApprovalSource::Comment && a.env == check.env_name)
    {
        if a.digest != check.digest {
            ignored.push(format!(
                "@{}'s approval was for plan {}, but the plan is now {}: approve again",
                a.approver,
                short(&a.digest),
                short(check.digest)
            ));
            continue;
        }
        if check.prevent_self_review && a.approver.eq_ignore_ascii_case(check.pr_author) {
            ignored.push(format!(
                "@{} approved their own change; self-approval is not allowed",
                a.approver
            ));
            continue;
        }
        if let Err(why) = may_approve(forge, check.repo, &a.approver, check.fallback).await? {
            ignored.push(why);
            continue;
        }
        evidence.push(ApprovalEvidence {
            approver: a.approver.clone(),
            env: a.env.clone(),
            at: a.at.clone(),
            source: ApprovalSource::Comment,
        });
    }
    if evidence.is_empty() {
        refusals.extend(ignored);
        refusals.push(format!(
            "no approval recorded for `{}` on plan {}: approve the deployment of environment `{gh}` in the workflow run, \
             or comment `/phasegate approve {} {}`",
            check.env_name,
            short(check.digest),
            check.env_name,
            short(check.digest)
        ));
    }
    Ok(ApprovalDecision {
        env: check.env_name.to_owned(),
        allowed: refusals.is_empty(),
        evidence,
        refusals,
    })
}

/// `/phasegate approve <env> <digest prefix>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApproveCommand {
    pub env: String,
    pub digest_prefix: String,
}

/// Finds an approve command on a line of its own in a comment body. The
/// prefix must be at least [`MIN_DIGEST_PREFIX`] hex characters.
pub fn parse_approve_command(body: &str) -> Option<ApproveCommand> {
    body.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        if words.next()? != "/phasegate" || words.next()? != "approve" {
            return None;
        }
        let env = words.next()?.to_owned();
        let prefix = words.next()?.to_ascii_lowercase();
        (words.next().is_none()
            && prefix.len() >= MIN_DIGEST_PREFIX
            && prefix.bytes().all(|b| b.is_ascii_hexdigit()))
        .then_some(ApproveCommand {
            env,
            digest_prefix: prefix,
        })
    })
}

/// A `/phasegate approve` comment to weigh.
#[derive(Debug, Clone, Copy)]
pub struct FallbackApproval<'a> {
    pub repo: &'a RepoRef,
    pub commenter: &'a str,
    pub command: &'a ApproveCommand,
    pub pr_author: &'a str,
    pub env_name: &'a str,
    pub prevent_self_review: bool,
    /// The current plan's full digest for `env_name`.
    pub digest: &'a str,
    pub policy: &'a FallbackPolicy,
    /// When the comment was made.
    pub at: &'a str,
}

/// Accepts a fallback approval into `state` (bound to the full current
/// digest), or says why not (`Ok(Err(reason))`).
pub async fn record_fallback_approval<F: Forge>(
    forge: &F,
    approval: FallbackApproval<'_>,
    state: &mut CommentState,
) -> Result<Result<RecordedApproval, String>, GithubError> {
    let a = approval;
    if a.command.env != a.env_name {
        return Ok(Err(format!(
            "the approval names environment `{}`, not `{}`",
            a.command.env, a.env_name
        )));
    }
    if !a.digest.starts_with(&a.command.digest_prefix) {
        return Ok(Err(format!(
            "the approval names plan {}, but the current plan for `{}` is {}: approve the current plan",
            a.command.digest_prefix,
            a.env_name,
            short(a.digest)
        )));
    }
    if a.prevent_self_review && a.commenter.eq_ignore_ascii_case(a.pr_author) {
        return Ok(Err(format!(
            "@{} opened this change and cannot approve it",
            a.commenter
        )));
    }
    if let Err(why) = may_approve(forge, a.repo, a.commenter, a.policy).await? {
        return Ok(Err(why));
    }
    let record = RecordedApproval {
        env: a.env_name.to_owned(),
        approver: a.commenter.to_owned(),
        digest: a.digest.to_owned(),
        at: a.at.to_owned(),
        source: ApprovalSource::Comment,
    };
    let approvals = &mut state
        .phases
        .entry(a.env_name.to_owned())
        .or_default()
        .approvals;
    if !approvals
        .iter()
        .any(|r| r.approver == record.approver && r.digest == record.digest && r.env == record.env)
    {
        approvals.push(record.clone());
    }
    Ok(Ok(record))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approve_command_needs_a_long_hex_prefix_on_its_own_line() {
        assert_eq!(
            parse_approve_command("lgtm\n/phasegate approve prod 0123456789AB\n"),
            Some(ApproveCommand {
                env: "prod".into(),
                digest_prefix: "0123456789ab".into()
            })
        );
        assert_eq!(
            parse_approve_command("/phasegate approve prod 0123456789a"),
            None
        );
        assert_eq!(
            parse_approve_command("/phasegate approve prod 0123456789zz"),
            None
        );
        assert_eq!(
            parse_approve_command("> /phasegate approve prod 0123456789ab"),
            None
        );
    }

    #[test]
    fn digest_args_must_be_hex_and_long_enough() {
        let full = "ab".repeat(32);
        assert_eq!(parse_digest_arg(&full.to_uppercase()), Ok(full.clone()));
        assert_eq!(
            parse_digest_arg("0123456789ab"),
            Ok("0123456789ab".to_owned())
        );
        assert!(matches!(
            parse_digest_arg("0123456789a"),
            Err(DigestArgError::TooShort { len: 11, .. })
        ));
        assert!(matches!(
            parse_digest_arg("éééééééééééééééé"),
            Err(DigestArgError::NotHex(_))
        ));
        assert!(matches!(
            parse_digest_arg("0123456789abXYZ"),
            Err(DigestArgError::NotHex(_))
        ));
        assert!(matches!(
            parse_digest_arg(""),
            Err(DigestArgError::NotHex(_))
        ));
        assert!(matches!(
            parse_digest_arg(&format!("{full}0")),
            Err(DigestArgError::TooLong { len: 65, .. })
        ));
    }

    #[test]
    fn abbreviating_a_non_ascii_digest_cuts_by_characters() {
        // 11 ASCII bytes then a 2-byte character across byte 12.
        let d = "0123456789aé0123456789";
        assert_eq!(abbreviate(d, 12), "0123456789aé");
        assert_eq!(short("ééééééééééééééé"), "éééééééééééé");
        assert_eq!(abbreviate("abc", 12), "abc");
    }
}
