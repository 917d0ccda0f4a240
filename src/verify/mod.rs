//! Verification with evidence: after an apply, the declared checks (HTTP,
//! TLS, DNS, Terraform outputs, convergence, commands) are probed, each
//! giving PASS, WARN or FAIL with what was seen. Each kind is its own module
//! behind [`Probe`] (one attempt); [`attempt::run`] adds retries with an
//! interval for eventual consistency. The Terraform-backed kinds read the
//! engine through [`ProjectIac`], so tests can run every kind directly.

pub mod attempt;
pub mod command;
pub mod convergence;
pub mod dns;
pub mod http;
pub mod output;
mod roots;
pub mod tls;

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use crate::config::Check;
use crate::journal::{CheckResult, CheckStatus};

/// One attempt's verdict and what was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub status: CheckStatus,
    pub evidence: String,
}

impl Attempt {
    pub fn pass(evidence: impl Into<String>) -> Attempt {
        Attempt {
            status: CheckStatus::Pass,
            evidence: evidence.into(),
        }
    }
    pub fn warn(evidence: impl Into<String>) -> Attempt {
        Attempt {
            status: CheckStatus::Warn,
            evidence: evidence.into(),
        }
    }
    pub fn fail(evidence: impl Into<String>) -> Attempt {
        Attempt {
            status: CheckStatus::Fail,
            evidence: evidence.into(),
        }
    }
}

/// One attempt of a check, bounded by `timeout`.
pub trait Probe {
    fn attempt(&self, timeout: Duration) -> impl Future<Output = Attempt>;
}

/// What the Terraform-backed checks need from the engine, per project.
/// Errors are the engine's message, already redacted.
pub trait ProjectIac {
    /// `terraform output -json` of the project, parsed.
    fn outputs(&self, project: &str) -> Result<serde_json::Value, String>;
    /// Whether a fresh plan of the project shows no changes.
    fn converged(&self, project: &str) -> Result<bool, String>;
}

/// A check that cannot even be set up (an unreadable CA bundle): bad input.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("check `{check}`: {message}")]
    Setup { check: String, message: String },
}

/// Runs the checks that look at the environment (http, tls, dns, command),
/// in order. Relative paths (`ca_file`, `dir`) are relative to `base_dir`.
pub async fn run_environment_checks(
    checks: &[Check],
    base_dir: &Path,
) -> Result<Vec<CheckResult>, VerifyError> {
    let mut out = vec![];
    for check in checks.iter().filter(|c| !c.per_project()) {
        let name = check.display_name();
        let setup = |message: String| VerifyError::Setup {
            check: name.clone(),
            message,
        };
        let policy = check.policy();
        let result = match check {
            Check::Http(c) => {
                let probe = http::HttpProbe::new(c, base_dir).map_err(setup)?;
                attempt::run(&name, check.kind(), &probe, policy).await
            }
            Check::Tls(c) => {
                let probe = tls::TlsProbe::new(c, base_dir).map_err(setup)?;
                attempt::run(&name, check.kind(), &probe, policy).await
            }
            Check::Dns(c) => {
                let probe = dns::DnsProbe::new(c).map_err(setup)?;
                attempt::run(&name, check.kind(), &probe, policy).await
            }
            Check::Command(c) => {
                let probe = command::CommandProbe::new(c, base_dir);
                attempt::run(&name, check.kind(), &probe, policy).await
            }
            Check::Output(_) | Check::Convergence(_) => continue,
        };
        out.push(result);
    }
    Ok(out)
}

/// Runs the output and convergence checks that concern `project`. When the
/// phase declares no checks at all, a convergence check stands in: an apply
/// that exited 0 is not evidence.
pub async fn run_project_checks(
    checks: &[Check],
    project: &str,
    iac: &dyn ProjectIac,
) -> Vec<CheckResult> {
    let implicit;
    let checks = if checks.is_empty() {
        implicit = [Check::Convergence(Default::default())];
        &implicit[..]
    } else {
        checks
    };
    let mut outputs = None;
    let mut out = vec![];
    for check in checks
        .iter()
        .filter(|c| c.per_project() && c.project().is_none_or(|p| p == project))
    {
        let name = check.display_name();
        let result = match check {
            Check::Output(c) => {
                let read = outputs.get_or_insert_with(|| iac.outputs(project)).clone();
                let probe = output::OutputProbe::new(c, read);
                attempt::run(&name, check.kind(), &probe, check.policy()).await
            }
            Check::Convergence(_) => {
                let probe = convergence::ConvergenceProbe { iac, project };
                attempt::run(&name, check.kind(), &probe, check.policy()).await
            }
            _ => continue,
        };
        out.push(result);
    }
    out
}

/// The worst status of the results; nothing checked is a failure, since
/// nothing was shown to work.
pub fn overall(results: &[CheckResult]) -> CheckStatus {
    results
        .iter()
        .map(|r| r.status)
        .max()
        .unwrap_or(CheckStatus::Fail)
}

/// The status as results print it.
pub fn status_word(s: CheckStatus) -> &'static str {
    match s {
        CheckStatus::Pass => "PASS",
        CheckStatus::Warn => "WARN",
        CheckStatus::Fail => "FAIL",
    }
}

/// At most `max` characters of `text` on one line, for evidence.
pub fn snippet(text: &str, max: usize) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let one_line = one_line.trim();
    if one_line.chars().count() <= max {
        one_line.to_string()
    } else {
        format!("{}…", one_line.chars().take(max).collect::<String>())
    }
}
