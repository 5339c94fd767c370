//! The embedded processing backend: each instance of a processing job runs `tollgate process`
//! as a subprocess, all at once, in a folder laid out like a SageMaker processing container's
//! `/opt/ml`: `config/resourceconfig.json` names its host, `processing/input/settings/` holds
//! the job's settings and `processing/input/data/` its share of the manifest's objects (in
//! name order, cut into contiguous shares, as `ShardedByS3Key` shares objects out). When every
//! instance has exited, their `processing/output/` goes to the job's output prefix and a
//! `ProcessingJobStateChange` event, the shape SageMaker sends, goes to the bus.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tollgate_domain::ports::{BlobStore, EventBus, ProcessingBackend};
use tollgate_domain::training::{JobStatus, ProcessingJob, ProcessingStateChange};
use tollgate_domain::{BlobKey, BucketName, Event, PortError};

use crate::error::io;
use crate::trainer::{collect, last_lines};

#[derive(Debug, Clone)]
pub struct SubprocessProcessing {
    blobs: Arc<dyn BlobStore>,
    bus: Arc<dyn EventBus>,
    program: PathBuf,
    work_root: PathBuf,
    jobs: Arc<Mutex<HashMap<String, JobStatus>>>,
}

/// A manifest's objects: the bucket and prefix, and the names below it.
struct Manifest {
    bucket: BucketName,
    prefix: String,
    names: Vec<String>,
}

impl Manifest {
    /// SageMaker's manifest format: `[{"prefix": "s3://bucket/prefix/"}, "name", ...]`.
    fn parse(bytes: &[u8]) -> Result<Self, PortError> {
        let invalid = |why: &str| PortError::Invalid(format!("a processing manifest {why}"));
        let entries: Vec<serde_json::Value> =
            serde_json::from_slice(bytes).map_err(|e| invalid(&format!("does not read: {e}")))?;
        let (first, rest) = entries.split_first().ok_or_else(|| invalid("is empty"))?;
        let url = first["prefix"]
            .as_str()
            .and_then(|p| p.strip_prefix("s3://"))
            .ok_or_else(|| invalid("does not start with {\"prefix\": \"s3://...\"}"))?;
        let (bucket, prefix) = url.split_once('/').unwrap_or((url, ""));
        let names = rest
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| invalid("lists something other than names"))?;
        Ok(Self {
            bucket: BucketName::parse(bucket).map_err(|e| PortError::Invalid(e.to_string()))?,
            prefix: prefix.to_owned(),
            names,
        })
    }
}

fn blob_key(raw: &str) -> Result<BlobKey, PortError> {
    BlobKey::parse(raw).map_err(|e| PortError::Invalid(e.to_string()))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), PortError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| io(format!("creating {}", parent.display()), e))?;
    }
    std::fs::write(path, bytes).map_err(|e| io(format!("writing {}", path.display()), e))
}

impl SubprocessProcessing {
    /// Jobs run `program process --root DIR` in folders under `work_root`.
    pub fn new(
        blobs: Arc<dyn BlobStore>,
        bus: Arc<dyn EventBus>,
        program: PathBuf,
        work_root: PathBuf,
    ) -> Self {
        Self {
            blobs,
            bus,
            program,
            work_root,
            jobs: Arc::default(),
        }
    }

    /// Lays out each instance's folder under `root`; returns their hosts and folders.
    async fn prepare(
        &self,
        job: &ProcessingJob,
        root: &Path,
    ) -> Result<Vec<(String, PathBuf)>, PortError> {
        let manifest = Manifest::parse(
            &self
                .blobs
                .get(&job.manifest.bucket, &job.manifest.key)
                .await?,
        )?;
        let settings = self
            .blobs
            .get(&job.settings.bucket, &job.settings.key)
            .await?;
        let count = (job.instances.max(1) as usize).min(manifest.names.len().max(1));
        let hosts: Vec<String> = (1..=count).map(|i| format!("algo-{i}")).collect();
        let mut instances = Vec::with_capacity(count);
        for (i, host) in hosts.iter().enumerate() {
            let dir = root.join(host);
            let resources = serde_json::json!({ "current_host": host, "hosts": hosts });
            write(
                &dir.join("config/resourceconfig.json"),
                resources.to_string().as_bytes(),
            )?;
            write(&dir.join("processing/input/settings/job.json"), &settings)?;
            let data = dir.join("processing/input/data");
            std::fs::create_dir_all(&data)
                .map_err(|e| io(format!("creating {}", data.display()), e))?;
            // Contiguous shares whose sizes differ by one at most.
            let n = manifest.names.len();
            for name in &manifest.names[i * n / count..(i + 1) * n / count] {
                let key = blob_key(&format!("{}{name}", manifest.prefix))?;
                let local = self.blobs.fetch(&manifest.bucket, &key).await?;
                let target = data.join(name);
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| io(format!("creating {}", parent.display()), e))?;
                }
                if std::fs::hard_link(&local.path, &target).is_err() {
                    std::fs::copy(&local.path, &target)
                        .map_err(|e| io(format!("copying {name} for {host}"), e))?;
                }
            }
            instances.push((host.clone(), dir));
        }
        Ok(instances)
    }

    /// Runs every instance to its end and uploads their outputs; the state change to announce.
    async fn run(
        &self,
        job: &ProcessingJob,
        instances: &[(String, PathBuf)],
    ) -> ProcessingStateChange {
        let mut running = Vec::with_capacity(instances.len());
        for (host, dir) in instances {
            running.push((host, dir, self.spawn(dir)));
        }
        let mut failure = None;
        let deadline = tokio::time::Instant::now() + job.max_runtime;
        for (host, dir, child) in running {
            let exit = match child {
                Ok(mut child) => match tokio::time::timeout_at(deadline, child.wait()).await {
                    Ok(Ok(status)) if status.success() => continue,
                    Ok(Ok(_)) => std::fs::read_to_string(dir.join("output/message"))
                        .map(|m| m.trim().to_owned())
                        .unwrap_or_else(|_| {
                            let log = std::fs::read_to_string(dir.join("output/stderr.log"))
                                .unwrap_or_default();
                            format!("it failed; its stderr ends: {}", last_lines(&log, 5))
                        }),
                    Ok(Err(e)) => format!("waiting for it: {e}"),
                    Err(_) => {
                        let _ = child.kill().await;
                        format!(
                            "MaxRuntimeExceeded: stopped after {} s",
                            job.max_runtime.as_secs()
                        )
                    }
                },
                Err(e) => format!("{} could not be run: {e}", self.program.display()),
            };
            failure.get_or_insert(format!("instance {host}: {exit}"));
        }
        if failure.is_none()
            && let Err(e) = self.upload(job, instances).await
        {
            failure = Some(format!("uploading the instances' outputs: {e}"));
        }
        ProcessingStateChange {
            processing_job_name: job.name.clone(),
            processing_job_status: match failure {
                None => JobStatus::Completed,
                Some(_) => JobStatus::Failed,
            },
            exit_message: failure.clone(),
            failure_reason: failure,
        }
    }

    fn spawn(&self, dir: &Path) -> Result<tokio::process::Child, std::io::Error> {
        let output = dir.join("output");
        std::fs::create_dir_all(&output)?;
        tokio::process::Command::new(&self.program)
            .arg("process")
            .arg("--root")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(output.join("stdout.log"))?)
            .stderr(std::fs::File::create(output.join("stderr.log"))?)
            .kill_on_drop(true)
            .spawn()
    }

    /// Copies each instance's `processing/output/` under the job's output prefix.
    async fn upload(
        &self,
        job: &ProcessingJob,
        instances: &[(String, PathBuf)],
    ) -> Result<(), PortError> {
        for (_, dir) in instances {
            let mut files = Vec::new();
            collect(&dir.join("processing/output"), "", &mut files)?;
            for (path, relative) in files {
                let key = blob_key(&format!("{}{relative}", job.output.key))?;
                self.blobs.put_file(&job.output.bucket, &key, &path).await?;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl ProcessingBackend for SubprocessProcessing {
    async fn start(&self, job: &ProcessingJob) -> Result<bool, PortError> {
        let root = self.work_root.join(&job.name);
        {
            let mut jobs = self.jobs.lock().expect("jobs lock");
            if jobs.contains_key(&job.name) || root.exists() {
                return Ok(false);
            }
            jobs.insert(job.name.clone(), JobStatus::InProgress);
        }
        let instances = match self.prepare(job, &root).await {
            Ok(instances) => instances,
            Err(e) => {
                self.jobs.lock().expect("jobs lock").remove(&job.name);
                let _ = std::fs::remove_dir_all(&root);
                return Err(e);
            }
        };
        let this = self.clone();
        let job = job.clone();
        tokio::spawn(async move {
            let change = this.run(&job, &instances).await;
            if let Err(e) = std::fs::remove_dir_all(&root) {
                tracing::warn!(job = job.name, "could not remove the job folder: {e}");
            }
            this.jobs
                .lock()
                .expect("jobs lock")
                .insert(job.name.clone(), change.processing_job_status);
            tracing::info!(
                job = job.name,
                status = ?change.processing_job_status,
                "processing job ended"
            );
            if let Err(e) = this
                .bus
                .publish(&Event::ProcessingJobStateChange(change))
                .await
            {
                tracing::error!("publishing a processing job's end: {e}");
            }
        });
        Ok(true)
    }

    async fn describe(&self, name: &str) -> Result<JobStatus, PortError> {
        self.jobs
            .lock()
            .expect("jobs lock")
            .get(name)
            .copied()
            .ok_or_else(|| PortError::NotFound(format!("processing job {name}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_names_its_bucket_prefix_and_objects() {
        let m = Manifest::parse(
            br#"[{"prefix": "s3://data/incoming/sales/b1/"}, "part-0.csv", "x/part-1.csv"]"#,
        )
        .unwrap();
        assert_eq!(m.bucket.as_str(), "data");
        assert_eq!(m.prefix, "incoming/sales/b1/");
        assert_eq!(m.names, ["part-0.csv", "x/part-1.csv"]);
        assert!(Manifest::parse(b"[]").is_err());
        assert!(Manifest::parse(br#"[{"prefix": "/tmp/"}]"#).is_err());
    }
}
