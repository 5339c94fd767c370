//! The embedded default's adapters: a folder per bucket, a SQLite catalog and an in-process event
//! bus. With them every handler runs in one local process, with no AWS account.

pub mod blob;
pub mod bus;
pub mod catalog;
pub mod error;

pub use blob::FsBlobStore;
pub use bus::InProcessBus;
pub use catalog::SqliteCatalog;
pub use error::LocalError;
