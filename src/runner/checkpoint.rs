//! The checkpoint before every apply: `state pull` saved to a file in the
//! output directory (the workflow uploads it as an artifact) and journaled
//! by sha256, serial and lineage. The state holds sensitive values: it is
//! written to its file only, never logged.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::iac::{IacEngine, PlanRequest};
use crate::journal::EventKind;

/// One saved checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub file: PathBuf,
    pub sha256: String,
    pub serial: Option<u64>,
    pub lineage: Option<String>,
}

impl Checkpoint {
    pub fn event(&self) -> EventKind {
        EventKind::CheckpointTaken {
            file: self.file.display().to_string(),
            sha256: self.sha256.clone(),
            serial: self.serial,
            lineage: self.lineage.clone(),
        }
    }
}

/// Pulls the state and saves it as `checkpoints/<project>-<env>-<n>.tfstate`
/// (the first free `n`, so earlier checkpoints are kept).
pub fn take(
    engine: &dyn IacEngine,
    req: &PlanRequest,
    out_dir: &Path,
    project: &str,
    env: &str,
) -> Result<Checkpoint> {
    use sha2::{Digest, Sha256};
    let state = engine.state_pull(req)?;
    let dir = out_dir.join("checkpoints");
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let file = (1..)
        .map(|n| dir.join(format!("{project}-{env}-{n}.tfstate")))
        .find(|f| !f.exists())
        .expect("some number is free");
    // The state holds every secret Terraform knows: readable by the job's
    // user only, and never created over an existing checkpoint.
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&file)
            .map_err(|e| Error::io(&file, e))?;
        f.write_all(state.as_bytes())
            .map_err(|e| Error::io(&file, e))?;
    }
    let parsed: serde_json::Value = serde_json::from_str(&state).unwrap_or_default();
    Ok(Checkpoint {
        sha256: hex::encode(Sha256::digest(state.as_bytes())),
        serial: parsed["serial"].as_u64(),
        lineage: parsed["lineage"].as_str().map(str::to_string),
        file,
    })
}
