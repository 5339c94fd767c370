//! Every way training or prediction can fail, each saying what and where: the hyperparameter, the
//! channel and column, the file.

use std::path::PathBuf;

use crate::config::Family;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// `hyperparameters.json` is missing or is not a JSON object.
    #[error("{}: {reason}", path.display())]
    Hyperparameters { path: PathBuf, reason: String },

    /// A hyperparameter that is missing, does not parse or is out of range.
    #[error("hyperparameter {key}: {reason}")]
    Hyperparameter { key: String, reason: String },

    #[error("unknown hyperparameter {key} for model {family}")]
    UnknownHyperparameter { key: String, family: Family },

    /// A channel that is missing, empty or holds files that do not agree.
    #[error("channel {channel}: {reason}")]
    Channel { channel: String, reason: String },

    /// A column that is missing or holds values the trainer cannot use. `within` says where:
    /// `channel validation`, or `the input` for [`crate::Model::predict`].
    #[error("{within}, column {column}: {reason}")]
    Column {
        within: String,
        column: String,
        reason: String,
    },

    #[error("reading {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: polars::error::PolarsError,
    },

    /// linfa refused the data or the parameters.
    #[error("fitting {family}: {source}")]
    Fit {
        family: Family,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// The fitted model predicts values that are not numbers (a diverged fit).
    #[error("{family} predicts non-finite values on channel {channel}")]
    NonFinite { family: Family, channel: String },

    /// A model file that cannot be loaded.
    #[error("model file {}: {reason}", path.display())]
    ModelFile { path: PathBuf, reason: String },

    /// An input that cannot be read: a channel's directory or file, a model file.
    #[error("{context} {}: {source}", path.display())]
    Io {
        context: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// An output that cannot be written.
    #[error("{context} {}: {source}", path.display())]
    Write {
        context: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("writing {}: {source}", path.display())]
    Serialize {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

impl TrainError {
    pub(crate) fn io(
        context: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            context,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn write(
        context: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Write {
            context,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn hyperparameter(key: &str, reason: impl Into<String>) -> Self {
        Self::Hyperparameter {
            key: key.to_owned(),
            reason: reason.into(),
        }
    }

    pub(crate) fn channel(channel: &str, reason: impl Into<String>) -> Self {
        Self::Channel {
            channel: channel.to_owned(),
            reason: reason.into(),
        }
    }

    pub(crate) fn column(within: &str, column: &str, reason: impl Into<String>) -> Self {
        Self::Column {
            within: within.to_owned(),
            column: column.to_owned(),
            reason: reason.into(),
        }
    }

    /// The process exit code: 1 when the input or the configuration is at fault, 2 when the
    /// trainer could not write its outputs.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Write { .. } | Self::Serialize { .. } => 2,
            _ => 1,
        }
    }
}
