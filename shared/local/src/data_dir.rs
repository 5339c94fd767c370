//! The embedded adapters on one data dir, laid out as `tollgate` lays it out: the buckets under
//! `<dir>/buckets`, the catalog in `<dir>/catalog.sqlite`, and `tollgate-data` as the data
//! bucket. `tollgate` and the tests that stand up the embedded default open it the same way.

use std::path::Path;
use std::sync::Arc;

use tollgate_domain::ports::{EventBus, Ports, SystemClock};
use tollgate_domain::{BucketName, PortError};

use crate::{FsBlobStore, SqliteCatalog};

/// The one bucket of the embedded default: uploads, versions, quarantine and reports.
pub const DATA_BUCKET: &str = "tollgate-data";

/// The adapters of one data dir, as the ports and as themselves (for what only they offer:
/// a bucket's folder, the catalog's file).
#[derive(Debug, Clone)]
pub struct DataDir {
    pub blobs: Arc<FsBlobStore>,
    pub catalog: Arc<SqliteCatalog>,
    pub bucket: BucketName,
}

impl DataDir {
    /// Opens (creating what is missing) the data dir at `dir`.
    pub fn open(dir: &Path) -> Result<Self, PortError> {
        Ok(Self {
            blobs: Arc::new(FsBlobStore::new(dir.join("buckets"))),
            catalog: Arc::new(SqliteCatalog::open(&dir.join("catalog.sqlite"))?),
            bucket: BucketName::parse(DATA_BUCKET).expect("a valid bucket name"),
        })
    }

    /// The ports on this data dir, events going to `bus`, on the system clock.
    pub fn ports(&self, bus: Arc<dyn EventBus>) -> Ports {
        Ports {
            blobs: self.blobs.clone(),
            catalog: self.catalog.clone(),
            bus,
            clock: Arc::new(SystemClock),
            data_bucket: self.bucket.clone(),
        }
    }
}
