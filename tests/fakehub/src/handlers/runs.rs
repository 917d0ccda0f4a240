//! Workflow run status and the pull requests of a commit, answered in the
//! shapes the description requires (full repository objects included).

use std::collections::HashMap;

use serde_json::{json, Value};

use super::{page, Caller, Reply};
use crate::model::{timestamp, State};

/// `None` when `template` is not one of these endpoints.
pub(super) fn endpoint(
    st: &mut State,
    caller: &Caller,
    method: &str,
    template: &str,
    p: &HashMap<String, String>,
    q: &HashMap<String, String>,
) -> Option<Result<Reply, Reply>> {
    let owner = p.get("owner").cloned().unwrap_or_default();
    let repo = p.get("repo").cloned().unwrap_or_default();
    let (o, r) = (owner.as_str(), repo.as_str());
    let reply = match (method, template) {
        ("GET", "/repos/{owner}/{repo}/actions/runs/{run_id}") => {
            caller.need(st, o, r, &[("actions", "read")]).and_then(|_| {
                let id = p
                    .get("run_id")
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0);
                run_json(st, o, r, id)
                    .map(|v| Reply::json(200, v))
                    .ok_or_else(Reply::not_found)
            })
        }
        ("GET", "/repos/{owner}/{repo}/commits/{commit_sha}/pulls") => caller
            .need(st, o, r, &[("pull_requests", "read")])
            .map(|_| {
                let sha = p.get("commit_sha").cloned().unwrap_or_default();
                let all = commit_pulls(st, o, r, &sha);
                let (items, headers) =
                    page(st, &format!("/repos/{o}/{r}/commits/{sha}/pulls"), q, &all);
                Reply(200, Some(Value::Array(items)), headers)
            }),
        ("GET", "/repos/{owner}/{repo}/pulls") => caller
            .need(st, o, r, &[("pull_requests", "read")])
            .map(|_| {
                let want = q.get("state").map(String::as_str).unwrap_or("open");
                let all: Vec<Value> = st
                    .issues
                    .iter()
                    .filter(|i| i.owner == o && i.repo == r && i.pull_head.is_some())
                    .filter_map(|i| {
                        let merge = st
                            .history
                            .merges
                            .get(&(o.to_owned(), r.to_owned(), i.number));
                        let open = merge.is_none() && i.state == "open";
                        let keep = match want {
                            "all" => true,
                            "closed" => !open,
                            _ => open,
                        };
                        keep.then(|| pull_json(st, i, merge))
                    })
                    .collect();
                let (items, headers) = page(st, &format!("/repos/{o}/{r}/pulls"), q, &all);
                Reply(200, Some(Value::Array(items)), headers)
            }),
        // Re-running a run: GitHub queues it again; fakehub keeps the request
        // (tests read it from the request log).
        ("POST", "/repos/{owner}/{repo}/actions/runs/{run_id}/rerun") => caller
            .need(st, o, r, &[("actions", "write")])
            .and_then(|_| {
                let id = p
                    .get("run_id")
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0);
                run_json(st, o, r, id)
                    .map(|_| Reply::json(201, json!({})))
                    .ok_or_else(Reply::not_found)
            }),
        _ => return None,
    };
    Some(reply)
}

/// A repository as the `repository` schema requires it.
pub(crate) fn repo_json(st: &State, o: &str, r: &str) -> Value {
    let id = st
        .repos
        .get(&(o.to_owned(), r.to_owned()))
        .copied()
        .unwrap_or(0);
    let api = format!("{}/repos/{o}/{r}", st.base);
    let mut v = json!({"id": id, "node_id": format!("R_{id}"), "name": r, "full_name": format!("{o}/{r}"),
        "owner": st.user_json(o), "private": true, "fork": false, "description": null,
        "html_url": format!("https://github.example/{o}/{r}"), "url": api,
        "clone_url": format!("https://github.example/{o}/{r}.git"), "git_url": format!("git://github.example/{o}/{r}.git"),
        "ssh_url": format!("git@github.example:{o}/{r}.git"), "svn_url": format!("https://github.example/{o}/{r}"),
        "default_branch": "main", "forks": 0, "forks_count": 0, "has_downloads": true, "has_issues": true,
        "has_projects": false, "has_wiki": false, "has_pages": false, "homepage": null, "language": "HCL",
        "archived": false, "disabled": false, "mirror_url": null, "open_issues": 0, "open_issues_count": 0,
        "license": null, "pushed_at": timestamp(0), "size": 1, "stargazers_count": 0, "watchers": 0,
        "watchers_count": 0, "created_at": timestamp(0), "updated_at": timestamp(0)});
    for (k, suffix) in [
        ("archive_url", "/{archive_format}{/ref}"),
        ("assignees_url", "/assignees{/user}"),
        ("blobs_url", "/git/blobs{/sha}"),
        ("branches_url", "/branches{/branch}"),
        ("collaborators_url", "/collaborators{/collaborator}"),
        ("comments_url", "/comments{/number}"),
        ("commits_url", "/commits{/sha}"),
        ("compare_url", "/compare/{base}...{head}"),
        ("contents_url", "/contents/{+path}"),
        ("contributors_url", "/contributors"),
        ("deployments_url", "/deployments"),
        ("downloads_url", "/downloads"),
        ("events_url", "/events"),
        ("forks_url", "/forks"),
        ("git_commits_url", "/git/commits{/sha}"),
        ("git_refs_url", "/git/refs{/sha}"),
        ("git_tags_url", "/git/tags{/sha}"),
        ("hooks_url", "/hooks"),
        ("issue_comment_url", "/issues/comments{/number}"),
        ("issue_events_url", "/issues/events{/number}"),
        ("issues_url", "/issues{/number}"),
        ("keys_url", "/keys{/key_id}"),
        ("labels_url", "/labels{/name}"),
        ("languages_url", "/languages"),
        ("merges_url", "/merges"),
        ("milestones_url", "/milestones{/number}"),
        (
            "notifications_url",
            "/notifications{?since,all,participating}",
        ),
        ("pulls_url", "/pulls{/number}"),
        ("releases_url", "/releases{/id}"),
        ("stargazers_url", "/stargazers"),
        ("statuses_url", "/statuses/{sha}"),
        ("subscribers_url", "/subscribers"),
        ("subscription_url", "/subscription"),
        ("tags_url", "/tags"),
        ("teams_url", "/teams"),
        ("trees_url", "/git/trees{/sha}"),
    ] {
        v[k] = json!(format!("{api}{suffix}"));
    }
    v
}

fn run_json(st: &State, o: &str, r: &str, id: u64) -> Option<Value> {
    let run = st.history.runs.get(&(o.to_owned(), r.to_owned(), id))?;
    let api = format!("{}/repos/{o}/{r}/actions/runs/{id}", st.base);
    let repo = repo_json(st, o, r);
    let t = timestamp(run.created);
    Some(
        json!({"id": id, "node_id": format!("WFR_{id}"), "name": "phasegate", "head_branch": "main",
        "head_sha": "0".repeat(40), "path": ".github/workflows/phasegate.yml", "run_number": id % 1000,
        "run_attempt": 1, "display_title": "phasegate", "event": "push", "status": run.status,
        "conclusion": run.conclusion, "workflow_id": 1, "url": api,
        "html_url": format!("https://github.example/{o}/{r}/actions/runs/{id}"),
        "created_at": t, "updated_at": t, "run_started_at": t, "pull_requests": [],
        "head_commit": null, "jobs_url": format!("{api}/jobs"), "logs_url": format!("{api}/logs"),
        "check_suite_url": format!("{}/repos/{o}/{r}/check-suites/{id}", st.base),
        "cancel_url": format!("{api}/cancel"), "rerun_url": format!("{api}/rerun"),
        "artifacts_url": format!("{api}/artifacts"),
        "workflow_url": format!("{}/repos/{o}/{r}/actions/workflows/1", st.base),
        "repository": repo.clone(), "head_repository": repo}),
    )
}

/// The pull requests a commit belongs to: open PRs whose head it is, and
/// merged PRs whose merge commit it is.
fn commit_pulls(st: &State, o: &str, r: &str, sha: &str) -> Vec<Value> {
    st.issues
        .iter()
        .filter(|i| i.owner == o && i.repo == r)
        .filter_map(|i| {
            let head = i.pull_head.as_deref()?;
            let merge = st
                .history
                .merges
                .get(&(o.to_owned(), r.to_owned(), i.number));
            let hit = head == sha || merge.is_some_and(|m| m.merge_commit_sha == sha);
            hit.then(|| pull_json(st, i, merge))
        })
        .collect()
}

fn pull_json(st: &State, i: &crate::model::Issue, merge: Option<&crate::history::Merge>) -> Value {
    let (o, r, n) = (i.owner.as_str(), i.repo.as_str(), i.number);
    let api = format!("{}/repos/{o}/{r}", st.base);
    let html = format!("https://github.example/{o}/{r}/pull/{n}");
    let repo = repo_json(st, o, r);
    let head = i.pull_head.clone().unwrap_or_default();
    let link = |h: String| json!({"href": h});
    json!({"url": format!("{api}/pulls/{n}"), "id": n + 900_000, "node_id": format!("PR_{n}"),
        "html_url": html, "diff_url": format!("{html}.diff"), "patch_url": format!("{html}.patch"),
        "issue_url": format!("{api}/issues/{n}"), "commits_url": format!("{api}/pulls/{n}/commits"),
        "review_comments_url": format!("{api}/pulls/{n}/comments"),
        "review_comment_url": format!("{api}/pulls/comments{{/number}}"),
        "comments_url": format!("{api}/issues/{n}/comments"), "statuses_url": format!("{api}/statuses/{head}"),
        "number": n, "state": if merge.is_some() { "closed" } else { i.state.as_str() }, "locked": false,
        "title": i.title, "user": st.user_json(&i.author), "body": i.body, "labels": [], "milestone": null,
        "created_at": timestamp(i.created), "updated_at": timestamp(i.created),
        "closed_at": merge.map(|m| timestamp(m.at)), "merged_at": merge.map(|m| timestamp(m.at)),
        "merge_commit_sha": merge.map(|m| m.merge_commit_sha.clone()),
        "assignee": null, "assignees": [], "requested_reviewers": [], "requested_teams": [],
        "head": {"label": format!("{o}:pr-{n}"), "ref": format!("pr-{n}"), "sha": head,
            "user": st.user_json(&i.author), "repo": repo.clone()},
        "base": {"label": format!("{o}:{}", merge.map_or("main", |m| m.base.as_str())),
            "ref": merge.map_or("main", |m| m.base.as_str()), "sha": "0".repeat(40),
            "user": st.user_json(o), "repo": repo},
        "_links": {"self": link(format!("{api}/pulls/{n}")), "html": link(html.clone()),
            "issue": link(format!("{api}/issues/{n}")), "comments": link(format!("{api}/issues/{n}/comments")),
            "review_comments": link(format!("{api}/pulls/{n}/comments")),
            "review_comment": link(format!("{api}/pulls/comments{{/number}}")),
            "commits": link(format!("{api}/pulls/{n}/commits")), "statuses": link(format!("{api}/statuses/{head}"))},
        "author_association": "MEMBER", "auto_merge": null, "draft": false})
}

/// A pull request as `GET /pulls/{n}` answers it: the listing's fields plus
/// the merge and size ones the full `pull-request` schema requires.
pub(crate) fn full_pull_json(st: &State, i: &crate::model::Issue) -> Value {
    let merge = st
        .history
        .merges
        .get(&(i.owner.clone(), i.repo.clone(), i.number));
    let mut v = pull_json(st, i, merge);
    let merged_by = match merge {
        Some(_) => st.user_json(&i.owner),
        None => Value::Null,
    };
    for (k, val) in [
        ("merged", json!(merge.is_some())),
        ("mergeable", Value::Null),
        ("rebaseable", Value::Null),
        ("mergeable_state", json!("unknown")),
        ("merged_by", merged_by),
        ("comments", json!(0)),
        ("review_comments", json!(0)),
        ("maintainer_can_modify", json!(false)),
        ("commits", json!(1)),
        ("additions", json!(0)),
        ("deletions", json!(0)),
        ("changed_files", json!(0)),
    ] {
        v[k] = val;
    }
    v
}
