//! The embedded training backend: each job runs the `trainer` binary as a subprocess, in a folder
//! laid out like SageMaker's `/opt/ml`, at most `max_parallel` at once. When the process exits (or
//! is stopped, or runs past its max runtime) its model, outputs and log go to the blob store and a
//! `TrainingJobStateChange` event, the same shape SageMaker sends, goes to the bus.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use tokio::sync::{Semaphore, oneshot};
use tollgate_domain::ports::{BlobStore, EventBus, TrainingBackend};
use tollgate_domain::training::{JobStateChange, JobStatus, MetricData, ModelArtifacts};
use tollgate_domain::{BlobKey, Event, PortError, TrainingJob};

use crate::error::io;

#[derive(Debug)]
struct Handle {
    status: JobStatus,
    stop: Option<oneshot::Sender<()>>,
}

#[derive(Debug, Clone)]
pub struct SubprocessBackend {
    blobs: Arc<dyn BlobStore>,
    bus: Arc<dyn EventBus>,
    trainer: PathBuf,
    work_root: PathBuf,
    slots: Arc<Semaphore>,
    jobs: Arc<Mutex<HashMap<String, Handle>>>,
}

impl SubprocessBackend {
    /// Jobs run `trainer` in folders under `work_root`, `max_parallel` at once.
    pub fn new(
        blobs: Arc<dyn BlobStore>,
        bus: Arc<dyn EventBus>,
        trainer: PathBuf,
        work_root: PathBuf,
        max_parallel: usize,
    ) -> Self {
        Self {
            blobs,
            bus,
            trainer,
            work_root,
            slots: Arc::new(Semaphore::new(max_parallel.max(1))),
            jobs: Arc::default(),
        }
    }

    fn set_status(&self, name: &str, status: JobStatus) {
        if let Some(h) = self.jobs.lock().expect("jobs lock").get_mut(name) {
            h.status = status;
            if !matches!(status, JobStatus::InProgress | JobStatus::Stopping) {
                h.stop = None;
            }
        }
    }

    /// Lays out `/opt/ml` for the job: its hyperparameters and a copy of each channel.
    async fn prepare(&self, job: &TrainingJob, root: &Path) -> Result<(), PortError> {
        let config = root.join("input/config");
        std::fs::create_dir_all(&config)
            .map_err(|e| io(format!("creating {}", config.display()), e))?;
        let hyper = serde_json::to_vec_pretty(&job.hyperparameters)
            .map_err(|e| PortError::other("encoding hyperparameters", e))?;
        std::fs::write(config.join("hyperparameters.json"), hyper)
            .map_err(|e| io("writing hyperparameters.json", e))?;
        for (channel, object) in &job.channels {
            let dir = root.join("input/data").join(channel);
            std::fs::create_dir_all(&dir)
                .map_err(|e| io(format!("creating {}", dir.display()), e))?;
            let local = self.blobs.fetch(&object.bucket, &object.key).await?;
            let name = object.key.as_str().rsplit('/').next().unwrap_or("data");
            let target = dir.join(name);
            if std::fs::hard_link(&local.path, &target).is_err() {
                std::fs::copy(&local.path, &target)
                    .map_err(|e| io(format!("copying channel {channel}"), e))?;
            }
        }
        Ok(())
    }

    /// Runs the prepared job to its end; returns the state change to announce.
    async fn run(
        &self,
        job: TrainingJob,
        root: PathBuf,
        stop: oneshot::Receiver<()>,
    ) -> JobStateChange {
        let _slot = self.slots.clone().acquire_owned().await;
        let started = Instant::now();
        let outcome = self.execute(&job, &root, stop).await;
        let billable = started.elapsed().as_secs().max(1);
        let (status, reason) = match outcome {
            Ok(Exit::Done(true)) => (JobStatus::Completed, None),
            Ok(Exit::Done(false)) => (
                JobStatus::Failed,
                Some(
                    std::fs::read_to_string(root.join("output/failure"))
                        .map(|s| s.trim().to_owned())
                        .unwrap_or_else(|_| {
                            let tail = std::fs::read_to_string(root.join("output/stderr.log"))
                                .map(|log| last_lines(&log, 5))
                                .unwrap_or_default();
                            if tail.is_empty() {
                                "the training program failed without writing output/failure".into()
                            } else {
                                format!(
                                    "the training program failed without writing \
                                     output/failure; its stderr ends: {tail}"
                                )
                            }
                        }),
                ),
            ),
            Ok(Exit::Stopped) => (JobStatus::Stopped, Some("stopped on request".to_owned())),
            Ok(Exit::TimedOut) => (
                JobStatus::Stopped,
                Some(format!(
                    "MaxRuntimeExceeded: stopped after {} s",
                    job.max_runtime.as_secs()
                )),
            ),
            Err(e) => (
                JobStatus::Failed,
                Some(match job.backend.command.as_deref() {
                    Some([program, ..]) => {
                        format!("the local backend could not run the command {program:?}: {e}")
                    }
                    _ => format!("the local backend could not run the trainer: {e}"),
                }),
            ),
        };
        let uploaded = self.upload(&job, &root).await;
        let (status, reason) = match (status, uploaded) {
            (JobStatus::Completed, Err(e)) => (
                JobStatus::Failed,
                Some(format!("uploading the job's outputs: {e}")),
            ),
            (s, _) => (s, reason),
        };
        let metrics = std::fs::read_to_string(root.join("output/stdout.log"))
            .map(|log| parse_metrics(&log, &job.metric_names))
            .unwrap_or_default();
        if let Err(e) = std::fs::remove_dir_all(&root) {
            tracing::warn!(job = job.name, "could not remove the job folder: {e}");
        }
        JobStateChange {
            training_job_name: job.name.clone(),
            training_job_status: status,
            failure_reason: reason,
            model_artifacts: (status == JobStatus::Completed).then(|| ModelArtifacts {
                s3_model_artifacts: format!(
                    "s3://{}/{}{}/model/",
                    job.output_bucket, job.output_prefix, job.name
                ),
            }),
            final_metric_data_list: metrics,
            billable_time_in_seconds: Some(billable),
        }
    }

    async fn execute(
        &self,
        job: &TrainingJob,
        root: &Path,
        stop: oneshot::Receiver<()>,
    ) -> Result<Exit, std::io::Error> {
        let output = root.join("output");
        std::fs::create_dir_all(&output)?;
        std::fs::create_dir_all(root.join("model"))?;
        std::fs::create_dir_all(output.join("data"))?;
        let mut command = match job.backend.command.as_deref() {
            Some([program, args @ ..]) => {
                let mut command = tokio::process::Command::new(program);
                command.args(args).envs(contract_env(job, root));
                command
            }
            _ => {
                let mut command = tokio::process::Command::new(&self.trainer);
                command.arg("train").arg("--root").arg(root);
                command
            }
        };
        let mut child = command
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(output.join("stdout.log"))?)
            .stderr(std::fs::File::create(output.join("stderr.log"))?)
            .kill_on_drop(true)
            .spawn()?;
        tokio::select! {
            status = child.wait() => Ok(Exit::Done(status?.success())),
            _ = tokio::time::sleep(job.max_runtime) => {
                child.kill().await?;
                Ok(Exit::TimedOut)
            }
            Ok(()) = stop => {
                child.kill().await?;
                Ok(Exit::Stopped)
            }
        }
    }

    /// Copies `model/`, `output/data/` and the logs under `<output_prefix><job>/`.
    async fn upload(&self, job: &TrainingJob, root: &Path) -> Result<(), PortError> {
        let base = format!("{}{}/", job.output_prefix, job.name);
        let mut files = Vec::new();
        for dir in ["model", "output/data"] {
            collect(&root.join(dir), dir, &mut files)?;
        }
        for log in ["output/stdout.log", "output/stderr.log", "output/failure"] {
            let path = root.join(log);
            if path.is_file() {
                files.push((path, log.to_owned()));
            }
        }
        for (path, relative) in files {
            let key = BlobKey::parse(&format!("{base}{relative}"))
                .map_err(|e| PortError::Invalid(e.to_string()))?;
            self.blobs.put_file(&job.output_bucket, &key, &path).await?;
        }
        Ok(())
    }
}

/// The variables SageMaker's training toolkit gives a script, pointing into the job's folder,
/// and the folder itself as `TOLLGATE_ML_ROOT` (the bundled trainer's `--root`).
fn contract_env(job: &TrainingJob, root: &Path) -> Vec<(String, String)> {
    let at = |relative: &str| root.join(relative).display().to_string();
    let mut env = vec![
        ("TOLLGATE_ML_ROOT".to_owned(), root.display().to_string()),
        ("SM_MODEL_DIR".to_owned(), at("model")),
        ("SM_OUTPUT_DIR".to_owned(), at("output")),
        ("SM_OUTPUT_DATA_DIR".to_owned(), at("output/data")),
        ("SM_INPUT_DIR".to_owned(), at("input")),
        ("SM_INPUT_CONFIG_DIR".to_owned(), at("input/config")),
        (
            "SM_CHANNELS".to_owned(),
            serde_json::to_string(&job.channels.keys().collect::<Vec<_>>()).unwrap_or_default(),
        ),
        (
            "SM_HPS".to_owned(),
            serde_json::to_string(&job.hyperparameters).unwrap_or_default(),
        ),
    ];
    for channel in job.channels.keys() {
        env.push((
            format!("SM_CHANNEL_{}", channel.to_uppercase()),
            at(&format!("input/data/{channel}")),
        ));
    }
    env
}

enum Exit {
    Done(bool),
    Stopped,
    TimedOut,
}

/// The last `n` non-empty lines of `log`, joined by " | ".
pub(crate) fn last_lines(log: &str, n: usize) -> String {
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

/// Every file under `dir`, with its path relative to the job root.
pub(crate) fn collect(
    dir: &Path,
    relative: &str,
    out: &mut Vec<(PathBuf, String)>,
) -> Result<(), PortError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry.map_err(|e| io(format!("listing {}", dir.display()), e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if path.is_dir() {
            collect(&path, &format!("{relative}/{name}"), out)?;
        } else {
            out.push((path, format!("{relative}/{name}")));
        }
    }
    Ok(())
}

/// The last value of each named metric in a log, as SageMaker's metric definitions find them
/// (`<name>=<value>;`).
pub fn parse_metrics(log: &str, names: &[String]) -> Vec<MetricData> {
    names
        .iter()
        .filter_map(|name| {
            let prefix = format!("{name}=");
            log.lines()
                .rev()
                .find_map(|line| {
                    line.trim()
                        .strip_prefix(&prefix)?
                        .strip_suffix(';')?
                        .parse::<f64>()
                        .ok()
                })
                .map(|value| MetricData {
                    metric_name: name.clone(),
                    value,
                })
        })
        .collect()
}

#[async_trait]
impl TrainingBackend for SubprocessBackend {
    async fn start(&self, job: &TrainingJob) -> Result<bool, PortError> {
        let root = self.work_root.join(&job.name);
        let stop_rx = {
            let mut jobs = self.jobs.lock().expect("jobs lock");
            if jobs.contains_key(&job.name) || root.exists() {
                return Ok(false);
            }
            let (tx, rx) = oneshot::channel();
            jobs.insert(
                job.name.clone(),
                Handle {
                    status: JobStatus::InProgress,
                    stop: Some(tx),
                },
            );
            rx
        };
        if let Err(e) = self.prepare(job, &root).await {
            self.jobs.lock().expect("jobs lock").remove(&job.name);
            let _ = std::fs::remove_dir_all(&root);
            return Err(e);
        }
        let this = self.clone();
        let job = job.clone();
        tokio::spawn(async move {
            let change = this.run(job, root, stop_rx).await;
            this.set_status(&change.training_job_name, change.training_job_status);
            tracing::info!(
                job = change.training_job_name,
                status = ?change.training_job_status,
                "training job ended"
            );
            if let Err(e) = this
                .bus
                .publish(&Event::TrainingJobStateChange(change))
                .await
            {
                tracing::error!("publishing a training job's end: {e}");
            }
        });
        Ok(true)
    }

    async fn describe(&self, name: &str) -> Result<JobStatus, PortError> {
        self.jobs
            .lock()
            .expect("jobs lock")
            .get(name)
            .map(|h| h.status)
            .ok_or_else(|| PortError::NotFound(format!("training job {name}")))
    }

    async fn stop(&self, name: &str) -> Result<(), PortError> {
        let mut jobs = self.jobs.lock().expect("jobs lock");
        let handle = jobs
            .get_mut(name)
            .ok_or_else(|| PortError::NotFound(format!("training job {name}")))?;
        if let Some(stop) = handle.stop.take() {
            handle.status = JobStatus::Stopping;
            let _ = stop.send(());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

    use tollgate_domain::BucketName;
    use tollgate_domain::pipeline::Backend;

    use super::*;
    use crate::{FsBlobStore, InProcessBus};

    /// A backend whose "trainer" is a shell script, in a temp dir.
    fn backend(dir: &Path, script: &str) -> (SubprocessBackend, InProcessBus, Arc<FsBlobStore>) {
        let trainer = dir.join("trainer.sh");
        std::fs::write(&trainer, format!("#!/bin/sh\n{script}\n")).unwrap();
        std::fs::set_permissions(&trainer, std::fs::Permissions::from_mode(0o755)).unwrap();
        let blobs = Arc::new(FsBlobStore::new(dir.join("buckets")));
        let bus = InProcessBus::recording();
        let backend = SubprocessBackend::new(
            blobs.clone(),
            Arc::new(bus.clone()),
            trainer,
            dir.join("jobs"),
            2,
        );
        (backend, bus, blobs)
    }

    fn job(name: &str, max_runtime: Duration) -> TrainingJob {
        TrainingJob {
            name: name.into(),
            hyperparameters: BTreeMap::from([("alpha".into(), "0.5".into())]),
            channels: BTreeMap::new(),
            output_bucket: BucketName::parse("data").unwrap(),
            output_prefix: "runs/r/".into(),
            backend: Backend::default(),
            max_runtime,
            metric_names: vec!["validation:accuracy".into()],
        }
    }

    /// The job's end, as published on the bus.
    async fn ended(bus: &InProcessBus, name: &str) -> JobStateChange {
        for _ in 0..200 {
            if let Some(Event::TrainingJobStateChange(c)) = bus.published().into_iter().find(
                |e| matches!(e, Event::TrainingJobStateChange(c) if c.training_job_name == name),
            ) {
                return c;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no event for {name}");
    }

    #[tokio::test]
    async fn a_job_runs_in_an_opt_ml_layout_and_its_end_is_an_event() {
        let dir = tempfile::tempdir().unwrap();
        // The script checks its layout, writes a model and prints a metric line.
        let (backend, bus, blobs) = backend(
            dir.path(),
            "root=\"$3\"; test -f \"$root/input/config/hyperparameters.json\" || exit 9\n\
             mkdir -p \"$root/model\" && echo '{}' > \"$root/model/model.json\"\n\
             echo 'validation:accuracy=0.75;'",
        );
        let j = job("r-t000", Duration::from_secs(30));
        assert!(backend.start(&j).await.unwrap());
        assert!(
            !backend.start(&j).await.unwrap(),
            "a job name starts one job"
        );
        let change = ended(&bus, "r-t000").await;
        assert_eq!(
            change.training_job_status,
            JobStatus::Completed,
            "{change:?}"
        );
        assert_eq!(change.metric("validation:accuracy"), Some(0.75));
        let bucket = BucketName::parse("data").unwrap();
        let key = BlobKey::parse("runs/r/r-t000/model/model.json").unwrap();
        assert!(blobs.head(&bucket, &key).await.unwrap().is_some());
        assert_eq!(
            backend.describe("r-t000").await.unwrap(),
            JobStatus::Completed
        );
    }

    #[tokio::test]
    async fn a_job_can_be_stopped_and_never_outlives_its_max_runtime() {
        let dir = tempfile::tempdir().unwrap();
        let (backend, bus, _) = backend(dir.path(), "sleep 30");
        backend
            .start(&job("r-t001", Duration::from_secs(60)))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        backend.stop("r-t001").await.unwrap();
        let stopped = ended(&bus, "r-t001").await;
        assert_eq!(stopped.training_job_status, JobStatus::Stopped);
        backend
            .start(&job("r-t002", Duration::from_secs(1)))
            .await
            .unwrap();
        let timed_out = ended(&bus, "r-t002").await;
        assert_eq!(timed_out.training_job_status, JobStatus::Stopped);
        assert!(
            timed_out
                .failure_reason
                .unwrap()
                .contains("MaxRuntimeExceeded")
        );
        assert!(matches!(
            backend.describe("nope").await,
            Err(PortError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn a_failing_job_reports_its_reason() {
        let dir = tempfile::tempdir().unwrap();
        let (backend, bus, _) = backend(
            dir.path(),
            "mkdir -p \"$3/output\"; echo 'hyperparameter alpha: \"x\" is not a number' > \"$3/output/failure\"; exit 1",
        );
        backend
            .start(&job("r-t003", Duration::from_secs(30)))
            .await
            .unwrap();
        let failed = ended(&bus, "r-t003").await;
        assert_eq!(failed.training_job_status, JobStatus::Failed);
        assert!(failed.failure_reason.unwrap().contains("alpha"));
    }

    #[tokio::test]
    async fn a_command_of_your_own_runs_under_the_same_contract_with_sagemakers_variables() {
        let dir = tempfile::tempdir().unwrap();
        let (backend, bus, blobs) = backend(dir.path(), "exit 7");
        let bucket = BucketName::parse("data").unwrap();
        let train = BlobKey::parse("datasets/d/v1/splits/s/train.parquet").unwrap();
        blobs
            .put(&bucket, &train, bytes::Bytes::from_static(b"rows"))
            .await
            .unwrap();
        // Checks each variable against the folder it names, writes a model and predictions
        // where the contract says, and reports a metric; the bundled trainer (exit 7) never runs.
        let script = r#"set -e
test "$SM_MODEL_DIR" = "$TOLLGATE_ML_ROOT/model"
test "$(cat "$SM_CHANNEL_TRAIN/train.parquet")" = rows
test "$SM_CHANNELS" = '["train"]'
case "$SM_HPS" in *'"alpha":"0.5"'*) ;; *) echo "SM_HPS is $SM_HPS" >&2; exit 3 ;; esac
test -f "$SM_INPUT_CONFIG_DIR/hyperparameters.json"
echo weights > "$SM_MODEL_DIR/model.pt"
mkdir -p "$SM_OUTPUT_DATA_DIR/predictions"
printf 'row,prediction
0,a
' > "$SM_OUTPUT_DATA_DIR/predictions/test.csv"
echo 'validation:accuracy=0.5;'"#;
        let mut j = job("r-t010", Duration::from_secs(30));
        j.channels = BTreeMap::from([(
            "train".to_owned(),
            tollgate_domain::ObjectRef::new(bucket.clone(), train),
        )]);
        j.backend.command = Some(vec!["sh".into(), "-c".into(), script.into()]);
        backend.start(&j).await.unwrap();
        let change = ended(&bus, "r-t010").await;
        assert_eq!(
            change.training_job_status,
            JobStatus::Completed,
            "{change:?}"
        );
        assert_eq!(change.metric("validation:accuracy"), Some(0.5));
        for key in [
            "runs/r/r-t010/model/model.pt",
            "runs/r/r-t010/output/data/predictions/test.csv",
        ] {
            let key = BlobKey::parse(key).unwrap();
            assert!(blobs.head(&bucket, &key).await.unwrap().is_some(), "{key}");
        }

        // A program that fails without output/failure is reported with the end of its stderr;
        // one that cannot start, by its name.
        j.name = "r-t011".into();
        j.backend.command = Some(vec![
            "sh".into(),
            "-c".into(),
            "echo 'ModuleNotFoundError: torch' >&2; exit 1".into(),
        ]);
        backend.start(&j).await.unwrap();
        let failed = ended(&bus, "r-t011").await;
        assert_eq!(failed.training_job_status, JobStatus::Failed);
        assert!(
            failed
                .failure_reason
                .as_deref()
                .unwrap()
                .contains("its stderr ends: ModuleNotFoundError: torch"),
            "{failed:?}"
        );
        j.name = "r-t012".into();
        j.backend.command = Some(vec!["./no-such-trainer".into()]);
        backend.start(&j).await.unwrap();
        let missing = ended(&bus, "r-t012").await;
        assert!(
            missing
                .failure_reason
                .as_deref()
                .unwrap()
                .contains("could not run the command \"./no-such-trainer\""),
            "{missing:?}"
        );
    }

    #[test]
    fn metrics_are_read_as_a_metric_definition_would_read_them() {
        let log = "validation:accuracy=0.5;\nnoise\nvalidation:accuracy=0.625;\ntrain:rmse=1e-3;\n";
        let names = ["validation:accuracy", "train:rmse", "test:r2"].map(String::from);
        let found = parse_metrics(log, &names);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].value, 0.625);
        assert_eq!(found[1].value, 0.001);
    }
}
