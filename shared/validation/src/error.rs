//! Errors of the data gate. Bad content is never an error here (it is a finding in the report);
//! these are the failures to read or write at all.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ValidationError {
    #[error("{context} {}: {source}", path.display())]
    Io {
        context: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{context}: {source}")]
    Polars {
        context: String,
        #[source]
        source: polars::error::PolarsError,
    },
    /// Reading stopped on content that cannot go on (a batch's file whose columns differ from
    /// the first's): a finding for the report, raised from inside a reader's callback.
    #[error("{0}")]
    Refused(String),
}

impl ValidationError {
    pub fn io(context: &str, path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            context: context.to_owned(),
            path: path.to_owned(),
            source,
        }
    }
}
