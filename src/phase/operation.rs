//! The operation step machine: given what the journal says happened to one
//! operation step (its records, in order) and what the job asks for, decide
//! the one thing to do next. The runner does it, journals the record, and
//! asks again, so a job that dies between any two records resumes from the
//! journal alone. Pure: no clock, no I/O.
//!
//! The order: verify first (a step whose target already exists is done
//! without running `execute`), execute, poll until a terminal state, verify,
//! succeed. A failed step waits for a person: retry (at most
//! [`MAX_RETRIES`] times), its rollback, or abort. A job that died after
//! `executing` was journaled is never executed again blindly: the step is
//! polled or verified first.

use crate::config::steps::Step;
use crate::journal::operation::PollOutcome;
pub use crate::journal::operation::{fold, Ended, OperationState, MAX_RETRIES};

/// The note of a step whose verify passed before it ran.
pub const ALREADY_DONE: &str = "target already existed; execute skipped";

/// What the job asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Run the step, or resume it.
    Run,
    /// Run a failed step again.
    Retry,
    /// Run the step's rollback.
    Rollback,
    /// Give the step up.
    Abort,
}

/// What a person may do about a step that stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    Retry,
    Rollback,
    Abort,
}

/// The one thing to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Run verify before execute: when it passes, the step is done.
    VerifyFirst,
    Execute {
        attempt: u32,
    },
    /// Ask the poll command again (`ticks` answers so far).
    Poll {
        ticks: u32,
    },
    Verify,
    /// Journal the step as succeeded.
    Succeed {
        note: Option<String>,
    },
    /// Journal the step as failed.
    Fail {
        reason: String,
    },
    Rollback {
        irreversible: bool,
    },
    Abort,
    /// The step is done; nothing to do.
    Done,
    /// Not without a person's decision, or not at all: the reason and what may be done.
    Refuse {
        why: String,
        offers: Vec<Offer>,
    },
}

/// Decides the next thing to do for `step` in the state its journal gives.
pub fn next(step: &Step, s: &OperationState, mode: Mode) -> Next {
    let offers_after_failure = |s: &OperationState| {
        let mut offers = vec![];
        if s.attempts <= MAX_RETRIES {
            offers.push(Offer::Retry);
        }
        if step.rollback.is_some() {
            offers.push(Offer::Rollback);
        }
        offers.push(Offer::Abort);
        offers
    };
    match mode {
        Mode::Abort => {
            return match &s.ended {
                Some(Ended::Succeeded { .. }) => Next::Refuse {
                    why: format!("step `{}` succeeded: there is nothing to abort", step.id),
                    offers: vec![],
                },
                Some(Ended::Aborted { .. }) => Next::Done,
                _ => Next::Abort,
            };
        }
        Mode::Rollback => {
            return match (&step.rollback, &s.ended) {
                (None, _) => Next::Refuse {
                    why: format!("step `{}` declares no rollback", step.id),
                    offers: vec![Offer::Abort],
                },
                (Some(_), Some(Ended::RolledBack { ok: true })) => Next::Done,
                (Some(_), Some(Ended::RolledBack { ok: false })) if !s.rolling_back => {
                    Next::Refuse {
                        why: format!(
                            "the rollback of step `{}` failed: see its log, and finish it by hand",
                            step.id
                        ),
                        offers: vec![Offer::Abort],
                    }
                }
                (Some(_), None) if s.attempts == 0 && !s.rolling_back => Next::Refuse {
                    why: format!(
                        "step `{}` never ran: there is nothing to roll back",
                        step.id
                    ),
                    offers: vec![],
                },
                (Some(_), _) => Next::Rollback {
                    irreversible: step.irreversible,
                },
            };
        }
        Mode::Run | Mode::Retry => {}
    }
    match &s.ended {
        Some(Ended::Succeeded { .. }) => return Next::Done,
        Some(Ended::Aborted { by }) => {
            return Next::Refuse {
                why: format!(
                    "step `{}` was aborted by {by}; the change needs a new plan",
                    step.id
                ),
                offers: vec![],
            }
        }
        Some(Ended::RolledBack { ok }) => {
            return Next::Refuse {
                why: format!(
                    "step `{}` was rolled back{}; the change needs a new plan",
                    step.id,
                    if *ok { "" } else { " (its rollback failed)" }
                ),
                offers: vec![],
            }
        }
        Some(Ended::Failed { reason }) => {
            if mode != Mode::Retry {
                return Next::Refuse {
                    why: format!("step `{}` failed: {reason}", step.id),
                    offers: offers_after_failure(s),
                };
            }
            if s.attempts > MAX_RETRIES {
                return Next::Refuse {
                    why: format!(
                        "step `{}` failed {} times, the first run and {MAX_RETRIES} retries: it is not run again",
                        step.id, s.attempts
                    ),
                    offers: offers_after_failure(s),
                };
            }
            return Next::Execute {
                attempt: s.attempts + 1,
            };
        }
        None => {}
    }
    if mode == Mode::Retry {
        return Next::Refuse {
            why: format!(
                "step `{}` has not failed: there is nothing to retry",
                step.id
            ),
            offers: vec![],
        };
    }
    if s.attempts == 0 {
        return match (step.verify.is_some(), s.verified_first) {
            (true, None) => Next::VerifyFirst,
            (true, Some(true)) => Next::Succeed {
                note: Some(ALREADY_DONE.into()),
            },
            _ => Next::Execute { attempt: 1 },
        };
    }
    if s.executing {
        // The job died between `executing` and its result: find out what
        // happened before anything else, never by running it again.
        return match (&step.poll, &step.verify) {
            (Some(_), _) => Next::Poll { ticks: s.ticks },
            (None, Some(_)) => Next::Verify,
            (None, None) => Next::Refuse {
                why: format!(
                    "the job running step `{}` ended before it recorded the result, and the step has no poll or verify to tell whether it took effect: check by hand",
                    step.id
                ),
                offers: vec![Offer::Retry, Offer::Abort],
            },
        };
    }
    if !s.executed_ok {
        return Next::Fail {
            reason: format!("`execute` did not succeed (attempt {})", s.attempts),
        };
    }
    if step.poll.is_some() {
        match s.poll_ended {
            None => return Next::Poll { ticks: s.ticks },
            Some(PollOutcome::Failed) => {
                return Next::Fail {
                    reason: "the poll reported a failure state".into(),
                }
            }
            Some(PollOutcome::TimedOut) => {
                return Next::Fail {
                    reason: "the poll's timeout passed before a terminal state".into(),
                }
            }
            Some(PollOutcome::Succeeded) => {}
        }
    }
    if step.verify.is_some() {
        return match s.verified {
            None => Next::Verify,
            Some(true) => Next::Succeed { note: None },
            Some(false) => Next::Fail {
                reason: "its verify failed".into(),
            },
        };
    }
    Next::Succeed { note: None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::steps::{Argv, Poll, StepKind, StepVerify};
    use crate::journal::operation::{CommandRun, OperationRecord};

    fn argv(a: &[&str]) -> Argv {
        Argv(a.iter().map(|s| s.to_string()).collect())
    }

    fn step(poll: bool, verify: bool, rollback: bool) -> Step {
        Step {
            id: "replicate".into(),
            kind: StepKind::Operation,
            requires: vec![],
            preview: None,
            execute: Some(argv(&["./op.sh", "start"])),
            verify: verify.then(|| StepVerify {
                argv: Some(argv(&["./op.sh", "check"])),
                success_pattern: None,
                checks: vec![],
            }),
            rollback: rollback.then(|| argv(&["./op.sh", "undo"])),
            poll: poll.then(|| Poll {
                argv: argv(&["./op.sh", "status"]),
                interval: "1s".into(),
                terminal: vec!["COMPLETED".into()],
                failure: vec!["FAILED".into()],
                timeout: "1m".into(),
            }),
            irreversible: false,
            env: Default::default(),
            secret_env: vec![],
            working_directory: None,
        }
    }

    fn run(code: i32) -> CommandRun {
        CommandRun {
            exit_code: Some(code),
            ..Default::default()
        }
    }

    /// Plays the machine to the end, answering each action as `world` says.
    fn drive(
        step: &Step,
        mut records: Vec<OperationRecord>,
        mode: Mode,
        world: &mut dyn FnMut(&Next) -> Vec<OperationRecord>,
    ) -> (Next, Vec<OperationRecord>) {
        let mut mode = mode;
        for _ in 0..100 {
            let n = next(step, &fold(&records), mode);
            let terminal = matches!(n, Next::Done | Next::Refuse { .. });
            if terminal {
                return (n, records);
            }
            records.extend(world(&n));
            // Only the first action is what the job asked for; then it runs on.
            if mode != Mode::Rollback && mode != Mode::Abort {
                mode = Mode::Run;
            }
        }
        panic!("the machine did not settle: {records:?}");
    }

    fn executions(records: &[OperationRecord]) -> usize {
        records
            .iter()
            .filter(|r| matches!(r, OperationRecord::Executing { .. }))
            .count()
    }

    /// A world where execute works, the poll says RUNNING twice then `end`, verify `passes`.
    fn world(end: &'static str, passes: bool) -> impl FnMut(&Next) -> Vec<OperationRecord> {
        move |n| match n {
            Next::VerifyFirst => vec![OperationRecord::Verified {
                passed: false,
                before_execute: true,
                detail: "not there".into(),
            }],
            Next::Execute { attempt } => vec![
                OperationRecord::Executing { attempt: *attempt },
                OperationRecord::Executed {
                    attempt: *attempt,
                    run: run(0),
                },
            ],
            Next::Poll { ticks } => {
                let tick = ticks + 1;
                let state = if tick < 3 { "RUNNING" } else { end };
                let mut out = vec![OperationRecord::PollTick {
                    tick,
                    state: state.into(),
                }];
                if state != "RUNNING" {
                    out.push(OperationRecord::PollEnded {
                        state: state.into(),
                        outcome: if state == "COMPLETED" {
                            PollOutcome::Succeeded
                        } else {
                            PollOutcome::Failed
                        },
                    });
                }
                out
            }
            Next::Verify => vec![OperationRecord::Verified {
                passed: passes,
                before_execute: false,
                detail: String::new(),
            }],
            Next::Succeed { note } => vec![OperationRecord::Succeeded { note: note.clone() }],
            Next::Fail { reason } => vec![OperationRecord::Failed {
                reason: reason.clone(),
            }],
            Next::Rollback { irreversible } => vec![
                OperationRecord::RollbackStarted {
                    irreversible: *irreversible,
                },
                OperationRecord::RolledBack { run: run(0) },
            ],
            Next::Abort => vec![OperationRecord::Aborted { by: "ops".into() }],
            Next::Done | Next::Refuse { .. } => vec![],
        }
    }

    #[test]
    fn a_step_verifies_first_executes_once_polls_to_its_terminal_state_and_verifies() {
        let s = step(true, true, false);
        let (end, records) = drive(&s, vec![], Mode::Run, &mut world("COMPLETED", true));
        assert_eq!(end, Next::Done);
        assert_eq!(executions(&records), 1);
        assert!(matches!(
            records[0],
            OperationRecord::Verified {
                before_execute: true,
                ..
            }
        ));
        assert_eq!(fold(&records).ended, Some(Ended::Succeeded { note: None }));
    }

    #[test]
    fn a_target_that_already_exists_is_done_without_execute() {
        let s = step(true, true, false);
        let first = vec![OperationRecord::Verified {
            passed: true,
            before_execute: true,
            detail: "exists".into(),
        }];
        assert_eq!(
            next(&s, &fold(&first), Mode::Run),
            Next::Succeed {
                note: Some(ALREADY_DONE.into())
            }
        );
    }

    #[test]
    fn a_failure_state_fails_the_step_and_offers_retry_rollback_and_abort() {
        let s = step(true, false, true);
        let (end, records) = drive(&s, vec![], Mode::Run, &mut world("FAILED", true));
        assert_eq!(
            end,
            Next::Refuse {
                why: "step `replicate` failed: the poll reported a failure state".into(),
                offers: vec![Offer::Retry, Offer::Rollback, Offer::Abort],
            }
        );
        let (end, records) = drive(&s, records, Mode::Rollback, &mut world("FAILED", true));
        assert_eq!(end, Next::Done);
        assert_eq!(fold(&records).ended, Some(Ended::RolledBack { ok: true }));
        assert_eq!(executions(&records), 1, "a rollback executes nothing");
    }

    #[test]
    fn three_retries_then_refusal() {
        let s = step(true, false, false);
        let mut w = world("FAILED", true);
        let (_, mut records) = drive(&s, vec![], Mode::Run, &mut w);
        for retry in 1..=MAX_RETRIES {
            let (end, more) = drive(&s, records, Mode::Retry, &mut w);
            records = more;
            assert_eq!(executions(&records) as u32, 1 + retry);
            assert!(matches!(end, Next::Refuse { .. }));
        }
        let got = next(&s, &fold(&records), Mode::Retry);
        assert_eq!(
            got,
            Next::Refuse {
                why: "step `replicate` failed 4 times, the first run and 3 retries: it is not run again".into(),
                offers: vec![Offer::Abort],
            }
        );
    }

    #[test]
    fn a_job_that_died_mid_execute_is_polled_or_verified_never_executed_again() {
        let died = vec![OperationRecord::Executing { attempt: 1 }];
        assert_eq!(
            next(&step(true, true, false), &fold(&died), Mode::Run),
            Next::Poll { ticks: 0 }
        );
        assert_eq!(
            next(&step(false, true, false), &fold(&died), Mode::Run),
            Next::Verify
        );
        assert!(matches!(
            next(&step(false, false, false), &fold(&died), Mode::Run),
            Next::Refuse { .. }
        ));
        // Resumed: the poll goes on from its ticks, and the step is not executed twice.
        let s = step(true, false, false);
        let mid_poll = vec![
            OperationRecord::Executing { attempt: 1 },
            OperationRecord::Executed {
                attempt: 1,
                run: run(0),
            },
            OperationRecord::PollTick {
                tick: 1,
                state: "RUNNING".into(),
            },
            OperationRecord::Waiting { ticks: 1 },
        ];
        assert_eq!(
            next(&s, &fold(&mid_poll), Mode::Run),
            Next::Poll { ticks: 1 }
        );
        let (end, records) = drive(&s, mid_poll, Mode::Run, &mut world("COMPLETED", true));
        assert_eq!(end, Next::Done);
        assert_eq!(executions(&records), 1);
    }

    #[test]
    fn retry_rollback_and_abort_are_refused_where_they_mean_nothing() {
        let s = step(false, false, false);
        let fresh = fold(&[]);
        assert!(matches!(next(&s, &fresh, Mode::Retry), Next::Refuse { .. }));
        assert!(matches!(
            next(&s, &fresh, Mode::Rollback),
            Next::Refuse { .. }
        ));
        let done = vec![
            OperationRecord::Executing { attempt: 1 },
            OperationRecord::Executed {
                attempt: 1,
                run: run(0),
            },
            OperationRecord::Succeeded { note: None },
        ];
        assert!(matches!(
            next(&s, &fold(&done), Mode::Abort),
            Next::Refuse { .. }
        ));
        assert_eq!(next(&s, &fold(&done), Mode::Run), Next::Done);
    }

    #[test]
    fn a_failed_execute_fails_the_step() {
        let s = step(true, true, false);
        let records = vec![
            OperationRecord::Verified {
                passed: false,
                before_execute: true,
                detail: String::new(),
            },
            OperationRecord::Executing { attempt: 1 },
            OperationRecord::Executed {
                attempt: 1,
                run: run(2),
            },
        ];
        assert_eq!(
            next(&s, &fold(&records), Mode::Run),
            Next::Fail {
                reason: "`execute` did not succeed (attempt 1)".into()
            }
        );
    }
}
