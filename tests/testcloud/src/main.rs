//! testcloud: a Terraform provider, served as `hashicorp/aws`, that emulates a small AWS-shaped
//! cloud on the local filesystem so that phasegate's tests can run real Terraform offline.
//!
//! Each resource is a JSON file at `$TESTCLOUD_DIR/<type>/<id>.json`. Names containing
//! `fail-apply` fail on create, names containing `transient-once` are throttled on their first
//! create, names containing `lost-answer` are created and then answered with an error;
//! `TESTCLOUD_DELAY_MS` slows every create, update and delete. Create calls are logged
//! in `$TESTCLOUD_DIR/calls.log`. SIGINT is ignored, as go-plugin providers do.
//!
//! After a SIGINT the process outlives its server (see [`linger_after_interrupt`]): tf-provider
//! stops serving on Terraform's `StopProvider`, and Terraform cancels every call still in flight
//! to a provider process that has exited, even one whose answer was already sent. A create
//! would then be in the cloud and missing from the state.

mod catalog;
mod lifecycle;
mod provider;
mod resource;
mod store;
mod values;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The longest a provider waits, after an interrupt, for Terraform to end it.
const LINGER_LIMIT: Duration = Duration::from_secs(10);

fn main() -> std::process::ExitCode {
    // tf-provider appends a backtrace to every diagnostic when backtraces are enabled (CI often
    // sets RUST_BACKTRACE=1). Users would read a stack dump instead of the message, and Terraform
    // 1.0 mistakes a wrapped frame starting with "panic:" for its own crash. Library backtraces
    // off, set before any thread exists; panics still honour RUST_BACKTRACE.
    std::env::set_var("RUST_LIB_BACKTRACE", "0");
    // Like every provider built on go-plugin: a terminal's Ctrl-C (SIGINT
    // to the whole process group) is Terraform's to handle, not ours. Without
    // this, the SIGINT that stops Terraform gracefully would kill the
    // provider in the middle of a create.
    let interrupted = Arc::new(AtomicBool::new(false));
    if let Err(e) = signal_hook::flag::register(signal_hook::consts::SIGINT, interrupted.clone()) {
        eprintln!("testcloud: cannot ignore SIGINT: {e}");
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("testcloud: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(tf_provider::serve("aws", provider::TestCloud::new())) {
        Ok(()) => {
            if interrupted.load(Ordering::SeqCst) {
                linger_after_interrupt();
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            // One line, no backtrace: Terraform shows the plugin's stderr in its own log.
            eprintln!("testcloud: the provider server stopped: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Waits, after a SIGINT stopped the server, until Terraform ends this process or exits itself
/// (at most [`LINGER_LIMIT`]).
///
/// Terraform's answer to SIGINT is `StopProvider`, on which tf-provider stops serving once the
/// calls in flight are answered. go-plugin cancels the calls of a provider whose process has
/// exited, so exiting at once races Terraform reading the last answer: a create that was
/// answered would be reported "Request cancelled" and left out of the state. Terraform ends
/// this process when it is done with it; measured, an interrupted apply ends about 2 s later
/// than when testcloud exited at once. Nothing but an interrupted run waits here.
fn linger_after_interrupt() {
    let parent = std::os::unix::process::parent_id();
    let start = Instant::now();
    while start.elapsed() < LINGER_LIMIT && std::os::unix::process::parent_id() == parent {
        std::thread::sleep(Duration::from_millis(50));
    }
}
