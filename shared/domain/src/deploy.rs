//! Deployment: the model in production, served by a hosted endpoint.
//!
//! A pipeline's `[deploy]` section says where its production model is served. On a laptop
//! `tollgate up` serves whatever `models/<name>/production.json` names, whatever the section
//! says. On AWS, `kind = "sagemaker-endpoint"` gives each model one SageMaker endpoint, and
//! every change of production (an approval, a rollback) is deployed to it blue/green.
//!
//! Deploying is a reconciliation, one bounded step per event: [`decide`] compares what should
//! be in service (the production version and its endpoint config) with what the endpoint says
//! and with the catalog's [`Deployment`] record, and returns the one [`Step`] to take. A
//! duplicate, late or out-of-order event decides again on the state of the moment, so it
//! repeats nothing: the endpoint and the record are the memory, not the event.

use serde::{Deserialize, Serialize};

use crate::UserId;
use crate::pipeline::Period;

/// Where production is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum DeployKind {
    /// Nothing is deployed on AWS (`tollgate up` still serves production on a laptop).
    #[default]
    None,
    /// One SageMaker real-time endpoint per model, updated blue/green.
    SagemakerEndpoint,
}

/// `[deploy]` in a pipeline file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DeploySettings {
    #[serde(default)]
    pub kind: DeployKind,
    #[serde(default = "default_instance_type")]
    pub instance_type: String,
    #[serde(default = "one")]
    pub instance_count: u32,
    /// The serving image; by default the `[backend]` image the model was trained with (the
    /// trainer serves as well as it trains).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Blue/green: the share of capacity the new version gets first (a canary); the rest
    /// follows after `bake` if no alarm fired. 100 shifts everything at once.
    #[serde(default = "default_canary_percent")]
    pub canary_percent: u32,
    /// How long the canary, and then the whole new fleet, is watched before the old one goes.
    #[serde(default = "default_bake")]
    pub bake: Period,
    /// CloudWatch alarms that roll a deployment back while it bakes. Empty: one alarm on the
    /// endpoint's 5xx errors, made by the deploy step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rollback_alarms: Vec<String>,
    /// The share of requests whose inputs and outputs are captured to `capture/<model>/`.
    #[serde(default = "default_capture_percent")]
    pub capture_percent: u32,
}

fn default_instance_type() -> String {
    "ml.m5.large".to_owned()
}

fn one() -> u32 {
    1
}

fn default_canary_percent() -> u32 {
    10
}

fn default_bake() -> Period {
    Period(std::time::Duration::from_secs(600))
}

fn default_capture_percent() -> u32 {
    100
}

impl Default for DeploySettings {
    fn default() -> Self {
        Self {
            kind: DeployKind::None,
            instance_type: default_instance_type(),
            instance_count: 1,
            image: None,
            canary_percent: default_canary_percent(),
            bake: default_bake(),
            rollback_alarms: Vec::new(),
            capture_percent: default_capture_percent(),
        }
    }
}

/// SageMaker's longest wait between traffic shifts, and before the old fleet goes.
pub const MAX_BAKE: std::time::Duration = std::time::Duration::from_secs(3600);
/// SageMaker takes at most 10 alarms for an automatic rollback.
pub const MAX_ROLLBACK_ALARMS: usize = 10;

impl DeploySettings {
    /// Whether the section is absent or says `kind = "none"` with nothing else.
    pub fn is_none(&self) -> bool {
        *self == Self::default()
    }

    /// What is wrong with the section: the key, and why.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if !self.instance_type.starts_with("ml.") {
            return Err((
                "instance_type",
                format!(
                    "{:?} is not a SageMaker instance type (such as \"ml.m5.large\")",
                    self.instance_type
                ),
            ));
        }
        if !(1..=crate::pipeline::limits::MAX_INSTANCE_COUNT).contains(&self.instance_count) {
            return Err((
                "instance_count",
                format!(
                    "{} instances: an endpoint has 1 to {}",
                    self.instance_count,
                    crate::pipeline::limits::MAX_INSTANCE_COUNT
                ),
            ));
        }
        if !(1..=100).contains(&self.canary_percent) {
            return Err((
                "canary_percent",
                format!("{} is not a percentage from 1 to 100", self.canary_percent),
            ));
        }
        if !(1..=100).contains(&self.capture_percent) {
            return Err((
                "capture_percent",
                format!("{} is not a percentage from 1 to 100", self.capture_percent),
            ));
        }
        if self.bake.0 > MAX_BAKE {
            return Err((
                "bake",
                format!("{}: SageMaker waits at most 1h between shifts", self.bake),
            ));
        }
        if self.rollback_alarms.len() > MAX_ROLLBACK_ALARMS {
            return Err((
                "rollback_alarms",
                format!(
                    "{} alarms: SageMaker watches at most {MAX_ROLLBACK_ALARMS}",
                    self.rollback_alarms.len()
                ),
            ));
        }
        Ok(())
    }
}

/// How far a deployment got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeploymentStatus {
    /// The endpoint was asked to serve the version; it is creating or shifting traffic.
    Deploying,
    /// The endpoint serves the version.
    InService,
    /// The endpoint could not serve it, or an alarm rolled it back.
    Failed,
}

impl DeploymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deploying => "deploying",
            Self::InService => "in_service",
            Self::Failed => "failed",
        }
    }
}

/// The catalog's record of a model's endpoint: the latest deployment asked of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Deployment {
    pub model: String,
    pub endpoint: String,
    /// The model version this deployment puts in service.
    pub version: u32,
    /// Its endpoint config: the version, its image and artifact, and the `[deploy]` settings.
    pub config: String,
    pub status: DeploymentStatus,
    /// The version it replaces, when the endpoint served one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<u32>,
    /// Why it failed or was rolled back, in SageMaker's words where it gave them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Who changed production (the approver, or who rolled back).
    pub actor: UserId,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub started_at: jiff::Timestamp,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub updated_at: jiff::Timestamp,
    /// Changes with every write (optimistic concurrency); 1 when first written.
    pub revision: u64,
}

/// An endpoint's status, as SageMaker reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointStatus {
    Creating,
    Updating,
    SystemUpdating,
    RollingBack,
    InService,
    Deleting,
    Failed,
    /// Any other status (`OutOfService`, `UpdateRollbackFailed`, a newer one): needs a person.
    Other(String),
}

/// What the endpoint says of itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub name: String,
    pub status: EndpointStatus,
    /// The endpoint config it serves.
    pub config: String,
    pub failure: Option<String>,
}

/// What should be in service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    pub version: u32,
    pub config: String,
}

/// The one thing to do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// No endpoint yet: create it on the desired config.
    Create,
    /// The endpoint serves another config: update it, blue/green.
    Update,
    /// The endpoint is busy; its next state change brings the next step.
    Wait(String),
    /// The endpoint serves the desired config: record it in service.
    Settled,
    /// The desired config was deployed and the endpoint is back on another one: an alarm (or
    /// SageMaker) rolled it back.
    RolledBack(String),
    /// The endpoint failed.
    Failed(String),
    /// Nothing to do; why.
    Nothing(String),
}

/// The step that brings the endpoint to `desired`, given what it says (`None`: there is no
/// endpoint) and the catalog's record of the last deployment.
pub fn decide(desired: &Desired, endpoint: Option<&Endpoint>, record: Option<&Deployment>) -> Step {
    let asked = record.filter(|r| r.config == desired.config);
    let Some(endpoint) = endpoint else {
        return Step::Create;
    };
    match &endpoint.status {
        EndpointStatus::Creating
        | EndpointStatus::Updating
        | EndpointStatus::SystemUpdating
        | EndpointStatus::RollingBack
        | EndpointStatus::Deleting => Step::Wait(format!(
            "endpoint {} is {}",
            endpoint.name,
            status_text(&endpoint.status)
        )),
        EndpointStatus::InService if endpoint.config == desired.config => match asked {
            Some(r) if r.status == DeploymentStatus::InService => Step::Nothing(format!(
                "v{} is in service on {} already",
                desired.version, endpoint.name
            )),
            _ => Step::Settled,
        },
        EndpointStatus::InService => match asked.map(|r| r.status) {
            Some(DeploymentStatus::Deploying) => {
                Step::RolledBack(endpoint.failure.clone().unwrap_or_else(|| {
                    format!(
                        "endpoint {} went back to {}: an alarm fired while v{} baked",
                        endpoint.name, endpoint.config, desired.version
                    )
                }))
            }
            Some(DeploymentStatus::Failed) => Step::Nothing(format!(
                "v{}'s deployment failed already; production must change (a rollback or a new \
                 approval) before the endpoint is updated again",
                desired.version
            )),
            _ => Step::Update,
        },
        EndpointStatus::Failed | EndpointStatus::Other(_) => match asked.map(|r| r.status) {
            Some(DeploymentStatus::Failed) => {
                Step::Nothing(format!("v{}'s deployment failed already", desired.version))
            }
            _ => Step::Failed(format!(
                "endpoint {} is {}{}; delete it (aws sagemaker delete-endpoint --endpoint-name \
                 {}) and the next change of production creates it again",
                endpoint.name,
                status_text(&endpoint.status),
                endpoint
                    .failure
                    .as_deref()
                    .map(|f| format!(": {f}"))
                    .unwrap_or_default(),
                endpoint.name
            )),
        },
    }
}

fn status_text(status: &EndpointStatus) -> &str {
    match status {
        EndpointStatus::Creating => "Creating",
        EndpointStatus::Updating => "Updating",
        EndpointStatus::SystemUpdating => "SystemUpdating",
        EndpointStatus::RollingBack => "RollingBack",
        EndpointStatus::InService => "InService",
        EndpointStatus::Deleting => "Deleting",
        EndpointStatus::Failed => "Failed",
        EndpointStatus::Other(s) => s,
    }
}

impl EndpointStatus {
    /// SageMaker's spelling (`InService`) to the status.
    pub fn parse(text: &str) -> Self {
        match text {
            "Creating" => Self::Creating,
            "Updating" => Self::Updating,
            "SystemUpdating" => Self::SystemUpdating,
            "RollingBack" => Self::RollingBack,
            "InService" => Self::InService,
            "Deleting" => Self::Deleting,
            "Failed" => Self::Failed,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// A stable 64-bit FNV-1a digest, to tell endpoint configs apart in their names: a name, not a
/// security boundary.
pub fn short_digest(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{:08x}", hash >> 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired() -> Desired {
        Desired {
            version: 2,
            config: "tg-wine-v2-aaaa".into(),
        }
    }

    fn endpoint(status: EndpointStatus, config: &str) -> Endpoint {
        Endpoint {
            name: "tg-wine".into(),
            status,
            config: config.into(),
            failure: None,
        }
    }

    fn record(config: &str, status: DeploymentStatus) -> Deployment {
        let at = jiff::Timestamp::UNIX_EPOCH;
        Deployment {
            model: "wine".into(),
            endpoint: "tg-wine".into(),
            version: 2,
            config: config.into(),
            status,
            previous: Some(1),
            reason: None,
            actor: UserId::parse("bob").unwrap(),
            started_at: at,
            updated_at: at,
            revision: 1,
        }
    }

    #[test]
    fn no_endpoint_is_created_and_one_on_another_config_is_updated() {
        assert_eq!(decide(&desired(), None, None), Step::Create);
        let old = endpoint(EndpointStatus::InService, "tg-wine-v1-bbbb");
        assert_eq!(decide(&desired(), Some(&old), None), Step::Update);
        // A record of an older deployment does not stop the new one.
        let v1 = record("tg-wine-v1-bbbb", DeploymentStatus::InService);
        assert_eq!(decide(&desired(), Some(&old), Some(&v1)), Step::Update);
    }

    #[test]
    fn a_busy_endpoint_is_waited_for_whatever_the_record_says() {
        for status in [
            EndpointStatus::Creating,
            EndpointStatus::Updating,
            EndpointStatus::SystemUpdating,
            EndpointStatus::RollingBack,
            EndpointStatus::Deleting,
        ] {
            let e = endpoint(status, "tg-wine-v1-bbbb");
            for r in [
                None,
                Some(record("tg-wine-v2-aaaa", DeploymentStatus::Deploying)),
            ] {
                assert!(matches!(
                    decide(&desired(), Some(&e), r.as_ref()),
                    Step::Wait(_)
                ));
            }
        }
    }

    #[test]
    fn arriving_settles_once_and_a_duplicate_event_changes_nothing() {
        let e = endpoint(EndpointStatus::InService, "tg-wine-v2-aaaa");
        let deploying = record("tg-wine-v2-aaaa", DeploymentStatus::Deploying);
        assert_eq!(
            decide(&desired(), Some(&e), Some(&deploying)),
            Step::Settled
        );
        // An endpoint already on the config with no record (deployed by an earlier release).
        assert_eq!(decide(&desired(), Some(&e), None), Step::Settled);
        let settled = record("tg-wine-v2-aaaa", DeploymentStatus::InService);
        assert!(matches!(
            decide(&desired(), Some(&e), Some(&settled)),
            Step::Nothing(_)
        ));
    }

    #[test]
    fn back_on_the_old_config_after_deploying_is_a_rollback_reported_once() {
        let e = endpoint(EndpointStatus::InService, "tg-wine-v1-bbbb");
        let deploying = record("tg-wine-v2-aaaa", DeploymentStatus::Deploying);
        let Step::RolledBack(why) = decide(&desired(), Some(&e), Some(&deploying)) else {
            panic!("not a rollback");
        };
        assert!(
            why.contains("tg-wine-v1-bbbb") && why.contains("v2"),
            "{why}"
        );
        // Once recorded, the same state is not retried in a loop nor reported again.
        let failed = record("tg-wine-v2-aaaa", DeploymentStatus::Failed);
        assert!(matches!(
            decide(&desired(), Some(&e), Some(&failed)),
            Step::Nothing(_)
        ));
        // Production going back to v1 (a rollback in Tollgate) settles on what is served.
        let v1 = Desired {
            version: 1,
            config: "tg-wine-v1-bbbb".into(),
        };
        assert_eq!(decide(&v1, Some(&e), Some(&failed)), Step::Settled);
    }

    #[test]
    fn a_failed_endpoint_is_reported_once_with_what_to_do() {
        let mut e = endpoint(EndpointStatus::Failed, "tg-wine-v2-aaaa");
        e.failure = Some("ping health check failed".into());
        let Step::Failed(why) = decide(&desired(), Some(&e), None) else {
            panic!("not a failure");
        };
        assert!(
            why.contains("ping health check failed") && why.contains("delete-endpoint"),
            "{why}"
        );
        let failed = record("tg-wine-v2-aaaa", DeploymentStatus::Failed);
        assert!(matches!(
            decide(&desired(), Some(&e), Some(&failed)),
            Step::Nothing(_)
        ));
        let odd = endpoint(EndpointStatus::Other("OutOfService".into()), "x");
        assert!(
            matches!(decide(&desired(), Some(&odd), None), Step::Failed(w) if w.contains("OutOfService"))
        );
    }

    #[test]
    fn settings_are_checked_key_by_key() {
        assert!(DeploySettings::default().check().is_ok());
        let bad = |f: fn(&mut DeploySettings)| {
            let mut s = DeploySettings::default();
            f(&mut s);
            s.check().unwrap_err().0
        };
        assert_eq!(
            bad(|s| s.instance_type = "m5.large".into()),
            "instance_type"
        );
        assert_eq!(bad(|s| s.instance_count = 0), "instance_count");
        assert_eq!(bad(|s| s.canary_percent = 0), "canary_percent");
        assert_eq!(bad(|s| s.capture_percent = 101), "capture_percent");
        assert_eq!(
            bad(|s| s.bake = Period(std::time::Duration::from_secs(7200))),
            "bake"
        );
        assert_eq!(
            bad(|s| s.rollback_alarms = vec!["a".into(); 11]),
            "rollback_alarms"
        );
    }

    #[test]
    fn digests_are_stable_and_tell_texts_apart() {
        assert_eq!(short_digest("a"), short_digest("a"));
        assert_ne!(short_digest("a"), short_digest("b"));
        assert_eq!(short_digest("").len(), 8);
    }
}
