//! The `command` check: a program run from its argv (never a shell) in the
//! config's directory, stopped at its time limit; its exit code is compared
//! with the expected one. Evidence: the code, the time and the last line of
//! output, redacted.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{snippet, Attempt, Probe};
use crate::config::CommandCheck;
use crate::iac::{CommandSpec, IacError};

pub struct CommandProbe {
    argv: Vec<String>,
    dir: PathBuf,
    expect: i32,
}

impl CommandProbe {
    pub fn new(spec: &CommandCheck, base_dir: &Path) -> CommandProbe {
        CommandProbe {
            argv: spec.argv.clone(),
            dir: spec
                .dir
                .as_ref()
                .map_or_else(|| base_dir.to_path_buf(), |d| base_dir.join(d)),
            expect: spec.expect_exit.unwrap_or(0),
        }
    }
}

impl Probe for CommandProbe {
    async fn attempt(&self, timeout: Duration) -> Attempt {
        let Some((program, args)) = self.argv.split_first() else {
            return Attempt::fail("no program to run");
        };
        let spec = CommandSpec {
            program: PathBuf::from(program),
            args: args.to_vec(),
            dir: self.dir.clone(),
            env: vec![],
            timeout,
            log_stdout: false,
            clear_env: false,
        };
        let shown = spec.display();
        let started = Instant::now();
        let run = tokio::task::spawn_blocking(move || spec.run()).await;
        let ms = started.elapsed().as_millis();
        match run {
            Err(e) => Attempt::fail(format!("`{shown}` did not finish: {e}")),
            Ok(Err(IacError::Timeout { limit, .. })) => Attempt::fail(format!(
                "`{shown}` was killed at its time limit of {} ms",
                limit.as_millis()
            )),
            Ok(Err(e)) => Attempt::fail(format!("`{shown}`: {e}")),
            Ok(Ok(out)) => {
                let last = out
                    .stdout
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .or_else(|| out.stderr_tail.lines().next_back())
                    .map(|l| format!("; last line: \"{}\"", snippet(l, 120)))
                    .unwrap_or_default();
                let text = format!("`{shown}` exited {} in {ms} ms{last}", out.code);
                if out.code == self.expect {
                    Attempt::pass(text)
                } else {
                    Attempt::fail(format!("{text}; expected exit {}", self.expect))
                }
            }
        }
    }
}
