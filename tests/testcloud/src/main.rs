//! testcloud: a Terraform provider, served as `hashicorp/aws`, that emulates a small AWS-shaped
//! cloud on the local filesystem so that phasegate's tests can run real Terraform offline.
//!
//! Each resource is a JSON file at `$TESTCLOUD_DIR/<type>/<id>.json`. Names containing
//! `fail-apply` fail on create, names containing `transient-once` are throttled on their first
//! create; `TESTCLOUD_DELAY_MS` slows every create, update and delete. Create calls are logged
//! in `$TESTCLOUD_DIR/calls.log`. SIGINT is ignored, as go-plugin providers do.

mod catalog;
mod lifecycle;
mod provider;
mod resource;
mod store;
mod values;

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
    if let Err(e) = signal_hook::flag::register(
        signal_hook::consts::SIGINT,
        std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
    ) {
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
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One line, no backtrace: Terraform shows the plugin's stderr in its own log.
            eprintln!("testcloud: the provider server stopped: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
