//! Runs one command of an operation step (its preview, execute, poll,
//! verify or rollback) and keeps what the journal may hold.
//!
//! A command starts from an empty environment: `PATH`, `HOME`, `LANG` and
//! `TMPDIR` from phasegate's own, then the step's `env`, then its
//! `secret_env` names passed through, each value registered with the
//! redactor first. The job's tokens never reach a command a change plan
//! names. It runs in its own process group, as Terraform does, so a
//! cancelled job does not kill it half-way. Its whole output goes to a log
//! file; the journal keeps redacted tails.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::steps::{Argv, Step};
use crate::iac::{CommandSpec, IacError};
use crate::journal::operation::CommandRun;

/// Lines of each output stream the journal keeps.
pub const TAIL_LINES: usize = 20;
/// Characters of each tail the journal keeps.
pub const TAIL_CHARS: usize = 2_000;

/// Variables every command gets from phasegate's own environment.
const BASE_ENV: [&str; 4] = ["PATH", "HOME", "LANG", "TMPDIR"];

/// Where a step's commands run and where their logs go.
pub struct StepCommands<'a> {
    /// The config file's directory: `working_directory` is relative to it.
    pub base_dir: &'a Path,
    /// The run's log directory; each step writes under `<logs>/<step id>/`.
    pub logs_dir: &'a Path,
}

impl StepCommands<'_> {
    /// Runs `argv` for `step`; `what` and `attempt` name its log file
    /// (`execute-2.log`). Never fails: a command that cannot start or
    /// overruns `timeout` is a [`CommandRun`] with its `error`.
    pub fn run(
        &self,
        step: &Step,
        what: &str,
        attempt: u32,
        argv: &Argv,
        timeout: Duration,
    ) -> CommandRun {
        let log = self.log_path(step, what, attempt);
        let Some((program, args)) = argv.0.split_first() else {
            return CommandRun {
                error: Some("no program to run".into()),
                ..Default::default()
            };
        };
        let dir = step
            .working_directory
            .as_ref()
            .map_or_else(|| self.base_dir.to_path_buf(), |d| self.base_dir.join(d));
        let spec = CommandSpec {
            program: resolve(program, &dir),
            args: args.to_vec(),
            dir,
            env: environment(step),
            timeout,
            log_stdout: false,
            clear_env: true,
        };
        let shown = spec.display();
        let result = spec.run();
        let relative = log
            .strip_prefix(self.logs_dir)
            .unwrap_or(&log)
            .display()
            .to_string();
        match result {
            Ok(out) => {
                let written = write_log(&log, &shown, &out.stdout, &out.stderr_tail);
                CommandRun {
                    exit_code: Some(out.code),
                    stdout_tail: tail(&out.stdout),
                    stderr_tail: tail(&out.stderr_tail),
                    log: written.then_some(relative),
                    error: None,
                }
            }
            Err(e) => {
                let why = match &e {
                    IacError::Timeout { limit, .. } => {
                        format!("killed at its time limit of {} s", limit.as_secs())
                    }
                    other => other.to_string(),
                };
                let written = write_log(&log, &shown, "", &why);
                CommandRun {
                    exit_code: None,
                    error: Some(crate::redact::global().apply(&why)),
                    log: written.then_some(relative),
                    ..Default::default()
                }
            }
        }
    }

    fn log_path(&self, step: &Step, what: &str, attempt: u32) -> PathBuf {
        // Step ids are checked to be file-name safe (`config::steps`).
        self.logs_dir
            .join(&step.id)
            .join(format!("{what}-{attempt}.log"))
    }
}

/// A program named with a slash is relative to the working directory; a bare name is looked
/// up on `PATH` by the system.
fn resolve(program: &str, dir: &Path) -> PathBuf {
    if program.contains('/') && !program.starts_with('/') {
        dir.join(program)
    } else {
        PathBuf::from(program)
    }
}

/// The command's whole environment: a few of phasegate's own, the step's `env`, and its
/// secrets, registered with the redactor before any output can hold them.
fn environment(step: &Step) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = BASE_ENV
        .iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
        .collect();
    env.extend(step.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    for name in &step.secret_env {
        if let Ok(value) = std::env::var(name) {
            crate::redact::global().add(&value);
            env.push((name.clone(), value));
        }
    }
    env
}

/// The last [`TAIL_LINES`] lines (at most [`TAIL_CHARS`] characters), redacted.
pub fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(TAIL_LINES);
    let joined = lines[start..].join("\n");
    let cut: String = {
        let n = joined.chars().count();
        joined.chars().skip(n.saturating_sub(TAIL_CHARS)).collect()
    };
    crate::redact::global().apply(&cut)
}

/// The state a poll reported: the last non-empty line of its output, trimmed.
pub fn poll_state(stdout: &str) -> String {
    stdout
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .to_string()
}

/// Writes the whole output, redacted, to the step's log file (0600). A log that cannot be
/// written is reported in the journal by its absence, not as the step's failure.
fn write_log(path: &Path, shown: &str, stdout: &str, stderr: &str) -> bool {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let Some(dir) = path.parent() else {
        return false;
    };
    if std::fs::create_dir_all(dir).is_err() {
        return false;
    }
    let text = crate::redact::global().apply(&format!(
        "$ {shown}\n--- stdout ---\n{stdout}\n--- stderr (last part) ---\n{stderr}\n"
    ));
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::steps::StepKind;

    fn step(env: &[(&str, &str)], secret_env: &[&str]) -> Step {
        Step {
            id: "probe".into(),
            kind: StepKind::Operation,
            requires: vec![],
            preview: None,
            execute: None,
            verify: None,
            rollback: None,
            poll: None,
            irreversible: false,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            secret_env: secret_env.iter().map(|s| s.to_string()).collect(),
            working_directory: None,
        }
    }

    fn argv(a: &[&str]) -> Argv {
        Argv(a.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn a_command_sees_its_step_s_environment_and_not_the_job_s_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        std::env::set_var("PG_OPERATIONS_TEST_TOKEN", "ghs_not-for-commands");
        std::env::set_var("PG_OPERATIONS_TEST_SECRET", "s3cret-for-the-step");
        let s = step(&[("REGION", "eu-west-1")], &["PG_OPERATIONS_TEST_SECRET"]);
        let runner = StepCommands {
            base_dir: dir.path(),
            logs_dir: &logs,
        };
        let run = runner.run(&s, "execute", 1, &argv(&["env"]), Duration::from_secs(10));
        assert_eq!(run.exit_code, Some(0), "{run:?}");
        assert!(run.stdout_tail.contains("REGION=eu-west-1"), "{run:?}");
        assert!(
            !run.stdout_tail.contains("PG_OPERATIONS_TEST_TOKEN"),
            "{run:?}"
        );
        // The secret reached the command and is redacted from everything kept.
        assert!(
            run.stdout_tail.contains("PG_OPERATIONS_TEST_SECRET="),
            "{run:?}"
        );
        assert!(!run.stdout_tail.contains("s3cret-for-the-step"), "{run:?}");
        let log = std::fs::read_to_string(logs.join("probe/execute-1.log")).unwrap();
        assert!(!log.contains("s3cret-for-the-step"));
        assert!(log.contains("REGION=eu-west-1"));
        assert_eq!(run.log.as_deref(), Some("probe/execute-1.log"));
    }

    #[test]
    fn a_missing_program_or_an_overrun_is_a_run_with_its_error() {
        let dir = tempfile::tempdir().unwrap();
        let runner = StepCommands {
            base_dir: dir.path(),
            logs_dir: dir.path(),
        };
        let s = step(&[], &[]);
        let missing = runner.run(
            &s,
            "execute",
            1,
            &argv(&["./no-such-script.sh"]),
            Duration::from_secs(5),
        );
        assert!(!missing.ok());
        assert!(missing.error.is_some(), "{missing:?}");
        let slow = runner.run(
            &s,
            "poll",
            1,
            &argv(&["sleep", "5"]),
            Duration::from_millis(300),
        );
        assert!(!slow.ok());
        assert!(
            slow.error.as_deref().unwrap_or("").contains("time limit"),
            "{slow:?}"
        );
    }

    #[test]
    fn a_poll_s_state_is_its_last_non_empty_line_and_tails_are_bounded() {
        assert_eq!(poll_state("starting\n  RUNNING  \n\n"), "RUNNING");
        assert_eq!(poll_state(""), "");
        let long: String = (0..100).map(|i| format!("line {i}\n")).collect();
        let t = tail(&long);
        assert_eq!(t.lines().count(), TAIL_LINES);
        assert!(t.ends_with("line 99"));
        assert!(tail(&"x".repeat(10_000)).chars().count() <= TAIL_CHARS);
    }
}
