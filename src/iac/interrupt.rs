//! SIGINT and SIGTERM: what phasegate does when its job is cancelled.
//!
//! With no engine running, a signal keeps its default action: phasegate
//! ends at once, as it always did. While an engine runs (and from then on),
//! the signal is only noted: the engine's wait loop (`process.rs`) passes ONE
//! SIGINT on to the engine's process group, as a terminal's Ctrl-C would, so
//! Terraform stops gracefully and saves its state, waits for it within [`super::process::STOP_WAIT`], and the command
//! journals the interruption and returns; `main` then exits with
//! 128 + the signal's number (130 for SIGINT, 143 for SIGTERM), as a shell
//! reports a process a signal ended. A second signal (GitHub Actions sends
//! SIGTERM 7.5 s after SIGINT) is noted and nothing more: Terraform takes a
//! second SIGINT as "abort now, without saving state".
//!
//! The engine runs in its own process group (see `process.rs`), so a
//! terminal's Ctrl-C reaches phasegate only and phasegate alone decides what
//! the engine gets.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// The signals phasegate handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Int,
    Term,
}

impl Signal {
    pub fn name(self) -> &'static str {
        match self {
            Signal::Int => "SIGINT",
            Signal::Term => "SIGTERM",
        }
    }

    /// The exit code of a process this signal stopped, as shells report it.
    pub fn exit_code(self) -> i32 {
        128 + match self {
            Signal::Int => 2,
            Signal::Term => 15,
        }
    }
}

/// The signals received, and whether one would end phasegate at once.
#[derive(Debug)]
pub struct Interrupts {
    int: AtomicBool,
    term: AtomicBool,
    /// No engine runs and no signal was noted yet: a signal takes its
    /// default action. Read by the signal handler, so an atomic.
    idle: AtomicBool,
    /// How many engines run (a verification's commands may run side by side).
    engines: Mutex<usize>,
}

impl Default for Interrupts {
    fn default() -> Self {
        Self::new()
    }
}

impl Interrupts {
    pub const fn new() -> Interrupts {
        Interrupts {
            int: AtomicBool::new(false),
            term: AtomicBool::new(false),
            idle: AtomicBool::new(true),
            engines: Mutex::new(0),
        }
    }

    /// The signal received, if any (SIGINT when both came).
    pub fn received(&self) -> Option<Signal> {
        if self.int.load(Ordering::SeqCst) {
            Some(Signal::Int)
        } else if self.term.load(Ordering::SeqCst) {
            Some(Signal::Term)
        } else {
            None
        }
    }

    /// Notes `signal` as the handler does; for tests that cannot signal
    /// their own process.
    pub fn note(&self, signal: Signal) {
        match signal {
            Signal::Int => self.int.store(true, Ordering::SeqCst),
            Signal::Term => self.term.store(true, Ordering::SeqCst),
        }
    }

    /// An engine is about to start: until the guard drops, a signal is
    /// noted and passed on to it instead of ending phasegate.
    pub fn engine_running(&self) -> EngineGuard<'_> {
        let mut n = self.engines.lock().unwrap_or_else(|e| e.into_inner());
        *n += 1;
        self.idle.store(false, Ordering::SeqCst);
        EngineGuard(self)
    }
}

/// Held while an engine runs; see [`Interrupts::engine_running`].
#[derive(Debug)]
pub struct EngineGuard<'a>(&'a Interrupts);

impl Drop for EngineGuard<'_> {
    fn drop(&mut self) {
        let mut n = self.0.engines.lock().unwrap_or_else(|e| e.into_inner());
        *n = n.saturating_sub(1);
        // Once a signal was noted phasegate winds down by itself (journal,
        // lock, exit): a later signal must not cut that short.
        let idle = *n == 0 && self.0.received().is_none();
        self.0.idle.store(idle, Ordering::SeqCst);
    }
}

static GLOBAL: Interrupts = Interrupts::new();

/// The process's own: what the installed handlers set.
pub fn global() -> &'static Interrupts {
    &GLOBAL
}

/// Installs the SIGINT and SIGTERM handlers; `main` calls it once.
pub fn install() -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    for (signal, flag) in [(SIGINT, &GLOBAL.int), (SIGTERM, &GLOBAL.term)] {
        // The default action goes first: when idle it ends the process and
        // nothing is noted.
        signal_hook::flag::register_conditional_default(signal, &GLOBAL.idle)?;
        signal_hook::flag::register(signal, flag)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_noted_while_an_engine_ran_keeps_phasegate_from_ending_at_once() {
        let i = Interrupts::new();
        assert!(i.idle.load(Ordering::SeqCst));
        let a = i.engine_running();
        let b = i.engine_running();
        drop(a);
        assert!(!i.idle.load(Ordering::SeqCst), "one engine still runs");
        drop(b);
        assert!(i.idle.load(Ordering::SeqCst), "nothing runs, nothing noted");
        let c = i.engine_running();
        i.note(Signal::Term);
        i.note(Signal::Int);
        drop(c);
        assert!(!i.idle.load(Ordering::SeqCst), "winding down");
        assert_eq!(i.received(), Some(Signal::Int));
        assert_eq!(Signal::Int.exit_code(), 130);
        assert_eq!(Signal::Term.exit_code(), 143);
    }
}
