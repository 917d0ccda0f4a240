//! Who, where and why this run is: `GITHUB_*` variables and the event payload.

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum CiError {
    #[error("{var} is not set; phasegate reads it in GitHub Actions")]
    Missing { var: &'static str },
    #[error("GITHUB_REPOSITORY is `{0}`; expected owner/name")]
    BadRepository(String),
    #[error("{path}: cannot read the event payload: {message}")]
    Payload { path: PathBuf, message: String },
    #[error("{path}: cannot write: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl From<CiError> for crate::Error {
    fn from(e: CiError) -> Self {
        match e {
            CiError::Write { .. } => crate::Error::External(e.to_string()),
            _ => crate::Error::Input(e.to_string()),
        }
    }
}

/// The events phasegate acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    PullRequest,
    PullRequestTarget,
    IssueComment,
    Push,
    Schedule,
    WorkflowDispatch,
    Other,
}

/// What the event payload says that phasegate needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub kind: EventKind,
    /// The PR (or the issue a comment is on) number.
    pub number: Option<u64>,
    /// Whether an `issue_comment` was made on a pull request.
    pub is_pull_request: bool,
    pub pr_head_sha: Option<String>,
    pub pr_author: Option<String>,
    pub head_ref: Option<String>,
    pub base_ref: Option<String>,
    pub draft: bool,
    pub comment_id: Option<u64>,
    pub comment_body: Option<String>,
    pub comment_author: Option<String>,
    /// `workflow_dispatch` inputs.
    pub inputs: serde_json::Map<String, Value>,
}

impl Event {
    /// Reads the fields phasegate uses from a payload of `kind`.
    pub fn from_payload(kind: EventKind, payload: &Value) -> Event {
        let s = |v: &Value| v.as_str().map(str::to_string);
        let pr = &payload["pull_request"];
        let issue = &payload["issue"];
        let comment = &payload["comment"];
        let number = match kind {
            EventKind::PullRequest | EventKind::PullRequestTarget => {
                pr["number"].as_u64().or(payload["number"].as_u64())
            }
            EventKind::IssueComment => issue["number"].as_u64(),
            _ => None,
        };
        Event {
            kind,
            number,
            is_pull_request: !pr.is_null() || !issue["pull_request"].is_null(),
            pr_head_sha: s(&pr["head"]["sha"]),
            pr_author: s(&pr["user"]["login"]).or_else(|| {
                (kind == EventKind::IssueComment)
                    .then(|| s(&issue["user"]["login"]))
                    .flatten()
            }),
            head_ref: s(&pr["head"]["ref"]),
            base_ref: s(&pr["base"]["ref"]),
            draft: pr["draft"].as_bool().unwrap_or(false),
            comment_id: comment["id"].as_u64(),
            comment_body: s(&comment["body"]),
            comment_author: s(&comment["user"]["login"]),
            inputs: payload["inputs"].as_object().cloned().unwrap_or_default(),
        }
    }
}

/// The run, as GitHub Actions describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionsContext {
    pub owner: String,
    pub repo: String,
    pub api_url: String,
    pub graphql_url: Option<String>,
    pub server_url: String,
    pub run_id: Option<u64>,
    pub run_attempt: Option<u64>,
    pub sha: Option<String>,
    pub git_ref: Option<String>,
    pub job: Option<String>,
    pub actor: Option<String>,
    pub output_file: Option<PathBuf>,
    pub summary_file: Option<PathBuf>,
    pub event_name: String,
    pub event: Event,
}

impl ActionsContext {
    /// The context of this process, from its environment.
    pub fn from_process_env() -> Result<Option<ActionsContext>, CiError> {
        Self::from_env(&std::env::vars().collect())
    }

    /// `None` outside GitHub Actions (`GITHUB_ACTIONS` is not `true`).
    pub fn from_env(env: &HashMap<String, String>) -> Result<Option<ActionsContext>, CiError> {
        if env.get("GITHUB_ACTIONS").map(String::as_str) != Some("true") {
            return Ok(None);
        }
        let get = |k: &str| env.get(k).filter(|v| !v.is_empty()).cloned();
        let repository = get("GITHUB_REPOSITORY").ok_or(CiError::Missing {
            var: "GITHUB_REPOSITORY",
        })?;
        let (owner, repo) = repository
            .split_once('/')
            .filter(|(o, r)| !o.is_empty() && !r.is_empty() && !r.contains('/'))
            .ok_or_else(|| CiError::BadRepository(repository.clone()))?;
        let event_name = get("GITHUB_EVENT_NAME").unwrap_or_default();
        let kind = match event_name.as_str() {
            "pull_request" => EventKind::PullRequest,
            "pull_request_target" => EventKind::PullRequestTarget,
            "issue_comment" => EventKind::IssueComment,
            "push" => EventKind::Push,
            "schedule" => EventKind::Schedule,
            "workflow_dispatch" => EventKind::WorkflowDispatch,
            _ => EventKind::Other,
        };
        let payload = match get("GITHUB_EVENT_PATH") {
            Some(path) => {
                let path = PathBuf::from(path);
                let text = std::fs::read_to_string(&path).map_err(|e| CiError::Payload {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
                serde_json::from_str(&text).map_err(|e| CiError::Payload {
                    path,
                    message: e.to_string(),
                })?
            }
            None => Value::Null,
        };
        Ok(Some(ActionsContext {
            owner: owner.to_string(),
            repo: repo.to_string(),
            api_url: get("GITHUB_API_URL").unwrap_or_else(|| "https://api.github.com".into()),
            graphql_url: get("GITHUB_GRAPHQL_URL"),
            server_url: get("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".into()),
            run_id: get("GITHUB_RUN_ID").and_then(|v| v.parse().ok()),
            run_attempt: get("GITHUB_RUN_ATTEMPT").and_then(|v| v.parse().ok()),
            sha: get("GITHUB_SHA"),
            git_ref: get("GITHUB_REF"),
            job: get("GITHUB_JOB"),
            actor: get("GITHUB_ACTOR"),
            output_file: get("GITHUB_OUTPUT").map(PathBuf::from),
            summary_file: get("GITHUB_STEP_SUMMARY").map(PathBuf::from),
            event_name,
            event: Event::from_payload(kind, &payload),
        }))
    }

    /// The commit checks and statuses belong on: for pull-request events the
    /// PR head, never the merge commit GitHub puts in `GITHUB_SHA`.
    pub fn head_sha(&self) -> Option<&str> {
        self.event.pr_head_sha.as_deref().or(self.sha.as_deref())
    }

    /// The PR this run is about, for pull-request events and comments on PRs.
    pub fn pull_request(&self) -> Option<u64> {
        match self.event.kind {
            EventKind::PullRequest | EventKind::PullRequestTarget => self.event.number,
            EventKind::IssueComment if self.event.is_pull_request => self.event.number,
            _ => None,
        }
    }

    pub fn run_url(&self) -> Option<String> {
        self.run_id.map(|id| {
            format!(
                "{}/{}/{}/actions/runs/{id}",
                self.server_url.trim_end_matches('/'),
                self.owner,
                self.repo
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn with_payload(event: &str, payload: &str) -> ActionsContext {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("event.json");
        std::fs::write(&path, payload).unwrap();
        ActionsContext::from_env(&env(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", "acme/infra"),
            ("GITHUB_EVENT_NAME", event),
            ("GITHUB_EVENT_PATH", path.to_str().unwrap()),
            ("GITHUB_SHA", "mergecommitsha"),
            ("GITHUB_RUN_ID", "42"),
        ]))
        .unwrap()
        .unwrap()
    }

    #[test]
    fn outside_actions_there_is_no_context() {
        assert!(ActionsContext::from_env(&env(&[])).unwrap().is_none());
    }

    #[test]
    fn pull_request_checks_go_on_the_head_sha_not_the_merge_commit() {
        let ctx = with_payload(
            "pull_request",
            r#"{"number":7,"pull_request":{"number":7,"head":{"sha":"headsha","ref":"feat"},"base":{"ref":"main"},"user":{"login":"alice"}}}"#,
        );
        assert_eq!(ctx.pull_request(), Some(7));
        assert_eq!(ctx.head_sha(), Some("headsha"));
        assert_eq!(ctx.event.pr_author.as_deref(), Some("alice"));
        assert_eq!(
            ctx.run_url().as_deref(),
            Some("https://github.com/acme/infra/actions/runs/42")
        );
    }

    #[test]
    fn comment_on_a_pull_request_names_the_pr_and_the_commenter() {
        let ctx = with_payload(
            "issue_comment",
            r#"{"issue":{"number":9,"pull_request":{"url":"x"},"user":{"login":"alice"}},"comment":{"id":5,"body":"/phasegate approve prod abc","user":{"login":"bob"}}}"#,
        );
        assert_eq!(ctx.pull_request(), Some(9));
        assert_eq!(ctx.event.comment_author.as_deref(), Some("bob"));
        assert_eq!(ctx.event.pr_author.as_deref(), Some("alice"));
    }

    #[test]
    fn comment_on_a_plain_issue_is_not_a_pull_request() {
        let ctx = with_payload(
            "issue_comment",
            r#"{"issue":{"number":9,"user":{"login":"a"}},"comment":{"id":5,"body":"hi","user":{"login":"b"}}}"#,
        );
        assert_eq!(ctx.pull_request(), None);
    }

    #[test]
    fn push_and_schedule_use_github_sha_and_dispatch_inputs_are_read() {
        let push = with_payload("push", r#"{"after":"x"}"#);
        assert_eq!(push.head_sha(), Some("mergecommitsha"));
        assert_eq!(push.pull_request(), None);
        let dispatch = with_payload("workflow_dispatch", r#"{"inputs":{"env":"prod"}}"#);
        assert_eq!(dispatch.event.inputs["env"], "prod");
        let schedule = with_payload("schedule", r#"{"schedule":"0 3 * * *"}"#);
        assert_eq!(schedule.event.kind, EventKind::Schedule);
    }

    #[test]
    fn malformed_repository_is_bad_input() {
        let err = ActionsContext::from_env(&env(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", "nope"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("owner/name"));
    }
}
