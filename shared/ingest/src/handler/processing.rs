//! Uploads too big for the process their event reached: a processing job reads them, on
//! SageMaker Processing instances or as local subprocesses, and its end finishes the ingest.
//!
//! 1. [`Ingest::dispatch`]: an upload (a file, or a batch's files) of
//!    [`Processing::above_bytes`] or more is not fetched. Its files are listed (S3 gives their
//!    sizes), its job's settings and a manifest of its files are written under
//!    `processing/<job>/`, and the job is started. The job's name is the upload key's digest,
//!    so a second delivery finds the job started and does nothing more.
//! 2. [`run_instance`], in each instance (`tollgate process`): its share of the files, as
//!    `ShardedByS3Key` hands them out, is hashed, typed, checked and summarised as one upload
//!    would be; the instance writes its shard's state, its typed rows as Parquet, each unique
//!    column's values as a run sorted by value, and its files' hashes to
//!    `processing/<job>/output/<host>/`.
//! 3. [`Ingest::processed`], on the job's state change: the shards are merged in the order of
//!    their files (the unique columns' runs by value, holding one value per shard in memory)
//!    and the upload concludes as any other, against the previous version's kept
//!    summaries; an accepted version keeps the instances' Parquet files as its data (in
//!    parts) and its merged summaries. Exactly once, like any upload: the outcome is keyed by
//!    the upload, so a second state change returns the first outcome.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tollgate_domain::Contract;
use tollgate_domain::ports::ProcessingBackend;
use tollgate_domain::training::{JobStatus, ProcessingJob, ProcessingStateChange};
use tollgate_validation::Summarised;

use super::*;

/// The names of ingest's processing jobs begin so: the state changes of other jobs (tuning's,
/// another stack's) are not ingest's.
pub const JOB_PREFIX: &str = "tollgate-ingest-";
/// A job's settings, in its folder and in each instance's `settings` input.
const SETTINGS_FILE: &str = "job.json";
/// The hashes of the files an instance read, in its output folder.
const FILES_FILE: &str = "files.json";

/// Where uploads too big for this process go.
#[derive(Debug, Clone)]
pub struct Processing {
    pub backend: Arc<dyn ProcessingBackend>,
    /// An upload of this many bytes or more (all its files) goes to a job.
    pub above_bytes: u64,
    /// The instances a batch's files are shared among (never more than its files).
    pub instances: u32,
    pub max_runtime: Duration,
}

/// What every instance of an upload's job is told (`job.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobSettings {
    pub upload: UploadRef,
    pub upload_key: String,
    /// The upload's data files, in name order: what the manifest lists.
    pub files: Vec<JobFile>,
    /// A batch's marker; a manifest is kept with the version.
    pub marker: Option<JobFile>,
    pub contract: Option<Contract>,
    pub contract_version: Option<u32>,
    /// Files this big or bigger are streamed.
    pub stream_above: u64,
}

/// One file of a job's upload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobFile {
    /// Its path below the folder the manifest's prefix names.
    pub name: String,
    pub object: ObjectRef,
    pub size: u64,
}

impl JobFile {
    /// The file as the ingest knows it without its bytes: `hash` stands for its fingerprint.
    fn unread(&self, hash: ContentHash) -> FetchedFile {
        FetchedFile {
            object: self.object.clone(),
            name: self.name.clone(),
            local: None,
            fingerprint: Fingerprint {
                hash,
                bytes: self.size,
                head: Vec::new(),
            },
        }
    }
}

/// The processing job that ingests the upload keyed `upload_key`: one per upload.
pub fn job_name(upload_key: &str) -> String {
    format!(
        "{JOB_PREFIX}{}",
        &hex::encode(Sha256::digest(upload_key.as_bytes()))[..32]
    )
}

fn job_folder(name: &str) -> String {
    format!("processing/{name}")
}

/// What SageMaker tells a processing container about the cluster it is in.
#[derive(Deserialize)]
struct ResourceConfig {
    current_host: String,
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, IngestError> {
    serde_json::from_slice(bytes)
        .map_err(|e| IngestError::Task(format!("a processing job's settings do not read: {e}")))
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, IngestError> {
    let bytes = std::fs::read(path)
        .map_err(|e| IngestError::Task(format!("reading {}: {e}", path.display())))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| IngestError::Task(format!("{} does not read: {e}", path.display())))
}

/// One instance of an ingest's processing job, under SageMaker's processing container contract
/// rooted at `root` (`/opt/ml` in a container): the settings in
/// `processing/input/settings/job.json`, the instance's share of the files under
/// `processing/input/data/`, the host in `config/resourceconfig.json` (`algo-1` without one);
/// the shard goes to `processing/output/<host>/`. Returns a line saying what it read.
pub fn run_instance(root: &Path) -> Result<String, IngestError> {
    let input = root.join("processing/input");
    let settings: JobSettings = read_json(&input.join("settings").join(SETTINGS_FILE))?;
    let host = match root.join("config/resourceconfig.json") {
        path if path.exists() => read_json::<ResourceConfig>(&path)?.current_host,
        _ => "algo-1".to_owned(),
    };
    let data = input.join("data");
    let out = root.join("processing/output").join(&host);
    std::fs::create_dir_all(&out)
        .map_err(|e| IngestError::Task(format!("creating {}: {e}", out.display())))?;
    // This instance's share: the files of the upload that are here, in name order.
    let mut mine: Vec<(PathBuf, &str)> = settings
        .files
        .iter()
        .map(|f| (data.join(&f.name), f.name.as_str()))
        .filter(|(path, _)| path.is_file())
        .collect();
    mine.sort_by(|a, b| a.1.cmp(b.1));
    let mut hashes = Vec::with_capacity(mine.len());
    let mut files = Vec::with_capacity(mine.len());
    for (path, name) in &mine {
        let fingerprint = tollgate_validation::read::fingerprint(path)?;
        hashes.push(UploadedFile {
            name: (*name).to_owned(),
            bytes: fingerprint.bytes,
            sha256: fingerprint.hash.clone(),
        });
        files.push(tollgate_validation::UploadFile {
            path,
            name,
            fingerprint,
        });
    }
    let dataset = &settings.upload.dataset;
    let contract = settings.contract.as_ref();
    let typing = contract
        .is_none()
        .then(|| tollgate_validation::founding_types(&files, settings.stream_above));
    let summarised = tollgate_validation::summarise_files(
        files,
        dataset,
        contract,
        typing.as_deref(),
        &out,
        settings.stream_above,
    )?;
    let rows = summarised.rows();
    summarised.write(&out)?;
    std::fs::write(out.join(FILES_FILE), json(&hashes))
        .map_err(|e| IngestError::Task(format!("writing {FILES_FILE}: {e}")))?;
    Ok(format!(
        "{host}: {} of {}'s {} files, {rows} rows",
        hashes.len(),
        settings.upload_key,
        settings.files.len()
    ))
}

/// [`run_instance`] as a container's main: the line on stdout and exit 0; on failure the reason
/// on stderr and in `output/message`, where SageMaker takes a processing job's exit message from,
/// and exit 1.
pub fn instance_main(root: &Path) -> std::process::ExitCode {
    match run_instance(root) {
        Ok(line) => {
            println!("{line}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            let output = root.join("output");
            let _ = std::fs::create_dir_all(&output);
            let _ = std::fs::write(output.join("message"), e.to_string());
            std::process::ExitCode::FAILURE
        }
    }
}

/// The shards a finished job left, read back: each instance's files and state, in the order of
/// their files; the instances' Parquet files stay in the store.
struct Gathered {
    fetched: Fetched,
    shards: Vec<Summarised>,
    /// Holds the shards' states while they are read.
    _dir: tempfile::TempDir,
}

impl Ingest {
    /// Starts a processing job for `upload` when it is too big for this process: `Ok(None)` when
    /// this process ingests it (small enough, already ingested, or refused as it is), else the
    /// outcomes there are now: none while its job runs (started now, or by an earlier delivery);
    /// the upload's, when its job had ended and nothing had finished it (its state change was
    /// lost: this delivery finishes it); a second marker's refusal.
    pub(super) async fn dispatch(
        &self,
        upload: &UploadRef,
    ) -> Result<Option<Vec<UploadOutcome>>, IngestError> {
        let Some(processing) = &self.config.processing else {
            return Ok(None);
        };
        let upload_key = upload.upload_key();
        if self.catalog.upload(&upload_key).await?.is_some() {
            return Ok(None);
        }
        let Some((upload, files, marker)) = self.listed(upload).await? else {
            return Ok(None);
        };
        let bytes: u64 = files.iter().map(|f| f.size).sum();
        if bytes < processing.above_bytes {
            return Ok(None);
        }
        let name = job_name(&upload_key);
        let instances = processing.instances.clamp(1, files.len().max(1) as u32);
        self.stage(Stage::Processing {
            job: name.clone(),
            instances,
        });
        let folder = job_folder(&name);
        let bucket = &self.config.data_bucket;
        let settings_key = key(format!("{folder}/{SETTINGS_FILE}"))?;
        match processing.backend.describe(&name).await {
            Ok(status) => {
                tracing::info!(%upload_key, job = %name, ?status, "its processing job has it");
                let settings: JobSettings = decode(&self.blobs.get(bucket, &settings_key).await?)?;
                if !super::same_object(&settings.upload.object, &upload.object) {
                    // Another marker of the folder started the job.
                    let reason = format!(
                        "{} is being ingested by its marker {} (processing job {name}): write \
                         the batch again under a new folder",
                        upload.upload_key(),
                        settings.upload.object.key
                    );
                    let refused = self.refuse(&upload, &upload.object_key(), reason).await?;
                    return Ok(Some(vec![refused]));
                }
                if matches!(
                    status,
                    JobStatus::Completed | JobStatus::Failed | JobStatus::Stopped
                ) {
                    let change = ProcessingStateChange {
                        processing_job_name: name.clone(),
                        processing_job_status: status,
                        failure_reason: None,
                        exit_message: None,
                    };
                    return Ok(Some(self.processed(&change).await?));
                }
                return Ok(Some(Vec::new()));
            }
            Err(PortError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let contract = self.catalog.contract(&upload.dataset, None).await?;
        let manifest_key = key(format!("{folder}/inputs.manifest"))?;
        // The manifest's prefix is the folder the files are named below: the batch's folder,
        // or the one file's.
        let prefix = match &upload.arrival {
            Arrival::Marker { folder, .. } => format!("{folder}/"),
            _ => upload
                .object
                .key
                .as_str()
                .strip_suffix(&upload.file_name)
                .unwrap_or_default()
                .to_owned(),
        };
        let mut manifest = vec![serde_json::json!({
            "prefix": format!("s3://{}/{prefix}", upload.object.bucket)
        })];
        manifest.extend(files.iter().map(|f| serde_json::json!(f.name)));
        // SageMaker shares the objects out by count: an instance may get the largest ones.
        let mut sizes: Vec<u64> = files.iter().map(|f| f.size).collect();
        sizes.sort_unstable_by(|a, b| b.cmp(a));
        let share_bytes = sizes
            .iter()
            .take(files.len().div_ceil(instances as usize))
            .sum();
        let settings = JobSettings {
            upload: upload.clone(),
            upload_key: upload_key.clone(),
            files,
            marker,
            contract_version: contract.as_ref().map(|c| c.version),
            contract: contract.map(|c| c.contract),
            stream_above: tollgate_validation::stream_above(),
        };
        // The first delivery's settings and manifest stand: another one racing it (both found no
        // job) starts the same job on them.
        self.blobs
            .create(bucket, &settings_key, json(&settings))
            .await?;
        self.blobs
            .create(bucket, &manifest_key, json(&manifest))
            .await?;
        let job = ProcessingJob {
            name: name.clone(),
            manifest: ObjectRef::new(bucket.clone(), manifest_key),
            settings: ObjectRef::new(bucket.clone(), settings_key),
            output: ObjectRef::new(bucket.clone(), key(format!("{folder}/output"))?),
            instances,
            share_bytes,
            max_runtime: processing.max_runtime,
        };
        let started = processing.backend.start(&job).await?;
        tracing::info!(
            %upload_key, job = %name, instances, bytes, started,
            "too big for this process: handed to a processing job"
        );
        Ok(Some(Vec::new()))
    }

    /// The files of `upload` without their bytes (as S3 lists them), its uploader as its
    /// metadata says; `None` when it cannot be taken as it is (the ordinary path refuses it).
    async fn listed(
        &self,
        upload: &UploadRef,
    ) -> Result<Option<(UploadRef, Vec<JobFile>, Option<JobFile>)>, IngestError> {
        let object_of = |meta: &ObjectMeta| ObjectRef {
            bucket: upload.object.bucket.clone(),
            key: meta.key.clone(),
            version_id: meta.version_id.clone(),
            etag: meta.etag.clone(),
        };
        let Arrival::Marker { folder, manifest } = &upload.arrival else {
            let Some(meta) = self
                .blobs
                .head(&upload.object.bucket, &upload.object.key)
                .await?
            else {
                return Ok(None);
            };
            let file = JobFile {
                name: upload.file_name.clone(),
                object: ObjectRef {
                    version_id: upload.object.version_id.clone().or(meta.version_id.clone()),
                    ..object_of(&meta)
                },
                size: meta.size,
            };
            return Ok(Some((self.attributed(upload, &meta), vec![file], None)));
        };
        let fetched = self.fetch_one(upload).await?;
        let upload = fetched.attribute(self, upload);
        let marker = &fetched.files[0];
        let Ok(taken) = self.take(&upload, folder, *manifest, marker).await? else {
            return Ok(None);
        };
        let files = taken
            .iter()
            .map(|meta| JobFile {
                name: batch::name_in(folder, &meta.key).unwrap_or_default(),
                object: object_of(meta),
                size: meta.size,
            })
            .collect();
        let marker = JobFile {
            name: upload.file_name.clone(),
            object: upload.object.clone(),
            size: marker.fingerprint.bytes,
        };
        Ok(Some((upload, files, Some(marker))))
    }

    /// Finishes the ingest of the upload a processing job read, on the job's state change:
    /// its outcome (and, for a batch, the rejections of files its marker left out). A state
    /// change of another job, or not final, has none.
    pub async fn processed(
        &self,
        change: &ProcessingStateChange,
    ) -> Result<Vec<UploadOutcome>, IngestError> {
        let name = &change.processing_job_name;
        if !change.is_final() || !name.starts_with(JOB_PREFIX) {
            return Ok(Vec::new());
        }
        let settings_key = key(format!("{}/{SETTINGS_FILE}", job_folder(name)))?;
        let settings: JobSettings = match self
            .blobs
            .get(&self.config.data_bucket, &settings_key)
            .await
        {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                IngestError::Task(format!("the settings of job {name} do not read: {e}"))
            })?,
            // Not a job of this stack's ingest.
            Err(PortError::NotFound(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let upload = &settings.upload;
        let outcome = self
            .exactly_once(upload, || self.complete(&settings, change))
            .await?;
        let mut outcomes = Vec::new();
        if let Arrival::Marker { folder, .. } = &upload.arrival {
            outcomes = self.left_out(upload, folder, &outcome).await?;
        }
        outcomes.insert(0, outcome);
        Ok(outcomes)
    }

    /// The outcome of a job's upload, once: rejected when the job did not complete, else
    /// concluded from its shards.
    async fn complete(
        &self,
        settings: &JobSettings,
        change: &ProcessingStateChange,
    ) -> Result<UploadOutcome, IngestError> {
        let name = &change.processing_job_name;
        let upload = &settings.upload;
        if change.processing_job_status != JobStatus::Completed {
            let why = change
                .failure_reason
                .clone()
                .or(change.exit_message.clone())
                .unwrap_or_else(|| "no reason given".to_owned());
            let reason = format!(
                "the processing job {name} that read this upload ended {:?}: {why}. Nothing was \
                 made of the upload; upload it again (under a new name) to try again",
                change.processing_job_status
            );
            return self.refuse_unread(settings, reason).await;
        }
        let stored_contract = match settings.contract_version {
            Some(v) => self.catalog.contract(&upload.dataset, Some(v)).await?,
            None => None,
        };
        let current = self.catalog.contract(&upload.dataset, None).await?;
        if stored_contract.is_none() && current.is_some() {
            return self
                .refuse_unread(
                    settings,
                    format!(
                        "another upload founded {}'s contract while job {name} read this one, \
                         which was not checked against it: upload it again",
                        upload.dataset
                    ),
                )
                .await;
        }
        let gathered = match self
            .gather(settings, name, stored_contract.as_ref())
            .await?
        {
            Ok(gathered) => gathered,
            Err(reason) => return self.refuse_unread(settings, reason).await,
        };
        let Gathered {
            fetched, shards, ..
        } = gathered;
        let upload_key = &settings.upload_key;
        if let Some(duplicate) = self.duplicate(upload, upload_key, &fetched).await? {
            return Ok(duplicate);
        }
        let dataset = self.catalog.dataset(&upload.dataset).await?;
        let parent = dataset.as_ref().and_then(|d| d.latest_version);
        self.stage(Stage::Checking);
        let computed = self
            .conclude_shards(
                upload,
                &fetched,
                shards,
                parent,
                stored_contract.as_ref(),
                settings.contract_version,
            )
            .await?;
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

    /// What the merged shards conclude about the upload, against `parent`'s summaries.
    async fn conclude_shards(
        &self,
        upload: &UploadRef,
        fetched: &Fetched,
        shards: Vec<Summarised>,
        parent: Option<u32>,
        contract: Option<&StoredContract>,
        contract_version: Option<u32>,
    ) -> Result<Computed, IngestError> {
        let started = std::time::Instant::now();
        let baseline = match parent {
            Some(v) => Some(self.baseline(upload, v, contract).await?),
            None => None,
        };
        let baseline_ms = started.elapsed().as_millis() as u64;
        let checked =
            blocking(move || tollgate_validation::conclude(shards, baseline.as_ref())).await??;
        Ok(computed(
            checked,
            upload.dataset.clone(),
            fetched.hash.clone(),
            fetched.bytes,
            fetched.listed.clone(),
            contract_version,
            baseline_ms,
        ))
    }

    /// Reads what a completed job's instances left: `Err(reason)` when they do not account
    /// for the upload's files as they were when the job started.
    async fn gather(
        &self,
        settings: &JobSettings,
        name: &str,
        contract: Option<&StoredContract>,
    ) -> Result<Result<Gathered, String>, IngestError> {
        let bucket = &self.config.data_bucket;
        let prefix = format!("{}/output/", job_folder(name));
        let objects = self.blobs.list(bucket, &prefix).await?;
        let dir = tempfile::Builder::new()
            .prefix("shards-")
            .tempdir_in(&self.config.work_dir)
            .map_err(|e| IngestError::Task(format!("creating a folder for the shards: {e}")))?;
        // Each instance's folder: its files' hashes, its state, its Parquet (left in the store).
        let mut hosts: BTreeMap<String, (Vec<UploadedFile>, Option<ObjectRef>)> = BTreeMap::new();
        for object in &objects {
            let rest = object
                .key
                .as_str()
                .strip_prefix(&prefix)
                .unwrap_or_default();
            let Some((host, file)) = rest.split_once('/') else {
                continue;
            };
            let local = dir.path().join(host);
            match file {
                FILES_FILE => {
                    let bytes = self.blobs.get(bucket, &object.key).await?;
                    let files = serde_json::from_slice(&bytes).map_err(|e| {
                        IngestError::Task(format!("{} does not read: {e}", object.key))
                    })?;
                    hosts.entry(host.to_owned()).or_default().0 = files;
                }
                tollgate_validation::SHARD_FILE => {
                    std::fs::create_dir_all(&local)
                        .map_err(|e| IngestError::Task(format!("creating a folder: {e}")))?;
                    let bytes = self.blobs.get(bucket, &object.key).await?;
                    std::fs::write(local.join(file), &bytes)
                        .map_err(|e| IngestError::Task(format!("keeping a shard: {e}")))?;
                    hosts.entry(host.to_owned()).or_default();
                }
                tollgate_validation::PART_FILE => {
                    hosts.entry(host.to_owned()).or_default().1 =
                        Some(ObjectRef::new(bucket.clone(), object.key.clone()));
                }
                // A unique column's values, read in value order by the merge (large: a
                // hard link to the fetched copy where the store keeps files on this disk).
                run if tollgate_validation::is_unique_run(run) => {
                    std::fs::create_dir_all(&local)
                        .map_err(|e| IngestError::Task(format!("creating a folder: {e}")))?;
                    let fetched = self.blobs.fetch(bucket, &object.key).await?;
                    let target = local.join(run);
                    std::fs::hard_link(&fetched.path, &target)
                        .or_else(|_| std::fs::copy(&fetched.path, &target).map(|_| ()))
                        .map_err(|e| IngestError::Task(format!("keeping {}: {e}", object.key)))?;
                }
                _ => {}
            }
        }
        // The shards in the order of their files (ShardedByS3Key gives each instance a share
        // of the objects, not a range of them); instances given no file are left out.
        let mut order: Vec<(String, Vec<UploadedFile>, Option<ObjectRef>)> = hosts
            .into_iter()
            .filter(|(_, (files, _))| !files.is_empty())
            .map(|(host, (files, part))| (host, files, part))
            .collect();
        order.sort_by(|a, b| a.1[0].name.cmp(&b.1[0].name));
        let mut read: BTreeMap<String, UploadedFile> = BTreeMap::new();
        for file in order.iter().flat_map(|(_, files, _)| files) {
            if read.insert(file.name.clone(), file.clone()).is_some() {
                return Ok(Err(format!(
                    "{} was read by two of job {name}'s instances",
                    file.name
                )));
            }
        }
        let read_count = read.len();
        let mut files = Vec::with_capacity(settings.files.len());
        let mut listed = Vec::with_capacity(settings.files.len());
        for file in &settings.files {
            let Some(hashed) = read.remove(&file.name) else {
                return Ok(Err(format!(
                    "job {name}'s instances did not read {} (they read {read_count} of the \
                     upload's {} files)",
                    file.name,
                    settings.files.len()
                )));
            };
            // Still the object listed when the job started (the instances read whatever was
            // there; what is kept with the version is copied now).
            if let Some(listed) = &file.object.etag {
                let now = self
                    .blobs
                    .head(&file.object.bucket, &file.object.key)
                    .await?;
                if now.as_ref().and_then(|m| m.etag.as_ref()) != Some(listed) {
                    return Ok(Err(format!(
                        "{} was written again (or removed) after job {name} started: write a \
                         batch's files once, then its marker",
                        file.name
                    )));
                }
            }
            if hashed.bytes != file.size {
                return Ok(Err(format!(
                    "{} was {} bytes when job {name} started and {} when it read it: it \
                     changed meanwhile; write it once, then its marker",
                    file.name, file.size, hashed.bytes
                )));
            }
            files.push(FetchedFile {
                object: file.object.clone(),
                name: file.name.clone(),
                local: None,
                fingerprint: Fingerprint {
                    hash: hashed.sha256.clone(),
                    bytes: hashed.bytes,
                    head: Vec::new(),
                },
            });
            listed.push(hashed);
        }
        let dataset = settings.upload.dataset.clone();
        let terms = contract.map(|c| c.contract.clone());
        let mut shards = Vec::with_capacity(order.len());
        let mut parts = Vec::new();
        for (host, _, part) in order {
            let path = dir.path().join(&host);
            let dataset = dataset.clone();
            let terms = terms.clone();
            shards.push(
                blocking(move || Summarised::read_shard(&path, &dataset, terms.as_ref())).await??,
            );
            parts.extend(part);
        }
        let batch = settings.marker.is_some();
        let listed_hash = match batch {
            true => tollgate_validation::read::files_hash(&listed),
            false => listed[0].sha256.clone(),
        };
        let fetched = Fetched {
            hash: listed_hash.clone(),
            bytes: listed.iter().map(|f| f.bytes).sum(),
            files,
            // The marker's own hash is in no figure: the version's hash is over the files.
            marker: settings
                .marker
                .as_ref()
                .map(|m| m.unread(listed_hash.clone())),
            listed: if batch { listed } else { Vec::new() },
            parts,
        };
        Ok(Ok(Gathered {
            fetched,
            shards,
            _dir: dir,
        }))
    }

    /// Rejects a job's upload that was not read through (the job failed, or its files changed
    /// under it): its files are kept in quarantine, by copy, with a report that says why. Its
    /// content hash is over what the store listed (names, sizes, ETags), since its bytes were
    /// never all read.
    async fn refuse_unread(
        &self,
        settings: &JobSettings,
        reason: String,
    ) -> Result<UploadOutcome, IngestError> {
        let upload = &settings.upload;
        let listing: String = settings
            .files
            .iter()
            .map(|f| {
                format!(
                    "{} {} {}\n",
                    f.name,
                    f.size,
                    f.object.etag.as_deref().unwrap_or_default()
                )
            })
            .collect();
        let hash = ContentHash::parse(&hex::encode(Sha256::digest(listing.as_bytes())))
            .expect("a SHA-256 is a content hash");
        let files: Vec<FetchedFile> = settings
            .files
            .iter()
            .map(|f| f.unread(hash.clone()))
            .collect();
        let bytes = files.iter().map(|f| f.fingerprint.bytes).sum();
        let fetched = Fetched {
            files,
            // A batch is quarantined as a folder (its manifest with it).
            marker: settings.marker.as_ref().map(|m| m.unread(hash.clone())),
            hash: hash.clone(),
            bytes,
            listed: Vec::new(),
            parts: Vec::new(),
        };
        let report = ValidationReport {
            dataset: upload.dataset.clone(),
            status: UploadStatus::Rejected,
            content_hash: hash,
            format: Path::new(&settings.files[0].name)
                .extension()
                .map_or("unknown".to_owned(), |e| e.to_string_lossy().to_lowercase()),
            bytes,
            rows: None,
            columns: None,
            contract_version: settings.contract_version,
            findings: vec![Finding::error("processing", reason)],
            profile: None,
            drift: None,
            timings_ms: BTreeMap::new(),
            files: Vec::new(),
        };
        let computed = Computed {
            report,
            verdict: None,
        };
        self.reject(upload, &settings.upload_key, &fetched, computed)
            .await
    }

    /// Finishes the files of an accepted version a processing job made (a crash came between
    /// its commit and its files): concluded again from the job's shards, which are kept.
    pub(super) async fn rewrite_processed(
        &self,
        record: &UploadRecord,
        version: &DatasetVersion,
    ) -> Result<ValidationReport, IngestError> {
        let name = job_name(&record.upload_key);
        let settings_key = key(format!("{}/{SETTINGS_FILE}", job_folder(&name)))?;
        let bytes = self
            .blobs
            .get(&self.config.data_bucket, &settings_key)
            .await?;
        let settings: JobSettings = serde_json::from_slice(&bytes)
            .map_err(|e| IngestError::Task(format!("the settings of job {name}: {e}")))?;
        let contract = self
            .catalog
            .contract(&record.dataset, Some(version.contract_version))
            .await?;
        let terms = settings.contract_version.and(contract.as_ref());
        let Gathered {
            fetched, shards, ..
        } = self
            .gather(&settings, &name, terms)
            .await?
            .map_err(IngestError::SourceChanged)?;
        let computed = self
            .conclude_shards(
                &settings.upload,
                &fetched,
                shards,
                version.parent_version,
                terms,
                Some(version.contract_version),
            )
            .await?;
        let verdict = computed
            .verdict
            .ok_or_else(|| IngestError::Task(format!("job {name}'s shards no longer conclude")))?;
        let report = ValidationReport {
            status: UploadStatus::Accepted,
            ..computed.report
        };
        let founding = match version.version {
            1 => contract.filter(|c| c.version == 1),
            _ => None,
        };
        self.write_version(
            version,
            &fetched,
            None,
            &report,
            founding.as_ref(),
            Some(Baseline::encode(&verdict.summaries)),
        )
        .await?;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_name_is_one_per_upload_and_fits_sagemaker() {
        let a = job_name("data/incoming/sales/b1/");
        assert_eq!(a, job_name("data/incoming/sales/b1/"));
        assert_ne!(a, job_name("data/incoming/sales/b2/"));
        assert!(a.len() <= 63, "{a}");
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    }
}
