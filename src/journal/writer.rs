//! Who writes the journal's events: the run (or local process), the actor
//! and the change, stamping each event with the clock it is handed. Pure:
//! the runner's session supplies the clock, the process and the host.

use super::event::{Event, EventKind, LockOwner, RunRef, Step};

#[derive(Debug, Clone)]
pub struct Writer {
    pub run: RunRef,
    pub actor: String,
    pub change: String,
    /// Outside Actions: the writing process and its host, so a lock it holds
    /// can be told stale once the process is gone.
    pub pid: Option<u32>,
    pub host: Option<String>,
    /// RFC 3339 now.
    pub clock: fn() -> String,
}

impl Writer {
    /// An event stamped with the writer's clock.
    pub fn event(
        &self,
        phase: &str,
        project: Option<&str>,
        step: Step,
        digest: Option<&str>,
        kind: EventKind,
    ) -> Event {
        Event {
            time: (self.clock)(),
            run: self.run.clone(),
            actor: self.actor.clone(),
            change: self.change.clone(),
            phase: phase.to_string(),
            project: project.map(str::to_string),
            step,
            digest: digest.map(str::to_string),
            prev: None,
            kind,
        }
    }

    /// The lock owner this writer is.
    pub fn owner(&self) -> LockOwner {
        LockOwner {
            run: self.run.clone(),
            actor: self.actor.clone(),
            pid: self.pid,
            host: self.host.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_carry_the_writer_and_its_clock() {
        let w = Writer {
            run: RunRef::default(),
            actor: "rita".into(),
            change: "CHG-1".into(),
            pid: Some(42),
            host: Some("box".into()),
            clock: || "2026-12-07T00:00:00.000Z".into(),
        };
        let e = w.event(
            "dev",
            Some("app"),
            Step::Plan,
            Some("d1"),
            EventKind::StepStarted,
        );
        assert_eq!(e.time, "2026-12-07T00:00:00.000Z");
        assert_eq!((e.actor.as_str(), e.change.as_str()), ("rita", "CHG-1"));
        assert_eq!(w.owner().pid, Some(42));
    }
}
