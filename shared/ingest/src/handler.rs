//! The ingest use case over the ports.

mod processing;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_lambda_events::s3::S3Event;
use bytes::Bytes;
use sha2::{Digest, Sha256};
use tollgate_domain::ports::{
    BlobStore, Catalog, Clock, EventBus, LocalObject, NewVersion, ObjectMeta, Ports, StoredContract,
};
use tollgate_domain::report::{DatasetProfile, Finding};
use tollgate_domain::{
    AuditEvent, BlobKey, BucketName, ContentHash, DatasetVersion, Event, ObjectRef, PortError,
    UploadOutcome, UploadRecord, UploadStatus, UploadedFile, ValidationReport,
};
use tollgate_validation::{Baseline, Checked, Fingerprint, Verdict};

pub use processing::{JOB_PREFIX, JobSettings, Processing, instance_main, job_name, run_instance};

use crate::batch::{self, Manifest};
use crate::{Arrival, IngestError, UploadRef, uploads_in};

/// How many times an upload is retried when other uploads of the same dataset keep winning the
/// next version number.
const MAX_ATTEMPTS: u32 = 8;

/// Past this many rows every numeric column's summary is sketched (kilobytes), so a version
/// keeps its summaries (`summary.msgpack`): the next version's drift reads them instead of
/// summarising the version's data again. Below it the exact values would be as big as the data.
const KEEP_SUMMARIES_ABOVE_ROWS: u64 = tollgate_validation::summary::EXACT_LIMIT;

/// A short, stable digest of an upload key, to name its quarantine folder.
fn short_digest(text: &str) -> String {
    hex::encode(&Sha256::digest(text.as_bytes())[..8])
}

#[derive(Debug, Clone)]
pub(crate) struct IngestConfig {
    /// The bucket versions and quarantine are written to.
    pub data_bucket: BucketName,
    /// Where temporary files go (on Lambda, `/tmp`).
    pub work_dir: PathBuf,
    /// The principal (a prefix of it) that signs upload URLs: what it stores was PUT by the
    /// person the object's metadata names.
    pub upload_signer: Option<String>,
    /// Where uploads too big for this process go.
    pub processing: Option<Processing>,
}

/// The stages of one upload, for progress display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    Hashing,
    Parsing,
    Checking,
    Writing,
    /// Handed to the processing job named, on `instances` instances: its end finishes it.
    Processing {
        job: String,
        instances: u32,
    },
}

type Progress = Arc<dyn Fn(Stage) + Send + Sync>;

#[derive(Clone)]
pub struct Ingest {
    blobs: Arc<dyn BlobStore>,
    catalog: Arc<dyn Catalog>,
    bus: Arc<dyn EventBus>,
    clock: Arc<dyn Clock>,
    config: IngestConfig,
    progress: Option<Progress>,
}

impl std::fmt::Debug for Ingest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingest")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// One file of an upload, fetched: the object, its name (below its batch folder), its bytes in a
/// local file (none when a processing job read it) and their fingerprint.
struct FetchedFile {
    object: ObjectRef,
    name: String,
    local: Option<LocalObject>,
    fingerprint: Fingerprint,
}

impl FetchedFile {
    fn path(&self) -> Option<&Path> {
        self.local.as_ref().map(|l| l.path.as_path())
    }
}

/// An upload's bytes: one file, or a batch folder's files in name order.
struct Fetched {
    files: Vec<FetchedFile>,
    /// A batch's marker (kept with the version: a manifest says what the batch was).
    marker: Option<FetchedFile>,
    hash: ContentHash,
    bytes: u64,
    /// A batch's files as its report lists them; empty for one file.
    listed: Vec<UploadedFile>,
    /// The typed rows, already in the store in row order, when a processing job wrote them.
    parts: Vec<ObjectRef>,
}

impl Fetched {
    /// The object the uploader is told from: the file, or the batch's marker.
    fn meta(&self) -> Option<&ObjectMeta> {
        let file = self.marker.as_ref().unwrap_or(&self.files[0]);
        file.local.as_ref().map(|l| &l.meta)
    }

    /// `upload`, its uploader as the fetched object's metadata says (see [`Ingest::attributed`]).
    fn attribute(&self, ingest: &Ingest, upload: &UploadRef) -> UploadRef {
        match self.meta() {
            Some(meta) => ingest.attributed(upload, meta),
            None => upload.clone(),
        }
    }

    /// Every object to keep with the version or in quarantine, under its name.
    fn kept(&self) -> impl Iterator<Item = &FetchedFile> {
        self.files.iter().chain(
            self.marker
                .iter()
                .filter(|m| m.object.key.file_name() == crate::MANIFEST_MARKER),
        )
    }
}

/// What the gate made of one upload, before anything is written.
struct Computed {
    report: ValidationReport,
    verdict: Option<Verdict>,
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, IngestError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| IngestError::Task(e.to_string()))
}

fn key(raw: String) -> Result<BlobKey, IngestError> {
    BlobKey::parse(&raw).map_err(|e| IngestError::BadEvent(e.to_string()))
}

/// Where a version keeps a file of the upload it came from.
fn original_key(prefix: &BlobKey, name: &str) -> Result<BlobKey, IngestError> {
    prefix
        .join(&format!("original/{name}"))
        .map_err(|e| IngestError::BadEvent(e.to_string()))
}

async fn hash_file(path: PathBuf) -> Result<Fingerprint, IngestError> {
    Ok(blocking(move || tollgate_validation::read::fingerprint(&path)).await??)
}

fn json(value: &impl serde::Serialize) -> Bytes {
    Bytes::from(serde_json::to_vec_pretty(value).expect("reports serialize to JSON"))
}

impl Ingest {
    /// The data gate on `ports`, its temporary files in `work_dir` (on Lambda, `/tmp`).
    pub fn new(ports: &Ports, work_dir: PathBuf) -> Self {
        Self {
            blobs: ports.blobs.clone(),
            catalog: ports.catalog.clone(),
            bus: ports.bus.clone(),
            clock: ports.clock.clone(),
            config: IngestConfig {
                data_bucket: ports.data_bucket.clone(),
                work_dir,
                upload_signer: None,
                processing: None,
            },
            progress: None,
        }
    }

    /// Hands uploads of `processing.above_bytes` or more to a processing job.
    pub fn with_processing(mut self, processing: Processing) -> Self {
        self.config.processing = Some(processing);
        self
    }

    /// Calls `progress` as an upload moves through its stages.
    pub fn with_progress(mut self, progress: impl Fn(Stage) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(progress));
        self
    }

    /// Believes the uploader an object's metadata names ([`ObjectMeta::uploaded_by`]) when the
    /// principal that stored it starts with `signer`: the API function's role (`AWS:AROA…:`),
    /// whose presigned upload URLs sign that metadata in. Of an object anyone else stored, the
    /// metadata is whatever they wrote, and the uploader stays the principal.
    pub fn with_upload_signer(mut self, signer: impl Into<String>) -> Self {
        self.config.upload_signer = Some(signer.into()).filter(|s: &String| !s.is_empty());
        self
    }

    /// `upload`, its uploader the person its metadata names when the signer stored it.
    fn attributed(&self, upload: &UploadRef, meta: &ObjectMeta) -> UploadRef {
        let signed = match (&self.config.upload_signer, &upload.principal) {
            (Some(signer), Some(principal)) => principal.starts_with(signer.as_str()),
            _ => false,
        };
        match &meta.uploaded_by {
            Some(person) if signed => UploadRef {
                uploaded_by: person.clone(),
                ..upload.clone()
            },
            _ => upload.clone(),
        }
    }

    fn stage(&self, stage: Stage) {
        if let Some(p) = &self.progress {
            p(stage);
        }
    }

    /// Handles every upload an S3 event announces, in order. A file of a batch folder whose
    /// marker has not come yet has no outcome: the marker's event ingests it.
    pub async fn handle(&self, event: &S3Event) -> Result<Vec<UploadOutcome>, IngestError> {
        let mut outcomes = Vec::new();
        for upload in uploads_in(event)? {
            match &upload.arrival {
                Arrival::Part { folder, name } => {
                    outcomes.extend(self.part(&upload, folder, name).await?);
                }
                Arrival::Marker { .. } | Arrival::File
                    if let Some(there) = self.dispatch(&upload).await? =>
                {
                    outcomes.extend(there);
                }
                Arrival::Marker { folder, .. } => {
                    let outcome = self.ingest(&upload).await?;
                    let left = self.left_out(&upload, folder, &outcome).await?;
                    outcomes.push(outcome);
                    outcomes.extend(left);
                }
                Arrival::File => outcomes.push(self.ingest(&upload).await?),
            }
        }
        Ok(outcomes)
    }

    /// Why `upload`, a batch's marker, is refused when its folder's `record` was made by
    /// another marker (a second `_SUCCESS`, or both markers written): a folder becomes one
    /// version, once.
    fn second_marker(upload: &UploadRef, record: &UploadRecord) -> Option<String> {
        let Arrival::Marker { folder, .. } = &upload.arrival else {
            return None;
        };
        if same_object(&record.source, &upload.object) {
            return None;
        }
        let what = match (record.status, record.version) {
            (UploadStatus::Rejected, _) => "rejected".to_owned(),
            (_, Some(v)) => format!("v{v}"),
            _ => record.status.as_str().to_owned(),
        };
        Some(format!(
            "{folder}/ was already ingested ({what}) by its marker {}: a batch folder is \
             ingested once; write the batch again under a new folder",
            record.source
        ))
    }

    /// After an accepted batch: the folder's data files its marker did not take (not in the
    /// manifest, or written after `_SUCCESS`) whose own events came before it, each rejected,
    /// so that none is left without an outcome.
    async fn left_out(
        &self,
        marker: &UploadRef,
        folder: &BlobKey,
        outcome: &UploadOutcome,
    ) -> Result<Vec<UploadOutcome>, IngestError> {
        if outcome.record.status != UploadStatus::Accepted
            || outcome.record.upload_key != marker.upload_key()
        {
            return Ok(Vec::new());
        }
        let mut refused = Vec::new();
        for meta in self
            .blobs
            .list(&marker.object.bucket, &format!("{folder}/"))
            .await?
        {
            let Some(Arrival::Part { folder: f, name }) = Arrival::of(&meta.key) else {
                continue;
            };
            if f != *folder || batch::listed(&outcome.report.files, &name) {
                continue;
            }
            let arrival = Arrival::Part {
                folder: f,
                name: name.clone(),
            };
            let part = UploadRef {
                object: ObjectRef {
                    bucket: marker.object.bucket.clone(),
                    key: meta.key.clone(),
                    version_id: meta.version_id.clone(),
                    etag: meta.etag.clone(),
                },
                file_name: meta.key.file_name().to_owned(),
                arrival,
                ..marker.clone()
            };
            if let Some(o) = self.part(&part, folder, &name).await? {
                refused.push(o);
            }
        }
        Ok(refused)
    }

    /// A file of a batch folder. Before its folder's marker: nothing yet. Taken by the marker:
    /// part of its version, nothing more. Written after it, or not taken by it: its own upload,
    /// rejected, so that no version changes after it is made.
    async fn part(
        &self,
        upload: &UploadRef,
        folder: &BlobKey,
        name: &str,
    ) -> Result<Option<UploadOutcome>, IngestError> {
        let own_key = upload.object_key();
        if let Some(record) = self.catalog.upload(&own_key).await? {
            return self.resume(upload, record).await.map(Some);
        }
        let bucket = &upload.object.bucket;
        let batch = self.catalog.upload(&format!("{bucket}/{folder}/")).await?;
        // The marker that decides: the one that made the folder's record, else any there.
        let markers: Vec<BlobKey> = match &batch {
            Some(record) => vec![record.source.key.clone()],
            None => [crate::SUCCESS_MARKER, crate::MANIFEST_MARKER]
                .iter()
                .map(|m| folder.join(m).expect("a marker's key is valid"))
                .collect(),
        };
        let not_taken = self.after_marker(upload, name, &markers).await?;
        // A finished batch's report lists what it took.
        let listed = match &batch {
            Some(record) if record.finalized => {
                batch::listed(&self.stored_report(record).await?.files, name)
            }
            _ => true,
        };
        let late = match (&batch, not_taken) {
            (_, None) if listed => None,
            (Some(record), not_taken) => {
                let made = record
                    .version
                    .map_or("was rejected".to_owned(), |v| format!("became v{v}"));
                let why = not_taken.map(|m| format!(": {m}")).unwrap_or_default();
                Some(format!("{folder}/ {made} without it{why}"))
            }
            (None, not_taken) => not_taken,
        };
        match late {
            None => Ok(None),
            Some(why) => {
                let reason = format!(
                    "{name}: {why}; a version never changes after it is made: upload the file \
                     in a new batch folder, with its marker"
                );
                self.refuse(upload, &own_key, reason).await.map(Some)
            }
        }
    }

    /// Why a file is not part of its folder's batch when one of `markers` is there and does not
    /// take it (written after `_SUCCESS`, or not in the manifest at its size); `None` while no
    /// marker is there, or when it does.
    async fn after_marker(
        &self,
        upload: &UploadRef,
        name: &str,
        markers: &[BlobKey],
    ) -> Result<Option<String>, IngestError> {
        let bucket = &upload.object.bucket;
        let Some(file) = self.blobs.head(bucket, &upload.object.key).await? else {
            return Ok(None);
        };
        for key in markers {
            let Some(marker) = self.blobs.head(bucket, key).await? else {
                continue;
            };
            let manifest = match key.file_name() == crate::MANIFEST_MARKER {
                true => Manifest::parse(&self.blobs.get(bucket, key).await?, key).ok(),
                false => None,
            };
            if !batch::takes(&file, name, &marker, manifest.as_ref()) {
                return Ok(Some(format!(
                    "its marker {} does not take it (written after it, or not listed)",
                    key.file_name()
                )));
            }
        }
        Ok(None)
    }

    /// Ingests one upload. Safe to call again with the same upload, from any process.
    pub async fn ingest(&self, upload: &UploadRef) -> Result<UploadOutcome, IngestError> {
        let upload_key = upload.upload_key();
        self.exactly_once(upload, || self.attempt(upload, &upload_key))
            .await
    }

    /// Makes one outcome of `upload`: what its record says when it has one, else what
    /// `attempt` makes (tried again, after a pause, while other uploads win the race for the
    /// dataset's next version).
    async fn exactly_once<F>(
        &self,
        upload: &UploadRef,
        attempt: impl Fn() -> F,
    ) -> Result<UploadOutcome, IngestError>
    where
        F: std::future::Future<Output = Result<UploadOutcome, IngestError>>,
    {
        let upload_key = upload.upload_key();
        for attempt_no in 1..=MAX_ATTEMPTS {
            if let Some(record) = self.catalog.upload(&upload_key).await? {
                if let Some(reason) = Self::second_marker(upload, &record) {
                    return self.refuse(upload, &upload.object_key(), reason).await;
                }
                return self.resume(upload, record).await;
            }
            match attempt().await {
                Err(IngestError::Port(PortError::Conflict(reason))) => {
                    tracing::info!(%upload_key, attempt = attempt_no, %reason, "lost a race; trying again");
                    // Give the winner time to finish writing what it committed.
                    let pause = (25u64 << attempt_no).min(400);
                    tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                }
                other => return other,
            }
        }
        Err(IngestError::Contended(MAX_ATTEMPTS))
    }

    /// An upload's bytes, fingerprinted: its file, or the files its batch's marker takes.
    /// `Err(reason)` when a marker cannot take them (a listed file missing, the folder empty).
    async fn fetch_upload(
        &self,
        upload: &UploadRef,
    ) -> Result<Result<Fetched, String>, IngestError> {
        self.stage(Stage::Hashing);
        let mut one = self.fetch_one(upload).await?;
        let Arrival::Marker { folder, manifest } = &upload.arrival else {
            return Ok(Ok(one));
        };
        let marker = one.files.pop().expect("one file was fetched");
        let taken = match self.take(upload, folder, *manifest, &marker).await? {
            Ok(taken) => taken,
            Err(reason) => return Ok(Err(reason)),
        };
        let bucket = &upload.object.bucket;
        let mut files = Vec::with_capacity(taken.len());
        for meta in taken {
            let object = ObjectRef {
                bucket: bucket.clone(),
                key: meta.key.clone(),
                version_id: meta.version_id.clone(),
                etag: meta.etag.clone(),
            };
            let name = batch::name_in(folder, &meta.key).unwrap_or_default();
            let local = match self.fetch(&object).await {
                Err(IngestError::BadEvent(_)) => {
                    return Ok(Err(format!(
                        "{name} was removed from {folder}/ as it was read"
                    )));
                }
                other => other?,
            };
            let fingerprint = hash_file(local.path.clone()).await?;
            files.push(FetchedFile {
                object,
                name,
                local: Some(local),
                fingerprint,
            });
        }
        let listed: Vec<UploadedFile> = files
            .iter()
            .map(|f| UploadedFile {
                name: f.name.clone(),
                bytes: f.fingerprint.bytes,
                sha256: f.fingerprint.hash.clone(),
            })
            .collect();
        Ok(Ok(Fetched {
            hash: tollgate_validation::read::files_hash(&listed),
            bytes: listed.iter().map(|f| f.bytes).sum(),
            files,
            marker: Some(marker),
            listed,
            parts: Vec::new(),
        }))
    }

    /// The files a batch's `marker` (fetched) takes from its folder, in name order; `Err(reason)`
    /// when it cannot take them (a listed file missing, the folder empty).
    async fn take(
        &self,
        upload: &UploadRef,
        folder: &BlobKey,
        manifest: bool,
        marker: &FetchedFile,
    ) -> Result<Result<Vec<ObjectMeta>, String>, IngestError> {
        let marker_local = marker.local.as_ref().expect("a marker is fetched");
        let manifest = match manifest {
            true => match Manifest::parse(
                &std::fs::read(&marker_local.path).map_err(|e| {
                    IngestError::Task(format!("reading the manifest {}: {e}", upload.object))
                })?,
                &upload.object.key,
            ) {
                Ok(m) => Some(m),
                Err(reason) => return Ok(Err(reason)),
            },
            false => None,
        };
        let listing = self
            .blobs
            .list(&upload.object.bucket, &format!("{folder}/"))
            .await?;
        let marker_meta = listing
            .iter()
            .find(|m| m.key == upload.object.key)
            .cloned()
            .unwrap_or_else(|| marker_local.meta.clone());
        Ok(batch::taken(
            folder,
            &marker_meta,
            manifest.as_ref(),
            &listing,
        ))
    }

    /// The object an event named, by itself, fingerprinted.
    async fn fetch_one(&self, upload: &UploadRef) -> Result<Fetched, IngestError> {
        let local = self.fetch(&upload.object).await?;
        let fingerprint = hash_file(local.path.clone()).await?;
        Ok(Fetched {
            hash: fingerprint.hash.clone(),
            bytes: fingerprint.bytes,
            files: vec![FetchedFile {
                object: upload.object.clone(),
                name: upload.file_name.clone(),
                local: Some(local),
                fingerprint,
            }],
            marker: None,
            listed: Vec::new(),
            parts: Vec::new(),
        })
    }

    /// Rejects `upload` itself, under `upload_key` (a late file, a second marker, a marker that
    /// cannot take its folder): kept in quarantine with a report that says why.
    async fn refuse(
        &self,
        upload: &UploadRef,
        upload_key: &str,
        reason: String,
    ) -> Result<UploadOutcome, IngestError> {
        if let Some(record) = self.catalog.upload(upload_key).await? {
            return self.resume(upload, record).await;
        }
        let fetched = self.fetch_one(upload).await?;
        let upload = &fetched.attribute(self, upload);
        let report = ValidationReport {
            dataset: upload.dataset.clone(),
            status: UploadStatus::Rejected,
            content_hash: fetched.hash.clone(),
            format: Path::new(&upload.file_name)
                .extension()
                .map_or("unknown".to_owned(), |e| e.to_string_lossy().to_lowercase()),
            bytes: fetched.bytes,
            rows: None,
            columns: None,
            contract_version: None,
            findings: vec![Finding::error("batch", reason)],
            profile: None,
            drift: None,
            timings_ms: BTreeMap::new(),
            files: Vec::new(),
        };
        let computed = Computed {
            report,
            verdict: None,
        };
        self.reject(upload, upload_key, &fetched, computed).await
    }

    async fn fetch(&self, object: &ObjectRef) -> Result<LocalObject, IngestError> {
        self.blobs.fetch_object(object).await.map_err(|e| match e {
            PortError::NotFound(_) => {
                IngestError::BadEvent(format!("the uploaded object {object} does not exist"))
            }
            other => IngestError::Port(other),
        })
    }

    async fn attempt(
        &self,
        upload: &UploadRef,
        upload_key: &str,
    ) -> Result<UploadOutcome, IngestError> {
        let started = std::time::Instant::now();
        let fetched = match self.fetch_upload(upload).await? {
            Ok(fetched) => fetched,
            Err(reason) => return self.refuse(upload, upload_key, reason).await,
        };
        let upload = &fetched.attribute(self, upload);
        let hashed_ms = started.elapsed().as_millis() as u64;

        if let Some(duplicate) = self.duplicate(upload, upload_key, &fetched).await? {
            return Ok(duplicate);
        }

        let dataset = self.catalog.dataset(&upload.dataset).await?;
        let stored_contract = self.catalog.contract(&upload.dataset, None).await?;
        let parent = dataset.as_ref().and_then(|d| d.latest_version);
        let mut computed = self
            .compute(upload, &fetched, stored_contract.as_ref(), parent)
            .await?;
        computed
            .report
            .timings_ms
            .insert("hash".to_owned(), hashed_ms);
        self.decide(
            upload,
            upload_key,
            &fetched,
            computed,
            stored_contract,
            parent,
        )
        .await
    }

    /// The upload as a duplicate, when a version of its dataset has its content hash.
    async fn duplicate(
        &self,
        upload: &UploadRef,
        upload_key: &str,
        fetched: &Fetched,
    ) -> Result<Option<UploadOutcome>, IngestError> {
        match self
            .catalog
            .version_by_hash(&upload.dataset, &fetched.hash)
            .await?
        {
            Some(existing) => Ok(Some(
                self.record_duplicate(upload, upload_key, fetched, existing)
                    .await?,
            )),
            None => Ok(None),
        }
    }

    /// Makes the upload a version when the gate accepted it, else quarantines it.
    async fn decide(
        &self,
        upload: &UploadRef,
        upload_key: &str,
        fetched: &Fetched,
        computed: Computed,
        contract: Option<StoredContract>,
        parent: Option<u32>,
    ) -> Result<UploadOutcome, IngestError> {
        if computed.verdict.as_ref().is_some_and(Verdict::accepted) {
            self.accept(upload, upload_key, fetched, computed, contract, parent)
                .await
        } else {
            self.reject(upload, upload_key, fetched, computed).await
        }
    }

    /// Parses, checks, profiles and compares an upload.
    async fn compute(
        &self,
        upload: &UploadRef,
        fetched: &Fetched,
        contract: Option<&StoredContract>,
        parent: Option<u32>,
    ) -> Result<Computed, IngestError> {
        // The previous version first, column by column: only its values are ever held, and
        // they are in memory before the upload's frame is (measured: this order peaks lowest).
        let started = std::time::Instant::now();
        let baseline = match parent {
            Some(v) => Some(self.baseline(upload, v, contract).await?),
            None => None,
        };
        let baseline_ms = started.elapsed().as_millis() as u64;

        self.stage(Stage::Parsing);
        let files: Vec<(PathBuf, String, Fingerprint)> = fetched
            .files
            .iter()
            .filter_map(|f| Some((f.path()?.to_owned(), f.name.clone(), f.fingerprint.clone())))
            .collect();
        let batch = fetched.marker.is_some();
        let (content_hash, bytes, listed) =
            (fetched.hash.clone(), fetched.bytes, fetched.listed.clone());
        let terms = contract.map(|c| c.contract.clone());
        let dataset = upload.dataset.clone();
        let contract_version = contract.map(|c| c.version);
        let work_dir = self.config.work_dir.clone();
        let progress = self.progress.clone();
        blocking(move || {
            let checking = || {
                if let Some(p) = &progress {
                    p(Stage::Checking);
                }
            };
            let mut uploads: Vec<tollgate_validation::UploadFile> = files
                .iter()
                .map(|(path, name, fp)| tollgate_validation::UploadFile {
                    path,
                    name,
                    fingerprint: fp.clone(),
                })
                .collect();
            let stream_above = tollgate_validation::stream_above();
            let checked = if batch {
                checking();
                tollgate_validation::check_files(
                    uploads,
                    &dataset,
                    terms.as_ref(),
                    baseline.as_ref(),
                    &work_dir,
                    stream_above,
                )?
            } else {
                tollgate_validation::check_upload(
                    uploads.remove(0),
                    &dataset,
                    terms.as_ref(),
                    baseline.as_ref(),
                    &work_dir,
                    stream_above,
                    &checking,
                )?
            };
            Ok::<_, IngestError>(computed(
                checked,
                dataset,
                content_hash,
                bytes,
                listed,
                contract_version,
                baseline_ms,
            ))
        })
        .await?
    }

    async fn baseline(
        &self,
        upload: &UploadRef,
        version: u32,
        contract: Option<&StoredContract>,
    ) -> Result<Baseline, IngestError> {
        let stored = self
            .catalog
            .version(&upload.dataset, version)
            .await?
            .ok_or_else(|| PortError::NotFound(format!("{} v{version}", upload.dataset)))?;
        // The catalog commits a version before its files are written: another upload that
        // committed it a moment ago may still be writing them. That is a race lost, not an error.
        let not_yet = |e: PortError| match e {
            PortError::NotFound(_) => IngestError::Port(PortError::Conflict(format!(
                "{} v{version}'s data is not written yet: its upload is still finishing",
                upload.dataset
            ))),
            other => other.into(),
        };
        if stored.parts > 0 || stored.rows > KEEP_SUMMARIES_ABOVE_ROWS {
            // Kept beside a large version: no need to read its data. A version in parts always
            // has them; one in data.parquet made before they were kept has not.
            match self
                .blobs
                .get(&stored.location.bucket, &key(stored.summary_key())?)
                .await
            {
                Ok(bytes) => {
                    return Ok(blocking(move || Baseline::decode(&bytes, version)).await??);
                }
                Err(PortError::NotFound(_)) if stored.parts == 0 => {}
                Err(e) => return Err(not_yet(e)),
            }
        }
        let data = key(stored.data_key())?;
        let local = self
            .blobs
            .fetch(&stored.location.bucket, &data)
            .await
            .map_err(not_yet)?;
        let terms = contract.map(|c| c.contract.clone());
        let path = local.path.clone();
        let baseline =
            blocking(move || Baseline::from_parquet(&path, version, terms.as_ref())).await??;
        drop(local);
        Ok(baseline)
    }

    fn version_prefix(&self, upload: &UploadRef, version: u32) -> Result<BlobKey, IngestError> {
        key(format!("datasets/{}/v{version}", upload.dataset))
    }

    async fn accept(
        &self,
        upload: &UploadRef,
        upload_key: &str,
        fetched: &Fetched,
        computed: Computed,
        contract: Option<StoredContract>,
        parent: Option<u32>,
    ) -> Result<UploadOutcome, IngestError> {
        let Computed { report, verdict } = computed;
        let verdict = verdict.expect("an accepted upload has a verdict");
        let version = parent.unwrap_or(0) + 1;
        let now = self.clock.now();
        let founding = match &contract {
            Some(_) => None,
            None => verdict.inferred_contract.clone().map(|c| StoredContract {
                version: 1,
                contract: c,
                created_by: upload.uploaded_by.clone(),
                created_at: now,
                origin: format!("inferred from v{version}"),
            }),
        };
        let contract_version = contract
            .as_ref()
            .map(|c| c.version)
            .or(founding.as_ref().map(|c| c.version))
            .unwrap_or(1);
        let mut report = ValidationReport {
            contract_version: Some(contract_version),
            ..report
        };
        let prefix = self.version_prefix(upload, version)?;
        let bucket = self.config.data_bucket.clone();
        let drifted = report
            .drift
            .as_ref()
            .map(|d| d.drifted_columns())
            .unwrap_or_default();
        let record_version = DatasetVersion {
            dataset: upload.dataset.clone(),
            version,
            content_hash: report.content_hash.clone(),
            source: upload.object.clone(),
            location: ObjectRef::new(bucket.clone(), prefix.clone()),
            rows: verdict.rows,
            bytes: report.bytes,
            format: report.format.clone(),
            schema: verdict.schema.clone(),
            contract_version,
            parent_version: parent,
            uploaded_by: upload.uploaded_by.clone(),
            created_at: now,
            drifted_columns: drifted.clone(),
            parts: fetched.parts.len() as u32,
        };
        // What the record keeps: the one file, or the batch's folder of them.
        let original = match fetched.marker {
            Some(_) => key(format!("{prefix}/original"))?,
            None => original_key(&prefix, upload.object.key.file_name())?,
        };
        let record = UploadRecord {
            upload_key: upload_key.to_owned(),
            dataset: upload.dataset.clone(),
            status: UploadStatus::Accepted,
            version: Some(version),
            content_hash: report.content_hash.clone(),
            source: upload.object.clone(),
            kept_at: ObjectRef::new(bucket.clone(), original),
            report: ObjectRef::new(bucket.clone(), key(record_version.report_key())?),
            rows: Some(verdict.rows),
            bytes: report.bytes,
            reasons: report.warnings(),
            uploaded_by: upload.uploaded_by.clone(),
            created_at: now,
            finalized: false,
        };
        // The data is converted before the commit, so a commit is only made for data that can
        // be written; it is written after, so a lost race writes nothing. A processing job's
        // instances wrote it already.
        self.stage(Stage::Writing);
        let data = verdict.data;
        let work_dir = self.config.work_dir.clone();
        let started = std::time::Instant::now();
        let parquet = match fetched.parts.is_empty() {
            true => Some(blocking(move || data.into_parquet(&work_dir)).await??),
            false => None,
        };
        // A streamed upload's Parquet was written batch by batch; this adds what is left.
        *report.timings_ms.entry("parquet".to_owned()).or_insert(0) +=
            started.elapsed().as_millis() as u64;
        let summaries = (!fetched.parts.is_empty() || verdict.rows > KEEP_SUMMARIES_ABOVE_ROWS)
            .then(|| Baseline::encode(&verdict.summaries));

        self.catalog
            .commit_version(NewVersion {
                version: record_version.clone(),
                upload: record.clone(),
                founding_contract: founding.clone(),
                audit: AuditEvent::new(
                    now,
                    upload.uploaded_by.clone(),
                    "dataset.version.accepted",
                    format!("dataset/{}/v{version}", upload.dataset),
                )
                .to("accepted")
                .details(serde_json::json!({
                    "content_hash": report.content_hash,
                    "source": upload.object.to_string(),
                    "rows": verdict.rows,
                    "contract_version": contract_version,
                    "drifted_columns": drifted,
                    "founded_contract": founding.is_some(),
                    "parent_version": parent,
                })),
            })
            .await?;
        self.write_version(
            &record_version,
            fetched,
            parquet.as_ref().map(|p| p.path()),
            &report,
            founding.as_ref(),
            summaries,
        )
        .await?;
        self.finish(&record, &report, Some(&record_version)).await?;
        Ok(UploadOutcome {
            record: UploadRecord {
                finalized: true,
                ..record
            },
            report,
        })
    }

    /// Writes a version's folder: the data as Parquet (`parquet`, or the parts a processing
    /// job wrote, with the columns' `summaries`), the original upload, the profile, the report,
    /// and the contract it founded.
    async fn write_version(
        &self,
        version: &DatasetVersion,
        fetched: &Fetched,
        parquet: Option<&Path>,
        report: &ValidationReport,
        founding: Option<&StoredContract>,
        summaries: Option<Vec<u8>>,
    ) -> Result<(), IngestError> {
        let bucket = &version.location.bucket;
        let prefix = &version.location.key;
        if let Some(parquet) = parquet {
            self.blobs
                .put_file(bucket, &key(version.data_key())?, parquet)
                .await?;
        }
        for (i, part) in fetched.parts.iter().enumerate() {
            self.blobs
                .copy(part, &key(version.part_key(i as u32))?)
                .await?;
        }
        if let Some(summaries) = summaries {
            self.blobs
                .put(bucket, &key(version.summary_key())?, summaries.into())
                .await?;
        }
        for file in fetched.kept() {
            let original = original_key(prefix, &file.name)?;
            self.keep_copy(&file.object, file.local.as_ref(), bucket, &original)
                .await?;
        }
        let profile = report.profile.clone().unwrap_or(DatasetProfile {
            rows: 0,
            columns: Vec::new(),
        });
        self.blobs
            .put(bucket, &key(version.profile_key())?, json(&profile))
            .await?;
        self.blobs
            .put(bucket, &key(version.report_key())?, json(report))
            .await?;
        if let Some(c) = founding {
            self.blobs
                .put(
                    bucket,
                    &key(format!("contracts/{}/v{}.toml", version.dataset, c.version))?,
                    Bytes::from(c.contract.to_toml()),
                )
                .await?;
        }
        Ok(())
    }

    /// Keeps the upload at `dest`, byte for byte what was hashed: a server-side copy of the
    /// very version fetched when the store names versions (S3 with versioning) within one
    /// bucket, else the bytes already fetched (a later write to the upload's key changes
    /// neither). What a processing job read, this process never fetched: it is copied.
    async fn keep_copy(
        &self,
        source: &ObjectRef,
        local: Option<&LocalObject>,
        bucket: &BucketName,
        dest: &BlobKey,
    ) -> Result<(), IngestError> {
        match local {
            Some(local) if source.bucket != *bucket || source.version_id.is_none() => {
                self.blobs.put_file(bucket, dest, &local.path).await?;
            }
            _ => {
                self.blobs.copy(source, dest).await?;
            }
        }
        Ok(())
    }

    async fn reject(
        &self,
        upload: &UploadRef,
        upload_key: &str,
        fetched: &Fetched,
        computed: Computed,
    ) -> Result<UploadOutcome, IngestError> {
        let report = computed.report;
        let now = self.clock.now();
        let bucket = self.config.data_bucket.clone();
        let folder = key(format!(
            "quarantine/{}/{}-{}",
            upload.dataset,
            report.content_hash.short(),
            short_digest(upload_key)
        ))?;
        let in_folder = |name: &str| {
            folder
                .join(name)
                .map_err(|e| IngestError::BadEvent(e.to_string()))
        };
        // The one file, or the folder holding the batch's files.
        let kept = match fetched.marker {
            Some(_) => folder.clone(),
            None => in_folder(&fetched.files[0].name)?,
        };
        let report_key = folder.join("report.json").expect("a valid key");
        // Quarantine first: once the record exists, its files do.
        self.stage(Stage::Writing);
        for file in fetched.kept() {
            self.keep_copy(
                &file.object,
                file.local.as_ref(),
                &bucket,
                &in_folder(&file.name)?,
            )
            .await?;
        }
        self.blobs.put(&bucket, &report_key, json(&report)).await?;
        let reasons = report.reasons();
        let record = UploadRecord {
            upload_key: upload_key.to_owned(),
            dataset: upload.dataset.clone(),
            status: UploadStatus::Rejected,
            version: None,
            content_hash: report.content_hash.clone(),
            source: upload.object.clone(),
            kept_at: ObjectRef::new(bucket.clone(), kept),
            report: ObjectRef::new(bucket, report_key),
            rows: report.rows,
            bytes: report.bytes,
            reasons: reasons.clone(),
            uploaded_by: upload.uploaded_by.clone(),
            created_at: now,
            finalized: false,
        };
        self.catalog
            .record_upload(
                record.clone(),
                AuditEvent::new(
                    now,
                    upload.uploaded_by.clone(),
                    "dataset.upload.rejected",
                    format!(
                        "dataset/{}/upload/{}",
                        upload.dataset,
                        report.content_hash.short()
                    ),
                )
                .to("quarantine")
                .details(serde_json::json!({
                    "source": upload.object.to_string(),
                    "quarantined": record.kept_at.to_string(),
                    "reasons": reasons,
                })),
            )
            .await?;
        self.finish(&record, &report, None).await?;
        Ok(UploadOutcome {
            record: UploadRecord {
                finalized: true,
                ..record
            },
            report,
        })
    }

    async fn record_duplicate(
        &self,
        upload: &UploadRef,
        upload_key: &str,
        fetched: &Fetched,
        existing: DatasetVersion,
    ) -> Result<UploadOutcome, IngestError> {
        let (hash, bytes) = (&fetched.hash, fetched.bytes);
        let now = self.clock.now();
        let record = UploadRecord {
            upload_key: upload_key.to_owned(),
            dataset: upload.dataset.clone(),
            status: UploadStatus::Duplicate,
            version: Some(existing.version),
            content_hash: hash.clone(),
            source: upload.object.clone(),
            kept_at: existing.location.clone(),
            report: ObjectRef::new(
                existing.location.bucket.clone(),
                key(existing.report_key())?,
            ),
            rows: Some(existing.rows),
            bytes,
            reasons: vec![format!(
                "identical content (sha256 {}) is already version {}",
                hash.short(),
                existing.version
            )],
            uploaded_by: upload.uploaded_by.clone(),
            created_at: now,
            finalized: true,
        };
        self.catalog
            .record_upload(
                record.clone(),
                AuditEvent::new(
                    now,
                    upload.uploaded_by.clone(),
                    "dataset.upload.duplicate",
                    format!("dataset/{}/v{}", upload.dataset, existing.version),
                )
                .to("duplicate")
                .details(serde_json::json!({ "source": upload.object.to_string() })),
            )
            .await?;
        Ok(UploadOutcome {
            report: duplicate_report(&record, &existing),
            record,
        })
    }

    /// Publishes the outcome's event and marks the upload done.
    async fn finish(
        &self,
        record: &UploadRecord,
        report: &ValidationReport,
        version: Option<&DatasetVersion>,
    ) -> Result<(), IngestError> {
        let event = match (record.status, version) {
            (UploadStatus::Accepted, Some(v)) => Some(Event::DatasetVersionAccepted {
                dataset: v.dataset.clone(),
                version: v.version,
                content_hash: v.content_hash.clone(),
                data: ObjectRef::new(
                    v.location.bucket.clone(),
                    key(match v.parts {
                        0 => v.data_key(),
                        // The folder of the parts.
                        _ => format!("{}/data", v.location.key),
                    })?,
                ),
                rows: v.rows,
                uploaded_by: v.uploaded_by.clone(),
                drifted_columns: v.drifted_columns.clone(),
            }),
            (UploadStatus::Rejected, _) => Some(Event::DatasetUploadRejected {
                dataset: record.dataset.clone(),
                content_hash: record.content_hash.clone(),
                quarantined: record.kept_at.clone(),
                report: record.report.clone(),
                reasons: report.reasons(),
                uploaded_by: record.uploaded_by.clone(),
            }),
            _ => None,
        };
        if let Some(event) = event {
            self.bus.publish(&event).await?;
        }
        self.catalog.mark_finalized(&record.upload_key).await?;
        Ok(())
    }

    /// Finishes the uploads that a crash left between their commit and their files or event,
    /// and that no delivery came back for (a message dead-lettered, an event lost): every
    /// record not yet finalized (read from the catalog's index of them, so a sweep costs what
    /// is unfinished, not every upload ever made) and older than `older_than` (a younger one may be in the hands
    /// of a live attempt), each as its redelivery would. Safe anywhere, any number of times: a
    /// finished upload is left alone. One that cannot be finished is logged and left for the
    /// next sweep; the others go on.
    pub async fn sweep(
        &self,
        older_than: std::time::Duration,
    ) -> Result<Vec<UploadOutcome>, IngestError> {
        let cutoff = self
            .clock
            .now()
            .checked_sub(jiff::SignedDuration::try_from(older_than).unwrap_or_default())
            .unwrap_or(jiff::Timestamp::MIN);
        let mut finished = Vec::new();
        for record in self.catalog.unfinalized_uploads().await? {
            if record.finalized || record.created_at > cutoff {
                continue;
            }
            let upload = UploadRef {
                object: record.source.clone(),
                dataset: record.dataset.clone(),
                file_name: record.source.key.file_name().to_owned(),
                uploaded_by: record.uploaded_by.clone(),
                principal: None,
                arrival: match record.upload_key.ends_with('/') {
                    true => Arrival::of(&record.source.key).unwrap_or(Arrival::File),
                    false => Arrival::File,
                },
            };
            let key = record.upload_key.clone();
            match self.resume(&upload, record).await {
                Ok(outcome) => finished.push(outcome),
                Err(e) => tracing::warn!(upload_key = %key, "could not finish it yet: {e}"),
            }
        }
        Ok(finished)
    }

    /// A second delivery: return what the first made of it, finishing what a crash left undone.
    async fn resume(
        &self,
        upload: &UploadRef,
        record: UploadRecord,
    ) -> Result<UploadOutcome, IngestError> {
        let existing = match record.version {
            Some(v) => self.catalog.version(&record.dataset, v).await?,
            None => None,
        };
        if record.status == UploadStatus::Duplicate {
            let existing = existing.ok_or_else(|| {
                PortError::NotFound(format!(
                    "the version upload {} duplicates",
                    record.upload_key
                ))
            })?;
            return Ok(UploadOutcome {
                report: duplicate_report(&record, &existing),
                record,
            });
        }
        if record.finalized {
            let report = self.stored_report(&record).await?;
            return Ok(UploadOutcome { record, report });
        }
        tracing::warn!(upload_key = %record.upload_key, "finishing an upload a previous attempt left unfinished");
        let report = match (record.status, &existing) {
            (UploadStatus::Accepted, Some(version)) if version.parts > 0 => {
                self.rewrite_processed(&record, version).await?
            }
            (UploadStatus::Accepted, Some(version)) => {
                // Recompute the version's files from its source, exactly as the first attempt did.
                let upload = &UploadRef {
                    object: version.source.clone(),
                    ..upload.clone()
                };
                let fetched = self
                    .fetch_upload(upload)
                    .await?
                    .map_err(IngestError::SourceChanged)?;
                if fetched.hash != version.content_hash {
                    return Err(IngestError::SourceChanged(format!(
                        "{} changed since it was accepted as {} v{} (sha256 {}, now {}): the \
                         version's files cannot be finished from it; upload those bytes again \
                         under the same key, or as a new upload",
                        version.source,
                        version.dataset,
                        version.version,
                        version.content_hash.short(),
                        fetched.hash.short()
                    )));
                }
                let contract = self
                    .catalog
                    .contract(&record.dataset, Some(version.contract_version))
                    .await?;
                let computed = self
                    .compute(upload, &fetched, contract.as_ref(), version.parent_version)
                    .await?;
                let verdict = computed.verdict.ok_or_else(|| {
                    IngestError::Task(format!("{} no longer parses", version.source))
                })?;
                let report = ValidationReport {
                    contract_version: Some(version.contract_version),
                    status: UploadStatus::Accepted,
                    ..computed.report
                };
                let founding = match version.version {
                    1 => contract.filter(|c| c.version == 1),
                    _ => None,
                };
                let work_dir = self.config.work_dir.clone();
                let summaries = (version.rows > KEEP_SUMMARIES_ABOVE_ROWS)
                    .then(|| Baseline::encode(&verdict.summaries));
                let data = verdict.data;
                let parquet = blocking(move || data.into_parquet(&work_dir)).await??;
                self.write_version(
                    version,
                    &fetched,
                    Some(parquet.path()),
                    &report,
                    founding.as_ref(),
                    summaries,
                )
                .await?;
                report
            }
            _ => self.stored_report(&record).await?,
        };
        self.finish(&record, &report, existing.as_ref()).await?;
        Ok(UploadOutcome {
            record: UploadRecord {
                finalized: true,
                ..record
            },
            report,
        })
    }

    async fn stored_report(&self, record: &UploadRecord) -> Result<ValidationReport, IngestError> {
        let bytes = self
            .blobs
            .get(&record.report.bucket, &record.report.key)
            .await?;
        serde_json::from_slice(&bytes).map_err(|e| {
            IngestError::Port(PortError::other(
                format!("reading the report {}", record.report),
                e,
            ))
        })
    }
}

/// The report of what the gate concluded.
fn computed(
    checked: Checked,
    dataset: tollgate_domain::DatasetName,
    content_hash: ContentHash,
    bytes: u64,
    listed: Vec<UploadedFile>,
    contract_version: Option<u32>,
    baseline_ms: u64,
) -> Computed {
    let mut timings_ms = checked.timings_ms;
    timings_ms.insert("baseline".to_owned(), baseline_ms);
    let verdict = checked.verdict;
    let report = ValidationReport {
        dataset,
        status: if verdict.as_ref().is_some_and(Verdict::accepted) {
            UploadStatus::Accepted
        } else {
            UploadStatus::Rejected
        },
        content_hash,
        format: checked.format.as_str().to_owned(),
        bytes,
        rows: verdict.as_ref().map(|v| v.rows),
        columns: verdict.as_ref().map(|v| v.columns),
        contract_version,
        findings: checked.findings,
        profile: verdict.as_ref().map(|v| v.profile.clone()),
        drift: verdict.as_ref().and_then(|v| v.drift.clone()),
        timings_ms,
        files: listed,
    };
    Computed { report, verdict }
}

fn duplicate_report(record: &UploadRecord, existing: &DatasetVersion) -> ValidationReport {
    ValidationReport {
        dataset: record.dataset.clone(),
        status: UploadStatus::Duplicate,
        content_hash: record.content_hash.clone(),
        format: existing.format.clone(),
        bytes: record.bytes,
        rows: Some(existing.rows),
        columns: Some(existing.schema.len() as u64),
        contract_version: Some(existing.contract_version),
        findings: vec![Finding::warning(
            "duplicate",
            format!(
                "identical content is already version {} (uploaded {} by {})",
                existing.version, existing.created_at, existing.uploaded_by
            ),
        )],
        profile: None,
        drift: None,
        timings_ms: BTreeMap::new(),
        files: Vec::new(),
    }
}

/// Whether two references name the same object version (by version id, else ETag).
fn same_object(a: &ObjectRef, b: &ObjectRef) -> bool {
    a.bucket == b.bucket
        && a.key == b.key
        && match (&a.version_id, &b.version_id) {
            (Some(x), Some(y)) => x == y,
            _ => a.etag == b.etag,
        }
}
