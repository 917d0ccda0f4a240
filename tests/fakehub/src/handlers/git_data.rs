//! The Git Data endpoints (blobs, trees, commits, matching refs) with the
//! answers GitHub gives when an object is missing or malformed. Refs
//! themselves (get, create, non-forced update) are answered in the parent.

use std::collections::HashMap;

use base64::Engine;
use serde_json::{json, Value};

use super::{ref_json, Caller, Reply};
use crate::git::{Commit, TreeEntry};
use crate::model::{timestamp, State};

const READ: &[(&str, &str)] = &[("contents", "read")];
const WRITE: &[(&str, &str)] = &[("contents", "write")];

/// `None` when `template` is not a Git Data object endpoint.
pub(super) fn endpoint(
    st: &mut State,
    caller: &Caller,
    method: &str,
    template: &str,
    p: &HashMap<String, String>,
    q: &HashMap<String, String>,
    body: &Value,
) -> Option<Result<Reply, Reply>> {
    let owner = p.get("owner").cloned().unwrap_or_default();
    let repo = p.get("repo").cloned().unwrap_or_default();
    let (o, r) = (owner.as_str(), repo.as_str());
    let sha = |k: &str| p.get(k).cloned().unwrap_or_default();
    let reply = match (method, template) {
        ("POST", "/repos/{owner}/{repo}/git/blobs") => caller
            .need(st, o, r, WRITE)
            .and_then(|_| create_blob(st, o, r, body)),
        ("GET", "/repos/{owner}/{repo}/git/blobs/{file_sha}") => caller
            .need(st, o, r, READ)
            .and_then(|_| get_blob(st, o, r, &sha("file_sha"))),
        ("GET", "/repos/{owner}/{repo}/contents/{path}") => caller
            .need(st, o, r, READ)
            .and_then(|_| file_at(st, o, r, &sha("path"), q.get("ref").map(String::as_str))),
        ("POST", "/repos/{owner}/{repo}/git/trees") => caller
            .need(st, o, r, WRITE)
            .and_then(|_| create_tree(st, o, r, body)),
        ("GET", "/repos/{owner}/{repo}/git/trees/{tree_sha}") => {
            caller.need(st, o, r, READ).and_then(|_| {
                let sha = sha("tree_sha");
                st.git
                    .tree(o, r, &sha)
                    .ok_or_else(Reply::not_found)
                    .map(|_| Reply::json(200, tree_json(st, o, r, &sha)))
            })
        }
        ("POST", "/repos/{owner}/{repo}/git/commits") => caller
            .need(st, o, r, WRITE)
            .and_then(|_| create_commit(st, caller, o, r, body)),
        ("GET", "/repos/{owner}/{repo}/git/commits/{commit_sha}") => {
            caller.need(st, o, r, READ).and_then(|_| {
                commit_json(st, o, r, &sha("commit_sha"))
                    .map(|c| Reply::json(200, c))
                    .ok_or_else(Reply::not_found)
            })
        }
        ("GET", "/repos/{owner}/{repo}/git/matching-refs/{ref}") => {
            caller.need(st, o, r, READ).map(|_| {
                let prefix = sha("ref");
                let refs: Vec<Value> = st
                    .refs
                    .iter()
                    .filter(|((ro, rr, name), _)| ro == o && rr == r && name.starts_with(&prefix))
                    .map(|((_, _, name), sha)| ref_json(st, o, r, name, sha))
                    .collect();
                Reply::json(200, Value::Array(refs))
            })
        }
        _ => return None,
    };
    Some(reply)
}

/// GitHub's answer to a tree or commit naming an object it does not have.
fn bad_object() -> Reply {
    Reply::unprocessable("GitRPC::BadObjectState")
}

fn create_blob(st: &mut State, o: &str, r: &str, body: &Value) -> Result<Reply, Reply> {
    let content = body["content"].as_str().unwrap_or_default();
    let bytes = match body["encoding"].as_str().unwrap_or("utf-8") {
        "utf-8" | "utf8" => content.as_bytes().to_vec(),
        "base64" => base64::engine::general_purpose::STANDARD
            .decode(content.replace(['\n', '\r'], ""))
            .map_err(|_| Reply::unprocessable("Invalid Base64 encoding"))?,
        other => {
            return Err(Reply::unprocessable(&format!(
                "encoding must be one of utf-8, base64 (got {other})"
            )))
        }
    };
    let sha = st.git.put_blob(o, r, bytes);
    Ok(Reply::json(
        201,
        json!({"sha": sha, "url": format!("{}/repos/{o}/{r}/git/blobs/{sha}", st.base)}),
    ))
}

fn get_blob(st: &State, o: &str, r: &str, sha: &str) -> Result<Reply, Reply> {
    let bytes = st.git.blob(o, r, sha).ok_or_else(Reply::not_found)?;
    // GitHub wraps the base64 text at 60 characters.
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    let wrapped: Vec<String> = encoded
        .as_bytes()
        .chunks(60)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    Ok(Reply::json(
        200,
        json!({"sha": sha, "node_id": format!("B_{sha}"), "size": bytes.len(),
            "url": format!("{}/repos/{o}/{r}/git/blobs/{sha}", st.base),
            "content": wrapped.join("\n") + "\n", "encoding": "base64"}),
    ))
}

/// A file's contents at a commit, as `GET …/contents/{path}?ref=` answers
/// for a file: inline in base64 up to 1 MB, above it without contents
/// (`encoding: none`). fakehub keeps no branches' files, so `ref` must be a
/// commit SHA and `path` a name in that commit's (flat) tree.
fn file_at(st: &mut State, o: &str, r: &str, path: &str, at: Option<&str>) -> Result<Reply, Reply> {
    let Some(commit) = at.and_then(|c| st.git.commit(o, r, c)) else {
        if at.is_none_or(|c| c.len() != 40) {
            st.violations.push(format!(
                "GET /repos/{{owner}}/{{repo}}/contents/{{path}}: fakehub serves files only at a commit SHA (`ref`), got {at:?}"
            ));
        }
        return Err(Reply::not_found());
    };
    let entry = st
        .git
        .tree(o, r, &commit.tree)
        .and_then(|t| t.iter().find(|e| e.path == path && e.kind == "blob"))
        .cloned()
        .ok_or_else(Reply::not_found)?;
    let bytes = st.git.blob(o, r, &entry.sha).ok_or_else(Reply::not_found)?;
    let (content, encoding) = match bytes.len() {
        n if n <= 1_048_576 => (
            base64::engine::general_purpose::STANDARD.encode(bytes),
            "base64",
        ),
        _ => (String::new(), "none"),
    };
    let base = &st.base;
    let sha = &entry.sha;
    let at = at.unwrap_or_default();
    let url = format!("{base}/repos/{o}/{r}/contents/{path}?ref={at}");
    let git = format!("{base}/repos/{o}/{r}/git/blobs/{sha}");
    Ok(Reply::json(
        200,
        json!({"type": "file", "encoding": encoding, "size": bytes.len(), "name": path,
            "path": path, "content": content, "sha": sha, "url": url, "git_url": git,
            "html_url": null, "download_url": null,
            "_links": {"git": git, "html": null, "self": url}}),
    ))
}

fn create_tree(st: &mut State, o: &str, r: &str, body: &Value) -> Result<Reply, Reply> {
    let mut entries: Vec<TreeEntry> = match body["base_tree"].as_str() {
        Some(base) => st.git.tree(o, r, base).cloned().ok_or_else(bad_object)?,
        None => Vec::new(),
    };
    for item in body["tree"].as_array().into_iter().flatten() {
        let path = item["path"].as_str().unwrap_or_default().to_owned();
        if path.contains('/') || path.is_empty() {
            st.violations.push(format!(
                "POST /repos/{{owner}}/{{repo}}/git/trees: fakehub keeps trees flat and does not implement the nested path `{path}`"
            ));
            return Err(Reply::unprocessable("Invalid tree info"));
        }
        entries.retain(|e| e.path != path);
        let kind = item["type"].as_str().unwrap_or("blob").to_owned();
        let sha = match (item.get("content").and_then(Value::as_str), &item["sha"]) {
            (Some(text), _) => st.git.put_blob(o, r, text.as_bytes().to_vec()),
            // `sha: null` deletes the entry from the base tree.
            (None, Value::Null) => continue,
            (None, v) => v.as_str().unwrap_or_default().to_owned(),
        };
        let exists = match kind.as_str() {
            "blob" => st.git.blob(o, r, &sha).is_some(),
            "tree" => st.git.tree(o, r, &sha).is_some(),
            _ => true,
        };
        if !exists {
            return Err(bad_object());
        }
        entries.push(TreeEntry {
            path,
            mode: item["mode"].as_str().unwrap_or("100644").to_owned(),
            kind,
            sha,
        });
    }
    let sha = st.git.put_tree(o, r, entries);
    Ok(Reply::json(201, tree_json(st, o, r, &sha)))
}

fn tree_json(st: &State, o: &str, r: &str, sha: &str) -> Value {
    let entries: Vec<Value> = st
        .git
        .tree(o, r, sha)
        .into_iter()
        .flatten()
        .map(|e| {
            let plural = if e.kind == "tree" { "trees" } else { "blobs" };
            let mut v = json!({"path": e.path, "mode": e.mode, "type": e.kind, "sha": e.sha,
                "url": format!("{}/repos/{o}/{r}/git/{plural}/{}", st.base, e.sha)});
            if let Some(b) = st.git.blob(o, r, &e.sha) {
                v["size"] = json!(b.len());
            }
            v
        })
        .collect();
    json!({"sha": sha, "url": format!("{}/repos/{o}/{r}/git/trees/{sha}", st.base),
        "truncated": false, "tree": entries})
}

fn create_commit(
    st: &mut State,
    caller: &Caller,
    o: &str,
    r: &str,
    body: &Value,
) -> Result<Reply, Reply> {
    let tree = body["tree"].as_str().unwrap_or_default().to_owned();
    if st.git.tree(o, r, &tree).is_none() {
        return Err(Reply::unprocessable("Tree SHA does not exist"));
    }
    let parents: Vec<String> = body["parents"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p.as_str().map(str::to_owned))
        .collect();
    for parent in &parents {
        if !st
            .commits
            .contains_key(&(o.into(), r.into(), parent.clone()))
        {
            return Err(Reply::unprocessable(
                "Parent SHA does not exist or is not a commit object",
            ));
        }
    }
    let author = body["author"]["name"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| caller.login.clone());
    let time = st.tick();
    let sha = st.git.put_commit(
        o,
        r,
        Commit {
            tree,
            parents: parents.clone(),
            message: body["message"].as_str().unwrap_or_default().to_owned(),
            author,
            time,
        },
    );
    // Ancestry for fast-forward checks covers created and seeded commits alike.
    let refs: Vec<&str> = parents.iter().map(String::as_str).collect();
    st.add_commit(o, r, &sha, &refs);
    Ok(Reply::json(
        201,
        commit_json(st, o, r, &sha).expect("just stored"),
    ))
}

fn commit_json(st: &State, o: &str, r: &str, sha: &str) -> Option<Value> {
    let c = st.git.commit(o, r, sha)?;
    let id = st.users.get(&c.author).copied().unwrap_or(0);
    let who = json!({"name": c.author, "email": format!("{id}+{}@users.noreply.github.example", c.author),
        "date": timestamp(c.time)});
    let api = format!("{}/repos/{o}/{r}/git/commits", st.base);
    let parents: Vec<Value> = c
        .parents
        .iter()
        .map(|p| {
            json!({"sha": p, "url": format!("{api}/{p}"),
            "html_url": format!("https://github.example/{o}/{r}/commit/{p}")})
        })
        .collect();
    Some(
        json!({"sha": sha, "node_id": format!("C_{sha}"), "url": format!("{api}/{sha}"),
        "html_url": format!("https://github.example/{o}/{r}/commit/{sha}"),
        "author": who, "committer": who, "message": c.message,
        "tree": {"sha": c.tree, "url": format!("{}/repos/{o}/{r}/git/trees/{}", st.base, c.tree)},
        "parents": parents,
        "verification": {"verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null}}),
    )
}
