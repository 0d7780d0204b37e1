//! Typed errors of the engine: each names the file (when there is one) and what is wrong with it.

use std::path::{Path, PathBuf};

/// Everything the engine can report as failed. The app shows these; the CLI prints them.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The I/O error is part of the message, not a chained source, so printing the chain
    /// (`{:#}`, as the CLI does) does not say it twice.
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The file is readable but its content is not what it should be.
    #[error("{path}: {problem}")]
    Format { path: PathBuf, problem: String },
    /// Two inputs that must agree (grids, channel counts, landmark counts) do not.
    #[error("{0}")]
    Mismatch(String),
    #[error("no usable GPU adapter: {0}")]
    NoGpu(String),
    #[error("GPU: {0}")]
    Gpu(String),
    /// A configuration value that cannot work (named in the message).
    #[error("configuration: {0}")]
    Config(String),
    /// The optimisation itself failed (a singular transform, NaN losses).
    #[error("registration: {0}")]
    Registration(String),
    #[error("cancelled")]
    Cancelled,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn io(path: &Path, error: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            error,
        }
    }

    pub fn format(path: &Path, problem: impl Into<String>) -> Self {
        Error::Format {
            path: path.to_path_buf(),
            problem: problem.into(),
        }
    }
}
