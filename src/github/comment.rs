//! The one sticky PR comment per change: found by its marker among comments
//! we authored, holding one block per phase in promotion order plus a
//! machine-readable state line, always under GitHub's 65,536-character limit,
//! and never duplicated, even when two jobs write at once. Ours means written
//! by our own login (see [`super::identity`]); our comments of other changes
//! are minimized as outdated.
//!
//! Layout:
//! ```text
//! <!-- phasegate:change=<id> -->
//! ### phasegate · change `<id>`
//! <!-- phasegate:phase=<key> -->
//! ...block...
//! <!-- phasegate:phase-end=<key> -->
//! <!-- phasegate:state=<base64 JSON> -->
//! ```

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::identity::{authored_by, confirm_author};
use super::{Comment, Forge, GithubError, Identity, PrTarget};
use crate::surface::{split_block, COMMENT_BUDGET, DETAILS_MARKER};

/// The version of [`CommentState`] this build writes.
pub const STATE_VERSION: u32 = 1;
/// Below this many characters for the phase being written, other phases are
/// cut to their essentials (oldest first) to make room.
const MIN_CURRENT_BUDGET: usize = 16_384;
/// Bound on list/write rounds in one upsert (races, 5xx, too-long answers).
const MAX_ROUNDS: usize = 6;
const TRIMMED_NOTE: &str = "_Details trimmed to fit GitHub's comment limit; see the job summary._";

/// What the comment remembers between runs, per phase. Versioned so a later
/// journal can read it and take over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommentState {
    pub version: u32,
    #[serde(default)]
    pub phases: BTreeMap<String, PhaseState>,
}

impl Default for CommentState {
    fn default() -> Self {
        CommentState {
            version: STATE_VERSION,
            phases: BTreeMap::new(),
        }
    }
}

/// One phase's recorded facts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseState {
    /// The plan digest the phase's block shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    #[serde(default)]
    pub approvals: Vec<RecordedApproval>,
}

/// An approval phasegate accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedApproval {
    pub env: String,
    pub approver: String,
    /// The full plan digest the approval is bound to.
    pub digest: String,
    pub at: String,
    pub source: ApprovalSource,
}

/// Where an approval came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalSource {
    /// A GitHub environment's required reviewer approved the run.
    Environment,
    /// A `/phasegate approve` comment (fallback when no environment gate exists).
    Comment,
}

/// The comment an upsert left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentRef {
    pub id: u64,
    pub node_id: String,
    pub html_url: String,
    /// Whether this call created it.
    pub created: bool,
}

/// Escapes an id for use inside a marker: anything outside `[A-Za-z0-9._/-]`
/// is percent-encoded, so an id can never close the HTML comment or forge
/// another marker.
pub fn escape_id(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'/' | b'-' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The first line of the comment for `change_id`.
pub fn change_marker(change_id: &str) -> String {
    format!("<!-- phasegate:change={} -->", escape_id(change_id))
}

const STATE_PREFIX: &str = "<!-- phasegate:state=";

/// A comment body taken apart.
#[derive(Debug, Clone, Default, PartialEq)]
struct Parsed {
    /// `(escaped key, block)` in body order.
    phases: Vec<(String, String)>,
    state: CommentState,
}

fn parse(body: &str) -> Parsed {
    let mut parsed = Parsed::default();
    let mut current: Option<(String, Vec<&str>)> = None;
    for line in body.lines() {
        let line_t = line.trim_end_matches('\r');
        if let Some(rest) = line_t.strip_prefix("<!-- phasegate:phase=") {
            current = rest
                .strip_suffix(" -->")
                .map(|k| (k.to_owned(), Vec::new()));
            continue;
        }
        if let Some(rest) = line_t.strip_prefix("<!-- phasegate:phase-end=") {
            if let Some((key, lines)) = current.take() {
                if rest.strip_suffix(" -->") == Some(key.as_str()) {
                    parsed.phases.push((key, lines.join("\n")));
                }
            }
            continue;
        }
        if let Some(rest) = line_t.strip_prefix(STATE_PREFIX) {
            if let Some(state) = rest.strip_suffix(" -->").and_then(decode_state) {
                parsed.state = state;
            }
            continue;
        }
        if let Some((_, lines)) = current.as_mut() {
            lines.push(line_t);
        }
    }
    parsed
}

fn decode_state(b64: &str) -> Option<CommentState> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    let state: CommentState = serde_json::from_slice(&bytes).ok()?;
    if state.version > STATE_VERSION {
        tracing::warn!(
            version = state.version,
            "the PR comment's state was written by a newer phasegate; starting from empty state"
        );
        return None;
    }
    Some(state)
}

fn state_line(state: &CommentState) -> String {
    let json = serde_json::to_vec(state).expect("the comment state serializes");
    format!(
        "{STATE_PREFIX}{} -->",
        base64::engine::general_purpose::STANDARD.encode(json)
    )
}

/// Keeps a rendered block from forging our structure: any line that looks
/// like a phasegate marker (other than the details marker) is defused.
fn sanitize(block: &str) -> String {
    block
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("<!-- phasegate:") && l.trim() != DETAILS_MARKER {
                l.replacen("<!--", "&lt;!--", 1)
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// The first `max` characters of `s`, cut at a line end when one is near.
fn truncate_chars(s: &str, max: usize) -> String {
    if chars(s) <= max {
        return s.to_owned();
    }
    let cut: String = s.chars().take(max).collect();
    match cut.rfind('\n') {
        Some(i) if i > cut.len() / 2 => cut[..i].to_owned(),
        _ => cut,
    }
}

fn essentials_only(block: &str) -> String {
    match split_block(block) {
        Some((essentials, _)) => format!("{}\n{TRIMMED_NOTE}", essentials.trim_end()),
        None => block.to_owned(),
    }
}

/// Phase keys in promotion order, then any others the comment holds.
fn ordered_keys(order: &[String], present: &[(String, String)], current: &str) -> Vec<String> {
    let mut keys: Vec<String> = order.iter().map(|k| escape_id(k)).collect();
    for (k, _) in present {
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    }
    if !keys.iter().any(|k| k == current) {
        keys.push(current.to_owned());
    }
    keys
}

fn compose(
    change_id: &str,
    keys: &[String],
    blocks: &BTreeMap<String, String>,
    state: &CommentState,
) -> String {
    let mut out = vec![
        change_marker(change_id),
        format!("### phasegate · change `{}`", escape_id(change_id)),
    ];
    for key in keys {
        if let Some(block) = blocks.get(key) {
            out.push(format!("<!-- phasegate:phase={key} -->"));
            out.push(block.trim_end_matches('\n').to_owned());
            out.push(format!("<!-- phasegate:phase-end={key} -->"));
        }
    }
    out.push(state_line(state));
    out.join("\n")
}

/// Builds a body of at most `limit` characters: the current phase gets what
/// the others leave; when that is too little, the others are cut to their
/// essentials, oldest phase first.
fn build_body(
    change_id: &str,
    current: &str,
    keys: &[String],
    others: &BTreeMap<String, String>,
    state: &CommentState,
    render_block: &dyn Fn(usize) -> String,
    limit: usize,
) -> String {
    let mut blocks = others.clone();
    blocks.insert(current.to_owned(), String::new());
    let mut cuttable = keys
        .iter()
        .filter(|k| *k != current && others.contains_key(*k));
    let remaining = loop {
        let remaining = limit.saturating_sub(chars(&compose(change_id, keys, &blocks, state)));
        if remaining >= MIN_CURRENT_BUDGET {
            break remaining;
        }
        match cuttable.next() {
            Some(k) => {
                let cut = essentials_only(&blocks[k]);
                blocks.insert(k.clone(), cut);
            }
            None => break remaining,
        }
    };
    let block = truncate_chars(&sanitize(&render_block(remaining)), remaining);
    blocks.insert(current.to_owned(), block);
    let body = compose(change_id, keys, &blocks, state);
    if chars(&body) <= limit {
        return body;
    }
    // Even the essentials of the other phases do not fit: point to the
    // summary instead of failing to post.
    for k in keys.iter().filter(|k| *k != current) {
        if blocks.contains_key(k) {
            blocks.insert(k.clone(), TRIMMED_NOTE.to_owned());
        }
    }
    let body = compose(change_id, keys, &blocks, state);
    if chars(&body) <= limit {
        return body;
    }
    let overflow = chars(&body) - limit;
    let block = truncate_chars(
        &blocks[current],
        chars(&blocks[current]).saturating_sub(overflow),
    );
    blocks.insert(current.to_owned(), block);
    compose(change_id, keys, &blocks, state)
}

/// Whether `c` is ours and carries `marker` on a line of its own. Only
/// comments `me` wrote count: anyone can paste a marker.
pub fn is_ours(c: &Comment, me: &Identity, marker: &str) -> bool {
    authored_by(c, me) && c.body.lines().any(|l| l.trim_end() == marker)
}

/// Our comments carrying `marker`, oldest first.
fn ours<'a>(comments: &'a [Comment], me: &Identity, marker: &str) -> Vec<&'a Comment> {
    let mut v: Vec<&Comment> = comments.iter().filter(|c| is_ours(c, me, marker)).collect();
    v.sort_by(|a, b| (&a.created_at, a.id).cmp(&(&b.created_at, b.id)));
    v
}

/// Writes `phase_key`'s block into the change's sticky comment, keeping the
/// other phases' blocks, and applies `update_state` to the comment's state.
///
/// `render_block(budget)` must render the phase block within `budget`
/// characters (see `render::phase_block`). `update_state` runs once, on the
/// state first read; should a race force another round, its result for
/// `phase_key` is carried over onto the state read then.
pub async fn upsert_phase<F: Forge>(
    forge: &F,
    target: &PrTarget,
    change_id: &str,
    phase_key: &str,
    phase_order: &[String],
    render_block: impl Fn(usize) -> String,
    update_state: impl FnOnce(&mut CommentState),
) -> Result<CommentRef, GithubError> {
    let me = forge.identity().await?;
    let marker = change_marker(change_id);
    let current = escape_id(phase_key);
    let mut update_state = Some(update_state);
    let mut my_phase: Option<PhaseState> = None;
    let mut limit = COMMENT_BUDGET;
    let mut created: Option<Comment> = None;
    let mut last_error: Option<GithubError> = None;
    for _ in 0..MAX_ROUNDS {
        let comments = forge.list_comments(target).await?;
        let mine = ours(&comments, &me, &marker);
        if let (Some(c), [only]) = (&created, mine.as_slice()) {
            if only.id == c.id {
                tidy(forge, &comments, &me, change_id).await;
                return Ok(comment_ref(c, true));
            }
        }
        // Merge every copy of ours: the oldest wins where they overlap.
        let mut merged = Parsed::default();
        for (i, c) in mine.iter().enumerate() {
            let p = parse(&c.body);
            for (k, block) in p.phases {
                if !merged.phases.iter().any(|(mk, _)| *mk == k) {
                    merged.phases.push((k, block));
                }
            }
            if i == 0 {
                merged.state = p.state;
            } else {
                for (k, ps) in p.state.phases {
                    merged.state.phases.entry(k).or_insert(ps);
                }
            }
        }
        let mut state = merged.state.clone();
        state.version = STATE_VERSION;
        match update_state.take() {
            Some(f) => {
                f(&mut state);
                my_phase = state.phases.get(phase_key).cloned();
            }
            None => {
                if let Some(ps) = &my_phase {
                    state.phases.insert(phase_key.to_owned(), ps.clone());
                }
            }
        }
        let keys = ordered_keys(phase_order, &merged.phases, &current);
        let others: BTreeMap<String, String> = merged
            .phases
            .into_iter()
            .filter(|(k, _)| *k != current)
            .collect();
        let body = build_body(
            change_id,
            &current,
            &keys,
            &others,
            &state,
            &render_block,
            limit,
        );
        let result = match mine.first() {
            Some(keep) => match forge.update_comment(&target.repo, keep.id, &body).await {
                Ok(c) => {
                    for dup in &mine[1..] {
                        forge.delete_comment(&target.repo, dup.id).await?;
                    }
                    tidy(forge, &comments, &me, change_id).await;
                    let was_ours = created.as_ref().is_some_and(|m| m.id == c.id);
                    return Ok(comment_ref(&c, was_ours));
                }
                Err(e) => Err(e),
            },
            None => match forge.create_comment(target, &body).await {
                // Look again: a concurrent writer may have created one too.
                Ok(c) => {
                    // GitHub's answer names the author: if it is not who we
                    // took ourselves to be, we would never find this comment
                    // again. Take it back and say which setting is wrong.
                    if let Err(e) = confirm_author(&c, &me) {
                        forge.delete_comment(&target.repo, c.id).await?;
                        return Err(e);
                    }
                    created = Some(c);
                    continue;
                }
                Err(e) if e.outcome_unknown() => {
                    tracing::warn!("posting the PR comment had an unknown outcome, checking: {e}");
                    last_error = Some(e);
                    continue;
                }
                Err(e) => Err(e),
            },
        };
        match result {
            Err(e) if e.is_too_long() => {
                limit = limit * 7 / 8;
                last_error = Some(e);
            }
            Err(e) => return Err(e),
            Ok(()) => unreachable!("successful writes return above"),
        }
    }
    Err(GithubError::Exhausted {
        attempts: MAX_ROUNDS as u32,
        last: Box::new(last_error.unwrap_or_else(|| GithubError::Decode {
            action: format!("write the phasegate comment on {target}"),
            detail: "the comment kept changing under us".to_owned(),
        })),
    })
}

fn comment_ref(c: &Comment, created: bool) -> CommentRef {
    CommentRef {
        id: c.id,
        node_id: c.node_id.clone(),
        html_url: c.html_url.clone(),
        created,
    }
}

/// Hides (GraphQL `minimizeComment`, classifier `OUTDATED`) our phasegate
/// comments on the PR that belong to other changes: a comment left from
/// before the change got its id in `change.yml` (`PR-7` became `net-42`),
/// or from an older phasegate. Only comments we wrote are touched. Every
/// upsert does this with the comments it already listed; minimizing is
/// idempotent, so a comment hidden before is hidden again at no harm.
/// Returns how many.
pub async fn minimize_outdated<F: Forge>(
    forge: &F,
    target: &PrTarget,
    current_change_id: &str,
) -> Result<usize, GithubError> {
    let me = forge.identity().await?;
    let comments = forge.list_comments(target).await?;
    minimize_others(forge, &comments, &me, current_change_id).await
}

async fn minimize_others<F: Forge>(
    forge: &F,
    comments: &[Comment],
    me: &Identity,
    current_change_id: &str,
) -> Result<usize, GithubError> {
    let current = change_marker(current_change_id);
    let mut n = 0;
    for c in comments.iter().filter(|c| authored_by(c, me)) {
        let first = c.body.lines().next().unwrap_or_default().trim_end();
        if first.starts_with("<!-- phasegate:change=") && first != current {
            forge.minimize_comment(&c.node_id, "OUTDATED").await?;
            n += 1;
        }
    }
    Ok(n)
}

/// After a successful write: hiding stale comments is housekeeping, so a
/// failure is logged, not returned (the comment itself is posted).
async fn tidy<F: Forge>(forge: &F, comments: &[Comment], me: &Identity, change_id: &str) {
    match minimize_others(forge, comments, me, change_id).await {
        Ok(0) => {}
        Ok(n) => tracing::info!("minimized {n} phasegate comment(s) of other changes as outdated"),
        Err(e) => tracing::warn!("could not minimize outdated phasegate comments: {e}"),
    }
}

/// The state stored in a comment body, for readers outside the upsert.
pub fn read_state(body: &str) -> CommentState {
    parse(body).state
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_cannot_close_the_marker_or_forge_another() {
        let m = change_marker("x --> <!-- phasegate:change=y");
        assert_eq!(m.matches("-->").count(), 1);
        assert!(m.ends_with(" -->"));
        assert!(!escape_id("a>b\nc").contains(['>', '\n', ' ']));
    }

    #[test]
    fn body_round_trips_blocks_and_state() {
        let mut state = CommentState::default();
        state.phases.insert(
            "dev".into(),
            PhaseState {
                digest: Some("abc".into()),
                approvals: vec![],
            },
        );
        let keys = vec!["dev".to_owned(), "prod".to_owned()];
        let mut blocks = BTreeMap::new();
        blocks.insert("prod".to_owned(), "prod block".to_owned());
        blocks.insert("dev".to_owned(), "dev block\nline 2".to_owned());
        let body = compose("pr-1", &keys, &blocks, &state);
        assert!(body.find("dev block").unwrap() < body.find("prod block").unwrap());
        let p = parse(&body);
        assert_eq!(
            p.phases,
            vec![
                ("dev".into(), "dev block\nline 2".into()),
                ("prod".into(), "prod block".into())
            ]
        );
        assert_eq!(p.state, state);
    }

    #[test]
    fn forged_markers_inside_a_block_are_defused() {
        let s = sanitize("ok\n<!-- phasegate:phase-end=dev -->\n<!-- phasegate:details -->");
        assert!(s.contains("&lt;!-- phasegate:phase-end=dev"));
        assert!(s.ends_with(DETAILS_MARKER));
    }

    #[test]
    fn other_phases_are_cut_to_essentials_oldest_first_when_space_runs_out() {
        let big = |name: &str| {
            format!(
                "{name} essentials\n{DETAILS_MARKER}\n{}",
                "d".repeat(30_000)
            )
        };
        let keys: Vec<String> = ["dev", "staging", "prod"].map(String::from).to_vec();
        let mut others = BTreeMap::new();
        others.insert("dev".to_owned(), big("dev"));
        others.insert("staging".to_owned(), big("staging"));
        let state = CommentState::default();
        let body = build_body(
            "c",
            "prod",
            &keys,
            &others,
            &state,
            &|b| "p".repeat(b),
            COMMENT_BUDGET,
        );
        assert!(chars(&body) <= COMMENT_BUDGET);
        let p = parse(&body);
        let dev = &p.phases[0].1;
        let staging = &p.phases[1].1;
        assert!(
            dev.contains(TRIMMED_NOTE) && !dev.contains("ddd"),
            "dev is cut first"
        );
        assert!(staging.contains("ddd"), "staging keeps its details");
        assert!(chars(&p.phases[2].1) >= MIN_CURRENT_BUDGET);
    }

    #[test]
    fn an_overshooting_renderer_is_truncated_to_the_limit() {
        let keys = vec!["dev".to_owned()];
        let body = build_body(
            "c",
            "dev",
            &keys,
            &BTreeMap::new(),
            &CommentState::default(),
            &|_| "x".repeat(100_000),
            COMMENT_BUDGET,
        );
        assert!(chars(&body) <= COMMENT_BUDGET);
    }

    #[test]
    fn state_from_a_newer_version_is_not_trusted() {
        let newer = CommentState {
            version: STATE_VERSION + 1,
            phases: BTreeMap::new(),
        };
        assert_eq!(read_state(&state_line(&newer)), CommentState::default());
    }
}
