//! An engine that outlived its phasegate. The journal names every apply's
//! engine by pid, start time and host ([`EngineProcess`]); a later command
//! on the same host can tell whether that very process still runs (a pid
//! alone is reused, a pid with its start time is not) and wait for it.
//! On another host nothing can be seen: Terraform's own state lock is then
//! the guard.

use std::time::{Duration, Instant};

use crate::journal::EngineProcess;

/// What this host can see of a recorded process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// It runs here: same host, same pid, same start time.
    Running,
    /// It ran here and is gone.
    Gone,
    /// It ran on another host (or recorded no host): nothing to see.
    Elsewhere,
}

/// The process `pid` of this host as the journal records it.
pub fn identify(pid: u32) -> EngineProcess {
    EngineProcess {
        pid,
        start_time: stat(pid).map(|s| s.start_time),
        host: crate::store::lock::hostname(),
    }
}

/// Whether `p` still runs, as far as this host can see.
pub fn seen(p: &EngineProcess) -> Seen {
    let here = crate::store::lock::hostname();
    if p.host.is_none() || p.host != here {
        return Seen::Elsewhere;
    }
    match stat(p.pid) {
        Some(s) if !s.zombie && (p.start_time.is_none() || p.start_time == Some(s.start_time)) => {
            Seen::Running
        }
        _ => Seen::Gone,
    }
}

/// Waits until `p` is no longer running on this host, at most `limit`;
/// returns whether it ended.
pub fn wait_gone(p: &EngineProcess, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if seen(p) != Seen::Running {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

struct Stat {
    start_time: u64,
    zombie: bool,
}

/// `/proc/<pid>/stat`: the state (field 3) and the start time (field 22).
fn stat(pid: u32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

fn parse_stat(text: &str) -> Option<Stat> {
    // `pid (comm) state ppid ...`: comm may hold spaces and parentheses, so
    // the fields are counted from the last ')'.
    let (_, rest) = text.rsplit_once(") ")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(Stat {
        zombie: matches!(fields.first(), Some(&"Z") | Some(&"X")),
        // Field 22 overall is the 20th after the state (field 3).
        start_time: fields.get(19)?.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_time_is_field_22_even_when_the_name_holds_spaces() {
        let line = "4242 (terraform (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 12 0 987654 1000 10";
        let s = parse_stat(line).unwrap();
        assert_eq!(s.start_time, 987654);
        assert!(!s.zombie);
        assert!(
            parse_stat("4242 (t) Z 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20")
                .unwrap()
                .zombie
        );
    }

    #[test]
    fn this_process_runs_here_and_a_reused_pid_does_not_count() {
        let me = identify(std::process::id());
        assert!(me.start_time.is_some());
        assert_eq!(seen(&me), Seen::Running);
        let reused = EngineProcess {
            start_time: me.start_time.map(|t| t + 1),
            ..me.clone()
        };
        assert_eq!(seen(&reused), Seen::Gone);
        let elsewhere = EngineProcess {
            host: Some("another-host.invalid".into()),
            ..me
        };
        assert_eq!(seen(&elsewhere), Seen::Elsewhere);
    }
}
