//! Tollgate's use cases (apply a contract or a pipeline, request a run, decide a promotion,
//! hand out an upload URL) and the queries behind every read, on the ports alone. The HTTP API
//! and the CLI call these and render what they return (`tollgate-api-types` values); neither
//! holds a rule of its own.

mod error;
mod lineage;
mod queries;

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tollgate_api_types::{Applied, Decided, RunAccepted, UploadTicket};
pub use tollgate_domain::ports::Ports;
use tollgate_domain::ports::{ModelRegistry, StoredContract};
use tollgate_domain::promotion::Request;
use tollgate_domain::training::RunRequest;
use tollgate_domain::{
    AuditEvent, BlobKey, ContentHash, Contract, DatasetName, Pipeline, PortError, StoredPipeline,
    UploadReceipt, UserId,
};
use tollgate_promote::{Outcome, Promote};

pub use error::AppError;
pub use queries::{AuditFilter, RunFilter, every};

/// How long an upload URL is good for.
pub const UPLOAD_URL_VALID_FOR: Duration = Duration::from_secs(15 * 60);

/// How many times a write that lost a race is decided again on the new state.
const ATTEMPTS: usize = 8;

/// The use cases and queries of one environment.
#[derive(Debug, Clone)]
pub struct App {
    ports: Ports,
    registry: Option<Arc<dyn ModelRegistry>>,
    min_approvals: u32,
}

impl App {
    pub fn new(ports: Ports) -> Self {
        Self {
            ports,
            registry: None,
            min_approvals: 1,
        }
    }

    /// Production needs at least `approvals` approvals, whatever a pipeline says: the floor of
    /// a deployment (`TOLLGATE_MIN_APPROVALS` on the api function; 2 in prod).
    pub fn with_min_approvals(mut self, approvals: u32) -> Self {
        self.min_approvals = approvals.max(1);
        self
    }

    /// Mirrors every stage change into `registry` (the SageMaker Model Registry) as well.
    pub fn with_registry(mut self, registry: Arc<dyn ModelRegistry>) -> Self {
        self.registry = Some(registry);
        self
    }

    pub fn ports(&self) -> &Ports {
        &self.ports
    }

    /// The promote handler on these ports (with the registry, when there is one).
    pub fn promote(&self) -> Promote {
        let promote = Promote::new(&self.ports).with_min_approvals(self.min_approvals);
        match &self.registry {
            Some(registry) => promote.with_registry(registry.clone()),
            None => promote,
        }
    }

    /// Makes `text` the dataset's contract in force (unless it already is), with its audit
    /// event and a copy beside the data (`contracts/<dataset>/v<N>.toml`). `source` says where
    /// the text came from (a file's path, `the API`).
    pub async fn apply_contract(
        &self,
        text: &str,
        source: &str,
        actor: &UserId,
    ) -> Result<Applied, AppError> {
        let contract = Contract::from_toml(text).map_err(|e| error::bad_document("body", e))?;
        let dataset = contract.dataset.clone();
        for _ in 0..ATTEMPTS {
            let current = self.ports.catalog.contract(&dataset, None).await?;
            if let Some(c) = current.as_ref().filter(|c| c.contract == contract) {
                return Ok(Applied {
                    name: dataset.to_string(),
                    version: c.version,
                    changed: false,
                });
            }
            let now = self.ports.clock.now();
            let expected = current.as_ref().map(|c| c.version);
            let audit = AuditEvent::new(
                now,
                actor.clone(),
                "contract.applied",
                format!("contract/{dataset}"),
            )
            .details(serde_json::json!({ "source": source }));
            let audit = match expected {
                Some(v) => audit.from(format!("v{v}")),
                None => audit,
            };
            let stored = StoredContract {
                version: 0,
                contract: contract.clone(),
                created_by: actor.clone(),
                created_at: now,
                origin: format!("applied by {actor} from {source}"),
            };
            match self
                .ports
                .catalog
                .put_contract(stored, expected, audit)
                .await
            {
                Ok(version) => {
                    let key = key(&format!("contracts/{dataset}/v{version}.toml"))?;
                    self.ports
                        .blobs
                        .put(
                            &self.ports.data_bucket,
                            &key,
                            contract.to_toml().into_bytes().into(),
                        )
                        .await?;
                    return Ok(Applied {
                        name: dataset.to_string(),
                        version,
                        changed: true,
                    });
                }
                Err(PortError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Conflict(format!(
            "the contract of {dataset} kept changing while applying it; try again"
        )))
    }

    /// Stores `text` as the pipeline's next version, unless it is the version in force.
    pub async fn apply_pipeline(
        &self,
        text: &str,
        source: &str,
        actor: &UserId,
    ) -> Result<(StoredPipeline, bool), AppError> {
        let pipeline = Pipeline::from_toml(text).map_err(|e| error::bad_document("body", e))?;
        let hash = ContentHash::parse(&hex::encode(Sha256::digest(text.as_bytes())))
            .map_err(|e| AppError::Internal(e.to_string()))?;
        for _ in 0..ATTEMPTS {
            let current = self.ports.catalog.pipeline(&pipeline.name, None).await?;
            if let Some(c) = current.as_ref().filter(|c| c.hash == hash) {
                return Ok((c.clone(), false));
            }
            let now = self.ports.clock.now();
            let expected = current.as_ref().map(|c| c.version);
            let audit = AuditEvent::new(
                now,
                actor.clone(),
                "pipeline.applied",
                format!("pipeline/{}", pipeline.name),
            )
            .details(serde_json::json!({ "file": source, "hash": hash }));
            let audit = match expected {
                Some(v) => audit.from(format!("v{v}")),
                None => audit,
            };
            let stored = StoredPipeline {
                version: 0,
                pipeline: pipeline.clone(),
                text: text.to_owned(),
                hash: hash.clone(),
                applied_by: actor.clone(),
                applied_at: now,
            };
            match self
                .ports
                .catalog
                .put_pipeline(stored, expected, audit)
                .await
            {
                Ok(_) => {
                    let stored = self
                        .ports
                        .catalog
                        .pipeline(&pipeline.name, None)
                        .await?
                        .ok_or_else(|| {
                            AppError::Internal(format!("pipeline {} vanished", pipeline.name))
                        })?;
                    return Ok((stored, true));
                }
                Err(PortError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Conflict(format!(
            "pipeline {} kept changing while applying it; try again",
            pipeline.name
        )))
    }

    /// Asks for a run of `pipeline` on `dataset_version` (the latest accepted when `None`):
    /// checked and recorded here ([`App::record_run_request`]), started by the tune step when
    /// the event arrives. `request_id`, when the caller gives one, makes the request safe to
    /// repeat: the same id asks for the same run, however often it is sent.
    pub async fn request_run(
        &self,
        pipeline: &str,
        dataset_version: Option<u32>,
        request_id: Option<&str>,
        actor: &UserId,
    ) -> Result<RunAccepted, AppError> {
        let asked = self
            .record_run_request(pipeline, dataset_version, request_id, actor)
            .await?;
        // Published after the record (which the tune step believes, not the event): a crash
        // between the two is mended by sending the same request again.
        self.ports.bus.publish(&asked.event()).await?;
        Ok(RunAccepted {
            pipeline: asked.pipeline,
            request_id: asked.request_id,
        })
    }

    /// Checks a request for a run and records it in the audit trail, where the tune step looks
    /// for it before it starts a requested run (and takes its requester from): the request to
    /// hand the tune step, by event or directly. The same request recorded again is recorded
    /// once; an id another request holds is refused.
    pub async fn record_run_request(
        &self,
        pipeline: &str,
        dataset_version: Option<u32>,
        request_id: Option<&str>,
        actor: &UserId,
    ) -> Result<RunRequest, AppError> {
        if let Some(id) = request_id
            && (id.is_empty()
                || id.len() > 64
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        {
            return Err(AppError::invalid(
                "request_id",
                format!("{id:?} is not a request id: 1 to 64 letters, digits, '-', '_' or '.'"),
            ));
        }
        let stored = self
            .ports
            .catalog
            .pipeline(pipeline, None)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("there is no pipeline {pipeline:?}")))?;
        let dataset = &stored.pipeline.dataset;
        match dataset_version {
            Some(v) => {
                if self.ports.catalog.version(dataset, v).await?.is_none() {
                    return Err(AppError::invalid(
                        "dataset_version",
                        format!("dataset {dataset} has no accepted version {v}"),
                    ));
                }
            }
            None => {
                let latest = self
                    .ports
                    .catalog
                    .dataset(dataset)
                    .await?
                    .and_then(|d| d.latest_version);
                if latest.is_none() {
                    return Err(AppError::Refused(format!(
                        "dataset {dataset} has no accepted version to train on: upload one first"
                    )));
                }
            }
        }
        let asked = RunRequest {
            request_id: request_id.map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned),
            pipeline: pipeline.to_owned(),
            dataset_version,
            requested_by: actor.clone(),
        };
        let subject = RunRequest::subject(&asked.request_id);
        let earlier = self.ports.catalog.audit(Some(&subject)).await?;
        match RunRequest::recorded(&asked.request_id, &earlier) {
            Some(first) if first == asked => {}
            Some(first) => {
                return Err(AppError::Refused(format!(
                    "request id {:?} is taken: {} asked for a run of {} with it; send another id \
                     for another request",
                    first.request_id, first.requested_by, first.pipeline
                )));
            }
            None => {
                let now = self.ports.clock.now();
                self.ports.catalog.append_audit(asked.record(now)).await?;
            }
        }
        Ok(asked)
    }

    /// A person's request about a model, decided by the promotion rules.
    pub async fn decide(
        &self,
        model: &str,
        request: &Request,
        actor: &UserId,
    ) -> Result<Decided, AppError> {
        match self.promote().request(model, request, actor).await? {
            Outcome::Done(changes) => Ok(Decided {
                model: model.to_owned(),
                changes,
                repeated: false,
            }),
            Outcome::Repeated(changes) => Ok(Decided {
                model: model.to_owned(),
                changes,
                repeated: true,
            }),
            Outcome::Refused(refusal) => Err(refusal.into()),
        }
    }

    /// A URL for `by` to PUT a file of `dataset` to: `incoming/<dataset>/<file>`, where uploads
    /// are ingested from, as uploaded by them.
    pub async fn upload_url(
        &self,
        dataset: &str,
        file: &str,
        by: &UserId,
    ) -> Result<UploadTicket, AppError> {
        let key = upload_key(dataset, file)?;
        let put = self
            .ports
            .blobs
            .presign_put(&self.ports.data_bucket, &key, UPLOAD_URL_VALID_FOR, by)
            .await?;
        Ok(UploadTicket {
            method: "PUT".into(),
            url: put.url,
            headers: put.headers,
            key: key.to_string(),
            expires_at: self.expiry(),
        })
    }

    /// Records that `by` put the bytes of `upload_key` (`<bucket>/<key>#<etag>`), through a URL
    /// made for them: see [`UploadReceipt`].
    pub async fn received_upload(&self, upload_key: &str, by: &UserId) -> Result<(), AppError> {
        let receipt = UploadReceipt {
            upload_key: upload_key.to_owned(),
            uploaded_by: by.clone(),
        };
        let now = self.ports.clock.now();
        Ok(self.ports.catalog.append_audit(receipt.record(now)).await?)
    }

    /// Who put the bytes of `upload_key`, when a receipt says so.
    pub async fn uploader(&self, upload_key: &str) -> Result<Option<UserId>, AppError> {
        let events = self
            .ports
            .catalog
            .audit(Some(&UploadReceipt::subject(upload_key)))
            .await?;
        Ok(UploadReceipt::recorded(upload_key, &events))
    }

    /// When an upload URL made now stops working.
    pub fn expiry(&self) -> jiff::Timestamp {
        self.ports
            .clock
            .now()
            .checked_add(UPLOAD_URL_VALID_FOR)
            .expect("within the clock's range")
    }
}

/// `incoming/<dataset>/<file>`, the names checked: a dataset name, a file name without folders.
pub fn upload_key(dataset: &str, file: &str) -> Result<BlobKey, AppError> {
    let dataset =
        DatasetName::parse(dataset).map_err(|e| AppError::invalid("dataset", e.to_string()))?;
    if file.is_empty() || file.contains(['/', '\\']) || file.starts_with('.') {
        return Err(AppError::invalid(
            "file",
            format!("{file:?} is not a file name: no folders, not hidden, not empty"),
        ));
    }
    BlobKey::parse(&format!("incoming/{dataset}/{file}"))
        .map_err(|e| AppError::invalid("file", e.to_string()))
}

fn key(text: &str) -> Result<BlobKey, AppError> {
    BlobKey::parse(text).map_err(|e| AppError::Internal(e.to_string()))
}
