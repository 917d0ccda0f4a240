//! `PHASEGATE_PRICES_DIR`: a directory of price-book files (`aws.yaml`,
//! `google.yaml`, `azure.yaml`, as `prices import` writes them) that the
//! cost gate uses instead of the books embedded at build time. A missing
//! file keeps the embedded book for that provider; a file that breaks the
//! book's rules is bad input (exit 2).

use crate::error::{Error, Result};
use crate::gates::cost::{use_books, Provider};

/// The variable naming the directory.
pub const VAR: &str = "PHASEGATE_PRICES_DIR";

/// Reads the books the variable names, if it is set.
pub fn from_env() -> Result<()> {
    let Some(dir) = std::env::var_os(VAR) else {
        return Ok(());
    };
    let dir = std::path::PathBuf::from(dir);
    let mut files = Vec::new();
    for (provider, name) in [
        (Provider::Aws, "aws.yaml"),
        (Provider::Google, "google.yaml"),
        (Provider::Azure, "azure.yaml"),
    ] {
        let path = dir.join(name);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                tracing::info!("prices: {} replaces the embedded {name}", path.display());
                files.push((provider, path.display().to_string(), text));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&path, e)),
        }
    }
    use_books(&files).map_err(|e| Error::Input(format!("{VAR}: {e}")))
}
