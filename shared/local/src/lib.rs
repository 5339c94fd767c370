//! The embedded default's adapters: a folder per bucket, a SQLite catalog, an in-process event
//! bus, and the trainer and the ingest's processing instances as subprocesses. With them every
//! handler runs in one local process, with no AWS account.

pub mod blob;
pub mod bus;
pub mod catalog;
pub mod data_dir;
pub mod error;
pub mod processing;
pub mod trainer;

pub use blob::FsBlobStore;
pub use bus::InProcessBus;
pub use catalog::SqliteCatalog;
pub use data_dir::{DATA_BUCKET, DataDir};
pub use error::LocalError;
pub use processing::SubprocessProcessing;
pub use trainer::SubprocessBackend;
