//! The ports: what the handlers need from the world. Each has an embedded adapter
//! (`tollgate-local`) and an AWS adapter, and one conformance suite both pass.

use std::any::Any;
use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::deploy::{DeploySettings, Deployment, Endpoint};
use crate::promotion::{ModelState, StageChange, TestVerdict, Transition};
use crate::training::{JobStatus, ModelVersion, Run, StoredPipeline, TrainingJob};
use crate::{
    AuditEvent, BlobKey, BucketName, ContentHash, Contract, Dataset, DatasetName, DatasetVersion,
    Event, ObjectRef, PortError, UploadRecord, UserId,
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ObjectMeta {
    pub key: BlobKey,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// Whom the object's metadata names as its uploader ([`UPLOADED_BY_METADATA`]): the person
    /// an upload URL was made for, signed into the URL so its holder cannot change it. Believed
    /// only of objects the URL's signer stored (see the ingest function's
    /// `TOLLGATE_UPLOAD_SIGNER`): anyone else allowed to PUT could write any name there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uploaded_by: Option<UserId>,
    /// When it was written, where the store says (a listing's `LastModified`, a file's mtime).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<Timestamp>,
}

/// The metadata key (`x-amz-meta-<key>` on the wire) naming an upload's person.
pub const UPLOADED_BY_METADATA: &str = "tollgate-uploaded-by";

/// An object's bytes in a local file: the object itself in the embedded store, a download
/// (removed on drop) on AWS.
pub struct LocalObject {
    pub path: PathBuf,
    pub meta: ObjectMeta,
    _guard: Option<Box<dyn Any + Send + Sync>>,
}

impl LocalObject {
    /// A file that is the object itself; nothing to clean up.
    pub fn in_place(path: PathBuf, meta: ObjectMeta) -> Self {
        Self {
            path,
            meta,
            _guard: None,
        }
    }

    /// A copy whose `guard` removes it when dropped (a `tempfile::TempPath`, say).
    pub fn temporary(path: PathBuf, meta: ObjectMeta, guard: Box<dyn Any + Send + Sync>) -> Self {
        Self {
            path,
            meta,
            _guard: Some(guard),
        }
    }
}

impl Debug for LocalObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalObject")
            .field("path", &self.path)
            .field("meta", &self.meta)
            .finish()
    }
}

/// Objects in buckets. Every write is atomic: a reader sees the old object or the new one.
#[async_trait]
pub trait BlobStore: Send + Sync + Debug {
    async fn put(
        &self,
        bucket: &BucketName,
        key: &BlobKey,
        body: Bytes,
    ) -> Result<ObjectMeta, PortError>;
    /// Puts a local file's content (large objects: streamed, multipart on S3).
    async fn put_file(
        &self,
        bucket: &BucketName,
        key: &BlobKey,
        path: &Path,
    ) -> Result<ObjectMeta, PortError>;
    /// Creates the object only if the key is free; `Ok(None)` when it already exists.
    async fn create(
        &self,
        bucket: &BucketName,
        key: &BlobKey,
        body: Bytes,
    ) -> Result<Option<ObjectMeta>, PortError>;
    /// The whole object; `PortError::NotFound` when absent.
    async fn get(&self, bucket: &BucketName, key: &BlobKey) -> Result<Bytes, PortError>;
    /// The object as a local file, for readers that want a path (polars, hashing).
    async fn fetch(&self, bucket: &BucketName, key: &BlobKey) -> Result<LocalObject, PortError>;
    /// The object an event named, as a local file: that very version where the store keeps
    /// versions (S3), so a late event never reads newer bytes written under the same key.
    async fn fetch_object(&self, object: &ObjectRef) -> Result<LocalObject, PortError> {
        self.fetch(&object.bucket, &object.key).await
    }
    async fn head(
        &self,
        bucket: &BucketName,
        key: &BlobKey,
    ) -> Result<Option<ObjectMeta>, PortError>;
    /// Every object whose key starts with `prefix`, in key order.
    async fn list(&self, bucket: &BucketName, prefix: &str) -> Result<Vec<ObjectMeta>, PortError>;
    /// A page of the objects whose key starts with `prefix`, in key order; the cursor is the
    /// last key of the page before.
    async fn list_page(
        &self,
        bucket: &BucketName,
        prefix: &str,
        page: &PageRequest,
    ) -> Result<Page<ObjectMeta>, PortError>;
    /// Copies `source` to `to` in the same bucket: the very version `source.version_id` names
    /// when it names one (a store that keeps no versions refuses such a source as `Invalid`).
    async fn copy(&self, source: &ObjectRef, to: &BlobKey) -> Result<ObjectMeta, PortError>;
    /// A URL a client can PUT the object to without other credentials, valid for `expires`, on
    /// behalf of `by`: with the headers the PUT must carry (a store that keeps metadata signs
    /// [`UPLOADED_BY_METADATA`] into the URL).
    async fn presign_put(
        &self,
        bucket: &BucketName,
        key: &BlobKey,
        expires: Duration,
        by: &UserId,
    ) -> Result<PresignedPut, PortError>;
}

/// Where and how to PUT an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedPut {
    pub url: String,
    /// Headers the PUT must send as they are (they are part of the signature).
    pub headers: std::collections::BTreeMap<String, String>,
}

/// What every handler, the API and the CLI are built from: the stores, the bus, the clock and
/// the data bucket of one environment (the embedded default's, or a stack's on AWS).
#[derive(Debug, Clone)]
pub struct Ports {
    pub blobs: Arc<dyn BlobStore>,
    pub catalog: Arc<dyn Catalog>,
    pub bus: Arc<dyn EventBus>,
    pub clock: Arc<dyn Clock>,
    pub data_bucket: BucketName,
}

/// The most items a page holds, whatever a caller asks.
pub const MAX_PAGE: u32 = 500;

/// Which page of a list: at most `limit` items after `cursor`, the `next` of the page before
/// (`None`: the first page). Cursors are opaque, each adapter's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PageRequest {
    pub limit: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

impl PageRequest {
    /// The first page of `limit` items.
    pub fn first(limit: u32) -> Self {
        Self {
            limit,
            cursor: None,
        }
    }

    /// The limit between 1 and [`MAX_PAGE`], as a count.
    pub fn size(&self) -> usize {
        self.limit.clamp(1, MAX_PAGE) as usize
    }
}

/// One page of a list; `next` asks for the page after it, `None` on the last.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// The page of `size` items out of `fetched` (read one past the page, to know whether there
    /// is a next one), whose cursor is `cursor_of` the page's last item.
    pub fn of(mut fetched: Vec<T>, size: usize, cursor_of: impl Fn(&T) -> String) -> Self {
        let more = fetched.len() > size;
        fetched.truncate(size);
        let next = if more {
            fetched.last().map(cursor_of)
        } else {
            None
        };
        Self {
            items: fetched,
            next,
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }
}

/// A contract as the catalog keeps it: numbered, with who set it and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoredContract {
    pub version: u32,
    pub contract: Contract,
    pub created_by: UserId,
    pub created_at: Timestamp,
    /// `inferred from v1`, or `applied by <user>`.
    pub origin: String,
}

/// Every item of a paged list: `read` asked for page after page until the last.
pub async fn every<T, F, Fut>(mut read: F) -> Result<Vec<T>, PortError>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>, PortError>>,
{
    let mut items = Vec::new();
    let mut page = PageRequest::first(MAX_PAGE);
    loop {
        let got = read(page.clone()).await?;
        items.extend(got.items);
        match got.next {
            Some(next) => page.cursor = Some(next),
            None => return Ok(items),
        }
    }
}

/// The revision a stored item must be at for a write that brings it to `revision`: the one
/// before. Every adapter's conditional write of runs and model versions asks this.
pub fn expected_revision(what: impl std::fmt::Display, revision: u64) -> Result<u64, PortError> {
    revision
        .checked_sub(1)
        .ok_or_else(|| PortError::Invalid(format!("{what} saved with revision 0")))
}

/// A contract as [`Catalog::put_contract`] stores it over the version `expected` (`None`: the
/// dataset has none): numbered next, its audit event naming that version. The adapters store
/// what this returns; the numbering is not theirs to decide.
pub fn numbered_contract(
    contract: StoredContract,
    expected: Option<u32>,
    audit: AuditEvent,
) -> (StoredContract, AuditEvent) {
    let version = expected.unwrap_or(0) + 1;
    let audit = AuditEvent {
        subject: format!("contract/{}/v{version}", contract.contract.dataset),
        ..audit
    };
    (
        StoredContract {
            version,
            ..contract
        },
        audit,
    )
}

/// A pipeline as [`Catalog::put_pipeline`] stores it over the version `expected`: as
/// [`numbered_contract`].
pub fn numbered_pipeline(
    pipeline: StoredPipeline,
    expected: Option<u32>,
    audit: AuditEvent,
) -> (StoredPipeline, AuditEvent) {
    let version = expected.unwrap_or(0) + 1;
    let audit = AuditEvent {
        subject: format!("pipeline/{}/v{version}", pipeline.pipeline.name),
        ..audit
    };
    (
        StoredPipeline {
            version,
            ..pipeline
        },
        audit,
    )
}

/// Everything that lands with a new dataset version, in one transaction.
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub version: DatasetVersion,
    pub upload: UploadRecord,
    /// The contract this version founds (its first), numbered `version.contract_version`.
    pub founding_contract: Option<StoredContract>,
    pub audit: AuditEvent,
}

/// A committed stage change whose announcement is still owed (the outbox of promotion).
#[derive(Debug, Clone, PartialEq)]
pub struct Unannounced {
    pub model: String,
    /// Its position in the model's history.
    pub position: u64,
    pub change: StageChange,
}

/// The catalog: datasets, versions, uploads, contracts and the audit trail.
///
/// Idempotency and ordering are its job: every write here is conditional and either lands whole
/// or returns `PortError::Conflict` having changed nothing.
#[async_trait]
pub trait Catalog: Send + Sync + Debug {
    async fn dataset(&self, name: &DatasetName) -> Result<Option<Dataset>, PortError>;
    /// A page of datasets, by name.
    ///
    /// Every `*_page` method reads from where its cursor left off, so an item added meanwhile
    /// never shifts a later page, and answers `Invalid` for a cursor this adapter did not write.
    async fn datasets_page(&self, page: &PageRequest) -> Result<Page<Dataset>, PortError>;
    /// Every dataset, by name.
    async fn datasets(&self) -> Result<Vec<Dataset>, PortError> {
        every(|p| async move { self.datasets_page(&p).await }).await
    }
    /// A page of a dataset's accepted versions, oldest first.
    async fn versions_page(
        &self,
        name: &DatasetName,
        page: &PageRequest,
    ) -> Result<Page<DatasetVersion>, PortError>;
    /// Accepted versions, oldest first.
    async fn versions(&self, name: &DatasetName) -> Result<Vec<DatasetVersion>, PortError> {
        every(|p| async move { self.versions_page(name, &p).await }).await
    }
    async fn version(
        &self,
        name: &DatasetName,
        version: u32,
    ) -> Result<Option<DatasetVersion>, PortError>;
    async fn version_by_hash(
        &self,
        name: &DatasetName,
        hash: &ContentHash,
    ) -> Result<Option<DatasetVersion>, PortError>;
    async fn upload(&self, upload_key: &str) -> Result<Option<UploadRecord>, PortError>;
    /// A page of a dataset's uploads (accepted, duplicate, rejected), oldest first.
    async fn uploads_page(
        &self,
        name: &DatasetName,
        page: &PageRequest,
    ) -> Result<Page<UploadRecord>, PortError>;
    /// Every upload of a dataset, oldest first.
    async fn uploads(&self, name: &DatasetName) -> Result<Vec<UploadRecord>, PortError> {
        every(|p| async move { self.uploads_page(name, &p).await }).await
    }

    /// Adds version `new.version.version`, which must follow the dataset's latest version
    /// (`parent_version` equal to it), with a content hash not yet seen and an upload key not
    /// yet recorded; with its founding contract when given (the dataset must have none), the
    /// upload record and the audit event. All or nothing; `Conflict` when a condition fails.
    async fn commit_version(&self, new: NewVersion) -> Result<(), PortError>;
    /// Records a rejected or duplicate upload and its audit event; `Conflict` when the upload key
    /// is already recorded.
    async fn record_upload(&self, upload: UploadRecord, audit: AuditEvent)
    -> Result<(), PortError>;
    /// Marks an upload's artifacts written and its event published.
    async fn mark_finalized(&self, upload_key: &str) -> Result<(), PortError>;
    /// The uploads not yet finalized, oldest first, read from an index of them alone (the
    /// sweep's work list: its cost follows what is unfinished, not every upload ever made).
    async fn unfinalized_uploads(&self) -> Result<Vec<UploadRecord>, PortError>;

    /// The contract in force (`None`), or a given version of it.
    async fn contract(
        &self,
        name: &DatasetName,
        version: Option<u32>,
    ) -> Result<Option<StoredContract>, PortError>;
    /// Replaces the contract in force, which must be `expected` (`None`: there is none yet).
    /// Returns the new contract version; `Conflict` if another write came first.
    async fn put_contract(
        &self,
        contract: StoredContract,
        expected: Option<u32>,
        audit: AuditEvent,
    ) -> Result<u32, PortError>;

    /// Stores a pipeline as version `expected + 1` (1 when `expected` is `None`: it is new).
    /// `Conflict` if another write came first.
    async fn put_pipeline(
        &self,
        pipeline: StoredPipeline,
        expected: Option<u32>,
        audit: AuditEvent,
    ) -> Result<u32, PortError>;
    /// The pipeline's latest version (`None`), or a given one.
    async fn pipeline(
        &self,
        name: &str,
        version: Option<u32>,
    ) -> Result<Option<StoredPipeline>, PortError>;
    /// A page of pipelines (the latest version of each), by name.
    async fn pipelines_page(&self, page: &PageRequest) -> Result<Page<StoredPipeline>, PortError>;
    /// The latest version of every pipeline, by name.
    async fn pipelines(&self) -> Result<Vec<StoredPipeline>, PortError> {
        every(|p| async move { self.pipelines_page(&p).await }).await
    }

    /// Stores a new run (revision 0) with its audit event; `Ok(false)`, changing nothing, when a
    /// run with its id exists.
    async fn create_run(&self, run: &Run, audit: AuditEvent) -> Result<bool, PortError>;
    async fn run(&self, id: &str) -> Result<Option<Run>, PortError>;
    /// Every run, newest first; only the pipeline's when given.
    async fn runs(&self, pipeline: Option<&str>) -> Result<Vec<Run>, PortError>;
    /// A page of runs, newest first (as [`Catalog::runs`]), read from where the cursor left
    /// off: a run created meanwhile never shifts a later page. `Invalid` for a cursor this
    /// adapter did not write.
    async fn runs_page(
        &self,
        pipeline: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Run>, PortError>;
    /// Replaces a run whose stored revision is `run.revision - 1`; `Conflict` otherwise.
    async fn save_run(&self, run: &Run) -> Result<(), PortError>;
    /// Saves a finished run (as `save_run`) and registers its candidate, which must be the
    /// model's next version, with the audit event: all or nothing.
    async fn register_model(
        &self,
        run: &Run,
        model: &ModelVersion,
        audit: AuditEvent,
    ) -> Result<(), PortError>;
    /// A page of a model's versions, oldest first.
    async fn model_versions_page(
        &self,
        model: &str,
        page: &PageRequest,
    ) -> Result<Page<ModelVersion>, PortError>;
    /// A model's versions, oldest first.
    async fn model_versions(&self, model: &str) -> Result<Vec<ModelVersion>, PortError> {
        every(|p| async move { self.model_versions_page(model, &p).await }).await
    }
    async fn model_version(
        &self,
        model: &str,
        version: u32,
    ) -> Result<Option<ModelVersion>, PortError>;
    /// A page of models (the latest version of each), by name.
    async fn models_page(&self, page: &PageRequest) -> Result<Page<ModelVersion>, PortError>;
    /// The latest version of every model, by name.
    async fn models(&self) -> Result<Vec<ModelVersion>, PortError> {
        every(|p| async move { self.models_page(&p).await }).await
    }
    /// A model's stage history, oldest first.
    async fn model_history(&self, model: &str) -> Result<Vec<StageChange>, PortError>;
    /// What the promotion rules read: every version (stage, revision, approvals, test verdict)
    /// and the stage history. `None` when the model has no version.
    ///
    /// The history is read *before* the versions, and that order is what makes two reads safe
    /// without a snapshot: a transition landing in between has either appended to the history
    /// (so a decision on this state fails its history-length condition) or changed only
    /// versions, whose newer revisions were read.
    async fn model_state(&self, model: &str) -> Result<Option<ModelState>, PortError> {
        let history = self.model_history(model).await?;
        let versions = self.model_versions(model).await?;
        if versions.is_empty() {
            return Ok(None);
        }
        Ok(Some(ModelState {
            model: model.to_owned(),
            versions: versions
                .iter()
                .map(crate::promotion::VersionState::of)
                .collect(),
            history,
        }))
    }
    /// Writes a promotion transition, all or nothing: each version write conditional on its
    /// stored revision being `expected_revision` (and bumping it), the history entries appended
    /// at position `history_len` only if the history still has that length, and the audit
    /// events. `Conflict` when a condition fails.
    ///
    /// Each history entry is also an outbox entry, written in the same transaction: what
    /// follows the commit (the production pointer, `ModelStageChanged`, the registry's mirror)
    /// is owed until [`Catalog::mark_announced`] clears it.
    async fn apply_transition(&self, transition: &Transition) -> Result<(), PortError>;
    /// Stage changes whose announcement is still owed, oldest first: the model, the change's
    /// position in its history and the change.
    async fn unannounced_changes(&self) -> Result<Vec<Unannounced>, PortError>;
    /// Clears the outbox entry of a model's history entry at `position` (nothing when none).
    async fn mark_announced(&self, model: &str, position: u64) -> Result<(), PortError>;
    /// Records a version's test verdict and its report, conditional on the version's revision
    /// being `expected_revision` (bumping it), with the audit event. `Conflict` otherwise.
    async fn record_test(
        &self,
        model: &str,
        version: u32,
        expected_revision: u64,
        verdict: TestVerdict,
        report: crate::ObjectRef,
        audit: AuditEvent,
    ) -> Result<(), PortError>;

    /// The record of a model's endpoint deployment, if one was ever asked for.
    async fn deployment(&self, model: &str) -> Result<Option<Deployment>, PortError>;
    /// Writes `deployment` over revision `deployment.revision - 1` (revision 1: the first
    /// record), with its audit events, in one transaction. `Conflict` when another write came
    /// first.
    async fn save_deployment(
        &self,
        deployment: &Deployment,
        audit: &[AuditEvent],
    ) -> Result<(), PortError>;

    async fn append_audit(&self, event: AuditEvent) -> Result<(), PortError>;
    /// Audit events, oldest first; only those whose subject starts with `subject_prefix` if given.
    async fn audit(&self, subject_prefix: Option<&str>) -> Result<Vec<AuditEvent>, PortError>;
    /// A page of the audit trail, newest first, under `subject_prefix` if given; events
    /// appended meanwhile never shift a later page. `Invalid` for a cursor this adapter did
    /// not write.
    async fn audit_page(
        &self,
        subject_prefix: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<AuditEvent>, PortError>;
}

/// What one deployment puts in service: a model version, its image and artifact, and the
/// pipeline's `[deploy]` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Release {
    pub model: String,
    pub version: u32,
    pub image: String,
    /// The model artifact (`s3://.../model.tar.gz`).
    pub artifact: String,
    pub settings: DeploySettings,
}

/// Where production is served on AWS: one SageMaker endpoint per model. (On a laptop `tollgate
/// up` serves production itself, following `models/<name>/production.json`.)
///
/// Every call is idempotent: a model, config or alarm that exists is left as it is (their
/// names carry what they contain), and asking a busy endpoint to change is `Conflict`.
#[async_trait]
pub trait Hosting: Send + Sync + Debug {
    /// The endpoint that serves `model`.
    fn endpoint_name(&self, model: &str) -> String;
    /// The endpoint config `release` deploys; a different release never has the same name.
    fn config_name(&self, release: &Release) -> String;
    /// The endpoint as it is; `None` when there is none.
    async fn describe(&self, endpoint: &str) -> Result<Option<Endpoint>, PortError>;
    /// Creates what the endpoint needs to serve `release` (the model, the endpoint config with
    /// data capture, the rollback alarm), each only if absent.
    async fn prepare(&self, release: &Release) -> Result<(), PortError>;
    /// Creates the endpoint on `release`'s config.
    async fn create(&self, release: &Release) -> Result<(), PortError>;
    /// Moves the endpoint to `release`'s config, blue/green with automatic rollback.
    async fn update(&self, release: &Release) -> Result<(), PortError>;
}

/// Where training jobs run: SageMaker, or the `trainer` binary as a subprocess. A job's end
/// arrives as a `TrainingJobStateChange` event on the bus, never by polling.
#[async_trait]
pub trait TrainingBackend: Send + Sync + Debug {
    /// Starts the job; `Ok(false)` when a job of that name exists already (a retried start).
    async fn start(&self, job: &TrainingJob) -> Result<bool, PortError>;
    /// The job's status; `NotFound` when there is no such job.
    async fn describe(&self, name: &str) -> Result<JobStatus, PortError>;
    /// Asks the job to stop; its end still arrives as an event.
    async fn stop(&self, name: &str) -> Result<(), PortError>;
}

/// Where processing jobs run: SageMaker Processing, or `tollgate process` as subprocesses. A
/// job's end arrives as a `ProcessingJobStateChange` event on the bus, never by polling.
#[async_trait]
pub trait ProcessingBackend: Send + Sync + Debug {
    /// Starts the job; `Ok(false)` when a job of that name exists already (a retried start).
    async fn start(&self, job: &crate::training::ProcessingJob) -> Result<bool, PortError>;
    /// The job's status; `NotFound` when there is no such job.
    async fn describe(&self, name: &str) -> Result<JobStatus, PortError>;
}

/// A registry outside Tollgate that mirrors its model versions and their approval (the SageMaker
/// Model Registry), for teams that deploy from there. Optional: the catalog stays the record, and
/// the embedded default has none.
#[async_trait]
pub trait ModelRegistry: Send + Sync + Debug {
    /// Makes the registry's entry for `version` match it: created if missing, its approval
    /// status following the stage. Safe to call again.
    async fn mirror(&self, version: &ModelVersion) -> Result<(), PortError>;
}

/// Where handlers announce what happened.
#[async_trait]
pub trait EventBus: Send + Sync + Debug {
    async fn publish(&self, event: &Event) -> Result<(), PortError>;
}

pub trait Clock: Send + Sync + Debug {
    fn now(&self) -> Timestamp;
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that says what it is told, for tests.
#[derive(Debug)]
pub struct FixedClock(pub std::sync::Mutex<Timestamp>);

impl FixedClock {
    pub fn new(at: Timestamp) -> Self {
        Self(std::sync::Mutex::new(at))
    }
    pub fn advance(&self, by: jiff::SignedDuration) {
        let mut t = self.0.lock().expect("clock lock");
        *t = t.checked_add(by).expect("time within range");
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().expect("clock lock")
    }
}
