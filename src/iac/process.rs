//! Running one engine command as a child process: never through a shell,
//! with a time limit, its stderr streamed to the log, and errors that carry
//! the command, the directory, the exit code and the tail of stderr.
//!
//! The engine is not tied to phasegate's life. It runs in its own process
//! group, and its stdout and stderr go to two private files (mode 0600, in
//! a directory of mode 0700 under `$RUNNER_TEMP` or the temporary
//! directory) that phasegate tails, not to pipes: when phasegate is killed
//! (SIGKILL, OOM, a cancelled job) Terraform neither gets the terminal's
//! signal nor dies writing to a closed pipe, so it runs to its end and
//! writes its state. The files are removed once read: `show -json`,
//! `state pull` and `output -json` print sensitive values there.
//!
//! Stopping is always gentle first: at the time limit, or when phasegate
//! receives SIGINT/SIGTERM (`interrupt.rs`), the engine's process group
//! gets exactly one SIGINT, which Terraform answers by finishing the
//! operations in flight and saving its state. Only at the time limit, after
//! a grace, is the engine's whole group killed.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::interrupt::{EngineGuard, Interrupts, Signal};
use super::IacError;
use crate::journal::{EngineExit, EngineProcess};

/// How many trailing stderr lines an error carries.
const STDERR_TAIL_LINES: usize = 30;

/// How often the wait loop looks at the engine, its output and the signals.
const POLL: Duration = Duration::from_millis(20);

/// How long phasegate waits for the engine after passing a signal on.
/// GitHub Actions SIGKILLs a cancelled job 10 s after its first signal;
/// this leaves about 3 s to journal the interruption and release the lock.
pub const STOP_WAIT: Duration = Duration::from_secs(7);

/// After the time limit's SIGINT, how long before the engine's group is
/// killed: a tenth of the limit, at least 1 s and at most 60 s.
fn timeout_grace(limit: Duration) -> Duration {
    (limit / 10).clamp(Duration::from_secs(1), Duration::from_secs(60))
}

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
    /// Start from an empty environment (plus `env`): for commands a change
    /// plan names, which must not see the job's tokens.
    pub clear_env: bool,
}

#[derive(Debug, Clone)]
pub struct ProcessOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr_tail: String,
}

/// phasegate received a signal while (or before) the engine ran, and what
/// became of the engine after its one SIGINT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interruption {
    pub signal: Signal,
    pub engine: EngineExit,
    /// The engine's exit code, when it exited.
    pub exit_code: Option<i32>,
    /// The engine, when it was started.
    pub process: Option<EngineProcess>,
}

impl Interruption {
    /// How the engine ended, in words.
    pub fn engine_words(&self) -> String {
        let pid = self
            .process
            .as_ref()
            .map(|p| format!(" (pid {})", p.pid))
            .unwrap_or_default();
        match (self.engine, self.exit_code) {
            (EngineExit::NotStarted, _) => "the engine was not started".into(),
            (EngineExit::Exited, Some(code)) => {
                format!("the engine{pid} was sent one SIGINT and exited with code {code}")
            }
            (EngineExit::Exited, None) => format!("the engine{pid} exited"),
            (EngineExit::Killed, _) => format!("the engine{pid} was ended by a signal"),
            (EngineExit::StillRunning, _) => format!(
                "the engine{pid} still ran after {}s; it ends on its own",
                STOP_WAIT.as_secs()
            ),
        }
    }
}

/// How a command ended, whatever the exit code.
#[derive(Debug, Clone)]
pub struct Finished {
    /// The exit code; `None` when a signal ended it or it still runs.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr_tail: String,
    /// Set when phasegate received a signal while it ran.
    pub interrupted: Option<Interruption>,
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
        let finished = self.start()?.wait()?;
        self.output(finished)
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

    /// A finished command as [`ProcessOutput`]: an interruption or a
    /// signal's end is an error.
    fn output(&self, f: Finished) -> Result<ProcessOutput, IacError> {
        if let Some(i) = f.interrupted {
            return Err(IacError::Interrupted {
                command: self.display(),
                dir: self.dir.clone(),
                signal: i.signal,
                engine: i.engine_words(),
            });
        }
        match f.code {
            Some(code) => Ok(ProcessOutput {
                code,
                stdout: f.stdout,
                stderr_tail: f.stderr_tail,
            }),
            None => Err(IacError::Killed {
                command: self.display(),
                dir: self.dir.clone(),
                stderr_tail: f.stderr_tail,
            }),
        }
    }

    /// Starts the command, watching the process's own signals.
    pub fn start(&self) -> Result<Running, IacError> {
        self.start_watching(super::interrupt::global())
    }

    /// Starts the command; a signal noted in `interrupts` stops it gently.
    /// Nothing starts once a signal was noted.
    pub fn start_watching(&self, interrupts: &'static Interrupts) -> Result<Running, IacError> {
        let command = self.display();
        let guard = interrupts.engine_running();
        if let Some(signal) = interrupts.received() {
            return Err(IacError::Interrupted {
                command,
                dir: self.dir.clone(),
                signal,
                engine: "it was not started".into(),
            });
        }
        let spawn_error = |source| IacError::Spawn {
            command: command.clone(),
            dir: self.dir.clone(),
            source,
        };
        let (capture, stdout, stderr) = Capture::create().map_err(spawn_error)?;
        tracing::info!(command = %command, dir = %self.dir.display(), "running");
        let mut command_line = Command::new(&self.program);
        if self.clear_env {
            command_line.env_clear();
        }
        let child = command_line
            .args(&self.args)
            .current_dir(&self.dir)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .process_group(0)
            .spawn()
            .map_err(spawn_error)?;
        let process = super::orphan::identify(child.id());
        Ok(Running {
            command,
            dir: self.dir.clone(),
            timeout: self.timeout,
            log_stdout: self.log_stdout,
            child,
            capture,
            started: Instant::now(),
            process,
            interrupts,
            _guard: guard,
        })
    }
}

/// The two private files an engine writes instead of pipes; the directory
/// goes when this is dropped.
#[derive(Debug)]
struct Capture {
    dir: PathBuf,
}

const CAPTURE_PREFIX: &str = "phasegate-engine-";

impl Capture {
    fn create() -> std::io::Result<(Capture, File, File)> {
        let base = std::env::var_os("RUNNER_TEMP")
            .map(PathBuf::from)
            .filter(|d| d.is_dir())
            .unwrap_or_else(std::env::temp_dir);
        sweep(&base);
        let dir = base.join(format!(
            "{CAPTURE_PREFIX}{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        // `create`, not `create_all`: an existing path (a planted link) fails.
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        let capture = Capture { dir };
        let open = |name: &str| {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(capture.dir.join(name))
        };
        let (out, err) = (open("stdout")?, open("stderr")?);
        Ok((capture, out, err))
    }

    fn stdout(&self) -> PathBuf {
        self.dir.join("stdout")
    }

    fn stderr(&self) -> PathBuf {
        self.dir.join("stderr")
    }
}

/// Removes the capture directories of phasegate processes that are gone
/// (killed before they could remove their own): what a killed run's engine
/// printed does not stay behind. An engine still writing keeps its open
/// (now unlinked) files.
fn sweep(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(CAPTURE_PREFIX)) else {
            continue;
        };
        let owner = rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
        let owned = entry.metadata().is_ok_and(|m| {
            use std::os::unix::fs::MetadataExt;
            m.is_dir() && m.uid() == rustix::process::geteuid().as_raw()
        });
        if let (Some(pid), true) = (owner, owned) {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        // An engine still running keeps writing to its (unlinked) files.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Lines appended to a file, read as they arrive.
struct Follow {
    file: File,
    partial: Vec<u8>,
}

impl Follow {
    fn open(path: &Path) -> std::io::Result<Follow> {
        Ok(Follow {
            file: File::open(path)?,
            partial: vec![],
        })
    }

    /// Hands every complete new line to `each`; at `end`, the rest too.
    fn lines(&mut self, end: bool, mut each: impl FnMut(&str)) {
        let _ = self.file.read_to_end(&mut self.partial);
        let mut from = 0;
        while let Some(n) = self.partial[from..].iter().position(|b| *b == b'\n') {
            each(&String::from_utf8_lossy(&self.partial[from..from + n]));
            from += n + 1;
        }
        self.partial.drain(..from);
        if end && !self.partial.is_empty() {
            each(&String::from_utf8_lossy(&self.partial));
            self.partial.clear();
        }
    }
}

/// A started command; [`Running::wait`] follows it to its end.
#[derive(Debug)]
pub struct Running {
    command: String,
    dir: PathBuf,
    timeout: Duration,
    log_stdout: bool,
    child: Child,
    capture: Capture,
    started: Instant,
    process: EngineProcess,
    interrupts: &'static Interrupts,
    _guard: EngineGuard<'static>,
}

/// Why the wait loop stopped.
enum Ended {
    Exited(ExitStatus),
    StillRunning,
}

impl Running {
    /// The command as shown, and its directory.
    pub fn describe(&self) -> (String, PathBuf) {
        (self.command.clone(), self.dir.clone())
    }

    /// The engine process, as the journal records it.
    pub fn process(&self) -> &EngineProcess {
        &self.process
    }

    /// One SIGINT to the engine's whole group, as a terminal's Ctrl-C
    /// sends it: Terraform 1.0 runs under panicwrap, whose outer process
    /// ignores SIGINT and leaves it to the group's delivery; Terragrunt
    /// stopped forwarding it (a second SIGINT made Terraform abort) for the
    /// same reason; providers ignore it. SIGINT to the leader alone would
    /// stop nothing.
    fn sigint(&self) {
        if let Some(pid) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            if let Err(e) = rustix::process::kill_process_group(pid, rustix::process::Signal::INT) {
                tracing::warn!("could not signal `{}`: {e}", self.command);
            }
        }
    }

    fn kill_group(&mut self) {
        if let Some(pid) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Follows the command to its end: stderr to the log and its tail kept,
    /// stdout to the log when asked, the time limit and the signals kept.
    pub fn wait(mut self) -> Result<Finished, IacError> {
        let (command, dir) = (self.command.clone(), self.dir.clone());
        let io_error = |source| IacError::Spawn {
            command: command.clone(),
            dir: dir.clone(),
            source,
        };
        let mut stderr = Follow::open(&self.capture.stderr()).map_err(io_error)?;
        let mut stdout = match self.log_stdout {
            true => Some(Follow::open(&self.capture.stdout()).map_err(io_error)?),
            false => None,
        };
        let mut tail: VecDeque<String> = VecDeque::with_capacity(STDERR_TAIL_LINES);
        let mut follow = |end: bool, stderr: &mut Follow, stdout: &mut Option<Follow>| {
            stderr.lines(end, |line| {
                tracing::warn!(target: "engine", "{line}");
                if tail.len() == STDERR_TAIL_LINES {
                    tail.pop_front();
                }
                tail.push_back(line.to_string());
            });
            if let Some(out) = stdout {
                out.lines(end, |line| tracing::info!(target: "engine", "{line}"));
            }
        };
        let deadline = self.started + self.timeout;
        // One SIGINT per engine, whatever asks for it: a second one makes
        // Terraform abort without saving its state.
        let mut sigint_sent = false;
        let mut interrupted: Option<(Signal, Instant)> = None;
        let mut timed_out: Option<Instant> = None;
        let ended = loop {
            follow(false, &mut stderr, &mut stdout);
            match self.child.try_wait() {
                Ok(Some(status)) => break Ended::Exited(status),
                Ok(None) => {}
                Err(source) => return Err(io_error(source)),
            }
            let now = Instant::now();
            if interrupted.is_none() {
                if let Some(signal) = self.interrupts.received() {
                    tracing::warn!(
                        "{} received: asking `{}` (pid {}) to stop with one SIGINT, so it saves its state; waiting up to {}s",
                        signal.name(),
                        self.command,
                        self.child.id(),
                        STOP_WAIT.as_secs()
                    );
                    if !sigint_sent {
                        self.sigint();
                        sigint_sent = true;
                    }
                    interrupted = Some((signal, now));
                }
            }
            if let Some((_, at)) = interrupted {
                if now >= at + STOP_WAIT {
                    break Ended::StillRunning;
                }
            } else if let Some(at) = timed_out {
                if now >= at + timeout_grace(self.timeout) {
                    self.kill_group();
                    return Err(IacError::Timeout {
                        command,
                        dir,
                        limit: self.timeout,
                    });
                }
            } else if now >= deadline {
                tracing::warn!(
                    "`{}` reached its time limit of {:?}: asking it to stop with SIGINT",
                    self.command,
                    self.timeout
                );
                if !sigint_sent {
                    self.sigint();
                    sigint_sent = true;
                }
                timed_out = Some(now);
            }
            std::thread::sleep(POLL);
        };
        follow(true, &mut stderr, &mut stdout);
        let stderr_tail = tail.into_iter().collect::<Vec<_>>().join("\n");
        let stdout = std::fs::read(self.capture.stdout())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let code = match &ended {
            Ended::Exited(status) => status.code(),
            Ended::StillRunning => None,
        };
        if interrupted.is_none() && timed_out.is_some() {
            return Err(IacError::Timeout {
                command,
                dir,
                limit: self.timeout,
            });
        }
        let interrupted = interrupted.map(|(signal, _)| Interruption {
            signal,
            engine: match (&ended, code) {
                (Ended::StillRunning, _) => EngineExit::StillRunning,
                (Ended::Exited(_), Some(_)) => EngineExit::Exited,
                (Ended::Exited(_), None) => EngineExit::Killed,
            },
            exit_code: code,
            process: Some(self.process.clone()),
        });
        Ok(Finished {
            code,
            stdout,
            stderr_tail,
            interrupted,
        })
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
            clear_env: false,
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

    /// A private signal state, so no other test sees these signals.
    fn interrupts() -> &'static Interrupts {
        Box::leak(Box::new(Interrupts::new()))
    }

    #[test]
    fn a_signal_reaches_the_engine_as_one_sigint_however_many_phasegate_gets() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("sigints");
        let ready = dir.path().join("ready");
        // Counts the SIGINTs it gets, then exits 3 after 1.5 s; says when its
        // trap is set, so a loaded machine cannot signal it before.
        let script = format!(
            "trap 'echo int >> {}' INT; : > {}; i=0; while [ $i -lt 15 ]; do sleep 0.1; i=$((i+1)); done; exit 3",
            log.display(),
            ready.display()
        );
        let i = interrupts();
        let running = sh(&script, Duration::from_secs(30))
            .start_watching(i)
            .unwrap();
        let signals = std::thread::spawn(move || {
            let since = Instant::now();
            while !ready.exists() && since.elapsed() < Duration::from_secs(20) {
                std::thread::sleep(Duration::from_millis(10));
            }
            i.note(Signal::Int);
            std::thread::sleep(Duration::from_millis(300));
            i.note(Signal::Term);
        });
        let f = running.wait().unwrap();
        signals.join().unwrap();
        let got = std::fs::read_to_string(&log).unwrap();
        assert_eq!(got, "int\n", "exactly one SIGINT");
        let stop = f.interrupted.expect("interrupted");
        assert_eq!(stop.signal, Signal::Int);
        assert_eq!((stop.engine, stop.exit_code), (EngineExit::Exited, Some(3)));
        assert_eq!(f.code, Some(3));
        assert!(stop.engine_words().contains("exited with code 3"));
    }

    #[test]
    fn nothing_starts_once_a_signal_was_received() {
        let i = interrupts();
        i.note(Signal::Term);
        let err = sh("true", Duration::from_secs(5))
            .start_watching(i)
            .unwrap_err();
        assert!(matches!(err, IacError::Interrupted { .. }), "{err}");
        assert!(err.to_string().contains("SIGTERM"), "{err}");
    }

    #[test]
    fn the_engine_leads_its_own_process_group_and_writes_to_private_files_removed_after() {
        let out = sh(
            "f=$(readlink /proc/$$/fd/1); echo $$ $(cut -d' ' -f5 /proc/$$/stat) $(stat -c %a \"$f\") $(stat -c %a \"$(dirname \"$f\")\") \"$f\"",
            Duration::from_secs(10),
        )
        .run_expecting(&[0])
        .unwrap();
        let fields: Vec<&str> = out.stdout.split_whitespace().collect();
        assert_eq!(fields.len(), 5, "{}", out.stdout);
        assert_eq!(fields[0], fields[1], "pid == process group");
        assert_eq!((fields[2], fields[3]), ("600", "700"), "private");
        assert!(
            !std::path::Path::new(fields[4]).exists(),
            "{} left behind",
            fields[4]
        );
    }

    #[test]
    fn a_killed_run_s_capture_is_swept_and_a_live_one_kept() {
        let base = tempfile::tempdir().unwrap();
        // Above any pid_max: surely gone.
        let dead = base.path().join(format!("{CAPTURE_PREFIX}4294967295-00"));
        let live = base
            .path()
            .join(format!("{CAPTURE_PREFIX}{}-00", std::process::id()));
        let other = base.path().join("something-else-1");
        for d in [&dead, &live, &other] {
            std::fs::create_dir(d).unwrap();
            std::fs::write(d.join("stdout"), "x").unwrap();
        }
        sweep(base.path());
        assert!(!dead.exists());
        assert!(live.exists() && other.exists());
    }

    #[test]
    fn at_its_time_limit_the_engine_gets_sigint_first_then_its_group_is_killed() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("sigints");
        // Stops gracefully on SIGINT (a limit of 2 s: its trap is set by
        // then however loaded the machine).
        let gentle = format!(
            "trap 'echo int >> {}; exit 0' INT; while true; do sleep 0.05; done",
            log.display()
        );
        let err = sh(&gentle, Duration::from_secs(2)).run().unwrap_err();
        assert!(matches!(err, IacError::Timeout { .. }), "{err}");
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "int\n");
        // Ignores SIGINT: killed, with its children, after the grace.
        let started = Instant::now();
        let err = sh("trap '' INT; sleep 30", Duration::from_millis(200))
            .run()
            .unwrap_err();
        assert!(matches!(err, IacError::Timeout { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
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
