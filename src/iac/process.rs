//! Running one engine command as a child process: never through a shell,
//! with a time limit, its stderr streamed to the log, and errors that carry
//! the command, the directory, the exit code and the tail of stderr.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::IacError;

/// How many trailing stderr lines an error carries.
const STDERR_TAIL_LINES: usize = 30;

/// One command to run.
#[derive(Debug, Clone)]
pub struct CommandSpec {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub dir: PathBuf,
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
    /// Stream stdout lines to the log. Off for commands whose stdout holds
    /// sensitive values (`show -json`, `state pull`, `output -json`).
    pub log_stdout: bool,
}

#[derive(Debug, Clone)]
pub struct ProcessOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr_tail: String,
}

impl CommandSpec {
    /// The command as shown in logs and errors. `-backend-config` and `-var`
    /// values can hold credentials, so only their keys are shown.
    pub fn display(&self) -> String {
        let mut parts = vec![self.program.display().to_string()];
        for arg in &self.args {
            parts.push(display_arg(arg));
        }
        parts.join(" ")
    }

    /// Runs the command; any exit code is returned, so callers decide which
    /// codes mean success (`plan -detailed-exitcode` uses 2 for "changes").
    pub fn run(&self) -> Result<ProcessOutput, IacError> {
        let command = self.display();
        tracing::info!(command = %command, dir = %self.dir.display(), "running");
        let mut child = Command::new(&self.program)
            .args(&self.args)
            .current_dir(&self.dir)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| IacError::Spawn {
                command: command.clone(),
                dir: self.dir.clone(),
                source,
            })?;

        let tail = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_TAIL_LINES)));
        let stderr = child.stderr.take().expect("stderr is piped");
        let stderr_reader = {
            let tail = Arc::clone(&tail);
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    tracing::warn!(target: "engine", "{line}");
                    let mut tail = tail.lock().unwrap_or_else(|e| e.into_inner());
                    if tail.len() == STDERR_TAIL_LINES {
                        tail.pop_front();
                    }
                    tail.push_back(line);
                }
            })
        };
        let stdout = child.stdout.take().expect("stdout is piped");
        let log_stdout = self.log_stdout;
        let stdout_reader = std::thread::spawn(move || {
            let mut out = String::new();
            if log_stdout {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    tracing::info!(target: "engine", "{line}");
                    out.push_str(&line);
                    out.push('\n');
                }
            } else {
                let _ = BufReader::new(stdout).read_to_string(&mut out);
            }
            out
        });

        let deadline = Instant::now() + self.timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(IacError::Timeout {
                        command,
                        dir: self.dir.clone(),
                        limit: self.timeout,
                    });
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(source) => {
                    return Err(IacError::Spawn {
                        command,
                        dir: self.dir.clone(),
                        source,
                    })
                }
            }
        };
        let stdout = stdout_reader.join().unwrap_or_default();
        let _ = stderr_reader.join();
        let stderr_tail = tail
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .join("\n");
        match status.code() {
            Some(code) => Ok(ProcessOutput {
                code,
                stdout,
                stderr_tail,
            }),
            None => Err(IacError::Killed {
                command,
                dir: self.dir.clone(),
                stderr_tail,
            }),
        }
    }

    /// Runs the command and treats any exit code outside `ok_codes` as failure.
    pub fn run_expecting(&self, ok_codes: &[i32]) -> Result<ProcessOutput, IacError> {
        let out = self.run()?;
        if ok_codes.contains(&out.code) {
            Ok(out)
        } else {
            Err(IacError::Failed {
                command: self.display(),
                dir: self.dir.clone(),
                code: out.code,
                stderr_tail: out.stderr_tail,
            })
        }
    }
}

fn display_arg(arg: &str) -> String {
    for flag in ["-backend-config=", "-var="] {
        if let Some(rest) = arg.strip_prefix(flag) {
            return match rest.split_once('=') {
                Some((key, _)) => format!("{flag}{key}=***"),
                // A file path: harmless to show.
                None => arg.to_string(),
            };
        }
    }
    arg.to_string()
}

/// Resolves `dir` relative to `base` unless it is absolute.
pub fn resolve(base: &Path, dir: &Path) -> PathBuf {
    if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        base.join(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, timeout: Duration) -> CommandSpec {
        CommandSpec {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            dir: std::env::temp_dir(),
            env: vec![],
            timeout,
            log_stdout: false,
        }
    }

    #[test]
    fn failure_carries_command_dir_code_and_stderr_tail() {
        let err = sh(
            "echo first >&2; echo boom >&2; exit 7",
            Duration::from_secs(10),
        )
        .run_expecting(&[0])
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("/bin/sh -c"), "{text}");
        assert!(text.contains("exited with code 7"), "{text}");
        assert!(text.contains("boom"), "{text}");
        assert!(text.contains(&std::env::temp_dir().display().to_string()));
    }

    #[test]
    fn slow_command_is_stopped_at_its_time_limit() {
        let err = sh("sleep 5", Duration::from_millis(200)).run().unwrap_err();
        assert!(matches!(err, IacError::Timeout { .. }), "{err}");
    }

    #[test]
    fn automation_environment_is_set() {
        let out = sh("echo $TF_IN_AUTOMATION$TF_INPUT", Duration::from_secs(10))
            .run_expecting(&[0])
            .unwrap();
        assert_eq!(out.stdout.trim(), "10");
    }

    #[test]
    fn missing_program_is_a_spawn_error_naming_it() {
        let spec = CommandSpec {
            program: "/nonexistent/terraform".into(),
            ..sh("", Duration::from_secs(1))
        };
        let err = spec.run().unwrap_err();
        assert!(err.to_string().contains("/nonexistent/terraform"), "{err}");
    }

    #[test]
    fn credential_values_in_arguments_are_not_displayed() {
        let spec = CommandSpec {
            args: vec![
                "init".into(),
                "-backend-config=access_key=AKIASECRET".into(),
                "-backend-config=backend.hcl".into(),
            ],
            ..sh("", Duration::from_secs(1))
        };
        let shown = spec.display();
        assert!(!shown.contains("AKIASECRET"), "{shown}");
        assert!(shown.contains("-backend-config=access_key=***"));
        assert!(shown.contains("-backend-config=backend.hcl"));
    }
}
