//! What each phasegate command needs of the job's `GITHUB_TOKEN` in GitHub
//! Actions: one table. Every generated job's `permissions:` is derived from
//! it, `workflows check` and `doctor` compare the jobs on disk against it,
//! and the README's table is generated from it.

use std::collections::BTreeMap;

use serde_json::Value;

/// A token scope's level; `Write` includes `Read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Read,
    Write,
}

impl Level {
    pub fn word(self) -> &'static str {
        match self {
            Level::Read => "read",
            Level::Write => "write",
        }
    }

    fn parse(word: &str) -> Option<Level> {
        match word {
            "read" => Some(Level::Read),
            "write" => Some(Level::Write),
            _ => None,
        }
    }
}

/// One scope a command needs, and what for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    pub scope: &'static str,
    pub level: Level,
    pub why: &'static str,
}

const fn need(scope: &'static str, level: Level, why: &'static str) -> Need {
    Need { scope, level, why }
}

const CONTENTS_READ: Need = need("contents", Level::Read, "check out and diff the change");
const JOURNAL: Need = need(
    "contents",
    Level::Write,
    "append to the journal and take locks under refs/phasegate/",
);
const COMMENT: Need = need(
    "pull-requests",
    Level::Write,
    "update the PR comment and find the PR a push merged",
);
const CHECKS: Need = need("checks", Level::Write, "create and update its check run");
const RUNS: Need = need(
    "actions",
    Level::Read,
    "read workflow runs: a lock whose run completed is stale",
);
const APPROVALS: Need = need(
    "actions",
    Level::Read,
    "read the run's environment approvals and the environment's reviewers",
);
const DEPLOYMENTS: Need = need(
    "deployments",
    Level::Read,
    "read the environment's deployment reviews",
);
const RERUN: Need = need(
    "actions",
    Level::Write,
    "re-run the plan of another open PR whose plan this apply made stale",
);
const ISSUES: Need = need(
    "issues",
    Level::Write,
    "open, update and close one drift issue per project and environment",
);
const FOLLOW_UP: Need = need(
    "issues",
    Level::Write,
    "open, assign, update and close the follow-up issue of a failed apply",
);

/// The table: command → the scopes it needs in Actions. A scope that two
/// rows of one command name is needed at the higher level.
pub const TABLE: &[(&str, &[Need])] = &[
    ("matrix", &[CONTENTS_READ]),
    ("plan", &[JOURNAL, COMMENT, CHECKS, RUNS]),
    (
        "apply",
        &[
            JOURNAL,
            COMMENT,
            CHECKS,
            RUNS,
            APPROVALS,
            DEPLOYMENTS,
            RERUN,
            FOLLOW_UP,
        ],
    ),
    (
        "steps",
        &[JOURNAL, COMMENT, CHECKS, RUNS, APPROVALS, DEPLOYMENTS],
    ),
    ("approvals check", &[CONTENTS_READ, APPROVALS, DEPLOYMENTS]),
    ("verify", &[JOURNAL, COMMENT, CHECKS, RUNS]),
    ("review", &[JOURNAL, COMMENT, CHECKS, RUNS]),
    (
        "rollback",
        &[
            JOURNAL,
            COMMENT,
            CHECKS,
            RUNS,
            APPROVALS,
            DEPLOYMENTS,
            FOLLOW_UP,
        ],
    ),
    ("approve", &[JOURNAL, COMMENT]),
    ("drift", &[JOURNAL, ISSUES, RUNS]),
];

/// The scopes `commands` need together, each at its highest level, by scope
/// name. Unknown commands need nothing of the token.
pub fn needed<'a>(commands: impl IntoIterator<Item = &'a str>) -> BTreeMap<&'static str, Level> {
    let mut out: BTreeMap<&'static str, Level> = BTreeMap::new();
    for command in commands {
        let Some((_, needs)) = TABLE.iter().find(|(c, _)| *c == command) else {
            continue;
        };
        for n in *needs {
            let level = out.entry(n.scope).or_insert(n.level);
            *level = (*level).max(n.level);
        }
    }
    out
}

/// The `permissions:` block (without its key) for a job running `commands`,
/// indented by `indent` spaces; `{}` when nothing is needed.
pub fn yaml_block<'a>(commands: impl IntoIterator<Item = &'a str>, indent: usize) -> String {
    let needed = needed(commands);
    let pad = " ".repeat(indent);
    needed
        .iter()
        .map(|(scope, level)| format!("{pad}{scope}: {}", level.word()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What a job's declared `permissions:` (falling back to the workflow's)
/// lacks for `commands`: `(scope, level needed, level granted)`. A job with
/// no declaration at either level runs with the repository's default token
/// permissions, which the file cannot tell: nothing is reported.
pub fn missing(
    declared: Option<&Value>,
    needed: &BTreeMap<&'static str, Level>,
) -> Vec<(&'static str, Level, Option<Level>)> {
    let granted = |scope: &str| -> Option<Level> {
        match declared? {
            Value::String(s) if s == "write-all" => Some(Level::Write),
            Value::String(s) if s == "read-all" => Some(Level::Read),
            Value::Object(m) => m.get(scope).and_then(Value::as_str).and_then(Level::parse),
            _ => None,
        }
    };
    if declared.is_none() {
        return Vec::new();
    }
    needed
        .iter()
        .filter_map(|(scope, level)| {
            let have = granted(scope);
            (have < Some(*level)).then_some((*scope, *level, have))
        })
        .collect()
}

/// The table as markdown, one row per command: what the README shows.
pub fn markdown_table() -> String {
    let mut out = String::from("| command | token permissions in Actions | why |\n|---|---|---|\n");
    for (command, _) in TABLE {
        let scopes = needed([*command])
            .iter()
            .map(|(s, l)| format!("`{s}: {}`", l.word()))
            .collect::<Vec<_>>()
            .join(", ");
        let (_, needs) = TABLE.iter().find(|(c, _)| c == command).expect("listed");
        let why = needs
            .iter()
            .map(|n| format!("{} ({})", n.why, n.scope))
            .collect::<Vec<_>>()
            .join("; ");
        out.push_str(&format!("| `{command}` | {scopes} | {why} |\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_scope_needed_twice_is_needed_at_the_higher_level() {
        let n = needed(["matrix", "plan"]);
        assert_eq!(n["contents"], Level::Write);
        assert_eq!(n["actions"], Level::Read);
    }

    #[test]
    fn a_read_grant_does_not_satisfy_a_write_need() {
        let n = needed(["plan"]);
        let declared = json!({"contents": "read", "pull-requests": "write", "checks": "write", "actions": "read"});
        assert_eq!(
            missing(Some(&declared), &n),
            [("contents", Level::Write, Some(Level::Read))]
        );
        assert!(missing(Some(&json!("write-all")), &n).is_empty());
        assert_eq!(missing(Some(&json!({})), &n).len(), 4);
        assert!(missing(None, &n).is_empty());
    }

    #[test]
    fn the_yaml_block_lists_each_scope_once_sorted() {
        assert_eq!(
            yaml_block(["drift"], 6),
            "      actions: read\n      contents: write\n      issues: write"
        );
    }
}
