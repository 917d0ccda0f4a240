//! The phasegate binary: parses arguments, sets up logging, runs the command
//! and maps its error to an exit code. Nothing else lives here.

use clap::Parser;

fn main() {
    let cli = phasegate::cli::Cli::parse();
    init_logging(cli.global.verbose);
    if let Err(e) = phasegate::iac::interrupt::install() {
        eprintln!("warning: cannot handle SIGINT and SIGTERM: {e}");
    }
    let code = match phasegate::commands::run(cli) {
        Ok(code) => code as i32,
        Err(err) => {
            let text = phasegate::redact::global().apply(&format!("error: {err}"));
            eprintln!("{text}");
            err.exit_code() as i32
        }
    };
    // A signal passed on to a running engine ends the command early; the
    // exit code says which signal, as a shell's would (130, 143).
    let code = match phasegate::iac::interrupt::global().received() {
        Some(signal) => signal.exit_code(),
        None => code,
    };
    std::process::exit(code);
}

fn init_logging(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter =
        EnvFilter::try_from_env("PHASEGATE_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let color = phasegate::term::colour_here();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(phasegate::redact::RedactingStderr)
        .with_ansi(color)
        .with_target(false)
        .without_time()
        .init();
}
