//! Repository labels: read one by name, create one. Issue creation also
//! creates the labels it names, as GitHub does for a writer.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::{Caller, Reply};
use crate::model::State;

/// `None` when `template` is not one of these endpoints.
pub(super) fn endpoint(
    st: &mut State,
    caller: &Caller,
    method: &str,
    template: &str,
    p: &HashMap<String, String>,
    body: &Value,
) -> Option<Result<Reply, Reply>> {
    let owner = p.get("owner").cloned().unwrap_or_default();
    let repo = p.get("repo").cloned().unwrap_or_default();
    let (o, r) = (owner.as_str(), repo.as_str());
    let reply = match (method, template) {
        ("GET", "/repos/{owner}/{repo}/labels/{name}") => {
            caller.need(st, o, r, &[("issues", "read")]).and_then(|_| {
                let name = p.get("name").cloned().unwrap_or_default();
                label_json(st, o, r, &name)
                    .map(|v| Reply::json(200, v))
                    .ok_or_else(Reply::not_found)
            })
        }
        ("POST", "/repos/{owner}/{repo}/labels") => {
            caller.need(st, o, r, &[("issues", "write")]).and_then(|_| {
                let name = body["name"].as_str().unwrap_or_default().to_owned();
                if label_json(st, o, r, &name).is_some() {
                    return Err(Reply::json(
                        422,
                        json!({"message": "Validation Failed", "errors": [{"resource": "Label",
                            "code": "already_exists", "field": "name"}],
                            "documentation_url": "https://docs.github.com/rest", "status": "422"}),
                    ));
                }
                ensure(st, o, r, &name);
                Ok(Reply::json(
                    201,
                    label_json(st, o, r, &name).expect("just created"),
                ))
            })
        }
        _ => return None,
    };
    Some(reply)
}

/// Creates the label when the repository lacks it (names are case-insensitive).
pub(crate) fn ensure(st: &mut State, owner: &str, repo: &str, name: &str) {
    let key = (owner.to_owned(), repo.to_owned(), name.to_lowercase());
    if !st.labels.contains_key(&key) {
        let id = st.id();
        st.labels.insert(key, (id, name.to_owned()));
    }
}

fn label_json(st: &State, owner: &str, repo: &str, name: &str) -> Option<Value> {
    let (id, name) = st
        .labels
        .get(&(owner.to_owned(), repo.to_owned(), name.to_lowercase()))?;
    Some(json!({
        "id": id, "node_id": format!("LA_{id}"),
        "url": format!("{}/repos/{owner}/{repo}/labels/{name}", st.base),
        "name": name, "description": null, "color": "d93f0b", "default": false,
    }))
}
