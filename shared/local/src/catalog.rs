//! Catalog on SQLite (bundled), in WAL mode. Every write is one `BEGIN IMMEDIATE` transaction
//! that checks its conditions first, so several processes sharing a data dir never see half a
//! write and never both win the same version number.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tollgate_domain::deploy::Deployment;
use tollgate_domain::ports::{
    Catalog, NewVersion, Page, PageRequest, StoredContract, Unannounced, expected_revision,
    numbered_contract, numbered_pipeline,
};
use tollgate_domain::promotion::Transition;
use tollgate_domain::{
    AuditEvent, ContentHash, Dataset, DatasetName, DatasetVersion, ModelVersion, ObjectRef,
    PortError, Run, StageChange, StoredPipeline, TestVerdict, UploadRecord,
};

use crate::error::sql;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS datasets (
    name TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS versions (
    dataset TEXT NOT NULL,
    version INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (dataset, version),
    UNIQUE (dataset, content_hash)
);
CREATE TABLE IF NOT EXISTS uploads (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    upload_key TEXT NOT NULL UNIQUE,
    dataset TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS uploads_by_dataset ON uploads (dataset, seq);
CREATE TABLE IF NOT EXISTS contracts (
    dataset TEXT NOT NULL,
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (dataset, version)
);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    subject TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_subject ON audit (subject, seq);
CREATE TABLE IF NOT EXISTS pipelines (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    pipeline TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    revision INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_pipeline ON runs (pipeline, created_ms);
CREATE INDEX IF NOT EXISTS runs_by_time ON runs (created_ms, id);
CREATE TABLE IF NOT EXISTS models (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    run_id TEXT NOT NULL UNIQUE,
    revision INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS model_history (
    model TEXT NOT NULL,
    position INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (model, position)
);
CREATE TABLE IF NOT EXISTS deployments (
    model TEXT PRIMARY KEY,
    revision INTEGER NOT NULL,
    body TEXT NOT NULL
);
-- Outboxes: a row here is work a committed write still owes (an upload's files and event, a
-- stage change's announcement), added in the write's transaction and removed when done.
CREATE TABLE IF NOT EXISTS unfinalized_uploads (
    upload_key TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS unannounced_changes (
    model TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (model, position)
);
"#;

#[derive(Debug, Clone)]
pub struct SqliteCatalog {
    conn: Arc<Mutex<Connection>>,
}

fn to_json<T: Serialize>(value: &T) -> Result<String, PortError> {
    serde_json::to_string(value).map_err(|e| PortError::other("encoding a catalog record", e))
}

fn from_json<T: DeserializeOwned>(body: &str) -> Result<T, PortError> {
    serde_json::from_str(body).map_err(|e| PortError::other("decoding a catalog record", e))
}

impl SqliteCatalog {
    /// Opens (creating if needed) the catalog file.
    pub fn open(path: &Path) -> Result<Self, PortError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| crate::error::io(format!("creating {}", parent.display()), e))?;
        }
        create_private(path)?;
        let conn = Connection::open(path)
            .map_err(|e| sql(format!("opening the catalog {}", path.display()), e))?;
        // Several processes may share the file: wait for a writer rather than fail at once.
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(|e| sql("setting the busy timeout", e))?;
        // Processes opening a new catalog at once race to switch it to WAL, and SQLite answers
        // the losers "locked" without waiting: they try again (the switch is idempotent).
        let mut attempts = 0;
        while let Err(e) = conn.pragma_update(None, "journal_mode", "WAL") {
            let locked = matches!(
                &e,
                rusqlite::Error::SqliteFailure(f, _)
                    if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            );
            attempts += 1;
            if !locked || attempts > 100 {
                return Err(sql("switching the catalog to WAL", e));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| sql("setting synchronous mode", e))?;
        conn.execute_batch(SCHEMA)
            .map_err(|e| sql("creating the catalog tables", e))?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, PortError> + Send + 'static,
    ) -> Result<T, PortError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().map_err(|_| {
                PortError::other(
                    "the catalog connection",
                    std::io::Error::other("lock poisoned"),
                )
            })?;
            f(&mut guard)
        })
        .await
        .map_err(|e| PortError::other("a catalog task failed", e))?
    }
}

fn read_dataset(conn: &Connection, name: &str) -> Result<Option<Dataset>, PortError> {
    conn.query_row("SELECT body FROM datasets WHERE name = ?1", [name], |r| {
        r.get::<_, String>(0)
    })
    .optional()
    .map_err(|e| sql("reading a dataset", e))?
    .map(|b| from_json(&b))
    .transpose()
}

fn write_dataset(conn: &Connection, d: &Dataset) -> Result<(), PortError> {
    conn.execute(
        "INSERT INTO datasets (name, body) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET body = excluded.body",
        params![d.name.as_str(), to_json(d)?],
    )
    .map_err(|e| sql("writing a dataset", e))?;
    Ok(())
}

fn ensure_dataset(
    conn: &Connection,
    name: &DatasetName,
    upload: &UploadRecord,
) -> Result<Dataset, PortError> {
    if let Some(d) = read_dataset(conn, name.as_str())? {
        return Ok(d);
    }
    let d = Dataset {
        name: name.clone(),
        created_at: upload.created_at,
        created_by: upload.uploaded_by.clone(),
        latest_version: None,
        contract_version: None,
    };
    write_dataset(conn, &d)?;
    Ok(d)
}

fn upload_exists(conn: &Connection, key: &str) -> Result<bool, PortError> {
    conn.query_row("SELECT 1 FROM uploads WHERE upload_key = ?1", [key], |_| {
        Ok(())
    })
    .optional()
    .map(|o| o.is_some())
    .map_err(|e| sql("reading an upload", e))
}

fn insert_upload(conn: &Connection, u: &UploadRecord) -> Result<(), PortError> {
    conn.execute(
        "INSERT INTO uploads (upload_key, dataset, body) VALUES (?1, ?2, ?3)",
        params![u.upload_key, u.dataset.as_str(), to_json(u)?],
    )
    .map_err(|e| sql("recording an upload", e))?;
    if !u.finalized {
        conn.execute(
            "INSERT INTO unfinalized_uploads (upload_key) VALUES (?1)",
            [&u.upload_key],
        )
        .map_err(|e| sql("recording an upload as unfinished", e))?;
    }
    Ok(())
}

fn insert_audit(conn: &Connection, a: &AuditEvent) -> Result<(), PortError> {
    conn.execute(
        "INSERT INTO audit (subject, body) VALUES (?1, ?2)",
        params![a.subject, to_json(a)?],
    )
    .map_err(|e| sql("appending to the audit trail", e))?;
    Ok(())
}

/// Replaces a run whose stored revision is one below `run.revision`.
fn update_run(conn: &Connection, run: &Run) -> Result<(), PortError> {
    let expected = expected_revision(format_args!("run {}", run.id), run.revision)?;
    let changed = conn
        .execute(
            "UPDATE runs SET revision = ?1, body = ?2 WHERE id = ?3 AND revision = ?4",
            params![run.revision, to_json(run)?, run.id, expected],
        )
        .map_err(|e| sql("saving a run", e))?;
    if changed == 0 {
        return Err(PortError::Conflict(format!(
            "run {} is no longer at revision {expected}",
            run.id
        )));
    }
    Ok(())
}

/// A model version whose stored revision is `expected`; `Conflict` when another write came first.
fn model_at(
    conn: &Connection,
    model: &str,
    version: u32,
    expected: u64,
) -> Result<ModelVersion, PortError> {
    let stored: ModelVersion = query_bodies(
        conn,
        "SELECT body FROM models WHERE name = ?1 AND version = ?2",
        params![model, version],
    )?
    .pop()
    .ok_or_else(|| PortError::NotFound(format!("model {model} v{version}")))?;
    if stored.revision != expected {
        return Err(PortError::Conflict(format!(
            "model {model} v{version} is at revision {}, not {expected}: it changed since it was \
             read",
            stored.revision
        )));
    }
    Ok(stored)
}

/// Stores `model` (its revision already bumped) over the version at `model.revision - 1`,
/// keeping the `revision` column in step with the body.
fn update_model(conn: &Connection, model: &ModelVersion) -> Result<(), PortError> {
    let expected = expected_revision(
        format_args!("model {} v{}", model.model, model.version),
        model.revision,
    )?;
    let changed = conn
        .execute(
            "UPDATE models SET revision = ?1, body = ?2 \
             WHERE name = ?3 AND version = ?4 AND revision = ?5",
            params![
                model.revision,
                to_json(model)?,
                model.model,
                model.version,
                expected
            ],
        )
        .map_err(|e| sql("saving a model version", e))?;
    if changed == 0 {
        return Err(PortError::Conflict(format!(
            "model {} v{} is no longer at revision {expected}",
            model.model, model.version
        )));
    }
    Ok(())
}

fn query_bodies<T: DeserializeOwned>(
    conn: &Connection,
    query: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<T>, PortError> {
    let mut stmt = conn
        .prepare(query)
        .map_err(|e| sql("preparing a query", e))?;
    let rows = stmt
        .query_map(args, |r| r.get::<_, String>(0))
        .map_err(|e| sql("running a query", e))?;
    rows.map(|r| {
        r.map_err(|e| sql("reading a row", e))
            .and_then(|b| from_json(&b))
    })
    .collect()
}

/// Creates the catalog's file readable and writable by its owner only (0600), if it is new: it
/// holds who did what, and SQLite gives its `-wal` and `-shm` files the same mode.
fn create_private(path: &Path) -> Result<(), PortError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(crate::error::io(format!("creating {}", path.display()), e)),
    }
}

/// Where a page of a list keyed by name starts: after the cursor's name.
fn name_after(page: &PageRequest) -> String {
    page.cursor.clone().unwrap_or_default()
}

/// Where a page of a list keyed by number (a version, a sequence) starts.
fn number_after(page: &PageRequest, list: &str) -> Result<i64, PortError> {
    match page.cursor.as_deref() {
        Some(c) => c
            .parse::<i64>()
            .map_err(|_| PortError::Invalid(format!("{c:?} is not a cursor of {list}"))),
        None => Ok(0),
    }
}

/// A page of `(key, body)` rows, `query` reading one row past the page (its last parameter is
/// the limit, `size + 1`): the page's cursor is its last row's key.
fn keyed_page<T: DeserializeOwned>(
    conn: &Connection,
    query: &str,
    args: &[&dyn rusqlite::ToSql],
    size: usize,
) -> Result<Page<T>, PortError> {
    let limit = size as i64 + 1;
    let mut all: Vec<&dyn rusqlite::ToSql> = args.to_vec();
    all.push(&limit);
    let mut stmt = conn
        .prepare(query)
        .map_err(|e| sql("preparing a query", e))?;
    let rows = stmt
        .query_map(all.as_slice(), |r| {
            let key = match r.get::<_, rusqlite::types::Value>(0)? {
                rusqlite::types::Value::Integer(i) => i.to_string(),
                rusqlite::types::Value::Text(t) => t,
                other => format!("{other:?}"),
            };
            Ok((key, r.get::<_, String>(1)?))
        })
        .map_err(|e| sql("running a query", e))?;
    let fetched = rows
        .map(|r| {
            let (key, body) = r.map_err(|e| sql("reading a row", e))?;
            Ok((key, from_json(&body)?))
        })
        .collect::<Result<Vec<(String, T)>, PortError>>()?;
    Ok(Page::of(fetched, size, |(key, _)| key.clone()).map(|(_, item)| item))
}

#[async_trait]
impl Catalog for SqliteCatalog {
    async fn dataset(&self, name: &DatasetName) -> Result<Option<Dataset>, PortError> {
        let name = name.to_string();
        self.with(move |c| read_dataset(c, &name)).await
    }

    async fn datasets_page(&self, page: &PageRequest) -> Result<Page<Dataset>, PortError> {
        let (after, size) = (name_after(page), page.size());
        self.with(move |c| {
            keyed_page(
                c,
                "SELECT name, body FROM datasets WHERE name > ?1 ORDER BY name LIMIT ?2",
                &[&after],
                size,
            )
        })
        .await
    }

    async fn versions_page(
        &self,
        name: &DatasetName,
        page: &PageRequest,
    ) -> Result<Page<DatasetVersion>, PortError> {
        let (after, size) = (number_after(page, "versions")?, page.size());
        let name = name.to_string();
        self.with(move |c| {
            keyed_page(
                c,
                "SELECT version, body FROM versions WHERE dataset = ?1 AND version > ?2 \
                 ORDER BY version LIMIT ?3",
                &[&name, &after],
                size,
            )
        })
        .await
    }

    async fn uploads_page(
        &self,
        name: &DatasetName,
        page: &PageRequest,
    ) -> Result<Page<UploadRecord>, PortError> {
        let (after, size) = (number_after(page, "uploads")?, page.size());
        let name = name.to_string();
        self.with(move |c| {
            keyed_page(
                c,
                "SELECT seq, body FROM uploads WHERE dataset = ?1 AND seq > ?2 \
                 ORDER BY seq LIMIT ?3",
                &[&name, &after],
                size,
            )
        })
        .await
    }

    async fn pipelines_page(&self, page: &PageRequest) -> Result<Page<StoredPipeline>, PortError> {
        let (after, size) = (name_after(page), page.size());
        self.with(move |c| {
            keyed_page(
                c,
                "SELECT p.name, p.body FROM pipelines p WHERE p.name > ?1 AND p.version = \
                 (SELECT MAX(version) FROM pipelines q WHERE q.name = p.name) \
                 ORDER BY p.name LIMIT ?2",
                &[&after],
                size,
            )
        })
        .await
    }

    async fn model_versions_page(
        &self,
        model: &str,
        page: &PageRequest,
    ) -> Result<Page<ModelVersion>, PortError> {
        let (after, size) = (number_after(page, "model versions")?, page.size());
        let model = model.to_owned();
        self.with(move |c| {
            keyed_page(
                c,
                "SELECT version, body FROM models WHERE name = ?1 AND version > ?2 \
                 ORDER BY version LIMIT ?3",
                &[&model, &after],
                size,
            )
        })
        .await
    }

    async fn models_page(&self, page: &PageRequest) -> Result<Page<ModelVersion>, PortError> {
        let (after, size) = (name_after(page), page.size());
        self.with(move |c| {
            keyed_page(
                c,
                "SELECT m.name, m.body FROM models m WHERE m.name > ?1 AND m.version = \
                 (SELECT MAX(version) FROM models n WHERE n.name = m.name) \
                 ORDER BY m.name LIMIT ?2",
                &[&after],
                size,
            )
        })
        .await
    }

    async fn version(
        &self,
        name: &DatasetName,
        version: u32,
    ) -> Result<Option<DatasetVersion>, PortError> {
        let name = name.to_string();
        self.with(move |c| {
            Ok(query_bodies(
                c,
                "SELECT body FROM versions WHERE dataset = ?1 AND version = ?2",
                params![name, version],
            )?
            .pop())
        })
        .await
    }

    async fn version_by_hash(
        &self,
        name: &DatasetName,
        hash: &ContentHash,
    ) -> Result<Option<DatasetVersion>, PortError> {
        let (name, hash) = (name.to_string(), hash.to_string());
        self.with(move |c| {
            Ok(query_bodies(
                c,
                "SELECT body FROM versions WHERE dataset = ?1 AND content_hash = ?2",
                params![name, hash],
            )?
            .pop())
        })
        .await
    }

    async fn upload(&self, upload_key: &str) -> Result<Option<UploadRecord>, PortError> {
        let key = upload_key.to_owned();
        self.with(move |c| {
            Ok(query_bodies(c, "SELECT body FROM uploads WHERE upload_key = ?1", [key])?.pop())
        })
        .await
    }

    async fn commit_version(&self, new: NewVersion) -> Result<(), PortError> {
        self.with(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| sql("starting a transaction", e))?;
            let v = &new.version;
            let mut dataset = ensure_dataset(&tx, &v.dataset, &new.upload)?;
            if upload_exists(&tx, &new.upload.upload_key)? {
                return Err(PortError::Conflict(format!(
                    "upload {} is already recorded",
                    new.upload.upload_key
                )));
            }
            if dataset.latest_version != v.parent_version {
                return Err(PortError::Conflict(format!(
                    "dataset {} is at version {:?}, not {:?}",
                    v.dataset, dataset.latest_version, v.parent_version
                )));
            }
            let hash_taken = tx
                .query_row(
                    "SELECT version FROM versions WHERE dataset = ?1 AND content_hash = ?2",
                    params![v.dataset.as_str(), v.content_hash.as_str()],
                    |r| r.get::<_, u32>(0),
                )
                .optional()
                .map_err(|e| sql("looking up a content hash", e))?;
            if let Some(existing) = hash_taken {
                return Err(PortError::Conflict(format!(
                    "content {} is already version {existing}",
                    v.content_hash.short()
                )));
            }
            if let Some(contract) = &new.founding_contract {
                if dataset.contract_version.is_some() {
                    return Err(PortError::Conflict(format!(
                        "dataset {} already has a contract",
                        v.dataset
                    )));
                }
                tx.execute(
                    "INSERT INTO contracts (dataset, version, body) VALUES (?1, ?2, ?3)",
                    params![v.dataset.as_str(), contract.version, to_json(contract)?],
                )
                .map_err(|e| sql("storing a contract", e))?;
                dataset.contract_version = Some(contract.version);
            }
            tx.execute(
                "INSERT INTO versions (dataset, version, content_hash, body) VALUES (?1, ?2, ?3, ?4)",
                params![v.dataset.as_str(), v.version, v.content_hash.as_str(), to_json(v)?],
            )
            .map_err(|e| sql("storing a dataset version", e))?;
            dataset.latest_version = Some(v.version);
            write_dataset(&tx, &dataset)?;
            insert_upload(&tx, &new.upload)?;
            insert_audit(&tx, &new.audit)?;
            tx.commit().map_err(|e| sql("committing a dataset version", e))
        })
        .await
    }

    async fn record_upload(
        &self,
        upload: UploadRecord,
        audit: AuditEvent,
    ) -> Result<(), PortError> {
        self.with(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| sql("starting a transaction", e))?;
            ensure_dataset(&tx, &upload.dataset, &upload)?;
            if upload_exists(&tx, &upload.upload_key)? {
                return Err(PortError::Conflict(format!(
                    "upload {} is already recorded",
                    upload.upload_key
                )));
            }
            insert_upload(&tx, &upload)?;
            insert_audit(&tx, &audit)?;
            tx.commit().map_err(|e| sql("committing an upload", e))
        })
        .await
    }

    async fn mark_finalized(&self, upload_key: &str) -> Result<(), PortError> {
        let key = upload_key.to_owned();
        self.with(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| sql("starting a transaction", e))?;
            let mut record: UploadRecord = query_bodies(
                &tx,
                "SELECT body FROM uploads WHERE upload_key = ?1",
                [&key],
            )?
            .pop()
            .ok_or_else(|| PortError::NotFound(format!("upload {key}")))?;
            if !record.finalized {
                record.finalized = true;
                tx.execute(
                    "UPDATE uploads SET body = ?1 WHERE upload_key = ?2",
                    params![to_json(&record)?, key],
                )
                .map_err(|e| sql("finalizing an upload", e))?;
            }
            tx.execute(
                "DELETE FROM unfinalized_uploads WHERE upload_key = ?1",
                [&key],
            )
            .map_err(|e| sql("finalizing an upload", e))?;
            tx.commit().map_err(|e| sql("committing an upload", e))
        })
        .await
    }

    async fn unfinalized_uploads(&self) -> Result<Vec<UploadRecord>, PortError> {
        self.with(|c| {
            query_bodies(
                c,
                "SELECT u.body FROM unfinalized_uploads p JOIN uploads u USING (upload_key) \
                 ORDER BY u.seq",
                [],
            )
        })
        .await
    }

    async fn contract(
        &self,
        name: &DatasetName,
        version: Option<u32>,
    ) -> Result<Option<StoredContract>, PortError> {
        let name = name.to_string();
        self.with(move |c| {
            let version = match version {
                Some(v) => Some(v),
                None => read_dataset(c, &name)?.and_then(|d| d.contract_version),
            };
            let Some(version) = version else {
                return Ok(None);
            };
            Ok(query_bodies(
                c,
                "SELECT body FROM contracts WHERE dataset = ?1 AND version = ?2",
                params![name, version],
            )?
            .pop())
        })
        .await
    }

    async fn put_contract(
        &self,
        contract: StoredContract,
        expected: Option<u32>,
        audit: AuditEvent,
    ) -> Result<u32, PortError> {
        self.with(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| sql("starting a transaction", e))?;
            let name = contract.contract.dataset.clone();
            let mut dataset = match read_dataset(&tx, name.as_str())? {
                Some(d) => d,
                None => Dataset {
                    name: name.clone(),
                    created_at: contract.created_at,
                    created_by: contract.created_by.clone(),
                    latest_version: None,
                    contract_version: None,
                },
            };
            if dataset.contract_version != expected {
                return Err(PortError::Conflict(format!(
                    "the contract of {name} is at version {:?}, not {:?}",
                    dataset.contract_version, expected
                )));
            }
            let (stored, audit) = numbered_contract(contract, expected, audit);
            let version = stored.version;
            tx.execute(
                "INSERT INTO contracts (dataset, version, body) VALUES (?1, ?2, ?3)",
                params![name.as_str(), version, to_json(&stored)?],
            )
            .map_err(|e| sql("storing a contract", e))?;
            dataset.contract_version = Some(version);
            write_dataset(&tx, &dataset)?;
            insert_audit(&tx, &audit)?;
            tx.commit().map_err(|e| sql("committing a contract", e))?;
            Ok(version)
        })
        .await
    }

    async fn put_pipeline(
        &self,
        pipeline: StoredPipeline,
        expected: Option<u32>,
        audit: AuditEvent,
    ) -> Result<u32, PortError> {
        self.with(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| sql("starting a transaction", e))?;
            let name = pipeline.pipeline.name.clone();
            let latest: Option<u32> = tx
                .query_row(
                    "SELECT MAX(version) FROM pipelines WHERE name = ?1",
                    [&name],
                    |r| r.get(0),
                )
                .map_err(|e| sql("reading pipeline versions", e))?;
            if latest != expected {
                return Err(PortError::Conflict(format!(
                    "pipeline {name} is at version {latest:?}, not {expected:?}"
                )));
            }
            let (stored, audit) = numbered_pipeline(pipeline, expected, audit);
            let version = stored.version;
            tx.execute(
                "INSERT INTO pipelines (name, version, body) VALUES (?1, ?2, ?3)",
                params![name, version, to_json(&stored)?],
            )
            .map_err(|e| sql("storing a pipeline", e))?;
            insert_audit(&tx, &audit)?;
            tx.commit().map_err(|e| sql("committing a pipeline", e))?;
            Ok(version)
        })
        .await
    }

    async fn pipeline(
        &self,
        name: &str,
        version: Option<u32>,
    ) -> Result<Option<StoredPipeline>, PortError> {
        let name = name.to_owned();
        self.with(move |c| {
            Ok(match version {
                Some(v) => query_bodies(
                    c,
                    "SELECT body FROM pipelines WHERE name = ?1 AND version = ?2",
                    params![name, v],
                )?,
                None => query_bodies(
                    c,
                    "SELECT body FROM pipelines WHERE name = ?1 ORDER BY version DESC LIMIT 1",
                    [name],
                )?,
            }
            .pop())
        })
        .await
    }

    async fn create_run(&self, run: &Run, audit: AuditEvent) -> Result<bool, PortError> {
        let run = run.clone();
        self.with(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| sql("starting a transaction", e))?;
            let inserted = tx
                .execute(
                    "INSERT OR IGNORE INTO runs (id, pipeline, created_ms, revision, body) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        run.id,
                        run.pipeline.pipeline.name,
                        run.created_at.as_millisecond(),
                        run.revision,
                        to_json(&run)?
                    ],
                )
                .map_err(|e| sql("storing a run", e))?;
            if inserted == 0 {
                return Ok(false);
            }
            insert_audit(&tx, &audit)?;
            tx.commit().map_err(|e| sql("committing a run", e))?;
            Ok(true)
        })
        .await
    }

    async fn run(&self, id: &str) -> Result<Option<Run>, PortError> {
        let id = id.to_owned();
        self.with(move |c| Ok(query_bodies(c, "SELECT body FROM runs WHERE id = ?1", [id])?.pop()))
            .await
    }

    async fn runs(&self, pipeline: Option<&str>) -> Result<Vec<Run>, PortError> {
        let pipeline = pipeline.map(str::to_owned);
        self.with(move |c| match pipeline {
            Some(p) => query_bodies(
                c,
                "SELECT body FROM runs WHERE pipeline = ?1 ORDER BY created_ms DESC, id DESC",
                [p],
            ),
            None => query_bodies(
                c,
                "SELECT body FROM runs ORDER BY created_ms DESC, id DESC",
                [],
            ),
        })
        .await
    }

    async fn runs_page(
        &self,
        pipeline: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Run>, PortError> {
        // Keyset paging on (created_ms, id); the cursor is the run's place.
        let after = match page.cursor.as_deref() {
            Some(c) => Some(Run::parse_place(c).map(|(ms, id)| (ms, id.to_owned()))?),
            None => None,
        };
        let (size, pipeline) = (page.size(), pipeline.map(str::to_owned));
        let fetched: Vec<Run> = self
            .with(move |c| {
                let (ms, id) = after.unwrap_or((i64::MAX, String::new()));
                let limit = size as i64 + 1;
                let keyset = "(created_ms < ?1 OR (created_ms = ?1 AND id < ?2))";
                match pipeline {
                    Some(p) => query_bodies(
                        c,
                        &format!(
                            "SELECT body FROM runs WHERE pipeline = ?3 AND {keyset} \
                             ORDER BY created_ms DESC, id DESC LIMIT ?4"
                        ),
                        rusqlite::params![ms, id, p, limit],
                    ),
                    None => query_bodies(
                        c,
                        &format!(
                            "SELECT body FROM runs WHERE {keyset} \
                             ORDER BY created_ms DESC, id DESC LIMIT ?3"
                        ),
                        rusqlite::params![ms, id, limit],
                    ),
                }
            })
            .await?;
        Ok(Page::of(fetched, size, Run::place))
    }

    async fn save_run(&self, run: &Run) -> Result<(), PortError> {
        let run = run.clone();
        self.with(move |c| update_run(c, &run)).await
    }

    async fn register_model(
        &self,
        run: &Run,
        model: &ModelVersion,
        audit: AuditEvent,
    ) -> Result<(), PortError> {
        let (run, model) = (run.clone(), model.clone());
        self.with(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| sql("starting a transaction", e))?;
            let latest: Option<u32> = tx
                .query_row(
                    "SELECT MAX(version) FROM models WHERE name = ?1",
                    [&model.model],
                    |r| r.get(0),
                )
                .map_err(|e| sql("reading model versions", e))?;
            if model.version != latest.unwrap_or(0) + 1 {
                return Err(PortError::Conflict(format!(
                    "model {} is at version {}, so {} is not next",
                    model.model,
                    latest.unwrap_or(0),
                    model.version
                )));
            }
            update_run(&tx, &run)?;
            let inserted = tx
                .execute(
                    "INSERT OR IGNORE INTO models (name, version, run_id, revision, body) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        model.model,
                        model.version,
                        model.run_id,
                        model.revision,
                        to_json(&model)?
                    ],
                )
                .map_err(|e| sql("storing a model version", e))?;
            if inserted == 0 {
                return Err(PortError::Conflict(format!(
                    "run {} has registered a model already",
                    model.run_id
                )));
            }
            insert_audit(&tx, &audit)?;
            tx.commit()
                .map_err(|e| sql("committing a model version", e))?;
            Ok(())
        })
        .await
    }

    async fn model_version(
        &self,
        model: &str,
        version: u32,
    ) -> Result<Option<ModelVersion>, PortError> {
        let model = model.to_owned();
        self.with(move |c| {
            Ok(query_bodies(
                c,
                "SELECT body FROM models WHERE name = ?1 AND version = ?2",
                params![model, version],
            )?
            .pop())
        })
        .await
    }

    async fn model_history(&self, model: &str) -> Result<Vec<StageChange>, PortError> {
        let model = model.to_owned();
        self.with(move |c| {
            query_bodies(
                c,
                "SELECT body FROM model_history WHERE model = ?1 ORDER BY position",
                [model],
            )
        })
        .await
    }

    async fn apply_transition(&self, transition: &Transition) -> Result<(), PortError> {
        let t = transition.clone();
        self.with(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| sql("starting a transaction", e))?;
            // As `ModelState::apply`: the history is a condition only when the transition adds to
            // it (an approval short of the count moves nothing and is guarded by its revision).
            if !t.history.is_empty() {
                let len: usize = tx
                    .query_row(
                        "SELECT COUNT(*) FROM model_history WHERE model = ?1",
                        [&t.model],
                        |r| r.get(0),
                    )
                    .map_err(|e| sql("reading a model's history", e))?;
                if len != t.history_len {
                    return Err(PortError::Conflict(format!(
                        "model {}'s stage history has {len} entries, not {}: another transition \
                         landed since it was read",
                        t.model, t.history_len
                    )));
                }
            }
            for write in &t.writes {
                let mut model = model_at(&tx, &t.model, write.version, write.expected_revision)?;
                model.stage = write.stage;
                model.approvals.clone_from(&write.approvals);
                model.revision = write.revision();
                update_model(&tx, &model)?;
            }
            for (i, change) in t.history.iter().enumerate() {
                tx.execute(
                    "INSERT INTO model_history (model, position, body) VALUES (?1, ?2, ?3)",
                    params![t.model, t.history_len + i, to_json(change)?],
                )
                .map_err(|e| sql("appending to a model's history", e))?;
                tx.execute(
                    "INSERT INTO unannounced_changes (model, position) VALUES (?1, ?2)",
                    params![t.model, t.history_len + i],
                )
                .map_err(|e| sql("owing a stage change's announcement", e))?;
            }
            for event in &t.audit {
                insert_audit(&tx, event)?;
            }
            tx.commit()
                .map_err(|e| sql("committing a model transition", e))
        })
        .await
    }

    async fn unannounced_changes(&self) -> Result<Vec<Unannounced>, PortError> {
        self.with(|c| {
            let mut stmt = c
                .prepare(
                    "SELECT h.model, h.position, h.body FROM unannounced_changes o \
                     JOIN model_history h USING (model, position) ORDER BY h.rowid",
                )
                .map_err(|e| sql("preparing a query", e))?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, u64>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })
                .map_err(|e| sql("reading the stage changes owed", e))?;
            rows.map(|r| {
                let (model, position, body) = r.map_err(|e| sql("reading a row", e))?;
                Ok(Unannounced {
                    model,
                    position,
                    change: from_json(&body)?,
                })
            })
            .collect()
        })
        .await
    }

    async fn mark_announced(&self, model: &str, position: u64) -> Result<(), PortError> {
        let model = model.to_owned();
        self.with(move |c| {
            c.execute(
                "DELETE FROM unannounced_changes WHERE model = ?1 AND position = ?2",
                params![model, position],
            )
            .map_err(|e| sql("clearing a stage change's announcement", e))?;
            Ok(())
        })
        .await
    }

    async fn record_test(
        &self,
        model: &str,
        version: u32,
        expected_revision: u64,
        verdict: TestVerdict,
        report: ObjectRef,
        audit: AuditEvent,
    ) -> Result<(), PortError> {
        let model = model.to_owned();
        self.with(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| sql("starting a transaction", e))?;
            let mut stored = model_at(&tx, &model, version, expected_revision)?;
            stored.test = Some(verdict);
            stored.test_report = Some(report);
            stored.revision = expected_revision + 1;
            update_model(&tx, &stored)?;
            insert_audit(&tx, &audit)?;
            tx.commit().map_err(|e| sql("committing a test verdict", e))
        })
        .await
    }

    async fn deployment(&self, model: &str) -> Result<Option<Deployment>, PortError> {
        let model = model.to_owned();
        self.with(move |c| {
            Ok(query_bodies(c, "SELECT body FROM deployments WHERE model = ?1", [model])?.pop())
        })
        .await
    }

    async fn save_deployment(
        &self,
        deployment: &Deployment,
        audit: &[AuditEvent],
    ) -> Result<(), PortError> {
        let (deployment, audit) = (deployment.clone(), audit.to_vec());
        self.with(move |c| {
            let d = &deployment;
            let expected =
                expected_revision(format_args!("model {}'s deployment", d.model), d.revision)?;
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| sql("starting a transaction", e))?;
            // Revision 1 inserts; a later one replaces the revision below it.
            let changed = tx
                .execute(
                    "INSERT INTO deployments (model, revision, body) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (model) DO UPDATE SET revision = excluded.revision, \
                     body = excluded.body WHERE deployments.revision = ?4",
                    params![d.model, d.revision, to_json(d)?, expected],
                )
                .map_err(|e| sql("saving a deployment", e))?;
            if changed == 0 {
                return Err(PortError::Conflict(format!(
                    "model {}'s deployment is no longer at revision {expected}",
                    d.model
                )));
            }
            for event in &audit {
                insert_audit(&tx, event)?;
            }
            tx.commit().map_err(|e| sql("committing a deployment", e))
        })
        .await
    }

    async fn append_audit(&self, event: AuditEvent) -> Result<(), PortError> {
        self.with(move |c| insert_audit(c, &event)).await
    }

    async fn audit_page(
        &self,
        subject_prefix: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<AuditEvent>, PortError> {
        let before = match page.cursor.as_deref() {
            Some(c) => c.parse::<i64>().map_err(|_| {
                PortError::Invalid(format!("{c:?} is not a cursor of the audit trail"))
            })?,
            None => i64::MAX,
        };
        let (size, prefix) = (page.size(), subject_prefix.unwrap_or("").to_owned());
        let fetched: Vec<(i64, AuditEvent)> = self
            .with(move |c| {
                let mut stmt = c
                    .prepare(
                        "SELECT seq, body FROM audit \
                         WHERE seq < ?1 AND substr(subject, 1, length(?2)) = ?2 \
                         ORDER BY seq DESC LIMIT ?3",
                    )
                    .map_err(|e| sql("preparing a query", e))?;
                let rows = stmt
                    .query_map(rusqlite::params![before, prefix, size as i64 + 1], |r| {
                        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
                    })
                    .map_err(|e| sql("running a query", e))?;
                rows.map(|r| {
                    let (seq, body) = r.map_err(|e| sql("reading a row", e))?;
                    Ok((seq, from_json(&body)?))
                })
                .collect()
            })
            .await?;
        Ok(Page::of(fetched, size, |(seq, _)| seq.to_string()).map(|(_, event)| event))
    }

    async fn audit(&self, subject_prefix: Option<&str>) -> Result<Vec<AuditEvent>, PortError> {
        let prefix = subject_prefix.unwrap_or("").to_owned();
        self.with(move |c| {
            query_bodies(
                c,
                "SELECT body FROM audit WHERE substr(subject, 1, length(?1)) = ?1 ORDER BY seq",
                [prefix],
            )
        })
        .await
    }
}
