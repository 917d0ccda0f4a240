//! `phasegate journal verify`: the state of a change's journal (events, the
//! head of its hash chain, the first broken link, a torn last line) and, in
//! the `github` store, its ref's history against the witness. Reads only;
//! exit 0 intact (a torn last line included: it is set aside), 1 broken.

use serde_json::json;

use crate::ci::ActionsContext;
use crate::cli::{GlobalArgs, JournalAction, JournalArgs, JournalVerifyArgs, ResultFormat};
use crate::error::{ExitCode, Result};
use crate::journal::chain::{self, Torn};
use crate::journal::{journal_key, short_digest, EventKind, JournalError};
use crate::runner::output::{print_json, print_stdout};
use crate::runner::session::Runner;
use crate::runner::workspace::Workspace;
use crate::store::any::AnyStore;
use crate::store::github::History;
use crate::store::Store;

/// How many commits `doctor` reads back.
const DOCTOR_DEPTH: usize = 100;

pub fn run(global: &GlobalArgs, args: JournalArgs) -> Result<ExitCode> {
    match args.action {
        JournalAction::Verify(a) => verify(global, a),
    }
}

fn verify(global: &GlobalArgs, args: JournalVerifyArgs) -> Result<ExitCode> {
    let ws = Workspace::load(global, true)?;
    let report = check_change(&ws, None, args.change_id, args.depth)?;
    match args.format {
        ResultFormat::Json => print_json(&report.json()),
        ResultFormat::Text => print_stdout(&report.text()),
    }
    Ok(if report.intact() {
        ExitCode::Success
    } else {
        ExitCode::Refused
    })
}

/// The journal of `change` (default: the current change, as the other
/// commands compute it) in the store the workspace chooses.
pub(super) fn check_change(
    ws: &Workspace,
    token: Option<String>,
    change: Option<String>,
    depth: usize,
) -> Result<Report> {
    let actions = ActionsContext::from_process_env()?;
    let runner = Runner::open(ws, actions.as_ref(), token)?;
    let change = change.unwrap_or_else(|| runner.writer(ws, actions.as_ref()).change);
    runner.rt.block_on(check(&runner.store, &change, depth))
}

/// What `doctor` shows: the current change's journal, checked.
pub fn doctor_check(ws: &Workspace, token: Option<String>) -> Result<Report> {
    check_change(ws, token, None, DOCTOR_DEPTH)
}

/// One journal, checked.
#[derive(Debug)]
pub struct Report {
    change: String,
    key: String,
    store: String,
    exists: bool,
    events: usize,
    head: String,
    config_digest: Option<String>,
    broken: Option<(Option<usize>, String)>,
    torn: Option<Torn>,
    history: Option<History>,
}

async fn check(store: &AnyStore, change: &str, depth: usize) -> Result<Report> {
    let key = journal_key(change);
    let (where_, history, bytes) = match store {
        AnyStore::Local(s) => {
            let bytes = s.read(&key).await?.map(|o| o.bytes);
            (format!("local store {}", s.root().display()), None, bytes)
        }
        AnyStore::Github(s) => {
            let h = s.history(&key, depth).await?;
            let bytes = h.versions.first().map(|(_, b)| b.clone());
            (format!("github store, refs/{}", h.ref_name), Some(h), bytes)
        }
    };
    let found = chain::inspect(bytes.as_deref().unwrap_or_default(), change);
    let config_digest = found.journal.events.first().and_then(|e| match &e.kind {
        EventKind::JournalOpened { config_digest } => config_digest.clone(),
        _ => None,
    });
    let broken = found.broken.map(|e| {
        let line = match &e {
            JournalError::BadLine { line, .. } | JournalError::MaskedLink { line } => Some(*line),
            JournalError::Broken(b) => Some(b.line),
        };
        (line, e.to_string())
    });
    Ok(Report {
        change: change.to_string(),
        key,
        store: where_,
        exists: bytes.is_some(),
        events: found.journal.events.len(),
        head: found.journal.head,
        config_digest,
        broken,
        torn: found.journal.torn,
        history,
    })
}

impl Report {
    pub fn intact(&self) -> bool {
        self.broken.is_none()
            && self
                .history
                .as_ref()
                .is_none_or(|h| h.rewrite.is_none() && h.witness_problem.is_none())
    }

    /// One line, for `doctor`.
    pub fn summary(&self) -> String {
        let change = &self.change;
        let mut problems: Vec<String> = self.broken.iter().map(|(_, m)| m.clone()).collect();
        if let Some(h) = &self.history {
            problems.extend(h.rewrite.clone());
            problems.extend(h.witness_problem.clone());
        }
        if !problems.is_empty() {
            return format!("journal of change {change}: {}", problems.join("; "));
        }
        if !self.exists {
            return format!("journal of change {change}: none yet");
        }
        let torn = match &self.torn {
            Some(t) => format!(", torn last line {} set aside", t.line),
            None => String::new(),
        };
        format!(
            "journal of change {change}: {} events, chain intact to head {}{torn}",
            self.events,
            short_digest(&self.head)
        )
    }

    fn text(&self) -> String {
        let mut out = vec![format!(
            "journal of change {}: {} in the {}",
            self.change, self.key, self.store
        )];
        if !self.exists && self.intact() {
            out.push("  no journal yet".into());
            out.push("journal intact".into());
            return out.join("\n");
        }
        let before = match self.broken {
            Some(_) => " before the break",
            None => "",
        };
        out.push(format!(
            "  events:    {}{before} (head sha256 {})",
            self.events, self.head
        ));
        if let Some(d) = &self.config_digest {
            out.push(format!("  opened:    under config sha256 {d}"));
        }
        out.push(match &self.broken {
            None => "  chain:     intact, every line names the one before it".into(),
            Some((_, message)) => format!("  chain:     BROKEN: {message}"),
        });
        out.push(match &self.torn {
            None => "  torn line: none".into(),
            Some(t) => format!(
                "  torn line: line {}, {} bytes without a newline, not JSON (sha256 {}): set aside; the next append journals it",
                t.line, t.length, t.sha256
            ),
        });
        match &self.history {
            None => out.push(
                "  history:   none in a local store; a dropped last line is not detectable here"
                    .into(),
            ),
            Some(h) => out.extend(history_lines(h)),
        }
        out.push(if self.intact() {
            "journal intact".into()
        } else {
            "journal BROKEN".into()
        });
        out.join("\n")
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "change": self.change,
            "key": self.key,
            "store": self.store,
            "exists": self.exists,
            "intact": self.intact(),
            "events": self.events,
            "head": self.head,
            "config_digest": self.config_digest,
            "broken": self.broken.as_ref().map(|(line, message)| json!({"line": line, "message": message})),
            "torn": self.torn,
            "history": self.history.as_ref().map(|h| json!({
                "ref": h.ref_name,
                "head": h.head,
                "commits": h.versions.len(),
                "complete": h.complete,
                "rewrite": h.rewrite,
                "witness_ref": h.witness_name,
                "witness": h.witness,
                "witness_problem": h.witness_problem,
            })),
        })
    }
}

fn history_lines(h: &History) -> Vec<String> {
    let reach = if h.complete { "all" } else { "the newest" };
    let mut out = vec![match &h.rewrite {
        None => format!(
            "  history:   {reach} {} commits read back, each extends its parent",
            h.versions.len()
        ),
        Some(r) => format!("  history:   BROKEN: {r}"),
    }];
    out.push(match (&h.witness, &h.witness_problem) {
        (_, Some(p)) => format!("  witness:   BROKEN: {p}"),
        (None, None) => format!("  witness:   refs/{} not written yet", h.witness_name),
        (Some(w), None) if Some(w) == h.head.as_ref() => {
            format!("  witness:   refs/{} at {w}, the ref's head", h.witness_name)
        }
        (Some(w), None) => format!(
            "  witness:   refs/{} at {w}, an ancestor the head extends (a write that had not moved it yet)",
            h.witness_name
        ),
    });
    out
}
