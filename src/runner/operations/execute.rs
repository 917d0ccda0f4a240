//! Drives one operation step to where it settles: asks
//! `phase::operation::next` what to do, does it, journals the record, and
//! asks again. Every record is journaled before the next action starts, so
//! a job that dies anywhere resumes from the journal.
//!
//! A poll's `timeout` is counted in polls (`timeout / interval`, at least
//! one): the count lives in the journal, so a poll continued by another job
//! keeps its limit without trusting two machines' clocks. When the job's own
//! time would end before the next poll, the step is journaled `waiting` and
//! a later run continues it.

use std::time::{Duration, Instant};

use regex::Regex;

use super::command::{poll_state, StepCommands};
use crate::config::steps::{parse_poll_duration, Argv, Poll, Step};
use crate::journal::operation::{OperationRecord, PollOutcome};
use crate::phase::operation::{fold, next, Mode, Next, Offer};

/// Where a step stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// It succeeded (now or before), or its rollback or abort is done.
    Done,
    /// It needs a person: why, and what may be done.
    Refused { why: String, offers: Vec<Offer> },
    /// Its poll goes on past this job: a later run continues it.
    Waiting { ticks: u32 },
}

/// What the step's commands may take of the job's time.
pub struct JobClock {
    /// When this job must have stopped starting commands.
    pub deadline: Instant,
    /// Sleeps between polls (a test passes a faster one).
    pub sleep: fn(Duration),
}

impl JobClock {
    fn left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}

/// A poll answer that repeats the last journaled one is journaled once in
/// this many polls (a job that dies loses at most this many from the count
/// its timeout is measured in).
pub const TICKS_PER_RECORD: u32 = 10;

/// How many polls a poll's timeout allows.
pub fn max_polls(poll: &Poll) -> u32 {
    let interval = parse_poll_duration(&poll.interval).unwrap_or(Duration::from_secs(60));
    let timeout = parse_poll_duration(&poll.timeout).unwrap_or(interval);
    let n = timeout.as_secs().div_ceil(interval.as_secs().max(1));
    u32::try_from(n).unwrap_or(u32::MAX).max(1)
}

/// Where a step's records go, each before the next action starts.
#[allow(async_fn_in_trait)]
pub trait Recorder {
    type Error;
    async fn record(&mut self, record: &OperationRecord) -> Result<(), Self::Error>;
}

/// A [`Recorder`] from a closure (tests, and journals already at hand).
pub struct FnRecorder<F>(pub F);

impl<E, F: FnMut(&OperationRecord) -> Result<(), E>> Recorder for FnRecorder<F> {
    type Error = E;
    async fn record(&mut self, record: &OperationRecord) -> Result<(), E> {
        (self.0)(record)
    }
}

/// Runs `step` from the state its `records` give until it settles,
/// journaling every new record through `journal` first (an error there
/// stops the step: nothing runs that the journal does not know of).
pub async fn drive<R: Recorder>(
    step: &Step,
    mut records: Vec<OperationRecord>,
    mut mode: Mode,
    actor: &str,
    commands: &StepCommands<'_>,
    clock: &JobClock,
    journal: &mut R,
) -> Result<Settled, R::Error> {
    macro_rules! record {
        ($r:expr, $records:expr) => {{
            let r = $r;
            journal.record(&r).await?;
            $records.push(r);
        }};
    }
    // The last poll answer journaled: an answer that repeats it is kept in
    // memory and journaled only every `TICKS_PER_RECORD` polls, so a poll of
    // hours costs a few journal writes, not one per answer.
    let mut journaled_tick: Option<(u32, String)> = records.iter().rev().find_map(|r| match r {
        OperationRecord::PollTick { tick, state } => Some((*tick, state.clone())),
        _ => None,
    });
    loop {
        let decision = next(step, &fold(&records), mode);
        // What the job asked for is the first action; then the step runs on.
        if mode == Mode::Retry {
            mode = Mode::Run;
        }
        match decision {
            Next::Done => return Ok(Settled::Done),
            Next::Refuse { why, offers } => return Ok(Settled::Refused { why, offers }),
            Next::VerifyFirst => {
                let (passed, detail) = verify(step, commands, 0, clock).await;
                record!(
                    OperationRecord::Verified {
                        passed,
                        before_execute: true,
                        detail,
                    },
                    records
                );
            }
            Next::Execute { attempt } => {
                journaled_tick = None;
                record!(OperationRecord::Executing { attempt }, records);
                let argv = step.execute.as_ref().cloned().unwrap_or(Argv(vec![]));
                let run = commands.run(step, "execute", attempt, &argv, clock.left());
                record!(OperationRecord::Executed { attempt, run }, records);
            }
            Next::Poll { ticks } => {
                let Some(poll) = &step.poll else {
                    return Ok(Settled::Refused {
                        why: format!("step `{}` has no poll", step.id),
                        offers: vec![],
                    });
                };
                let interval = parse_poll_duration(&poll.interval).unwrap_or(Duration::ZERO);
                if ticks > 0 {
                    if clock.left() <= interval {
                        record!(OperationRecord::Waiting { ticks }, records);
                        return Ok(Settled::Waiting { ticks });
                    }
                    (clock.sleep)(interval);
                }
                let tick = ticks + 1;
                let attempt = fold(&records).attempts;
                let run = commands.run(
                    step,
                    &format!("poll-{attempt}"),
                    tick,
                    &poll.argv,
                    interval.max(Duration::from_secs(30)).min(clock.left()),
                );
                let state = if run.ok() {
                    poll_state(&run.stdout_tail)
                } else {
                    format!(
                        "(the poll command failed: {})",
                        run.error
                            .clone()
                            .unwrap_or_else(|| format!("exit {:?}", run.exit_code))
                    )
                };
                let answer = OperationRecord::PollTick {
                    tick,
                    state: state.clone(),
                };
                let news = journaled_tick
                    .as_ref()
                    .is_none_or(|(t, s)| s != &state || tick >= t + TICKS_PER_RECORD);
                if news {
                    record!(answer, records);
                    journaled_tick = Some((tick, state.clone()));
                } else {
                    records.push(answer);
                }
                let outcome = if poll.terminal.contains(&state) {
                    Some(PollOutcome::Succeeded)
                } else if poll.failure.contains(&state) {
                    Some(PollOutcome::Failed)
                } else if tick >= max_polls(poll) {
                    Some(PollOutcome::TimedOut)
                } else {
                    None
                };
                if let Some(outcome) = outcome {
                    record!(OperationRecord::PollEnded { state, outcome }, records);
                }
            }
            Next::Verify => {
                let attempt = fold(&records).attempts;
                let (passed, detail) = verify(step, commands, attempt, clock).await;
                record!(
                    OperationRecord::Verified {
                        passed,
                        before_execute: false,
                        detail,
                    },
                    records
                );
            }
            Next::Succeed { note } => record!(OperationRecord::Succeeded { note }, records),
            Next::Fail { reason } => record!(OperationRecord::Failed { reason }, records),
            Next::Rollback { irreversible } => {
                record!(OperationRecord::RollbackStarted { irreversible }, records);
                let argv = step.rollback.as_ref().cloned().unwrap_or(Argv(vec![]));
                let n = records
                    .iter()
                    .filter(|r| matches!(r, OperationRecord::RollbackStarted { .. }))
                    .count() as u32;
                let run = commands.run(step, "rollback", n, &argv, clock.left());
                record!(OperationRecord::RolledBack { run }, records);
            }
            Next::Abort => record!(
                OperationRecord::Aborted {
                    by: actor.to_string(),
                },
                records
            ),
        }
    }
}

/// Runs the step's verify: its command (exit 0, and its output matching
/// `success_pattern` when given) or its checks (none failing).
async fn verify(
    step: &Step,
    commands: &StepCommands<'_>,
    attempt: u32,
    clock: &JobClock,
) -> (bool, String) {
    let Some(v) = &step.verify else {
        return (true, "no verify declared".into());
    };
    if let Some(argv) = &v.argv {
        let run = commands.run(
            step,
            "verify",
            attempt,
            argv,
            Duration::from_secs(300).min(clock.left()),
        );
        if !run.ok() {
            let why = run
                .error
                .clone()
                .unwrap_or_else(|| format!("exit {:?}", run.exit_code));
            return (false, format!("`{}` did not pass: {why}", argv.program()));
        }
        return match &v.success_pattern {
            None => (true, format!("`{}` exited 0", argv.program())),
            Some(p) => match Regex::new(p) {
                Ok(re) if re.is_match(&run.stdout_tail) => (
                    true,
                    format!("`{}` exited 0 and its output matched", argv.program()),
                ),
                Ok(_) => (
                    false,
                    format!(
                        "`{}` exited 0 but its output did not match the success pattern",
                        argv.program()
                    ),
                ),
                Err(e) => (false, format!("bad success pattern: {e}")),
            },
        };
    }
    match crate::verify::run_environment_checks(&v.checks, commands.base_dir).await {
        Err(e) => (false, e.to_string()),
        Ok(results) => {
            let status = crate::verify::overall(&results);
            let passed = status != crate::journal::CheckStatus::Fail;
            (
                passed,
                format!(
                    "{} check(s): {}",
                    results.len(),
                    crate::verify::status_word(status)
                ),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::steps::{StepKind, StepVerify};
    use std::path::PathBuf;

    fn op_sh() -> String {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/operations/op.sh")
            .display()
            .to_string()
    }

    fn argv(action: &str) -> Argv {
        Argv(vec![op_sh(), action.into(), "db".into()])
    }

    struct Bed {
        dir: tempfile::TempDir,
        step: Step,
    }

    impl Bed {
        fn new(env: &[(&str, &str)]) -> Bed {
            let dir = tempfile::tempdir().unwrap();
            let mut vars: std::collections::BTreeMap<String, String> = env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            vars.insert(
                "OP_STATE_DIR".into(),
                dir.path().join("state").display().to_string(),
            );
            let step = Step {
                id: "replicate".into(),
                kind: StepKind::Operation,
                requires: vec![],
                preview: Some(argv("preview")),
                execute: Some(argv("start")),
                verify: Some(StepVerify {
                    argv: Some(argv("check")),
                    success_pattern: Some("^DONE$".into()),
                    checks: vec![],
                }),
                rollback: Some(argv("undo")),
                poll: Some(Poll {
                    argv: argv("status"),
                    interval: "1s".into(),
                    terminal: vec!["COMPLETED".into()],
                    failure: vec!["FAILED".into()],
                    timeout: "1m".into(),
                }),
                irreversible: false,
                env: vars,
                secret_env: vec![],
                working_directory: None,
            };
            Bed { dir, step }
        }

        fn counter(&self, name: &str) -> u32 {
            std::fs::read_to_string(self.dir.path().join("state/db").join(name))
                .map(|t| t.trim().parse().unwrap())
                .unwrap_or(0)
        }

        async fn drive(
            &self,
            records: Vec<OperationRecord>,
            mode: Mode,
            deadline: Duration,
        ) -> (Settled, Vec<OperationRecord>) {
            let logs = self.dir.path().join("logs");
            let commands = StepCommands {
                base_dir: self.dir.path(),
                logs_dir: &logs,
            };
            let clock = JobClock {
                deadline: Instant::now() + deadline,
                sleep: |_| {},
            };
            let mut all = records.clone();
            let settled = drive(
                &self.step,
                records,
                mode,
                "ops-lead",
                &commands,
                &clock,
                &mut FnRecorder(|r: &OperationRecord| {
                    all.push(r.clone());
                    Ok::<(), ()>(())
                }),
            )
            .await
            .unwrap();
            (settled, all)
        }
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[tokio::test]
    async fn a_step_runs_once_polls_to_completed_verifies_and_is_done_on_a_rerun() {
        let bed = Bed::new(&[]);
        let (settled, records) = bed.drive(vec![], Mode::Run, HOUR).await;
        assert_eq!(settled, Settled::Done, "{records:#?}");
        assert_eq!(bed.counter("executions"), 1);
        let states: Vec<&str> = records
            .iter()
            .filter_map(|r| match r {
                OperationRecord::PollTick { state, .. } => Some(state.as_str()),
                _ => None,
            })
            .collect();
        // The second RUNNING repeats the first: not journaled.
        assert_eq!(states, ["RUNNING", "COMPLETED"]);
        let (again, _) = bed.drive(records, Mode::Run, HOUR).await;
        assert_eq!(again, Settled::Done);
        assert_eq!(bed.counter("executions"), 1, "a rerun executes nothing");
    }

    #[tokio::test]
    async fn a_long_poll_journals_a_repeated_answer_once_in_ten_polls() {
        let bed = Bed::new(&[("OP_RUNNING_POLLS", "35")]);
        let (settled, records) = bed.drive(vec![], Mode::Run, HOUR).await;
        assert_eq!(settled, Settled::Done, "{records:#?}");
        assert_eq!(bed.counter("polls"), 36);
        let ticks: Vec<u32> = records
            .iter()
            .filter_map(|r| match r {
                OperationRecord::PollTick { tick, .. } => Some(*tick),
                _ => None,
            })
            .collect();
        assert_eq!(
            ticks,
            [1, 11, 21, 31, 36],
            "RUNNING every 10th poll, then COMPLETED"
        );
        // Folded from what was journaled, the count is the last journaled poll.
        assert_eq!(fold(&records).ticks, 36);
    }

    #[tokio::test]
    async fn a_target_that_already_exists_skips_execute() {
        let bed = Bed::new(&[]);
        std::fs::create_dir_all(bed.dir.path().join("state/db")).unwrap();
        std::fs::write(bed.dir.path().join("state/db/exists"), "").unwrap();
        let (settled, records) = bed.drive(vec![], Mode::Run, HOUR).await;
        assert_eq!(settled, Settled::Done);
        assert_eq!(bed.counter("executions"), 0);
        assert!(records.contains(&OperationRecord::Succeeded {
            note: Some(crate::phase::operation::ALREADY_DONE.into())
        }));
    }

    #[tokio::test]
    async fn a_failed_state_is_refused_and_rolled_back_on_request() {
        let bed = Bed::new(&[("OP_END", "FAILED")]);
        let (settled, records) = bed.drive(vec![], Mode::Run, HOUR).await;
        assert_eq!(
            settled,
            Settled::Refused {
                why: "step `replicate` failed: the poll reported a failure state".into(),
                offers: vec![Offer::Retry, Offer::Rollback, Offer::Abort],
            }
        );
        let (settled, _) = bed.drive(records, Mode::Rollback, HOUR).await;
        assert_eq!(settled, Settled::Done);
        assert_eq!(bed.counter("rollbacks"), 1);
        assert_eq!(bed.counter("executions"), 1);
    }

    #[tokio::test]
    async fn a_poll_that_outlasts_the_job_waits_and_the_next_job_continues_it() {
        let bed = Bed::new(&[("OP_RUNNING_POLLS", "3")]);
        // Less than one interval left after the first poll.
        let (settled, records) = bed
            .drive(vec![], Mode::Run, Duration::from_millis(900))
            .await;
        assert_eq!(settled, Settled::Waiting { ticks: 1 }, "{records:#?}");
        assert!(records.contains(&OperationRecord::Waiting { ticks: 1 }));
        let (settled, records) = bed.drive(records, Mode::Run, HOUR).await;
        assert_eq!(settled, Settled::Done, "{records:#?}");
        assert_eq!(bed.counter("executions"), 1);
        assert_eq!(bed.counter("polls"), 4);
    }

    #[tokio::test]
    async fn three_retries_then_the_step_is_not_run_again() {
        let bed = Bed::new(&[("OP_FAIL_START", "1")]);
        let (mut settled, mut records) = bed.drive(vec![], Mode::Run, HOUR).await;
        for _ in 0..3 {
            assert!(matches!(settled, Settled::Refused { .. }), "{settled:?}");
            (settled, records) = bed.drive(records, Mode::Retry, HOUR).await;
        }
        assert_eq!(bed.counter("executions"), 4);
        let (last, _) = bed.drive(records, Mode::Retry, HOUR).await;
        assert_eq!(
            last,
            Settled::Refused {
                why: "step `replicate` failed 4 times, the first run and 3 retries: it is not run again".into(),
                offers: vec![Offer::Rollback, Offer::Abort],
            }
        );
        assert_eq!(bed.counter("executions"), 4);
    }

    #[tokio::test]
    async fn nothing_runs_that_the_journal_refused_to_record() {
        let bed = Bed::new(&[]);
        let logs = bed.dir.path().join("logs");
        let commands = StepCommands {
            base_dir: bed.dir.path(),
            logs_dir: &logs,
        };
        let clock = JobClock {
            deadline: Instant::now() + HOUR,
            sleep: |_| {},
        };
        let got = drive(
            &bed.step,
            vec![],
            Mode::Run,
            "ops-lead",
            &commands,
            &clock,
            &mut FnRecorder(|r: &OperationRecord| match r {
                OperationRecord::Executing { .. } => Err("the store is down"),
                _ => Ok(()),
            }),
        )
        .await;
        assert_eq!(got, Err("the store is down"));
        assert_eq!(bed.counter("executions"), 0);
    }
}
