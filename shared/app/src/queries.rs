//! The reads: what the API's GET routes and the CLI's listings show.

use tollgate_api_types::{
    ApprovalStatus, ApprovalView, DatasetSummary, ModelSummary, ModelVersionDetail, MonitorReport,
    ProductionSide, RunSummary, VersionDetail, Waiting,
};
use tollgate_domain::ports::{Page, PageRequest, StoredContract};
use tollgate_domain::promotion::{self, Decision, ModelState, Request};
use tollgate_domain::{
    AuditEvent, BlobKey, Dataset, DatasetName, DatasetVersion, ModelStage, ModelVersion, ObjectRef,
    PortError, Run, StoredPipeline, Trigger, UploadRecord, UploadStatus, UserId, ValidationReport,
};

use crate::{App, AppError};

/// Which runs a list shows; every field narrows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFilter {
    pub pipeline: Option<String>,
    /// `running`, `succeeded`, `failed`, ...
    pub status: Option<String>,
    /// `request`, `upload`, `schedule`, `monitor`.
    pub trigger: Option<String>,
    /// The run a request started (`POST /runs` answers its id).
    pub request_id: Option<String>,
}

impl RunFilter {
    fn admits(&self, run: &Run) -> bool {
        self.status
            .as_deref()
            .is_none_or(|s| s == run.status.as_str())
            && self
                .trigger
                .as_deref()
                .is_none_or(|t| t == run.trigger.kind())
            && self.request_id.as_deref().is_none_or(
                |id| matches!(&run.trigger, Trigger::Request { request_id } if request_id == id),
            )
    }
}

/// Which audit events a list shows; every field narrows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// A subject, or its start (`model/churn` takes every version's events).
    pub subject: Option<String>,
    pub actor: Option<String>,
    /// An action (`model.approved`), or its start (`model.`).
    pub action: Option<String>,
    pub since: Option<jiff::Timestamp>,
    pub until: Option<jiff::Timestamp>,
}

impl AuditFilter {
    fn admits(&self, event: &AuditEvent) -> bool {
        self.actor
            .as_deref()
            .is_none_or(|a| a == event.actor.as_str())
            && self
                .action
                .as_deref()
                .is_none_or(|a| event.action.starts_with(a))
            && self.since.is_none_or(|t| event.at >= t)
            && self.until.is_none_or(|t| event.at < t)
    }
}

/// A run as a list shows it.
pub fn summary(run: &Run) -> RunSummary {
    RunSummary {
        id: run.id.clone(),
        pipeline: run.pipeline.pipeline.name.clone(),
        dataset: run.dataset.to_string(),
        dataset_version: run.dataset_version,
        status: run.status.clone(),
        trigger: run.trigger.kind().to_owned(),
        requested_by: run.requested_by.to_string(),
        created_at: run.created_at,
        updated_at: run.updated_at,
        trials: run.trials.len(),
        trials_ended: run.trials.iter().filter(|t| !t.status.is_active()).count(),
        max_trials: run.max_trials,
        spend_usd: run.spend(),
        candidate: run.candidate.clone(),
    }
}

/// Reads pages of the port until `size` items pass `admits` or the list ends: filters narrow a
/// list without ever holding all of it. Each read asks for only as many items as are still
/// missing, so a page is never cut short and its `next` is where the following page starts.
async fn filtered<T, F, Fut>(
    page: &PageRequest,
    admits: impl Fn(&T) -> bool,
    mut read: F,
) -> Result<Page<T>, AppError>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>, PortError>>,
{
    let size = page.size();
    let mut cursor = page.cursor.clone();
    let mut items = Vec::new();
    loop {
        let missing = (size - items.len()) as u32;
        let got = read(PageRequest {
            limit: missing,
            cursor,
        })
        .await?;
        items.extend(got.items.into_iter().filter(&admits));
        match got.next {
            Some(next) if items.len() < size => cursor = Some(next),
            next => return Ok(Page { items, next }),
        }
    }
}

/// Every item of a paged query, read page after page: for the CLI's listings, which print
/// whole lists.
pub async fn every<T, F, Fut>(mut read: F) -> Result<Vec<T>, AppError>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>, AppError>>,
{
    let mut items = Vec::new();
    let mut page = PageRequest::first(tollgate_domain::ports::MAX_PAGE);
    loop {
        let got = read(page.clone()).await?;
        items.extend(got.items);
        match got.next {
            Some(next) => page.cursor = Some(next),
            None => return Ok(items),
        }
    }
}

impl App {
    /// A page of datasets, by name, each with what its uploads came to and its latest version.
    pub async fn datasets(&self, page: &PageRequest) -> Result<Page<DatasetSummary>, AppError> {
        let datasets = self.ports.catalog.datasets_page(page).await?;
        let mut items = Vec::with_capacity(datasets.items.len());
        for dataset in datasets.items {
            items.push(self.dataset_summary(dataset).await?);
        }
        Ok(Page {
            items,
            next: datasets.next,
        })
    }

    async fn dataset_summary(&self, dataset: Dataset) -> Result<DatasetSummary, AppError> {
        let catalog = &self.ports.catalog;
        let uploads = catalog.uploads(&dataset.name).await?;
        let count = |s: UploadStatus| uploads.iter().filter(|u| u.status == s).count();
        let latest = match dataset.latest_version {
            Some(v) => catalog.version(&dataset.name, v).await?,
            None => None,
        };
        Ok(DatasetSummary {
            accepted: count(UploadStatus::Accepted),
            rejected: count(UploadStatus::Rejected),
            duplicates: count(UploadStatus::Duplicate),
            latest,
            last_upload_at: uploads.last().map(|u| u.created_at),
            dataset,
        })
    }

    pub async fn dataset(&self, name: &str) -> Result<Dataset, AppError> {
        let name = dataset_name(name)?;
        self.ports
            .catalog
            .dataset(&name)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("there is no dataset {name}")))
    }

    /// A page of a dataset's accepted versions, oldest first.
    pub async fn versions(
        &self,
        name: &str,
        page: &PageRequest,
    ) -> Result<Page<DatasetVersion>, AppError> {
        let dataset = self.dataset(name).await?;
        Ok(self
            .ports
            .catalog
            .versions_page(&dataset.name, page)
            .await?)
    }

    /// A page of a dataset's uploads (accepted, duplicate, rejected), oldest first.
    pub async fn uploads(
        &self,
        name: &str,
        page: &PageRequest,
    ) -> Result<Page<UploadRecord>, AppError> {
        let dataset = self.dataset(name).await?;
        Ok(self.ports.catalog.uploads_page(&dataset.name, page).await?)
    }

    /// A version with its validation report (findings, profile, drift).
    pub async fn version(&self, name: &str, version: u32) -> Result<VersionDetail, AppError> {
        let name = dataset_name(name)?;
        let found = self
            .ports
            .catalog
            .version(&name, version)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("{name} has no version {version}")))?;
        let report: Option<ValidationReport> = self.document(&found.report_key()).await?;
        Ok(VersionDetail {
            version: found,
            report,
        })
    }

    /// The contract in force, or one of its versions.
    pub async fn contract(
        &self,
        name: &str,
        version: Option<u32>,
    ) -> Result<StoredContract, AppError> {
        let name = dataset_name(name)?;
        self.ports
            .catalog
            .contract(&name, version)
            .await?
            .ok_or_else(|| {
                AppError::NotFound(match version {
                    Some(v) => format!("{name} has no contract version {v}"),
                    None => format!("{name} has no contract yet"),
                })
            })
    }

    /// A page of pipelines (the latest version of each), by name.
    pub async fn pipelines(&self, page: &PageRequest) -> Result<Page<StoredPipeline>, AppError> {
        Ok(self.ports.catalog.pipelines_page(page).await?)
    }

    pub async fn pipeline(
        &self,
        name: &str,
        version: Option<u32>,
    ) -> Result<StoredPipeline, AppError> {
        self.ports
            .catalog
            .pipeline(name, version)
            .await?
            .ok_or_else(|| {
                AppError::NotFound(match version {
                    Some(v) => format!("pipeline {name} has no version {v}"),
                    None => format!("there is no pipeline {name:?}"),
                })
            })
    }

    /// A page of runs, newest first.
    pub async fn runs(
        &self,
        filter: &RunFilter,
        page: &PageRequest,
    ) -> Result<Page<RunSummary>, AppError> {
        let catalog = &self.ports.catalog;
        let pipeline = filter.pipeline.as_deref();
        let runs = filtered(
            page,
            |run| filter.admits(run),
            |p| async move { catalog.runs_page(pipeline, &p).await },
        )
        .await?;
        Ok(runs.map(|run| summary(&run)))
    }

    /// A run with its trials.
    pub async fn run(&self, id: &str) -> Result<Run, AppError> {
        self.ports
            .catalog
            .run(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("there is no run {id:?}")))
    }

    /// A page of models, by name: each one's latest version, and what is in staging and in
    /// production.
    pub async fn models(&self, page: &PageRequest) -> Result<Page<ModelSummary>, AppError> {
        let latest = self.ports.catalog.models_page(page).await?;
        let mut items = Vec::with_capacity(latest.items.len());
        for version in latest.items {
            let state = self
                .ports
                .catalog
                .model_state(&version.model)
                .await?
                .unwrap_or_default();
            items.push(ModelSummary {
                production_version: state.in_production().map(|p| p.version),
                staging_versions: state
                    .versions
                    .iter()
                    .filter(|v| v.stage == ModelStage::Staging)
                    .map(|v| v.version)
                    .collect(),
                latest: version,
            });
        }
        Ok(Page {
            items,
            next: latest.next,
        })
    }

    /// A page of a model's versions, oldest first.
    pub async fn model_versions(
        &self,
        model: &str,
        page: &PageRequest,
    ) -> Result<Page<ModelVersion>, AppError> {
        let versions = self.ports.catalog.model_versions_page(model, page).await?;
        if versions.items.is_empty() && page.cursor.is_none() {
            return Err(AppError::NotFound(format!("there is no model {model:?}")));
        }
        Ok(versions)
    }

    /// A version of a model; its latest when `version` is `None`.
    pub async fn find_model_version(
        &self,
        model: &str,
        version: Option<u32>,
    ) -> Result<ModelVersion, AppError> {
        let found = match version {
            Some(v) => self.ports.catalog.model_version(model, v).await?,
            None => self.ports.catalog.model_versions(model).await?.pop(),
        };
        found.ok_or_else(|| {
            AppError::NotFound(match version {
                Some(v) => format!("model {model} has no version {v}"),
                None => format!("there is no model {model:?}"),
            })
        })
    }

    /// A page of a model's monitoring reports, oldest first.
    pub async fn monitoring(
        &self,
        model: &str,
        page: &PageRequest,
    ) -> Result<Page<MonitorReport>, AppError> {
        let prefix = format!("monitoring/{model}/");
        let listed = self
            .ports
            .blobs
            .list_page(&self.ports.data_bucket, &prefix, page)
            .await?;
        let mut items = Vec::with_capacity(listed.items.len());
        for object in &listed.items {
            if let Some(report) = self.document(object.key.as_str()).await? {
                items.push(report);
            }
        }
        Ok(Page {
            items,
            next: listed.next,
        })
    }

    /// The evidence on one version: its test report beside production's, its approvals (and
    /// whether `caller` may add one), and the model's stage history.
    pub async fn model_version(
        &self,
        model: &str,
        version: u32,
        caller: &UserId,
    ) -> Result<ModelVersionDetail, AppError> {
        let state = self
            .ports
            .catalog
            .model_state(model)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("there is no model {model:?}")))?;
        let found = self
            .ports
            .catalog
            .model_version(model, version)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("model {model} has no version {version}")))?;
        let test_report = self.report_of(found.test_report.as_ref()).await?;
        let production = match state.in_production().filter(|p| p.version != version) {
            Some(p) => {
                let prod = self.ports.catalog.model_version(model, p.version).await?;
                Some(ProductionSide {
                    version: p.version,
                    test_report: self
                        .report_of(prod.as_ref().and_then(|m| m.test_report.as_ref()))
                        .await?,
                })
            }
            None => None,
        };
        let approval = self.approval_status(&state, &found, caller).await?;
        Ok(ModelVersionDetail {
            version: found,
            test_report,
            production,
            approval,
            history: state.history,
        })
    }

    /// Versions in staging, waiting for approvals, by model and version.
    pub async fn approvals(&self, caller: &UserId) -> Result<Vec<Waiting>, AppError> {
        let mut waiting = Vec::new();
        for latest in self.ports.catalog.models().await? {
            let Some(state) = self.ports.catalog.model_state(&latest.model).await? else {
                continue;
            };
            for v in state
                .versions
                .iter()
                .filter(|v| v.stage == ModelStage::Staging)
            {
                let Some(found) = self
                    .ports
                    .catalog
                    .model_version(&latest.model, v.version)
                    .await?
                else {
                    continue;
                };
                let approval = self.approval_status(&state, &found, caller).await?;
                waiting.push(Waiting {
                    model: found.model.clone(),
                    version: found.version,
                    author: found.author.to_string(),
                    created_at: found.created_at,
                    approval,
                });
            }
        }
        Ok(waiting)
    }

    /// A page of the audit trail, newest first.
    pub async fn audit(
        &self,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> Result<Page<AuditEvent>, AppError> {
        let catalog = &self.ports.catalog;
        let subject = filter.subject.as_deref();
        filtered(
            page,
            |event| filter.admits(event),
            |p| async move { catalog.audit_page(subject, &p).await },
        )
        .await
    }

    /// How many approvals the version has and needs, and the caller's standing: the promotion
    /// rules themselves are asked whether the caller's approval would be taken.
    async fn approval_status(
        &self,
        state: &ModelState,
        version: &ModelVersion,
        caller: &UserId,
    ) -> Result<ApprovalStatus, AppError> {
        let policy = self
            .ports
            .catalog
            .pipeline(&version.model, None)
            .await?
            .map(|p| p.pipeline.promotion)
            .unwrap_or_default()
            .at_least(self.min_approvals);
        let now = self.ports.clock.now();
        let valid_for = policy.approval_valid_for.0;
        let approvals: Vec<ApprovalView> = version
            .approvals
            .iter()
            .map(|a| ApprovalView {
                approver: a.approver.to_string(),
                at: a.at,
                valid_until: a.expires_at(valid_for),
                counts: a.approver != version.author && a.is_valid_at(now, valid_for),
                comment: a.comment.clone(),
            })
            .collect();
        let required = policy.approvals.max(1);
        let counted = approvals.iter().filter(|a| a.counts).count() as u32;
        let ask = Request::Approve {
            version: version.version,
            comment: None,
        };
        let refusal = match promotion::decide(state, &policy, &ask, caller, now) {
            Decision::Refused(reason) => Some(reason),
            Decision::Apply(_) | Decision::Done(_) => None,
        };
        Ok(ApprovalStatus {
            required,
            approvals,
            still_needed: required.saturating_sub(counted),
            caller_may_approve: refusal.is_none(),
            caller_refusal: refusal,
        })
    }

    async fn report_of(
        &self,
        object: Option<&ObjectRef>,
    ) -> Result<Option<serde_json::Value>, AppError> {
        let Some(object) = object else {
            return Ok(None);
        };
        match self.ports.blobs.get(&object.bucket, &object.key).await {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
            Err(PortError::NotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// A JSON document of the data bucket; `None` when absent.
    async fn document<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, AppError> {
        let key = BlobKey::parse(key).map_err(|e| AppError::Internal(e.to_string()))?;
        match self.ports.blobs.get(&self.ports.data_bucket, &key).await {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| AppError::Internal(format!("reading {key}: {e}"))),
            Err(PortError::NotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

fn dataset_name(name: &str) -> Result<DatasetName, AppError> {
    DatasetName::parse(name).map_err(|e| AppError::invalid("dataset", e.to_string()))
}
