//! The catalog on one DynamoDB table (`shared/aws/table.json`: a string partition key `pk` and
//! a string sort key `sk`, no index). Every read is strongly consistent; every write that has a
//! condition is a conditional write or one TransactWriteItems, so a landed write carries its
//! audit events and a refused one changes nothing.
//!
//! # Items
//!
//! | pk | sk | holds |
//! | --- | --- | --- |
//! | `DATASETS` | `<dataset>` | a dataset: `latest_version`, `contract_version`, who and when |
//! | `DATASET#<dataset>` | `VERSION#<v:010>` | an accepted version (body) |
//! | `DATASET#<dataset>` | `HASH#<sha256>` | `version`: the content hash is taken |
//! | `DATASET#<dataset>` | `CONTRACT#<v:010>` | a contract version (body) |
//! | `DATASET#<dataset>` | `UPLOAD#<order>` | an upload record (body, `finalized`) |
//! | `UPLOAD#<sha256 of upload key>` | `UPLOAD` | the upload key is taken: `dataset`, `record` (its sk) |
//! | `PIPELINES` | `<pipeline>` | `latest_version` and the latest version's body |
//! | `PIPELINE#<pipeline>` | `VERSION#<v:010>` | a pipeline version (body) |
//! | `RUN#<id>` | `RUN` | a run (body, `revision`) |
//! | `RUNS` / `RUNS#<pipeline>` | `<created ms:015>#<id>` | a run's place in the lists |
//! | `MODELS` | `<model>` | `latest_version` |
//! | `MODEL#<model>` | `VERSION#<v:010>` | a model version (body, `revision`) |
//! | `MODEL#<model>` | `HISTORY#<position:010>` | one stage change (body) |
//! | `MODEL#<model>` | `DEPLOYMENT` | the model's endpoint deployment (body, `revision`) |
//! | `MODELRUN#<run id>` | `MODEL` | the run has registered its model |
//! | `AUDIT` | `<order>` | an audit event (body, `subject`), in write order |
//! | `AUDIT#<kind>` | `<subject>@<order>` | the same event, by subject (`kind`: up to the first `/`) |
//! | `UNFINALIZED` | `UPLOAD#<order>` (the record's sk) | an upload not yet finalized: `dataset`, `upload_key` |
//! | `UNANNOUNCED` | `<model>#<position:010>` | a stage change still to announce (body, `model`, `position`) |
//!
//! `<order>` sorts in write order ([`table::order_key`]). Bodies are the domain's JSON (gzip in
//! `body_gz` when large).
//!
//! # Access patterns
//!
//! - a dataset, a version, a contract, a pipeline, a run, a model version: one GetItem;
//! - the lists (datasets, versions, uploads, contracts, pipelines, model versions, a model's
//!   history): one Query of a partition; runs and models: a Query of their list partition, then
//!   BatchGetItem of the bodies;
//! - a content hash, an upload key: GetItem of the marker, then of the record;
//! - the sweepers' work lists (uploads not finalized, stage changes not announced): one Query of
//!   `UNFINALIZED` (then BatchGetItem of the records) or `UNANNOUNCED`. These outbox items are
//!   written in the transaction of the write that owes the work and deleted when it is done, so
//!   the partitions hold only what is unfinished;
//! - the audit trail under a subject prefix with a `/`: a Query of `AUDIT#<kind>` with
//!   `begins_with(sk, prefix)`; everything, or a prefix without `/`: a Query of `AUDIT`.
//!
//! # Conditions
//!
//! A new dataset version is one transaction: the dataset's `latest_version` is the parent, and
//! the version, the content-hash marker, the upload-key marker and the contract (when it founds
//! one) are all new, with the upload record and the audit events. Pipelines and contracts are
//! conditional on the version in force; runs, model versions and deployments on their
//! `revision`; a stage
//! transition appends history at the positions it read as free. A concurrent transaction on the
//! same items is reported as `Conflict` too: the caller re-reads and decides again.

mod table;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use sha2::{Digest, Sha256};
use tollgate_domain::deploy::Deployment;
use tollgate_domain::ports::{
    Catalog, NewVersion, Page, PageRequest, StoredContract, Unannounced, expected_revision,
    numbered_contract, numbered_pipeline,
};
use tollgate_domain::promotion::Transition;
use tollgate_domain::{
    AuditEvent, ContentHash, Dataset, DatasetName, DatasetVersion, ModelVersion, ObjectRef,
    PortError, Run, StageChange, StoredPipeline, TestVerdict, UploadRecord, UserId,
};

use crate::AwsConfig;
use table::{Item, Table, Transaction, body, item, n, number, order_key, s, text, with_body};

const DATASETS: &str = "DATASETS";
const PIPELINES: &str = "PIPELINES";
const MODELS: &str = "MODELS";
const RUNS: &str = "RUNS";
const AUDIT: &str = "AUDIT";
const UNFINALIZED: &str = "UNFINALIZED";
const UNANNOUNCED: &str = "UNANNOUNCED";

fn dataset_pk(name: &str) -> String {
    format!("DATASET#{name}")
}

fn numbered(prefix: &str, n: impl Into<u64>) -> String {
    format!("{prefix}#{:010}", n.into())
}

fn digest(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn upload_pk(upload_key: &str) -> String {
    format!("UPLOAD#{}", digest(upload_key))
}

fn run_pk(id: &str) -> String {
    format!("RUN#{id}")
}

const DEPLOYMENT: &str = "DEPLOYMENT";

fn model_pk(model: &str) -> String {
    format!("MODEL#{model}")
}

fn announced_sk(model: &str, position: u64) -> String {
    format!("{model}#{position:010}")
}

/// The part of an audit subject before its first `/`: `model` of `model/churn/v3`.
fn audit_kind(subject: &str) -> &str {
    subject.split('/').next().unwrap_or(subject)
}

fn values<const N: usize>(pairs: [(&str, aws_sdk_dynamodb::types::AttributeValue); N]) -> Item {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

#[derive(Debug, Clone)]
pub struct DynamoCatalog {
    table: Table,
}

impl DynamoCatalog {
    /// The catalog in `table` (which must exist: see `shared/aws/table.json`).
    pub fn new(config: &AwsConfig, table: impl Into<String>) -> Self {
        Self {
            table: Table {
                client: Client::new(&config.sdk),
                name: table.into(),
            },
        }
    }

    /// A page of partition `pk`'s items whose sort key starts with `prefix`, in sort-key order,
    /// each read by `read`; the cursor is the last item's sort key.
    async fn page_of<T>(
        &self,
        pk: &str,
        prefix: &str,
        page: &PageRequest,
        read: impl Fn(&Item) -> Result<T, PortError>,
    ) -> Result<Page<T>, PortError> {
        if let Some(cursor) = page.cursor.as_deref().filter(|c| !c.starts_with(prefix)) {
            return Err(PortError::Invalid(format!(
                "{cursor:?} is not a cursor of this list"
            )));
        }
        let size = page.size();
        let items = self
            .table
            .query_page(pk, prefix, false, None, page.cursor.as_deref(), size + 1)
            .await?;
        let fetched = items
            .iter()
            .map(|i| Ok((text(i, "sk").unwrap_or_default().to_owned(), read(i)?)))
            .collect::<Result<Vec<(String, T)>, PortError>>()?;
        Ok(Page::of(fetched, size, |(sk, _)| sk.clone()).map(|(_, item)| item))
    }

    fn dataset_of(item: &Item) -> Result<Dataset, PortError> {
        let bad = |what: &str| PortError::Invalid(format!("a dataset item without {what}"));
        Ok(Dataset {
            name: DatasetName::parse(text(item, "sk").ok_or_else(|| bad("a name"))?)
                .map_err(|e| PortError::Invalid(e.to_string()))?,
            created_at: text(item, "created_at")
                .and_then(|t| t.parse().ok())
                .ok_or_else(|| bad("created_at"))?,
            created_by: text(item, "created_by")
                .and_then(|u| UserId::parse(u).ok())
                .ok_or_else(|| bad("created_by"))?,
            latest_version: number(item, "latest_version"),
            contract_version: number(item, "contract_version"),
        })
    }

    /// Adds the two items of an audit event to `tx`.
    fn audit_into(&self, tx: &mut Transaction, event: &AuditEvent) -> Result<(), PortError> {
        let order = order_key();
        let mut by_time = with_body(item(AUDIT, &order), event)?;
        by_time.insert("subject".into(), s(&event.subject));
        let mut by_subject = by_time.clone();
        by_subject.insert(
            "pk".into(),
            s(format!("{AUDIT}#{}", audit_kind(&event.subject))),
        );
        by_subject.insert("sk".into(), s(format!("{}@{order}", event.subject)));
        by_subject.insert("order".into(), s(&order));
        tx.create(&self.table, by_time, "an audit event is new")?;
        tx.create(&self.table, by_subject, "an audit event is new")?;
        Ok(())
    }

    /// Adds to `tx` the dataset's creation if it has no item yet (who and when: the first
    /// writer's), and `set` (an update expression's assignments) with `condition`.
    #[allow(clippy::too_many_arguments)]
    fn touch_dataset(
        &self,
        tx: &mut Transaction,
        name: &DatasetName,
        by: &UserId,
        at: jiff::Timestamp,
        set: &[&str],
        condition: Option<&str>,
        mut values: Item,
        label: &'static str,
    ) -> Result<(), PortError> {
        let mut assignments = vec![
            "created_at = if_not_exists(created_at, :created_at)",
            "created_by = if_not_exists(created_by, :created_by)",
        ];
        assignments.extend_from_slice(set);
        values.insert(":created_at".into(), s(at.to_string()));
        values.insert(":created_by".into(), s(by.as_str()));
        tx.update(
            &self.table,
            item(DATASETS, name.as_str()),
            &format!("SET {}", assignments.join(", ")),
            condition,
            values,
            label,
        )?;
        Ok(())
    }

    /// The upload record an upload key points to, with its item's sort key.
    async fn upload_item(&self, upload_key: &str) -> Result<Option<(Item, String)>, PortError> {
        let Some(marker) = self.table.get(&upload_pk(upload_key), "UPLOAD").await? else {
            return Ok(None);
        };
        let (Some(dataset), Some(record)) = (text(&marker, "dataset"), text(&marker, "record"))
        else {
            return Err(PortError::Invalid(format!(
                "the marker of upload {upload_key} names no record"
            )));
        };
        let pk = dataset_pk(dataset);
        let item = self.table.get(&pk, record).await?.ok_or_else(|| {
            PortError::Invalid(format!(
                "upload {upload_key}: its record {record} is missing"
            ))
        })?;
        Ok(Some((item, record.to_owned())))
    }

    fn upload_of(item: &Item) -> Result<UploadRecord, PortError> {
        let mut record: UploadRecord = body(item)?;
        if let Some(aws_sdk_dynamodb::types::AttributeValue::Bool(done)) = item.get("finalized") {
            record.finalized = *done;
        }
        Ok(record)
    }

    /// Adds an upload record and its key's marker to `tx`.
    fn upload_into(&self, tx: &mut Transaction, upload: &UploadRecord) -> Result<(), PortError> {
        let record_sk = format!("UPLOAD#{}", order_key());
        let mut marker = item(upload_pk(&upload.upload_key), "UPLOAD");
        marker.insert("dataset".into(), s(upload.dataset.as_str()));
        marker.insert("record".into(), s(&record_sk));
        marker.insert("upload_key".into(), s(&upload.upload_key));
        tx.create(&self.table, marker, "an upload key is recorded once")?;
        let mut record = with_body(
            item(dataset_pk(upload.dataset.as_str()), &record_sk),
            upload,
        )?;
        record.insert(
            "finalized".into(),
            aws_sdk_dynamodb::types::AttributeValue::Bool(upload.finalized),
        );
        tx.create(&self.table, record, "an upload record is new")?;
        if !upload.finalized {
            let mut owed = item(UNFINALIZED, &record_sk);
            owed.insert("dataset".into(), s(upload.dataset.as_str()));
            owed.insert("upload_key".into(), s(&upload.upload_key));
            tx.create(&self.table, owed, "an upload is owed once")?;
        }
        Ok(())
    }

    /// Deletes an outbox item (nothing when it is gone already).
    async fn clear_owed(&self, pk: &str, sk: &str, what: &str) -> Result<(), PortError> {
        self.table
            .client
            .delete_item()
            .table_name(&self.table.name)
            .set_key(Some(item(pk, sk)))
            .send()
            .await
            .map_err(|e| crate::error::port_error(what.to_owned(), e))?;
        Ok(())
    }

    /// The stored model version, which must be at `expected` revision.
    async fn model_at(
        &self,
        model: &str,
        version: u32,
        expected: u64,
    ) -> Result<ModelVersion, PortError> {
        let stored: ModelVersion = self
            .table
            .get(&model_pk(model), &numbered("VERSION", version))
            .await?
            .map(|i| body(&i))
            .transpose()?
            .ok_or_else(|| PortError::NotFound(format!("model {model} v{version}")))?;
        if stored.revision != expected {
            return Err(PortError::Conflict(format!(
                "model {model} v{version} is at revision {}, not {expected}: it changed since it \
                 was read",
                stored.revision
            )));
        }
        Ok(stored)
    }

    /// Adds the write of `model` (its revision bumped) over revision `model.revision - 1`.
    fn model_into(&self, tx: &mut Transaction, model: &ModelVersion) -> Result<(), PortError> {
        let expected = expected_revision(
            format_args!("model {} v{}", model.model, model.version),
            model.revision,
        )?;
        let mut stored = with_body(
            item(model_pk(&model.model), numbered("VERSION", model.version)),
            model,
        )?;
        stored.insert("revision".into(), n(model.revision));
        tx.put(
            &self.table,
            stored,
            Some("revision = :expected"),
            values([(":expected", n(expected))]),
            "the model version is still at the revision read",
        )?;
        Ok(())
    }

    /// Adds the write of `run` over revision `run.revision - 1`.
    fn run_into(&self, tx: &mut Transaction, run: &Run) -> Result<(), PortError> {
        let expected = expected_revision(format_args!("run {}", run.id), run.revision)?;
        let mut stored = with_body(item(run_pk(&run.id), "RUN"), run)?;
        stored.insert("revision".into(), n(run.revision));
        tx.put(
            &self.table,
            stored,
            Some("revision = :expected"),
            values([(":expected", n(expected))]),
            "the run is still at the revision read",
        )?;
        Ok(())
    }

    /// The bodies of the runs a list partition points to, in its order.
    async fn runs_in(&self, list: &str) -> Result<Vec<Run>, PortError> {
        let pointers = self.table.query(list, "", true, None).await?;
        let keys: Vec<(String, String)> = pointers
            .iter()
            .filter_map(|p| text(p, "run"))
            .map(|id| (run_pk(id), "RUN".to_owned()))
            .collect();
        self.table.get_many(&keys).await?.iter().map(body).collect()
    }
}

#[async_trait]
impl Catalog for DynamoCatalog {
    async fn dataset(&self, name: &DatasetName) -> Result<Option<Dataset>, PortError> {
        self.table
            .get(DATASETS, name.as_str())
            .await?
            .map(|i| Self::dataset_of(&i))
            .transpose()
    }

    async fn datasets_page(&self, page: &PageRequest) -> Result<Page<Dataset>, PortError> {
        self.page_of(DATASETS, "", page, Self::dataset_of).await
    }

    async fn versions_page(
        &self,
        name: &DatasetName,
        page: &PageRequest,
    ) -> Result<Page<DatasetVersion>, PortError> {
        self.page_of(&dataset_pk(name.as_str()), "VERSION#", page, body)
            .await
    }

    async fn uploads_page(
        &self,
        name: &DatasetName,
        page: &PageRequest,
    ) -> Result<Page<UploadRecord>, PortError> {
        self.page_of(&dataset_pk(name.as_str()), "UPLOAD#", page, Self::upload_of)
            .await
    }

    async fn pipelines_page(&self, page: &PageRequest) -> Result<Page<StoredPipeline>, PortError> {
        self.page_of(PIPELINES, "", page, body).await
    }

    async fn model_versions_page(
        &self,
        model: &str,
        page: &PageRequest,
    ) -> Result<Page<ModelVersion>, PortError> {
        self.page_of(&model_pk(model), "VERSION#", page, body).await
    }

    async fn models_page(&self, page: &PageRequest) -> Result<Page<ModelVersion>, PortError> {
        let latest = self
            .page_of(MODELS, "", page, |i| {
                let v: u32 = number(i, "latest_version").ok_or_else(|| {
                    PortError::Invalid("a model item without its latest version".into())
                })?;
                let name = text(i, "sk").unwrap_or_default();
                Ok((model_pk(name), numbered("VERSION", v)))
            })
            .await?;
        let versions = self
            .table
            .get_many(&latest.items)
            .await?
            .iter()
            .map(body)
            .collect::<Result<Vec<ModelVersion>, _>>()?;
        Ok(Page {
            items: versions,
            next: latest.next,
        })
    }

    async fn version(
        &self,
        name: &DatasetName,
        version: u32,
    ) -> Result<Option<DatasetVersion>, PortError> {
        self.table
            .get(&dataset_pk(name.as_str()), &numbered("VERSION", version))
            .await?
            .map(|i| body(&i))
            .transpose()
    }

    async fn version_by_hash(
        &self,
        name: &DatasetName,
        hash: &ContentHash,
    ) -> Result<Option<DatasetVersion>, PortError> {
        let marker = self
            .table
            .get(&dataset_pk(name.as_str()), &format!("HASH#{hash}"))
            .await?;
        match marker.and_then(|m| number::<u32>(&m, "version")) {
            Some(v) => self.version(name, v).await,
            None => Ok(None),
        }
    }

    async fn upload(&self, upload_key: &str) -> Result<Option<UploadRecord>, PortError> {
        self.upload_item(upload_key)
            .await?
            .map(|(i, _)| Self::upload_of(&i))
            .transpose()
    }

    async fn commit_version(&self, new: NewVersion) -> Result<(), PortError> {
        let v = &new.version;
        let pk = dataset_pk(v.dataset.as_str());
        let mut tx = Transaction::new();
        let mut condition = match v.parent_version {
            None => "attribute_not_exists(latest_version)".to_owned(),
            Some(_) => "latest_version = :parent".to_owned(),
        };
        let mut vals = values([(":version", n(v.version))]);
        if let Some(parent) = v.parent_version {
            vals.insert(":parent".into(), n(parent));
        }
        let mut set = vec!["latest_version = :version"];
        if let Some(contract) = &new.founding_contract {
            condition.push_str(" AND attribute_not_exists(contract_version)");
            set.push("contract_version = :contract");
            vals.insert(":contract".into(), n(contract.version));
        }
        self.touch_dataset(
            &mut tx,
            &v.dataset,
            &new.upload.uploaded_by,
            new.upload.created_at,
            &set,
            Some(&condition),
            vals,
            "the version follows the dataset's latest (and founds its only contract)",
        )?;
        tx.create(
            &self.table,
            with_body(item(&pk, numbered("VERSION", v.version)), v)?,
            "the version number is free",
        )?;
        let mut marker = item(&pk, format!("HASH#{}", v.content_hash));
        marker.insert("version".into(), n(v.version));
        tx.create(&self.table, marker, "a content hash is one version")?;
        if let Some(contract) = &new.founding_contract {
            tx.create(
                &self.table,
                with_body(item(&pk, numbered("CONTRACT", contract.version)), contract)?,
                "the contract version is free",
            )?;
        }
        self.upload_into(&mut tx, &new.upload)?;
        self.audit_into(&mut tx, &new.audit)?;
        tx.commit(&self.table, "committing a dataset version")
            .await?
            .map_err(|r| r.into_conflict(&format!("{} v{}", v.dataset, v.version)))
    }

    async fn record_upload(
        &self,
        upload: UploadRecord,
        audit: AuditEvent,
    ) -> Result<(), PortError> {
        let mut tx = Transaction::new();
        self.touch_dataset(
            &mut tx,
            &upload.dataset,
            &upload.uploaded_by,
            upload.created_at,
            &[],
            None,
            Item::new(),
            "the dataset exists",
        )?;
        self.upload_into(&mut tx, &upload)?;
        self.audit_into(&mut tx, &audit)?;
        tx.commit(&self.table, "recording an upload")
            .await?
            .map_err(|r| r.into_conflict(&format!("upload {}", upload.upload_key)))
    }

    async fn mark_finalized(&self, upload_key: &str) -> Result<(), PortError> {
        let Some((record, sk)) = self.upload_item(upload_key).await? else {
            return Err(PortError::NotFound(format!("upload {upload_key}")));
        };
        let pk = text(&record, "pk").unwrap_or_default().to_owned();
        self.table
            .client
            .update_item()
            .table_name(&self.table.name)
            .set_key(Some(item(pk, &sk)))
            .update_expression("SET finalized = :done")
            .expression_attribute_values(
                ":done",
                aws_sdk_dynamodb::types::AttributeValue::Bool(true),
            )
            .send()
            .await
            .map_err(|e| crate::error::port_error(format!("finalizing upload {upload_key}"), e))?;
        // After the record: a crash in between leaves an outbox item whose record is
        // finalized, which the sweep passes over (and the next finalize clears).
        self.clear_owed(UNFINALIZED, &sk, &format!("finalizing upload {upload_key}"))
            .await
    }

    async fn unfinalized_uploads(&self) -> Result<Vec<UploadRecord>, PortError> {
        let owed = self.table.query(UNFINALIZED, "", false, None).await?;
        let keys: Vec<(String, String)> = owed
            .iter()
            .filter_map(|i| Some((dataset_pk(text(i, "dataset")?), text(i, "sk")?.to_owned())))
            .collect();
        self.table
            .get_many(&keys)
            .await?
            .iter()
            .map(Self::upload_of)
            .filter(|r| r.as_ref().map_or(true, |r| !r.finalized))
            .collect()
    }

    async fn contract(
        &self,
        name: &DatasetName,
        version: Option<u32>,
    ) -> Result<Option<StoredContract>, PortError> {
        let version = match version {
            Some(v) => Some(v),
            None => self.dataset(name).await?.and_then(|d| d.contract_version),
        };
        let Some(version) = version else {
            return Ok(None);
        };
        self.table
            .get(&dataset_pk(name.as_str()), &numbered("CONTRACT", version))
            .await?
            .map(|i| body(&i))
            .transpose()
    }

    async fn put_contract(
        &self,
        contract: StoredContract,
        expected: Option<u32>,
        audit: AuditEvent,
    ) -> Result<u32, PortError> {
        let (stored, audit) = numbered_contract(contract, expected, audit);
        let (version, name) = (stored.version, stored.contract.dataset.clone());
        let mut tx = Transaction::new();
        let (condition, mut vals) = match expected {
            None => ("attribute_not_exists(contract_version)", Item::new()),
            Some(e) => (
                "contract_version = :expected",
                values([(":expected", n(e))]),
            ),
        };
        vals.insert(":version".into(), n(version));
        self.touch_dataset(
            &mut tx,
            &name,
            &stored.created_by,
            stored.created_at,
            &["contract_version = :version"],
            Some(condition),
            vals,
            "the contract in force is the one replaced",
        )?;
        tx.create(
            &self.table,
            with_body(
                item(dataset_pk(name.as_str()), numbered("CONTRACT", version)),
                &stored,
            )?,
            "the contract version is free",
        )?;
        self.audit_into(&mut tx, &audit)?;
        tx.commit(&self.table, "applying a contract")
            .await?
            .map_err(|r| r.into_conflict(&format!("the contract of {name}")))?;
        Ok(version)
    }

    async fn put_pipeline(
        &self,
        pipeline: StoredPipeline,
        expected: Option<u32>,
        audit: AuditEvent,
    ) -> Result<u32, PortError> {
        let (stored, audit) = numbered_pipeline(pipeline, expected, audit);
        let (version, name) = (stored.version, stored.pipeline.name.clone());
        let mut tx = Transaction::new();
        let mut latest = with_body(item(PIPELINES, &name), &stored)?;
        latest.insert("latest_version".into(), n(version));
        let (condition, vals) = match expected {
            None => ("attribute_not_exists(pk)", Item::new()),
            Some(e) => ("latest_version = :expected", values([(":expected", n(e))])),
        };
        tx.put(
            &self.table,
            latest,
            Some(condition),
            vals,
            "the pipeline is at the version replaced",
        )?;
        tx.create(
            &self.table,
            with_body(
                item(format!("PIPELINE#{name}"), numbered("VERSION", version)),
                &stored,
            )?,
            "the pipeline version is free",
        )?;
        self.audit_into(&mut tx, &audit)?;
        tx.commit(&self.table, "applying a pipeline")
            .await?
            .map_err(|r| r.into_conflict(&format!("pipeline {name}")))?;
        Ok(version)
    }

    async fn pipeline(
        &self,
        name: &str,
        version: Option<u32>,
    ) -> Result<Option<StoredPipeline>, PortError> {
        let found = match version {
            Some(v) => {
                self.table
                    .get(&format!("PIPELINE#{name}"), &numbered("VERSION", v))
                    .await?
            }
            None => self.table.get(PIPELINES, name).await?,
        };
        found.map(|i| body(&i)).transpose()
    }

    async fn create_run(&self, run: &Run, audit: AuditEvent) -> Result<bool, PortError> {
        const EXISTS: &str = "the run id is free";
        let mut tx = Transaction::new();
        let mut stored = with_body(item(run_pk(&run.id), "RUN"), run)?;
        stored.insert("revision".into(), n(run.revision));
        tx.create(&self.table, stored, EXISTS)?;
        let place = run.place();
        for list in [
            RUNS.to_owned(),
            format!("{RUNS}#{}", run.pipeline.pipeline.name),
        ] {
            let mut pointer = item(list, &place);
            pointer.insert("run".into(), s(&run.id));
            tx.create(&self.table, pointer, "the run's place in the lists is free")?;
        }
        self.audit_into(&mut tx, &audit)?;
        match tx.commit(&self.table, "starting a run").await? {
            Ok(()) => Ok(true),
            Err(refused) if refused.0.contains(&EXISTS) => Ok(false),
            Err(refused) => Err(refused.into_conflict(&format!("run {}", run.id))),
        }
    }

    async fn run(&self, id: &str) -> Result<Option<Run>, PortError> {
        self.table
            .get(&run_pk(id), "RUN")
            .await?
            .map(|i| body(&i))
            .transpose()
    }

    async fn runs(&self, pipeline: Option<&str>) -> Result<Vec<Run>, PortError> {
        match pipeline {
            Some(p) => self.runs_in(&format!("{RUNS}#{p}")).await,
            None => self.runs_in(RUNS).await,
        }
    }

    async fn runs_page(
        &self,
        pipeline: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Run>, PortError> {
        let list = match pipeline {
            Some(p) => format!("{RUNS}#{p}"),
            None => RUNS.to_owned(),
        };
        if let Some(cursor) = &page.cursor {
            Run::parse_place(cursor)?;
        }
        let size = page.size();
        let pointers = self
            .table
            .query_page(&list, "", true, None, page.cursor.as_deref(), size + 1)
            .await?;
        let keys: Vec<(String, String)> = pointers
            .iter()
            .filter_map(|p| text(p, "run"))
            .map(|id| (run_pk(id), "RUN".to_owned()))
            .collect();
        let runs = self
            .table
            .get_many(&keys)
            .await?
            .iter()
            .map(body)
            .collect::<Result<Vec<Run>, _>>()?;
        Ok(Page::of(runs, size, Run::place))
    }

    async fn save_run(&self, run: &Run) -> Result<(), PortError> {
        let mut tx = Transaction::new();
        self.run_into(&mut tx, run)?;
        tx.commit(&self.table, "saving a run")
            .await?
            .map_err(|r| r.into_conflict(&format!("run {}", run.id)))
    }

    async fn register_model(
        &self,
        run: &Run,
        model: &ModelVersion,
        audit: AuditEvent,
    ) -> Result<(), PortError> {
        let mut tx = Transaction::new();
        self.run_into(&mut tx, run)?;
        let (condition, mut vals) = match model.version {
            1 => ("attribute_not_exists(latest_version)", Item::new()),
            v => (
                "latest_version = :previous",
                values([(":previous", n(v - 1))]),
            ),
        };
        vals.insert(":version".into(), n(model.version));
        tx.update(
            &self.table,
            item(MODELS, &model.model),
            "SET latest_version = :version",
            Some(condition),
            vals,
            "the candidate is the model's next version",
        )?;
        let mut stored = with_body(
            item(model_pk(&model.model), numbered("VERSION", model.version)),
            model,
        )?;
        stored.insert("revision".into(), n(model.revision));
        tx.create(&self.table, stored, "the model version is free")?;
        tx.create(
            &self.table,
            item(format!("MODELRUN#{}", model.run_id), "MODEL"),
            "a run registers one model",
        )?;
        self.audit_into(&mut tx, &audit)?;
        tx.commit(&self.table, "registering a model version")
            .await?
            .map_err(|r| r.into_conflict(&format!("model {} v{}", model.model, model.version)))
    }

    async fn model_version(
        &self,
        model: &str,
        version: u32,
    ) -> Result<Option<ModelVersion>, PortError> {
        self.table
            .get(&model_pk(model), &numbered("VERSION", version))
            .await?
            .map(|i| body(&i))
            .transpose()
    }

    async fn model_history(&self, model: &str) -> Result<Vec<StageChange>, PortError> {
        self.table
            .query(&model_pk(model), "HISTORY#", false, None)
            .await?
            .iter()
            .map(body)
            .collect()
    }

    async fn apply_transition(&self, t: &Transition) -> Result<(), PortError> {
        let mut tx = Transaction::new();
        for write in &t.writes {
            let mut model = self
                .model_at(&t.model, write.version, write.expected_revision)
                .await?;
            model.stage = write.stage;
            model.approvals.clone_from(&write.approvals);
            model.revision = write.revision();
            self.model_into(&mut tx, &model)?;
        }
        // Entries go at the positions the decision read as the end of the history: if another
        // transition appended meanwhile, the first position is taken and nothing lands.
        for (i, change) in t.history.iter().enumerate() {
            tx.create(
                &self.table,
                with_body(
                    item(
                        model_pk(&t.model),
                        numbered("HISTORY", (t.history_len + i) as u64),
                    ),
                    change,
                )?,
                "the stage history has the length read",
            )?;
            let position = (t.history_len + i) as u64;
            let mut owed = with_body(item(UNANNOUNCED, announced_sk(&t.model, position)), change)?;
            owed.insert("model".into(), s(&t.model));
            owed.insert("position".into(), n(position));
            tx.put(
                &self.table,
                owed,
                None,
                Item::new(),
                "a stage change is owed",
            )?;
        }
        for event in &t.audit {
            self.audit_into(&mut tx, event)?;
        }
        tx.commit(&self.table, "writing a model transition")
            .await?
            .map_err(|r| r.into_conflict(&format!("model {}", t.model)))
    }

    async fn unannounced_changes(&self) -> Result<Vec<Unannounced>, PortError> {
        self.table
            .query(UNANNOUNCED, "", false, None)
            .await?
            .iter()
            .map(|i| {
                Ok(Unannounced {
                    model: text(i, "model").unwrap_or_default().to_owned(),
                    position: number(i, "position").unwrap_or_default(),
                    change: body(i)?,
                })
            })
            .collect()
    }

    async fn mark_announced(&self, model: &str, position: u64) -> Result<(), PortError> {
        self.clear_owed(
            UNANNOUNCED,
            &announced_sk(model, position),
            &format!("clearing model {model}'s stage change {position}"),
        )
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
        let mut stored = self.model_at(model, version, expected_revision).await?;
        stored.test = Some(verdict);
        stored.test_report = Some(report);
        stored.revision = expected_revision + 1;
        let mut tx = Transaction::new();
        self.model_into(&mut tx, &stored)?;
        self.audit_into(&mut tx, &audit)?;
        tx.commit(&self.table, "recording a test verdict")
            .await?
            .map_err(|r| r.into_conflict(&format!("model {model} v{version}")))
    }

    async fn deployment(&self, model: &str) -> Result<Option<Deployment>, PortError> {
        self.table
            .get(&model_pk(model), DEPLOYMENT)
            .await?
            .map(|i| body(&i))
            .transpose()
    }

    async fn save_deployment(
        &self,
        deployment: &Deployment,
        audit: &[AuditEvent],
    ) -> Result<(), PortError> {
        let what = format!("model {}'s deployment", deployment.model);
        let expected = expected_revision(&what, deployment.revision)?;
        let mut stored = with_body(item(model_pk(&deployment.model), DEPLOYMENT), deployment)?;
        stored.insert("revision".into(), n(deployment.revision));
        let mut tx = Transaction::new();
        match expected {
            0 => {
                tx.create(&self.table, stored, "there is no deployment record yet")?;
            }
            e => {
                tx.put(
                    &self.table,
                    stored,
                    Some("revision = :expected"),
                    values([(":expected", n(e))]),
                    "the deployment is still at the revision read",
                )?;
            }
        }
        for event in audit {
            self.audit_into(&mut tx, event)?;
        }
        tx.commit(&self.table, "saving a deployment")
            .await?
            .map_err(|r| r.into_conflict(&what))
    }

    async fn append_audit(&self, event: AuditEvent) -> Result<(), PortError> {
        let mut tx = Transaction::new();
        self.audit_into(&mut tx, &event)?;
        tx.commit(&self.table, "appending to the audit trail")
            .await?
            .map_err(|r| r.into_conflict("an audit event"))
    }

    async fn audit_page(
        &self,
        subject_prefix: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<AuditEvent>, PortError> {
        // The by-time partition, newest first, filtered by subject: pages in time order even
        // when the prefix spans several subjects (the by-subject partition sorts by subject).
        let size = page.size();
        let items = self
            .table
            .query_page(
                AUDIT,
                "",
                true,
                subject_prefix.filter(|p| !p.is_empty()),
                page.cursor.as_deref(),
                size + 1,
            )
            .await?;
        let events = items
            .iter()
            .map(|i| Ok((text(i, "sk").unwrap_or_default().to_owned(), body(i)?)))
            .collect::<Result<Vec<(String, AuditEvent)>, PortError>>()?;
        Ok(Page::of(events, size, |(order, _)| order.clone()).map(|(_, event)| event))
    }

    async fn audit(&self, subject_prefix: Option<&str>) -> Result<Vec<AuditEvent>, PortError> {
        let prefix = subject_prefix.unwrap_or("");
        let items = if prefix.contains('/') {
            let mut items = self
                .table
                .query(
                    &format!("{AUDIT}#{}", audit_kind(prefix)),
                    prefix,
                    false,
                    None,
                )
                .await?;
            items.sort_by(|a, b| text(a, "order").cmp(&text(b, "order")));
            items
        } else {
            let filter = (!prefix.is_empty()).then_some(prefix);
            self.table.query(AUDIT, "", false, filter).await?
        };
        items.iter().map(body).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_events_are_filed_by_the_first_segment_of_their_subject() {
        assert_eq!(audit_kind("model/churn/v3"), "model");
        assert_eq!(audit_kind("dataset"), "dataset");
        assert_eq!(audit_kind(""), "");
    }

    #[test]
    fn numbered_keys_sort_as_numbers() {
        assert!(numbered("VERSION", 9u32) < numbered("VERSION", 10u32));
        assert_eq!(numbered("HISTORY", 3u64), "HISTORY#0000000003");
    }

    #[test]
    fn order_keys_grow_within_a_process() {
        let (a, b) = (order_key(), order_key());
        assert!(a < b, "{a} then {b}");
    }

    #[test]
    fn a_large_body_is_compressed_and_read_back() {
        let big: Vec<String> = (0..20_000).map(|i| format!("trial {i}")).collect();
        let stored = with_body(item("RUN#x", "RUN"), &big).unwrap();
        assert!(stored.contains_key("body_gz") && !stored.contains_key("body"));
        let back: Vec<String> = body(&stored).unwrap();
        assert_eq!(back, big);
    }

    #[test]
    fn a_small_body_is_readable_json() {
        let stored = with_body(item("a", "b"), &vec![1, 2, 3]).unwrap();
        assert_eq!(text(&stored, "body"), Some("[1,2,3]"));
    }
}
