//! The monitor handler, run on a schedule: for a model in production, the inputs and predictions
//! captured under `capture/<model>/` (CSV, JSON Lines or Parquet; a `prediction` column holds
//! what the model answered; or SageMaker's data-capture records, see [`sagemaker`]) are compared with what it was trained and tested on: each numeric
//! feature's PSI against the training split, and the predictions' PSI against the model's own
//! predictions on its test split. The report goes to `monitoring/<model>/<time>.json`. Past the
//! pipeline's `[monitor]` thresholds it starts a retraining run, unless one started within the
//! cooldown, so it cannot loop, and only when the dataset has an accepted version newer than the
//! one production was trained on: retraining on the same rows would only find the same model, so
//! without new data the report says that new data is needed instead.

mod sagemaker;

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use jiff::SignedDuration;
use polars::prelude::*;
use tollgate_domain::ports::{BlobStore, Catalog, Clock, EventBus, Ports};
use tollgate_domain::{
    AuditEvent, BlobKey, BucketName, Event, ModelStage, ModelVersion, PortError, RunStatus, Task,
    Trigger, UserId,
};
use tollgate_modeltest::{Scores, prediction_psi};
use tollgate_trainer::Model;
use tollgate_trainer::artifact::Artifact;

/// How long a stage change is left to the request that committed it before the monitor
/// announces it in its stead.
const ANNOUNCE_AFTER: std::time::Duration = std::time::Duration::from_secs(5 * 60);
use tollgate_tune::Tune;

#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error(transparent)]
    Port(#[from] PortError),
    #[error("monitoring {model}: {reason}")]
    Read { model: String, reason: String },
    #[error(transparent)]
    Tune(#[from] tollgate_tune::TuneError),
    #[error(transparent)]
    Promote(#[from] tollgate_promote::PromoteError),
}

impl MonitorError {
    /// Whether the same check may succeed if run again.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Port(e) => e.is_worth_redelivery(),
            Self::Read { .. } => false,
            Self::Tune(e) => e.is_retryable(),
            Self::Promote(e) => e.is_retryable(),
        }
    }
}

pub use tollgate_domain::monitoring::{Drift, MonitorReport};

/// What a run on the newest data gave, when the monitor would retrain: a candidate still to
/// decide on, or one decided against; each with the note that says so.
enum Learnt {
    Pending(String),
    Spent(String),
}

#[derive(Debug, Clone)]
pub struct Monitor {
    blobs: Arc<dyn BlobStore>,
    catalog: Arc<dyn Catalog>,
    clock: Arc<dyn Clock>,
    bus: Arc<dyn EventBus>,
    tune: Tune,
    promote: tollgate_promote::Promote,
    data_bucket: BucketName,
}

/// The most capture a check reads, newest files first: past it, older files are left out.
pub const MAX_CAPTURE_BYTES: u64 = 1 << 30;

/// `model.drift.detected` by the monitor, on the version in production, with the drifted
/// features, the report, what the check started, and whether people were told
/// (`DriftDetected` published).
fn drift_audit(report: &MonitorReport, at: jiff::Timestamp, told: bool) -> AuditEvent {
    let subject = match report.version {
        Some(v) => tollgate_domain::promotion::subject(&report.model, v),
        None => format!("model/{}", report.model),
    };
    let drifted = report.drifted_features();
    let outcome = report.retraining_outcome();
    let mut event = AuditEvent::new(
        at,
        UserId::parse("monitor").expect("a valid user name"),
        "model.drift.detected",
        subject,
    )
    .comment(format!("drift in {}; {outcome}", drifted.join(", ")));
    event.details = serde_json::json!({
        "report": report.report,
        "drifted": drifted,
        "retraining_run": report.retraining_run,
        "new_data_needed": report.new_data_needed,
        "told": told,
    });
    event
}

/// A report of `model` at `at` that says nothing yet.
fn blank(model: &str, at: jiff::Timestamp) -> MonitorReport {
    MonitorReport {
        model: model.to_owned(),
        version: None,
        at,
        captured_files: 0,
        captured_rows: 0,
        drift: Vec::new(),
        drifted: false,
        retraining_run: None,
        new_data_needed: false,
        notes: Vec::new(),
        report: None,
        told: false,
    }
}

/// `frame`'s columns of `kinds` (those it has), each cast to its type; the others are left out.
fn conform(frame: DataFrame, kinds: &[(String, DataType)]) -> Result<DataFrame, String> {
    let columns = kinds
        .iter()
        .filter_map(|(name, dtype)| {
            let column = frame.column(name).ok()?;
            Some(
                column
                    .cast(dtype)
                    .map_err(|e| format!("column {name}: {e}")),
            )
        })
        .collect::<Result<Vec<Column>, String>>()?;
    DataFrame::new(frame.height(), columns).map_err(|e| e.to_string())
}

/// A capture file as a frame of the model's features and `prediction`. `features` are the
/// model's inputs, in order: what names the columns of a SageMaker capture's CSV payloads.
fn read_capture(path: &Path, features: &[String]) -> Result<DataFrame, String> {
    let is_jsonl = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("jsonl") || e.eq_ignore_ascii_case("ndjson"));
    if is_jsonl {
        tollgate_validation::read::check_json_depth(path)?;
        if sagemaker::is_capture(path)? {
            return sagemaker::read(path, features);
        }
        let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        JsonReader::new(file)
            .with_json_format(JsonFormat::JsonLines)
            .finish()
            .map_err(|e| format!("{}: {e}", path.display()))
    } else {
        tollgate_trainer::read_table(path).map_err(|e| e.to_string())
    }
}

fn numbers(frame: &DataFrame, name: &str) -> Option<Vec<f64>> {
    let column = frame.column(name).ok()?;
    let values = tollgate_trainer::numbers(column, name, "the capture").ok()?;
    Some(values.into_iter().flatten().collect())
}

/// The drift of `captured` against the training split and the model's test predictions.
fn measure(
    production: &ModelVersion,
    thresholds: &tollgate_domain::pipeline::Monitor,
    train: &Path,
    test: &Path,
    model: &Path,
    captured: &DataFrame,
) -> Result<Vec<Drift>, String> {
    let train = tollgate_trainer::read_table(train).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for feature in &production.split.features {
        let (Some(expected), Some(actual)) = (numbers(&train, feature), numbers(captured, feature))
        else {
            continue;
        };
        if expected.is_empty() || actual.is_empty() {
            continue;
        }
        let psi = prediction_psi(&Scores::Values(expected), &Scores::Values(actual)).unwrap_or(0.0);
        out.push(Drift {
            name: feature.clone(),
            psi,
            threshold: thresholds.max_input_psi,
            drifted: psi > thresholds.max_input_psi,
        });
    }
    if captured.column("prediction").is_ok() {
        let model = Model::load(model).map_err(|e| e.to_string())?;
        let test = tollgate_trainer::read_table(test).map_err(|e| e.to_string())?;
        let tested = model.predict(&test).map_err(|e| e.to_string())?;
        let column = captured.column("prediction").map_err(|e| e.to_string())?;
        let (expected, actual) = match (production.task, tested) {
            (Task::Classification, tollgate_trainer::Predictions::Classes { labels, .. }) => {
                let captured = tollgate_trainer::texts(column, "prediction", "the capture")
                    .map_err(|e| e.to_string())?;
                let class = |labels: Vec<String>| Scores::Classes {
                    labels,
                    classes: Vec::new(),
                    probabilities: None,
                };
                (
                    class(labels),
                    class(captured.into_iter().flatten().collect()),
                )
            }
            (_, tollgate_trainer::Predictions::Values(values)) => (
                Scores::Values(values),
                Scores::Values(numbers(captured, "prediction").unwrap_or_default()),
            ),
            _ => return Err("the model's predictions are not of its task's kind".into()),
        };
        if let Some(psi) = prediction_psi(&expected, &actual) {
            out.push(Drift {
                name: "prediction".into(),
                psi,
                threshold: thresholds.max_prediction_psi,
                drifted: psi > thresholds.max_prediction_psi,
            });
        }
    }
    Ok(out)
}

impl Monitor {
    /// The monitor on `ports`, retraining through `tune`.
    pub fn new(ports: &Ports, tune: Tune) -> Self {
        Self {
            blobs: ports.blobs.clone(),
            catalog: ports.catalog.clone(),
            clock: ports.clock.clone(),
            bus: ports.bus.clone(),
            tune,
            promote: tollgate_promote::Promote::new(ports),
            data_bucket: ports.data_bucket.clone(),
        }
    }

    /// The traffic captured for `model` within the policy's window, newest files first and at
    /// most [`MAX_CAPTURE_BYTES`] of them, as one frame. A file that cannot be read, or whose
    /// columns differ from the newest one's, is left out with a note saying which and why: one
    /// bad file does not silence the monitor.
    async fn read_captured(
        &self,
        model: &str,
        features: &[String],
        kinds: &[(String, DataType)],
        policy: &tollgate_domain::pipeline::Monitor,
        now: jiff::Timestamp,
        report: &mut MonitorReport,
    ) -> Result<Option<DataFrame>, MonitorError> {
        let since = now
            .checked_sub(SignedDuration::from_secs(policy.window.seconds() as i64))
            .unwrap_or(jiff::Timestamp::MIN);
        let mut listed = self
            .blobs
            .list(&self.data_bucket, &format!("capture/{model}/"))
            .await?;
        let all = listed.len();
        // A store that keeps no times has every file in the window.
        listed.retain(|o| o.last_modified.is_none_or(|t| t >= since));
        if listed.len() < all {
            report.notes.push(format!(
                "{} captured file(s) older than the {} window are left out",
                all - listed.len(),
                policy.window
            ));
        }
        listed.sort_by_key(|o| std::cmp::Reverse(o.last_modified));
        let (mut captured, mut read): (Option<DataFrame>, u64) = (None, 0);
        for object in listed {
            if read + object.size > MAX_CAPTURE_BYTES {
                report.notes.push(format!(
                    "older capture past the newest {} MiB is left out",
                    MAX_CAPTURE_BYTES >> 20
                ));
                break;
            }
            read += object.size;
            let local = self.blobs.fetch(&self.data_bucket, &object.key).await?;
            let frame = match read_capture(&local.path, features).and_then(|f| conform(f, kinds)) {
                Ok(frame) => frame,
                Err(reason) => {
                    report
                        .notes
                        .push(format!("{} is left out: {reason}", object.key));
                    continue;
                }
            };
            captured = match captured {
                None => Some(frame),
                Some(so_far) => match so_far.vstack(&frame) {
                    Ok(more) => Some(more),
                    Err(e) => {
                        report.notes.push(format!(
                            "{} is left out: its columns differ from the newer files' ({e})",
                            object.key
                        ));
                        Some(so_far)
                    }
                },
            };
            report.captured_files += 1;
        }
        Ok(captured)
    }

    /// Checks every model in production (the scheduled event), each on its own: a model whose
    /// check fails for good is reported with the reason and the others are checked; a failure
    /// worth another try is returned once every model has had its turn. First, the stage
    /// changes a crash left unannounced are announced ([`tollgate_promote::Promote::announce_owed`]).
    pub async fn check_all(&self) -> Result<Vec<MonitorReport>, MonitorError> {
        let mut reports = Vec::new();
        let mut retry = None;
        if let Err(e) = self.promote.announce_owed(ANNOUNCE_AFTER).await {
            tracing::warn!("announcing the stage changes owed: {e}");
        }
        for latest in self.catalog.models().await? {
            match self.check(&latest.model).await {
                Ok(report) => reports.push(report),
                Err(e) if e.is_retryable() => {
                    tracing::warn!(model = latest.model, "monitoring failed, for now: {e}");
                    retry = Some(e);
                }
                Err(e) => {
                    let mut report = blank(&latest.model, self.clock.now());
                    report.notes.push(format!("could not be monitored: {e}"));
                    reports.push(report);
                }
            }
        }
        match retry {
            Some(e) => Err(e),
            None => Ok(reports),
        }
    }

    pub async fn check(&self, model: &str) -> Result<MonitorReport, MonitorError> {
        let now = self.clock.now();
        let mut report = blank(model, now);
        // What serving reads first: the production pointer, mended if a decision stopped
        // between its commit and its pointer.
        if self.promote.reconcile_production_pointer(model).await? {
            report.notes.push(format!(
                "models/{model}/production.json did not name the version in production: rewritten"
            ));
        }
        let state = self.catalog.model_state(model).await?.unwrap_or_default();
        let Some(in_production) = state.in_production() else {
            report.notes.push("no version is in production".into());
            return Ok(report);
        };
        let production = self
            .catalog
            .model_version(model, in_production.version)
            .await?
            .ok_or_else(|| {
                PortError::NotFound(format!("model {model} v{}", in_production.version))
            })?;
        report.version = Some(production.version);
        let Some(pipeline) = self.catalog.pipeline(model, None).await? else {
            report.notes.push("the model has no pipeline".into());
            return Ok(report);
        };
        let thresholds = pipeline.pipeline.monitor.clone();
        let read_error = |reason: String| MonitorError::Read {
            model: model.to_owned(),
            reason,
        };

        // The model's inputs name the columns of SageMaker's capture, whose CSV has no header.
        // (A model from another framework has no model file: its SageMaker capture cannot be
        // read, and its drift not measured, which the error below says.)
        let model_file = Artifact::parse(&production.artifact)?
            .model_file(self.blobs.as_ref(), &std::env::temp_dir())
            .await;
        let (features, numeric) = match &model_file {
            Ok(file) => {
                let path = file.path.clone();
                tokio::task::spawn_blocking(move || {
                    Model::load(&path).map(|m| {
                        let numeric = m
                            .preprocessing()
                            .features
                            .iter()
                            .filter(|f| {
                                matches!(f.encoding, tollgate_trainer::Encoding::Numeric { .. })
                            })
                            .map(|f| f.name.clone())
                            .collect::<Vec<_>>();
                        (m.features().map(str::to_owned).collect::<Vec<_>>(), numeric)
                    })
                })
                .await
                .map_err(|e| read_error(format!("a task failed: {e}")))?
                .map_err(|e| read_error(e.to_string()))?
            }
            Err(_) => (Vec::new(), Vec::new()),
        };
        // What the drift is measured on, each of one type in every file: the numeric features
        // as floats, and the predictions (labels as text). A file's own guess at a column's type
        // (a whole number read as an integer) then never keeps it apart from the others.
        let prediction = match production.task {
            Task::Classification => DataType::String,
            _ => DataType::Float64,
        };
        let kinds: Vec<(String, DataType)> = numeric
            .into_iter()
            .map(|name| (name, DataType::Float64))
            .chain([("prediction".to_owned(), prediction)])
            .collect();
        let captured = self
            .read_captured(model, &features, &kinds, &thresholds, now, &mut report)
            .await?;
        let Some(captured) = captured else {
            report
                .notes
                .push(format!("nothing captured under capture/{model}/ to judge"));
            return Ok(report);
        };
        report.captured_rows = captured.height() as u64;
        if report.captured_rows < thresholds.min_rows {
            report.notes.push(format!(
                "{} rows captured, fewer than the {} drift is judged on",
                report.captured_rows, thresholds.min_rows
            ));
        } else {
            let split = &production.split;
            let train = self
                .blobs
                .fetch(&split.train.bucket, &split.train.key)
                .await?;
            let test = self
                .blobs
                .fetch(&split.test.bucket, &split.test.key)
                .await?;
            let model_file = model_file?;
            let (p, t) = (production.clone(), thresholds.clone());
            let paths = (
                train.path.clone(),
                test.path.clone(),
                model_file.path.clone(),
            );
            report.drift = tokio::task::spawn_blocking(move || {
                measure(&p, &t, &paths.0, &paths.1, &paths.2, &captured)
            })
            .await
            .map_err(|e| read_error(format!("a drift task failed: {e}")))?
            .map_err(read_error)?;
            report.drifted = report.drift.iter().any(|d| d.drifted);
        }

        let key = BlobKey::parse(&format!(
            "monitoring/{model}/{}.json",
            now.strftime("%Y%m%dT%H%M%S%.fZ")
        ))
        .map_err(|e| read_error(e.to_string()))?;
        report.report = Some(format!("s3://{}/{key}", self.data_bucket));
        if report.drifted && thresholds.retrain {
            let since = now
                .checked_sub(SignedDuration::from_secs(
                    thresholds.cooldown.seconds() as i64
                ))
                .unwrap_or(now);
            let runs = self.catalog.runs(Some(model)).await?;
            let recent = runs
                .iter()
                .find(|r| matches!(r.trigger, Trigger::Monitor { .. }) && r.created_at >= since);
            match recent {
                Some(r) => report.notes.push(format!(
                    "drift past the thresholds; retraining run {} started at {}, within the cooldown of {}",
                    r.id, r.created_at, thresholds.cooldown
                )),
                None => {
                    let dataset = &production.dataset;
                    let latest = self
                        .catalog
                        .dataset(dataset)
                        .await?
                        .and_then(|d| d.latest_version)
                        .unwrap_or(0);
                    // A run on the newest version (the upload's own, say) learns from it
                    // already: a second would find the same model.
                    let learning = runs.iter().find(|r| {
                        r.dataset == *dataset
                            && r.dataset_version == latest
                            && !matches!(r.status, RunStatus::Failed { .. })
                    });
                    let learnt = match learning {
                        Some(r) if latest > production.dataset_version => {
                            Some(self.what_it_gave(model, r, dataset, latest).await?)
                        }
                        _ => None,
                    };
                    if let Some(Learnt::Pending(note)) = learnt {
                        report.notes.push(note);
                    } else if let Some(Learnt::Spent(note)) = learnt {
                        report.new_data_needed = true;
                        report.notes.push(note);
                    } else if latest > production.dataset_version {
                        let run = self.tune.retrain(model, key.as_str()).await?;
                        report.retraining_run = Some(run.id);
                    } else {
                        report.new_data_needed = true;
                        report.notes.push(format!(
                            "drift past the thresholds, but {dataset} has no accepted version newer \
                             than v{}, which v{} was trained on: retraining on the same rows would \
                             find the same model, so upload new data of {dataset} to retrain on",
                            production.dataset_version, production.version
                        ));
                    }
                }
            }
        }
        if let (true, Some(version), Some(at)) = (report.drifted, report.version, &report.report) {
            // People are told when a retraining starts, and otherwise once per cooldown for
            // the version in production: a drift that persists is not news at every check.
            // Told before the report and the trail record it, so that a crash in between tells
            // twice rather than never.
            let since = now
                .checked_sub(SignedDuration::from_secs(
                    thresholds.cooldown.seconds() as i64
                ))
                .unwrap_or(jiff::Timestamp::MIN);
            report.told =
                report.retraining_run.is_some() || !self.told_since(model, version, since).await?;
            if report.told {
                let event = Event::DriftDetected {
                    model: model.to_owned(),
                    version,
                    features: report
                        .drifted_features()
                        .into_iter()
                        .map(Into::into)
                        .collect(),
                    report: at.clone(),
                    outcome: report.retraining_outcome(),
                    retraining_run: report.retraining_run.clone(),
                };
                self.bus.publish(&event).await?;
            }
        }
        let body = serde_json::to_vec_pretty(&report).expect("a report always encodes");
        self.blobs
            .put(&self.data_bucket, &key, Bytes::from(body))
            .await?;
        if report.drifted {
            // Drift in production is a fact the trail keeps, with what it led to: the
            // retraining run, or the call for new data. Written after the report it points to.
            self.catalog
                .append_audit(drift_audit(&report, now, report.told))
                .await?;
        }
        Ok(report)
    }

    /// What `run`, on the newest version of `dataset`, gave: a candidate still to decide on
    /// (no retraining: that is the one to approve), or one decided against (new data is needed).
    async fn what_it_gave(
        &self,
        model: &str,
        run: &tollgate_domain::Run,
        dataset: &tollgate_domain::DatasetName,
        latest: u32,
    ) -> Result<Learnt, MonitorError> {
        let on = format!(
            "drift past the thresholds; run {} on {dataset} v{latest}",
            run.id
        );
        let Some(candidate) = &run.candidate else {
            return Ok(Learnt::Pending(format!(
                "{on}, the newest version, is still training: no retraining is started"
            )));
        };
        let version = self.catalog.model_version(model, candidate.version).await?;
        let stage = version.as_ref().map(|v| v.stage);
        let tested = version.as_ref().and_then(|v| v.test.as_ref());
        Ok(match (stage, tested) {
            (Some(ModelStage::Staging), _) => Learnt::Pending(format!(
                "{on}, the newest version, gave v{}, which waits for approval: that is the \
                 retrained model, so no retraining is started",
                candidate.version
            )),
            (Some(ModelStage::Candidate), None) => Learnt::Pending(format!(
                "{on}, the newest version, gave v{}, whose model tests are under way: no \
                 retraining is started",
                candidate.version
            )),
            (stage, _) => Learnt::Spent(format!(
                "{on}, the newest version, gave v{}, which is {}: retraining on the same rows \
                 would find the same model, so upload new data of {dataset} to retrain on",
                candidate.version,
                match stage {
                    Some(ModelStage::Candidate) => "a candidate that failed its model tests",
                    Some(s) => s.as_str(),
                    None => "gone from the catalog",
                }
            )),
        })
    }

    /// Whether people were told of the drift of `model` v`version` at or after `since`: the
    /// reports under `monitoring/<model>/` written since then say (the newest first).
    async fn told_since(
        &self,
        model: &str,
        version: u32,
        since: jiff::Timestamp,
    ) -> Result<bool, PortError> {
        let mut recent = self
            .blobs
            .list(&self.data_bucket, &format!("monitoring/{model}/"))
            .await?;
        recent.retain(|o| o.last_modified.is_none_or(|t| t >= since));
        recent.sort_by(|a, b| b.key.as_str().cmp(a.key.as_str()));
        for object in recent {
            let Ok(bytes) = self.blobs.get(&self.data_bucket, &object.key).await else {
                continue;
            };
            let Ok(earlier) = serde_json::from_slice::<MonitorReport>(&bytes) else {
                continue;
            };
            if earlier.at >= since && earlier.version == Some(version) && earlier.told {
                return Ok(true);
            }
        }
        Ok(false)
    }
}
