//! The error classes every command maps onto the four exit codes.

use std::path::PathBuf;

/// Process exit codes, as documented in the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Everything passed.
    Success = 0,
    /// A gate or check said no.
    Refused = 1,
    /// Bad input or usage.
    BadInput = 2,
    /// An external failure: IaC tool, network, API.
    External = 3,
}

impl ExitCode {
    /// The gravest of several outcomes' codes (external over bad input over
    /// refused over success); success when there are none.
    pub fn worst(codes: impl IntoIterator<Item = ExitCode>) -> ExitCode {
        codes
            .into_iter()
            .max_by_key(|c| *c as i32)
            .unwrap_or(ExitCode::Success)
    }
}

/// The top-level error. Each module has its own typed error; they convert into
/// one of these classes so that `main` can pick the exit code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input the user gave us is wrong. The message already names file, line and field.
    #[error("{0}")]
    Input(String),
    /// A gate or check refused. The message says which and why.
    #[error("{0}")]
    Refused(String),
    /// Something outside phasegate failed.
    #[error("{0}")]
    External(String),
    /// Reading or writing a local file failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Input(_) => ExitCode::BadInput,
            Error::Refused(_) => ExitCode::Refused,
            Error::External(_) => ExitCode::External,
            // A file we were asked to read that is missing is bad input; a failed
            // write is an environment problem, reported as external.
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                ExitCode::BadInput
            }
            Error::Io { .. } => ExitCode::External,
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::ExitCode;

    #[test]
    fn the_worst_code_wins_and_none_is_success() {
        use ExitCode::*;
        assert_eq!(ExitCode::worst([Success, Refused, Success]), Refused);
        assert_eq!(ExitCode::worst([Refused, External, BadInput]), External);
        assert_eq!(ExitCode::worst([]), Success);
    }
}
