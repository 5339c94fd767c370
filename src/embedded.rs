//! The embedded default: the ports on a data dir (`buckets/<bucket>/...`, `catalog.sqlite`) and
//! the handlers wired to them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use tollgate_domain::ports::SystemClock;
use tollgate_domain::{BucketName, UserId};
use tollgate_ingest::{Ingest, IngestConfig};
use tollgate_local::{FsBlobStore, InProcessBus, SqliteCatalog};

/// The one bucket of the embedded default: uploads, versions, quarantine and reports.
pub const DATA_BUCKET: &str = "tollgate-data";

#[derive(Debug, Clone)]
pub struct Embedded {
    pub data_dir: PathBuf,
    pub blobs: Arc<FsBlobStore>,
    pub catalog: Arc<SqliteCatalog>,
    pub bus: InProcessBus,
    pub bucket: BucketName,
    pub user: UserId,
}

impl Embedded {
    pub fn open(data_dir: &Path, user: Option<&str>) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating the data dir {}", data_dir.display()))?;
        let blobs = Arc::new(FsBlobStore::new(data_dir.join("buckets")));
        let catalog = Arc::new(
            SqliteCatalog::open(&data_dir.join("catalog.sqlite")).context("opening the catalog")?,
        );
        let user = match user {
            Some(u) => UserId::parse(u).map_err(|e| crate::UsageError(e.to_string()))?,
            None => UserId::parse(&login_name())
                .unwrap_or_else(|_| UserId::parse("local-user").expect("a valid user name")),
        };
        Ok(Self {
            data_dir: data_dir.to_owned(),
            blobs,
            catalog,
            bus: InProcessBus::new(),
            bucket: BucketName::parse(DATA_BUCKET).expect("a valid bucket name"),
            user,
        })
    }

    pub fn ingest(&self) -> Ingest {
        Ingest::new(
            self.blobs.clone(),
            self.catalog.clone(),
            Arc::new(self.bus.clone()),
            Arc::new(SystemClock),
            IngestConfig {
                data_bucket: self.bucket.clone(),
                work_dir: std::env::temp_dir(),
            },
        )
    }

    /// The file behind an object of the embedded bucket.
    pub fn path_of(&self, object: &tollgate_domain::ObjectRef) -> PathBuf {
        self.blobs.path_of(&object.bucket, &object.key)
    }
}

fn login_name() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "local-user".to_owned())
}
