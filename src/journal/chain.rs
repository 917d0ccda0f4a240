//! The journal's hash chain. Every line names, in `prev`, the sha256 of the
//! line before it exactly as stored (after the redactor masked it, newline
//! excluded); the first line is a `journal_opened` event naming the change's
//! genesis value, a hash of the change id. So a deleted, reordered or edited
//! line breaks the link of the line after it, and a journal moved under
//! another change breaks at line 1.
//!
//! What the chain cannot see: dropping the last lines, or editing the last
//! one, leaves a valid chain; and the hashes carry no secret, so whoever
//! rewrites a journal can recompute them. It makes edits evident, it does not
//! sign. The `github` store's ref history and witness guard the tail
//! (`store::github`, `docs/journal.md`).
//!
//! A crash mid-write can leave the last line torn: no newline and not JSON.
//! Reading sets it aside; the next append records it with a
//! `torn_line_set_aside` event (its length and sha256, never its bytes) and
//! links on from the last good line. An invalid line anywhere else is an
//! error. Pure: no clock, no I/O; journal events take their time and writer
//! from the first event appended with them.

use sha2::{Digest, Sha256};

use super::codec::{encode, JournalError};
use super::event::{Event, EventKind, Step};

/// Hashed with the change id into the genesis value; a new chain format
/// would change it.
const GENESIS_TAG: &str = "phasegate journal v1\n";

/// The value the first line of `change`'s journal names as its `prev`.
pub fn genesis(change: &str) -> String {
    line_hash(format!("{GENESIS_TAG}{change}").as_bytes())
}

/// sha256 of one stored line (without its newline), hex.
pub fn line_hash(line: &[u8]) -> String {
    hex::encode(Sha256::digest(line))
}

/// A journal as read: its events in order, where the chain ends, and a torn
/// last line set aside.
#[derive(Debug, Clone, PartialEq)]
pub struct Journal {
    pub events: Vec<Event>,
    /// What the next line must name: the last good line's hash, or the
    /// genesis value when there is none.
    pub head: String,
    /// The last good line's number (0: none).
    pub last_line: usize,
    /// The bytes up to and including the last good line (and its newline).
    pub good_len: usize,
    pub torn: Option<Torn>,
}

/// A last line cut off mid-write.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Torn {
    pub line: usize,
    /// Its length in bytes.
    pub length: usize,
    /// sha256 of its bytes.
    pub sha256: String,
}

/// The first link of a chain that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[error("{}", self.describe())]
pub struct Break {
    /// The line whose link fails.
    pub line: usize,
    /// The good line before it (`None`: it is the first).
    pub after: Option<usize>,
    pub kind: BreakKind,
    /// The `prev` the line should name.
    pub expected: String,
    /// What it names (or, for [`BreakKind::NotOpened`], its event kind).
    pub found: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakKind {
    /// `prev` is not the hash of the line before (or the genesis).
    WrongLink,
    /// The line has no `prev` at all.
    Unlinked,
    /// The chain starts right but with another event than `journal_opened`.
    NotOpened,
    /// A second `journal_opened`.
    OpenedAgain,
}

const SEE: &str = "`phasegate journal verify` shows the chain; docs/journal.md says how to recover";

impl Break {
    fn describe(&self) -> String {
        let line = self.line;
        let found = self.found.as_deref().unwrap_or("nothing");
        let expected = &self.expected;
        match (self.kind, self.after) {
            (BreakKind::WrongLink, Some(after)) => format!(
                "journal line {line}: the chain is broken: line {after} as stored hashes to {expected}, \
                 but line {line} names {found} as the line before it (a line was deleted, reordered \
                 or edited); {SEE}"
            ),
            (BreakKind::WrongLink, None) => format!(
                "journal line {line}: the chain is broken: the first line must name {expected}, \
                 the genesis of this change, but names {found} (the first lines were removed, \
                 or the journal is another change's); {SEE}"
            ),
            (BreakKind::Unlinked, _) => format!(
                "journal line {line} carries no chain link (`prev`; expected {expected}): it was \
                 written by hand or by a phasegate from before journals were chained, and \
                 unchained journals are not read; {SEE}"
            ),
            (BreakKind::NotOpened, _) => format!(
                "journal line {line}: a journal opens with a `journal_opened` event, this one \
                 with `{found}`; {SEE}"
            ),
            (BreakKind::OpenedAgain, _) => format!(
                "journal line {line}: `journal_opened` again, after line {}: only the first line \
                 opens a journal; {SEE}",
                self.after.unwrap_or(0)
            ),
        }
    }
}

/// What [`inspect`] found: the journal up to the first problem, and that
/// problem.
#[derive(Debug)]
pub struct Inspection {
    pub journal: Journal,
    pub broken: Option<JournalError>,
}

/// Walks `bytes` as `change`'s journal and stops at the first broken link
/// or invalid line; never fails.
pub fn inspect(bytes: &[u8], change: &str) -> Inspection {
    let mut journal = Journal {
        events: vec![],
        head: genesis(change),
        last_line: 0,
        good_len: 0,
        torn: None,
    };
    let mut start = 0;
    let mut number = 0;
    while start < bytes.len() {
        number += 1;
        let (end, next) = match bytes[start..].iter().position(|&b| b == b'\n') {
            Some(i) => (start + i, start + i + 1),
            None => (bytes.len(), bytes.len()),
        };
        let terminated = next > end;
        let line = &bytes[start..end];
        start = next;
        if line.iter().all(u8::is_ascii_whitespace) {
            journal.good_len = next;
            continue;
        }
        let event: Event = match serde_json::from_slice(line) {
            Ok(e) => e,
            Err(_) if !terminated => {
                journal.torn = Some(Torn {
                    line: number,
                    length: line.len(),
                    sha256: line_hash(line),
                });
                break;
            }
            Err(e) => {
                let broken = JournalError::BadLine {
                    line: number,
                    message: e.to_string(),
                };
                return Inspection {
                    journal,
                    broken: Some(broken),
                };
            }
        };
        if let Some(b) = link_problem(&journal, number, &event) {
            return Inspection {
                journal,
                broken: Some(b.into()),
            };
        }
        journal.head = line_hash(line);
        journal.last_line = number;
        journal.good_len = next;
        journal.events.push(event);
    }
    Inspection {
        journal,
        broken: None,
    }
}

/// Why `event`, on line `number`, cannot follow `journal`, if it cannot.
fn link_problem(journal: &Journal, number: usize, event: &Event) -> Option<Break> {
    let after = (journal.last_line > 0).then_some(journal.last_line);
    let problem = |kind, found: Option<String>| Break {
        line: number,
        after,
        kind,
        expected: journal.head.clone(),
        found,
    };
    match &event.prev {
        None => return Some(problem(BreakKind::Unlinked, None)),
        Some(p) if *p != journal.head => {
            return Some(problem(BreakKind::WrongLink, Some(p.clone())))
        }
        Some(_) => {}
    }
    let opens = matches!(event.kind, EventKind::JournalOpened { .. });
    match (journal.events.is_empty(), opens) {
        (true, false) => Some(problem(BreakKind::NotOpened, Some(kind_name(event)))),
        (false, true) => Some(problem(BreakKind::OpenedAgain, None)),
        _ => None,
    }
}

fn kind_name(event: &Event) -> String {
    serde_json::to_value(&event.kind)
        .ok()
        .and_then(|v| v["event"].as_str().map(str::to_string))
        .unwrap_or_default()
}

/// `change`'s journal, or the first broken link or invalid line. A torn
/// last line is set aside (see [`Journal::torn`]), not an error.
pub fn read(bytes: &[u8], change: &str) -> Result<Journal, JournalError> {
    let found = inspect(bytes, change);
    match found.broken {
        Some(e) => Err(e),
        None => Ok(found.journal),
    }
}

/// What a new journal is opened with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Opening {
    /// sha256 of the config file the writer loaded.
    pub config_digest: Option<String>,
}

/// The bytes to store, and the torn line this append set aside.
#[derive(Debug, Clone, PartialEq)]
pub struct Appended {
    pub bytes: Vec<u8>,
    pub set_aside: Option<Torn>,
}

/// `current` with `events` appended, each linked to the line before it as
/// stored, i.e. after `mask`. An empty journal is opened first (with
/// `opening`); a torn last line is dropped and a `torn_line_set_aside`
/// event recorded in its place. A broken chain is refused: nothing is
/// appended to a journal phasegate cannot vouch for. Pure in `current`, so
/// a compare-and-swap retry links to the bytes it actually appends to.
pub fn append(
    current: Option<&[u8]>,
    change: &str,
    opening: &Opening,
    events: &[Event],
    mask: impl Fn(String) -> String,
) -> Result<Appended, JournalError> {
    let current = current.unwrap_or_default();
    let Some(first) = events.first() else {
        return Ok(Appended {
            bytes: current.to_vec(),
            set_aside: None,
        });
    };
    let journal = read(current, change)?;
    let mut out = current[..journal.good_len].to_vec();
    if !out.is_empty() && !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    let about_journal = |kind| Event {
        time: first.time.clone(),
        run: first.run.clone(),
        actor: first.actor.clone(),
        change: change.to_string(),
        phase: String::new(),
        project: None,
        step: Step::Journal,
        digest: None,
        prev: None,
        kind,
    };
    let mut lines = vec![];
    if journal.events.is_empty() {
        lines.push(about_journal(EventKind::JournalOpened {
            config_digest: opening.config_digest.clone(),
        }));
    }
    if let Some(t) = &journal.torn {
        lines.push(about_journal(EventKind::TornLineSetAside {
            line: t.line,
            length: t.length,
            sha256: t.sha256.clone(),
        }));
    }
    lines.extend(events.iter().cloned());
    let before = out.iter().filter(|&&b| b == b'\n').count();
    let mut prev = journal.head;
    for (number, mut event) in (before + 1..).zip(lines) {
        event.prev = Some(prev.clone());
        let text = mask(encode(&event));
        if !text.contains(&format!("\"prev\":\"{prev}\"")) {
            return Err(JournalError::MaskedLink { line: number });
        }
        out.extend_from_slice(text.as_bytes());
        out.push(b'\n');
        prev = line_hash(text.as_bytes());
    }
    Ok(Appended {
        bytes: out,
        set_aside: journal.torn,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::RunRef;

    fn ev(n: u32) -> Event {
        Event {
            time: format!("2026-12-01T10:00:{n:02}Z"),
            run: RunRef::default(),
            actor: "octocat".into(),
            change: "CHG-1".into(),
            phase: "dev".into(),
            project: Some("app".into()),
            step: Step::Plan,
            digest: Some(format!("d{n}")),
            prev: None,
            kind: EventKind::StepStarted,
        }
    }

    fn journal_of(n: u32) -> Vec<u8> {
        let mut bytes = None;
        for i in 0..n {
            let b = append(
                bytes.as_deref(),
                "CHG-1",
                &Opening::default(),
                &[ev(i)],
                |l| l,
            )
            .unwrap()
            .bytes;
            bytes = Some(b);
        }
        bytes.unwrap_or_default()
    }

    fn lines(bytes: &[u8]) -> Vec<String> {
        String::from_utf8(bytes.to_vec())
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn join(lines: &[String]) -> Vec<u8> {
        lines
            .iter()
            .flat_map(|l| format!("{l}\n").into_bytes())
            .collect()
    }

    fn broken(bytes: &[u8]) -> Break {
        match read(bytes, "CHG-1") {
            Err(JournalError::Broken(b)) => b,
            other => panic!("not a broken link: {other:?}"),
        }
    }

    #[test]
    fn a_journal_opens_with_its_genesis_and_each_line_names_the_one_before() {
        let bytes = journal_of(3);
        let j = read(&bytes, "CHG-1").unwrap();
        assert_eq!(j.events.len(), 4);
        assert!(matches!(j.events[0].kind, EventKind::JournalOpened { .. }));
        assert_eq!(j.events[0].step, Step::Journal);
        assert_eq!(j.events[0].prev.as_deref(), Some(genesis("CHG-1").as_str()));
        let ls = lines(&bytes);
        for i in 1..ls.len() {
            assert_eq!(
                j.events[i].prev.as_deref(),
                Some(line_hash(ls[i - 1].as_bytes()).as_str())
            );
        }
        assert_eq!(j.head, line_hash(ls[3].as_bytes()));
        assert_eq!((j.last_line, j.good_len, j.torn), (4, bytes.len(), None));
    }

    #[test]
    fn a_deleted_middle_line_breaks_the_next_link() {
        let mut ls = lines(&journal_of(4));
        let removed = ls.remove(2);
        let b = broken(&join(&ls));
        assert_eq!(
            (b.line, b.after, b.kind),
            (3, Some(2), BreakKind::WrongLink)
        );
        assert_eq!(b.expected, line_hash(ls[1].as_bytes()));
        assert_eq!(b.found, Some(line_hash(removed.as_bytes())));
        assert!(b
            .to_string()
            .starts_with("journal line 3: the chain is broken: line 2 as stored hashes to"));
    }

    #[test]
    fn reordered_and_edited_lines_break_the_chain() {
        let ls = lines(&journal_of(4));
        let mut swapped = ls.clone();
        swapped.swap(2, 3);
        assert_eq!(broken(&join(&swapped)).line, 3);
        let mut edited = ls.clone();
        edited[1] = edited[1].replace("\"d0\"", "\"d9\"");
        let b = broken(&join(&edited));
        assert_eq!((b.line, b.kind), (3, BreakKind::WrongLink));
    }

    #[test]
    fn the_first_line_binds_the_change() {
        let bytes = journal_of(2);
        let b = match read(&bytes, "CHG-2") {
            Err(JournalError::Broken(b)) => b,
            other => panic!("{other:?}"),
        };
        assert_eq!((b.line, b.after, b.expected), (1, None, genesis("CHG-2")));
        let mut ls = lines(&bytes);
        ls.remove(0);
        assert_eq!(broken(&join(&ls)).line, 1, "the opening line removed");
    }

    #[test]
    fn an_unchained_journal_is_refused_at_its_first_line() {
        let line = encode(&ev(1));
        let b = broken(format!("{line}\n").as_bytes());
        assert_eq!((b.line, b.kind), (1, BreakKind::Unlinked));
        assert!(
            b.to_string().contains("before journals were chained"),
            "{b}"
        );
    }

    #[test]
    fn a_truncated_tail_still_forms_a_valid_chain() {
        // The limit the store's witness is there for.
        let mut ls = lines(&journal_of(4));
        ls.truncate(3);
        assert_eq!(read(&join(&ls), "CHG-1").unwrap().events.len(), 3);
    }

    #[test]
    fn a_torn_last_line_is_set_aside_and_recorded_by_the_next_append() {
        let mut bytes = journal_of(2);
        let good = read(&bytes, "CHG-1").unwrap();
        let cut: &[u8] = b"{\"time\":\"2026-12-01T10:00:09Z\",\"ru";
        bytes.extend_from_slice(cut);
        let j = read(&bytes, "CHG-1").unwrap();
        let torn = j.torn.clone().unwrap();
        assert_eq!(
            torn,
            Torn {
                line: 4,
                length: cut.len(),
                sha256: line_hash(cut)
            }
        );
        assert_eq!((j.events.len(), &j.head), (3, &good.head));
        let a = append(Some(&bytes), "CHG-1", &Opening::default(), &[ev(5)], |l| l).unwrap();
        assert_eq!(a.set_aside, Some(torn.clone()));
        let after = read(&a.bytes, "CHG-1").unwrap();
        assert_eq!(after.torn, None);
        assert_eq!(after.events.len(), 5);
        assert_eq!(
            after.events[3].kind,
            EventKind::TornLineSetAside {
                line: 4,
                length: cut.len(),
                sha256: torn.sha256
            }
        );
        assert_eq!(after.events[3].prev.as_deref(), Some(good.head.as_str()));
        assert!(!String::from_utf8_lossy(&a.bytes).contains("\"ru\n"));
    }

    #[test]
    fn an_invalid_line_in_the_middle_stays_an_error() {
        let mut ls = lines(&journal_of(3));
        ls[2] = "{\"time\":\"2026".into();
        assert!(matches!(
            read(&join(&ls), "CHG-1"),
            Err(JournalError::BadLine { line: 3, .. })
        ));
        // Terminated by a newline: the write finished, so it is no tear.
        let mut bytes = journal_of(2);
        bytes.extend_from_slice(b"{\"time\n");
        assert!(matches!(
            read(&bytes, "CHG-1"),
            Err(JournalError::BadLine { line: 4, .. })
        ));
    }

    #[test]
    fn a_first_write_torn_still_opens_the_journal_first() {
        let a = append(
            Some(b"{\"ti"),
            "CHG-1",
            &Opening::default(),
            &[ev(1)],
            |l| l,
        )
        .unwrap();
        let j = read(&a.bytes, "CHG-1").unwrap();
        let kinds: Vec<&str> = j
            .events
            .iter()
            .map(|e| match e.kind {
                EventKind::JournalOpened { .. } => "opened",
                EventKind::TornLineSetAside { .. } => "torn",
                _ => "event",
            })
            .collect();
        assert_eq!(kinds, ["opened", "torn", "event"]);
    }

    #[test]
    fn links_are_made_over_the_masked_line() {
        let mask = |l: String| l.replace("octocat", "***");
        let mut bytes = None;
        for i in 0..3 {
            let opening = Opening {
                config_digest: Some("cfg".into()),
            };
            bytes = Some(
                append(bytes.as_deref(), "CHG-1", &opening, &[ev(i)], mask)
                    .unwrap()
                    .bytes,
            );
        }
        let bytes = bytes.unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains("octocat"));
        let j = read(&bytes, "CHG-1").unwrap();
        assert_eq!(j.events.len(), 4);
        assert_eq!(
            j.events[0].kind,
            EventKind::JournalOpened {
                config_digest: Some("cfg".into())
            }
        );
        // A mask that hits the link itself is refused, not stored broken.
        let head = j.head.clone();
        let hits = move |l: String| l.replace(&head[..8], "***");
        assert!(matches!(
            append(Some(&bytes), "CHG-1", &Opening::default(), &[ev(9)], hits),
            Err(JournalError::MaskedLink { line: 5 })
        ));
    }

    #[test]
    fn nothing_is_appended_to_a_broken_journal() {
        let mut ls = lines(&journal_of(3));
        ls.remove(1);
        let bytes = join(&ls);
        assert!(matches!(
            append(Some(&bytes), "CHG-1", &Opening::default(), &[ev(9)], |l| l),
            Err(JournalError::Broken(_))
        ));
    }
}
