//! The terminal around a local run: whether to colour (never when `NO_COLOR`
//! is set, never when not a terminal) and how to show progress on long
//! engine runs (an indicatif spinner on a terminal; one plain line at the
//! start and one at the end when piped or in CI, where a spinner's redraws
//! would fill the log with carriage returns).

use std::ffi::OsStr;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Colour on stderr: only on a terminal, and never when `NO_COLOR` is set to
/// anything but the empty string (<https://no-color.org>).
pub fn colour_enabled(no_color: Option<&OsStr>, stderr_is_terminal: bool) -> bool {
    let opted_out = no_color.is_some_and(|v| !v.is_empty());
    stderr_is_terminal && !opted_out
}

/// What this process's stderr and environment call for.
pub fn colour_here() -> bool {
    colour_enabled(
        std::env::var_os("NO_COLOR").as_deref(),
        std::io::stderr().is_terminal(),
    )
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// An animated spinner redrawn on stderr.
    Spinner,
    /// One line when a step starts and one when it ends.
    Lines,
}

/// A spinner only on an interactive terminal outside CI (`CI` or
/// `GITHUB_ACTIONS` set, as every CI service does).
pub fn progress_mode(stderr_is_terminal: bool, in_ci: bool) -> ProgressMode {
    if stderr_is_terminal && !in_ci {
        ProgressMode::Spinner
    } else {
        ProgressMode::Lines
    }
}

/// What this process's stderr and environment call for.
pub fn progress_here() -> ProgressMode {
    let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty() && v != "false");
    progress_mode(
        std::io::stderr().is_terminal(),
        set("CI") || set("GITHUB_ACTIONS"),
    )
}

/// One long step (an engine command) being shown. Plain lines go through
/// `tracing`, so they are redacted and land in the log like every other line.
pub struct Progress {
    label: String,
    started: Instant,
    spinner: Option<indicatif::ProgressBar>,
}

impl Progress {
    /// Starts showing `label` in the mode this process calls for.
    pub fn start(label: impl Into<String>) -> Self {
        Self::start_in(progress_here(), label)
    }

    pub fn start_in(mode: ProgressMode, label: impl Into<String>) -> Self {
        let label = label.into();
        let spinner = match mode {
            ProgressMode::Spinner => {
                let bar = indicatif::ProgressBar::new_spinner();
                bar.set_message(crate::redact::global().apply(&label));
                bar.enable_steady_tick(Duration::from_millis(120));
                Some(bar)
            }
            ProgressMode::Lines => {
                tracing::info!("{}", start_line(&label));
                None
            }
        };
        Progress {
            label,
            started: Instant::now(),
            spinner,
        }
    }

    /// Ends the step; the final line is printed in both modes.
    pub fn finish(self, ok: bool) {
        if let Some(bar) = &self.spinner {
            bar.finish_and_clear();
        }
        tracing::info!("{}", end_line(&self.label, ok, self.started.elapsed()));
    }
}

/// The line a step starts with in `Lines` mode.
pub fn start_line(label: &str) -> String {
    format!("{label} ...")
}

/// The line a step ends with.
pub fn end_line(label: &str, ok: bool, took: Duration) -> String {
    let verdict = if ok { "done" } else { "failed" };
    format!("{label}: {verdict} in {:.1} s", took.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_set_to_anything_turns_colour_off_even_on_a_terminal() {
        assert!(colour_enabled(None, true));
        assert!(!colour_enabled(Some(OsStr::new("1")), true));
        assert!(!colour_enabled(Some(OsStr::new("false")), true));
        // no-color.org: an empty NO_COLOR does not opt out.
        assert!(colour_enabled(Some(OsStr::new("")), true));
        assert!(!colour_enabled(None, false));
    }

    #[test]
    fn spinners_only_on_a_terminal_outside_ci_plain_lines_when_piped_or_in_ci() {
        assert_eq!(progress_mode(true, false), ProgressMode::Spinner);
        assert_eq!(progress_mode(true, true), ProgressMode::Lines);
        assert_eq!(progress_mode(false, false), ProgressMode::Lines);
        assert_eq!(progress_mode(false, true), ProgressMode::Lines);
    }

    #[test]
    fn plain_lines_name_the_step_and_how_it_ended() {
        assert_eq!(
            start_line("terraform plan in app"),
            "terraform plan in app ..."
        );
        assert_eq!(
            end_line("terraform plan in app", false, Duration::from_millis(2345)),
            "terraform plan in app: failed in 2.3 s"
        );
    }
}
