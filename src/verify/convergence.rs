//! The `convergence` check: a fresh plan of the project shows no changes,
//! so the applied configuration is what is running.

use std::time::{Duration, Instant};

use super::{Attempt, Probe, ProjectIac};

pub struct ConvergenceProbe<'a> {
    pub iac: &'a dyn ProjectIac,
    pub project: &'a str,
}

impl Probe for ConvergenceProbe<'_> {
    async fn attempt(&self, _timeout: Duration) -> Attempt {
        let started = Instant::now();
        let ms = || started.elapsed().as_millis();
        match self.iac.converged(self.project) {
            Ok(true) => Attempt::pass(format!(
                "a fresh plan of {} shows no changes ({} ms)",
                self.project,
                ms()
            )),
            Ok(false) => Attempt::fail(format!(
                "a fresh plan of {} still shows changes ({} ms)",
                self.project,
                ms()
            )),
            Err(e) => Attempt::fail(format!("the plan of {} failed: {e}", self.project)),
        }
    }
}
