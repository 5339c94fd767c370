//! A model version's lineage as a graph: from the uploaded bytes, through the dataset version,
//! its contract, the pipeline and the run, to the version, its approvals and its stages.

use jiff::Timestamp;
use serde_json::{Value, json};
use tollgate_api_types::{Lineage, LineageEdge, LineageNode};
use tollgate_domain::ModelVersion;

use crate::{App, AppError};

/// The graph as it is drawn: nodes once each, edges in the order found.
#[derive(Debug, Default)]
struct Graph {
    lineage: Lineage,
}

impl Graph {
    fn node(
        &mut self,
        id: String,
        kind: &str,
        label: String,
        at: Option<Timestamp>,
        actor: Option<String>,
        details: Value,
    ) -> String {
        if !self.lineage.nodes.iter().any(|n| n.id == id) {
            self.lineage.nodes.push(LineageNode {
                id: id.clone(),
                kind: kind.to_owned(),
                label,
                at,
                actor,
                details,
            });
        }
        id
    }

    fn edge(&mut self, from: &str, to: &str, relation: &str) {
        self.lineage.edges.push(LineageEdge {
            from: from.to_owned(),
            to: to.to_owned(),
            relation: relation.to_owned(),
        });
    }
}

impl App {
    /// Where `model` version `version` comes from and where it went.
    pub async fn lineage(&self, model: &str, version: u32) -> Result<Lineage, AppError> {
        let m = self.find_model_version(model, Some(version)).await?;
        let mut g = Graph::default();
        let data = self.data_lineage(&mut g, &m).await?;
        let pipeline = self.pipeline_lineage(&mut g, &m).await?;
        let catalog = &self.ports.catalog;

        let run_id = format!("run:{}", m.run_id);
        match catalog.run(&m.run_id).await? {
            Some(run) => g.node(
                run_id.clone(),
                "run",
                format!("run {} ({})", run.id, run.trigger.kind()),
                Some(run.created_at),
                Some(run.requested_by.to_string()),
                json!({
                    "status": run.status.as_str(),
                    "trials": run.trials.len(),
                    "spend_usd": run.spend(),
                }),
            ),
            None => g.node(
                run_id.clone(),
                "run",
                format!("run {}", m.run_id),
                None,
                None,
                Value::Null,
            ),
        };
        g.edge(&data, &run_id, "input of");
        g.edge(&pipeline, &run_id, "configured");

        let trial = g.node(
            format!("trial:{}/{}", m.run_id, m.trial),
            "trial",
            format!("trial {} ({})", m.trial, m.job_name),
            None,
            None,
            json!({ "job": m.job_name, "hyperparameters": m.hyperparameters, "metrics": m.metrics }),
        );
        g.edge(&run_id, &trial, "ran");
        let version_id = g.node(
            format!("model:{}/v{}", m.model, m.version),
            "model_version",
            format!("{} v{} ({})", m.model, m.version, m.stage.as_str()),
            Some(m.created_at),
            Some(m.author.to_string()),
            json!({
                "artifact": m.artifact,
                "trainer": m.trainer,
                "primary_metric": m.primary_metric,
                "test": m.test.as_ref().map(ToString::to_string),
                "test_report": m.test_report.as_ref().map(ToString::to_string),
            }),
        );
        g.edge(&trial, &version_id, "registered as");

        for a in &m.approvals {
            let approval = g.node(
                format!("approval:{}/v{}/{}", m.model, m.version, a.approver),
                "approval",
                format!("approved by {}", a.approver),
                Some(a.at),
                Some(a.approver.to_string()),
                json!({ "comment": a.comment }),
            );
            g.edge(&approval, &version_id, "approved");
        }
        let history = catalog.model_history(&m.model).await?;
        for (i, change) in history
            .iter()
            .enumerate()
            .filter(|(_, c)| c.version == m.version)
        {
            let stage = g.node(
                format!("stage:{}/{i}", m.model),
                "stage",
                format!("{} → {}", change.from.as_str(), change.to.as_str()),
                Some(change.at),
                Some(change.actor.to_string()),
                Value::Null,
            );
            g.edge(&version_id, &stage, "moved");
        }
        Ok(g.lineage)
    }

    /// The dataset version trained on, the upload it came from, its contract and its parent;
    /// returns the dataset version's node.
    async fn data_lineage(&self, g: &mut Graph, m: &ModelVersion) -> Result<String, AppError> {
        let catalog = &self.ports.catalog;
        let id = format!("dataset:{}/v{}", m.dataset, m.dataset_version);
        let Some(d) = catalog.version(&m.dataset, m.dataset_version).await? else {
            return Ok(g.node(
                id,
                "dataset_version",
                format!("{} v{}", m.dataset, m.dataset_version),
                None,
                None,
                json!({ "content_hash": m.content_hash }),
            ));
        };
        let upload = g.node(
            format!("upload:{}", d.source),
            "upload",
            d.source.to_string(),
            Some(d.created_at),
            Some(d.uploaded_by.to_string()),
            json!({ "format": d.format, "bytes": d.bytes }),
        );
        let id = g.node(
            id,
            "dataset_version",
            format!("{} v{} ({} rows)", d.dataset, d.version, d.rows),
            Some(d.created_at),
            Some(d.uploaded_by.to_string()),
            json!({
                "content_hash": d.content_hash,
                "location": d.location.to_string(),
                "rows": d.rows,
                "drifted_columns": d.drifted_columns,
                "split_test_hash": m.split.test_hash,
            }),
        );
        g.edge(&upload, &id, "accepted as");
        let contract = catalog
            .contract(&d.dataset, Some(d.contract_version))
            .await?;
        let contract_id = g.node(
            format!("contract:{}/v{}", d.dataset, d.contract_version),
            "contract",
            format!("contract v{} of {}", d.contract_version, d.dataset),
            contract.as_ref().map(|c| c.created_at),
            contract.as_ref().map(|c| c.created_by.to_string()),
            contract
                .as_ref()
                .map_or(Value::Null, |c| json!({ "origin": c.origin })),
        );
        g.edge(&contract_id, &id, "checked");
        if let Some(parent) = d.parent_version {
            let parent_id = g.node(
                format!("dataset:{}/v{parent}", d.dataset),
                "dataset_version",
                format!("{} v{parent}", d.dataset),
                None,
                None,
                Value::Null,
            );
            g.edge(&parent_id, &id, "parent of");
        }
        Ok(id)
    }

    /// The pipeline version the run followed; returns its node.
    async fn pipeline_lineage(&self, g: &mut Graph, m: &ModelVersion) -> Result<String, AppError> {
        let stored = self
            .ports
            .catalog
            .pipeline(&m.model, Some(m.pipeline_version))
            .await?;
        Ok(g.node(
            format!("pipeline:{}/v{}", m.model, m.pipeline_version),
            "pipeline",
            format!("pipeline {} v{}", m.model, m.pipeline_version),
            stored.as_ref().map(|p| p.applied_at),
            stored.as_ref().map(|p| p.applied_by.to_string()),
            json!({ "hash": m.pipeline_hash }),
        ))
    }
}
