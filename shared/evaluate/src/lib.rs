//! The evaluate handler: the third gate of the flow. On `ModelCandidateRegistered` it loads the
//! candidate (and the model in production, if any) from the trainer's model files, predicts the
//! frozen test split the candidate's run recorded, judges the pipeline's `[gates]` on the
//! predictions (`tollgate-modeltest`), writes the report to `models/<name>/v<N>/test-report.json`,
//! records the verdict on the version, emits `ModelTested`, and moves a passing candidate to
//! staging when the pipeline's policy says `auto_staging`.
//!
//! Idempotent: a version whose verdict is recorded is not tested again; every catalog write is
//! conditional on the version's revision, and a lost race is decided again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use polars::prelude::*;
use tollgate_domain::pipeline::Pipeline;
use tollgate_domain::ports::{BlobStore, Catalog, Clock, EventBus, Ports};
use tollgate_domain::promotion::{self, TestVerdict};
use tollgate_domain::{
    AuditEvent, BlobKey, BucketName, Event, ModelVersion, ObjectRef, PortError, Task, UserId,
};
use tollgate_modeltest::{Column, Inputs, Scores, TestReport, Truth};
use tollgate_trainer::artifact::Artifact;
use tollgate_trainer::{Model, Predictions};

/// How many times a write is decided again when other writers keep winning.
const MAX_ATTEMPTS: u32 = 8;

#[derive(Debug, thiserror::Error)]
pub enum EvaluateError {
    /// The event cannot be handled, now or ever.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Port(#[from] PortError),
    #[error("model tests of {model} v{version}: {reason}")]
    Test {
        model: String,
        version: u32,
        reason: String,
    },
}

impl EvaluateError {
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Refused(_) | Self::Test { .. } => false,
            Self::Port(e) => e.is_worth_redelivery(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Evaluate {
    blobs: Arc<dyn BlobStore>,
    catalog: Arc<dyn Catalog>,
    bus: Arc<dyn EventBus>,
    clock: Arc<dyn Clock>,
    data_bucket: BucketName,
    /// Announces the staging transitions it writes, as every promotion is announced.
    promote: tollgate_promote::Promote,
}

fn scores(p: Predictions) -> Scores {
    match p {
        Predictions::Classes {
            classes,
            labels,
            probabilities,
        } => Scores::Classes {
            labels,
            classes,
            probabilities: probabilities.map(|p| p.outer_iter().map(|row| row.to_vec()).collect()),
        },
        Predictions::Values(v) => Scores::Values(v),
    }
}

/// The test split with `feature` moved by a value in [-delta, delta] per row, fixed by the row.
fn perturbed(frame: &DataFrame, feature: &str, delta: f64) -> Result<DataFrame, String> {
    let values = tollgate_trainer::numbers(
        frame
            .column(feature)
            .map_err(|_| format!("the test split has no column {feature:?}"))?,
        feature,
        "the test split",
    )
    .map_err(|e| e.to_string())?;
    let moved: Vec<Option<f64>> = values
        .iter()
        .enumerate()
        .map(|(row, v)| {
            // SplitMix64 of the row: a fixed, spread value in [0, 1).
            let mut z = (row as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            let u = ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64;
            v.map(|v| v + (2.0 * u - 1.0) * delta)
        })
        .collect();
    let mut out = frame.clone();
    out.with_column(polars::prelude::Column::new(feature.into(), moved))
        .map_err(|e| e.to_string())?;
    Ok(out)
}

/// A model as the tests can use it: the trainer's model file, or, for a model from another
/// framework (an image following the same contract), the test predictions its job wrote.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Model(PathBuf),
    /// `row,prediction[,p_<class>...]`, as the training contract writes
    /// `output/data/predictions/test.csv`.
    Predictions(PathBuf),
}

/// Reads a predictions file into scores, in row order.
fn read_predictions(path: &Path, task: Task) -> Result<Scores, String> {
    let frame = tollgate_trainer::read_table(path).map_err(|e| e.to_string())?;
    let within = "the predictions file";
    let column = |name: &str| {
        frame
            .column(name)
            .map_err(|_| format!("{}: no column {name:?}", path.display()))
    };
    let rows =
        tollgate_trainer::numbers(column("row")?, "row", within).map_err(|e| e.to_string())?;
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|a, b| {
        rows[*a]
            .unwrap_or(f64::MAX)
            .total_cmp(&rows[*b].unwrap_or(f64::MAX))
    });
    let prediction = column("prediction")?;
    Ok(match task {
        Task::Classification => {
            let labels = tollgate_trainer::texts(prediction, "prediction", within)
                .map_err(|e| e.to_string())?;
            let classes: Vec<String> = frame
                .get_column_names()
                .iter()
                .filter_map(|n| n.strip_prefix("p_").map(str::to_owned))
                .collect();
            let mut shares = Vec::new();
            for class in &classes {
                let name = format!("p_{class}");
                shares.push(
                    tollgate_trainer::numbers(column(&name)?, &name, within)
                        .map_err(|e| e.to_string())?,
                );
            }
            Scores::Classes {
                labels: order
                    .iter()
                    .map(|i| labels[*i].clone().unwrap_or_default())
                    .collect(),
                probabilities: (!classes.is_empty()).then(|| {
                    order
                        .iter()
                        .map(|i| shares.iter().map(|c| c[*i].unwrap_or(0.0)).collect())
                        .collect()
                }),
                classes,
            }
        }
        Task::Regression => {
            let values = tollgate_trainer::numbers(prediction, "prediction", within)
                .map_err(|e| e.to_string())?;
            Scores::Values(
                order
                    .iter()
                    .map(|i| values[*i].unwrap_or(f64::NAN))
                    .collect(),
            )
        }
    })
}

/// Runs the gates of `pipeline` for a candidate on the test split, in files on this machine.
pub fn run_tests(
    pipeline: &Pipeline,
    test_split: &Path,
    candidate: &Source,
    production: Option<&Source>,
) -> Result<TestReport, String> {
    let frame = tollgate_trainer::read_table(test_split).map_err(|e| e.to_string())?;
    // Rows without a target cannot be scored: they are left out of every check, and counted.
    let (frame, keep) = tollgate_trainer::with_target(&frame, &pipeline.target, "the test split")
        .map_err(|e| e.to_string())?;
    let without_target = keep.iter().filter(|k| !**k).count();
    let predict = |m: &Model, f: &DataFrame| m.predict(f).map(scores).map_err(|e| e.to_string());
    let score = |source: &Source, what: &str| -> Result<(Scores, Option<Model>), String> {
        match source {
            Source::Model(path) => {
                let model = Model::load(path).map_err(|e| format!("{what}: {e}"))?;
                Ok((predict(&model, &frame)?, Some(model)))
            }
            Source::Predictions(path) => Ok((
                only(
                    read_predictions(path, pipeline.task).map_err(|e| format!("{what}: {e}"))?,
                    &keep,
                ),
                None,
            )),
        }
    };
    let (candidate_scores, model) = score(candidate, "the candidate")?;
    let production_scores = match production {
        Some(source) => Some(score(source, "the production model")?.0),
        None => None,
    };
    let within = "the test split";
    let truth = match pipeline.task {
        Task::Classification => Truth::Classes(
            tollgate_trainer::labels(&frame, &pipeline.target, within)
                .map_err(|e| e.to_string())?,
        ),
        Task::Regression => Truth::Values(
            tollgate_trainer::values(&frame, &pipeline.target, within)
                .map_err(|e| e.to_string())?,
        ),
    };
    let gates = &pipeline.gates;
    let mut columns = BTreeMap::new();
    let wanted = gates
        .slices
        .iter()
        .map(|s| (s.column.as_str(), s.bins.is_some()))
        .chain(gates.fairness.iter().map(|f| (f.column.as_str(), false)));
    for (name, numeric) in wanted {
        let Ok(column) = frame.column(name) else {
            continue;
        };
        let read = if numeric {
            tollgate_trainer::numbers(column, name, within).map(Column::Number)
        } else {
            tollgate_trainer::texts(column, name, within).map(Column::Text)
        };
        columns.insert(name.to_owned(), read.map_err(|e| e.to_string())?);
    }
    // Invariance needs a model to predict the perturbed rows; without one its check has no value
    // (and fails, saying why).
    let mut moved = Vec::new();
    if let Some(model) = &model {
        for gate in &gates.invariances {
            moved.push(predict(
                model,
                &perturbed(&frame, &gate.feature, gate.delta)?,
            )?);
        }
    }
    let mut report = tollgate_modeltest::test(
        gates,
        &Inputs {
            truth: &truth,
            candidate: &candidate_scores,
            production: production_scores.as_ref(),
            primary_metric: pipeline.metric().as_str(),
            columns: &columns,
            perturbed: &moved,
        },
    )
    .map_err(|e| e.to_string())?;
    if without_target > 0 {
        report.rows_without_target = without_target as u64;
        report.notes.push(format!(
            "{without_target} of {} test rows have no {}: left out of every check",
            keep.len(),
            pipeline.target
        ));
    }
    Ok(report)
}

/// The scores of the rows where `keep` is true: a predictions file has a row for every test
/// row, the scored ones among them. A file shorter than the test split is left as it is, for the
/// length check to refuse.
fn only(scores: Scores, keep: &[bool]) -> Scores {
    let pick = |n: usize| (0..n).filter(|i| keep.get(*i).copied().unwrap_or(true));
    match scores {
        Scores::Classes {
            labels,
            classes,
            probabilities,
        } if labels.len() == keep.len() => Scores::Classes {
            labels: pick(labels.len()).map(|i| labels[i].clone()).collect(),
            probabilities: probabilities.map(|p| pick(p.len()).map(|i| p[i].clone()).collect()),
            classes,
        },
        Scores::Values(v) if v.len() == keep.len() => {
            Scores::Values(pick(v.len()).map(|i| v[i]).collect())
        }
        other => other,
    }
}

impl Evaluate {
    pub fn new(ports: &Ports) -> Self {
        Self {
            blobs: ports.blobs.clone(),
            catalog: ports.catalog.clone(),
            bus: ports.bus.clone(),
            clock: ports.clock.clone(),
            data_bucket: ports.data_bucket.clone(),
            promote: tollgate_promote::Promote::new(ports),
        }
    }

    /// Handles `ModelCandidateRegistered`; other events are ignored.
    pub async fn handle(&self, event: &Event) -> Result<Option<ModelVersion>, EvaluateError> {
        match event {
            Event::ModelCandidateRegistered { model, version, .. } => {
                self.evaluate(model, *version).await.map(Some)
            }
            _ => Ok(None),
        }
    }

    /// Tests a model version, records the verdict, and stages it if the policy says so.
    pub async fn evaluate(&self, model: &str, version: u32) -> Result<ModelVersion, EvaluateError> {
        let candidate = self
            .catalog
            .model_version(model, version)
            .await?
            .ok_or_else(|| EvaluateError::Refused(format!("no model {model} v{version}")))?;
        let stored = self
            .catalog
            .pipeline(model, Some(candidate.pipeline_version))
            .await?
            .ok_or_else(|| {
                EvaluateError::Refused(format!(
                    "pipeline {model} v{} is missing",
                    candidate.pipeline_version
                ))
            })?;
        if let (Some(verdict), Some(report)) = (&candidate.test, &candidate.test_report) {
            // Tested already: what follows the verdict may not have happened (the process that
            // recorded it can have stopped before publishing or staging). Both are safe to do
            // again: the event is announced at least once, and staging only moves a candidate.
            let passed = *verdict == TestVerdict::Passed;
            return self
                .after_verdict(model, version, passed, report.clone(), &stored.pipeline)
                .await;
        }
        let state = self.catalog.model_state(model).await?.unwrap_or_default();
        let production = match state.in_production().filter(|p| p.version != version) {
            Some(p) => self.catalog.model_version(model, p.version).await?,
            None => None,
        };
        // The trainer's model file, or else the test predictions the job wrote beside it.
        let work_dir = std::env::temp_dir();
        let fetch = |uri: String| {
            let work_dir = work_dir.clone();
            async move {
                let artifact =
                    Artifact::parse(&uri).map_err(|e| EvaluateError::Refused(e.to_string()))?;
                match artifact.model_file(self.blobs.as_ref(), &work_dir).await {
                    Ok(file) => Ok::<_, EvaluateError>((Source::Model(file.path.clone()), file)),
                    Err(PortError::NotFound(_)) => {
                        let file = artifact
                            .test_predictions(self.blobs.as_ref(), &work_dir)
                            .await?;
                        Ok((Source::Predictions(file.path.clone()), file))
                    }
                    Err(e) => Err(e.into()),
                }
            }
        };
        let test = self
            .blobs
            .fetch(&candidate.split.test.bucket, &candidate.split.test.key)
            .await?;
        let candidate_file = fetch(candidate.artifact.clone()).await?;
        let production_file = match &production {
            Some(p) => Some(fetch(p.artifact.clone()).await?),
            None => None,
        };
        let pipeline = stored.pipeline.clone();
        let test_path = test.path.clone();
        let candidate_source = candidate_file.0.clone();
        let production_source = production_file.as_ref().map(|f| f.0.clone());
        let report = tokio::task::spawn_blocking(move || {
            run_tests(
                &pipeline,
                &test_path,
                &candidate_source,
                production_source.as_ref(),
            )
        })
        .await
        .map_err(|e| EvaluateError::Refused(format!("a test task failed: {e}")))?
        .map_err(|reason| EvaluateError::Test {
            model: model.to_owned(),
            version,
            reason,
        })?;
        drop((test, candidate_file, production_file));

        let key = BlobKey::parse(&format!("models/{model}/v{version}/test-report.json"))
            .map_err(|e| EvaluateError::Refused(e.to_string()))?;
        let body = serde_json::to_vec_pretty(&report).expect("a report always encodes");
        self.blobs
            .put(&self.data_bucket, &key, Bytes::from(body))
            .await?;
        let location = ObjectRef::new(self.data_bucket.clone(), key);
        let verdict = if report.passed {
            TestVerdict::Passed
        } else {
            let failed: Vec<String> = report
                .checks
                .iter()
                .filter(|c| !c.passed)
                .map(|c| c.name.clone())
                .collect();
            TestVerdict::Failed {
                reason: format!("failed: {}", failed.join("; ")),
            }
        };
        let actor = UserId::parse("tollgate").expect("a valid user name");
        let mut revision = candidate.revision;
        for attempt in 1..=MAX_ATTEMPTS {
            let audit = AuditEvent::new(
                self.clock.now(),
                actor.clone(),
                "model.tested",
                promotion::subject(model, version),
            )
            .to(if report.passed { "passed" } else { "failed" })
            .details(serde_json::json!({
                "report": location.to_string(),
                "checks": report.checks.len(),
                "failed": report.checks.iter().filter(|c| !c.passed).count(),
                "production": production.as_ref().map(|p| p.version),
            }));
            match self
                .catalog
                .record_test(
                    model,
                    version,
                    revision,
                    verdict.clone(),
                    location.clone(),
                    audit,
                )
                .await
            {
                Ok(()) => break,
                Err(PortError::Conflict(_)) if attempt < MAX_ATTEMPTS => {
                    let now = self.catalog.model_version(model, version).await?;
                    match now {
                        Some(v) if v.test.is_some() => return Ok(v),
                        Some(v) => revision = v.revision,
                        None => {
                            return Err(EvaluateError::Refused(format!(
                                "model {model} v{version} vanished"
                            )));
                        }
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        self.after_verdict(model, version, report.passed, location, &stored.pipeline)
            .await
    }

    /// What follows a recorded verdict: `ModelTested`, then staging a passing candidate.
    async fn after_verdict(
        &self,
        model: &str,
        version: u32,
        passed: bool,
        report: ObjectRef,
        pipeline: &Pipeline,
    ) -> Result<ModelVersion, EvaluateError> {
        let actor = UserId::parse("tollgate").expect("a valid user name");
        self.bus
            .publish(&Event::ModelTested {
                model: model.to_owned(),
                version,
                passed,
                report,
            })
            .await?;
        self.stage(model, version, pipeline, &actor).await?;
        self.catalog
            .model_version(model, version)
            .await?
            .ok_or_else(|| EvaluateError::Refused(format!("model {model} v{version} vanished")))
    }

    /// Moves a passing candidate to staging when the policy says `auto_staging`.
    async fn stage(
        &self,
        model: &str,
        version: u32,
        pipeline: &Pipeline,
        actor: &UserId,
    ) -> Result<(), EvaluateError> {
        for _ in 0..MAX_ATTEMPTS {
            let Some(state) = self.catalog.model_state(model).await? else {
                return Ok(());
            };
            let Some(transition) = promotion::auto_stage(
                &state,
                &pipeline.promotion,
                version,
                actor,
                self.clock.now(),
            ) else {
                return Ok(());
            };
            match self.catalog.apply_transition(&transition).await {
                Ok(()) => {}
                Err(PortError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
            self.promote
                .announce(model, transition.history_len as u64, &transition.history)
                .await
                .map_err(|e| match e {
                    tollgate_promote::PromoteError::Port(e) => EvaluateError::Port(e),
                    other => EvaluateError::Port(PortError::Conflict(other.to_string())),
                })?;
            return Ok(());
        }
        Err(EvaluateError::Port(PortError::Conflict(format!(
            "staging {model} v{version}: other writes kept winning"
        ))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_from_another_framework_is_tested_from_its_predictions_file() {
        let dir = std::env::temp_dir().join(format!("tollgate-evaluate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let test = dir.join("test.csv");
        std::fs::write(&test, "x,y\n1,a\n2,b\n3,a\n4,b\n").unwrap();
        // Rows out of order, as a framework may write them.
        let predictions = dir.join("predictions.csv");
        std::fs::write(
            &predictions,
            "row,prediction,p_a,p_b\n3,a,0.4,0.6\n0,a,0.9,0.1\n1,b,0.2,0.8\n2,a,0.7,0.3\n",
        )
        .unwrap();
        let pipeline = Pipeline::from_toml(
            "name = \"p\"\ndataset = \"d\"\ntarget = \"y\"\ntask = \"classification\"\n\
             model = \"logistic_regression\"\n[search]\nstrategy = \"random\"\n[search.space]\n\
             [budget]\nmax_trials = 1\n[gates.thresholds]\naccuracy = 0.7\n\
             [[gates.invariance]]\nfeature = \"x\"\ndelta = 0.1\nmax_flip_rate = 0.5\n",
        )
        .unwrap();
        let report = run_tests(&pipeline, &test, &Source::Predictions(predictions), None).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        // In row order the predictions are a, b, a, a against a, b, a, b.
        assert_eq!(report.metrics["accuracy"], 0.75, "{report:#?}");
        assert!(report.metrics.contains_key("roc_auc"));
        assert!(report.checks[0].passed);
        // Invariance needs a model to predict perturbed rows: no value, so it fails, saying why.
        assert_eq!(report.checks[1].value, None);
        assert!(!report.passed);
    }
}
