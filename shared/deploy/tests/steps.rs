//! The deploy handler's steps through what the stand-in cannot show: an endpoint that takes
//! time to create and update, a blue/green update that an alarm rolls back, and production
//! rolled back in Tollgate afterwards. SageMaker is played by [`Endpoints`], which keeps the
//! states SageMaker's endpoints go through (the real adapter's calls are tested against the
//! stand-in in `tests/aws`); the catalog is the embedded one.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tollgate_deploy::{Deploy, Outcome};
use tollgate_domain::deploy::{DeploymentStatus, Endpoint, EndpointStatus};
use tollgate_domain::ports::{Catalog, Hosting, Release};
use tollgate_domain::promotion::Request;
use tollgate_domain::{AuditEvent, Event, ModelStage, Pipeline, PortError, UserId};
use tollgate_local::{DataDir, InProcessBus};
use tollgate_promote::Promote;

/// Endpoints as SageMaker keeps them: a create or an update is in flight until `settle`; an
/// update in flight can be rolled back.
#[derive(Debug, Default)]
struct Endpoints {
    state: Mutex<BTreeMap<String, (Endpoint, Option<String>)>>,
    calls: Mutex<Vec<String>>,
}

impl Endpoints {
    fn settle(&self, name: &str) {
        let mut state = self.state.lock().unwrap();
        let (endpoint, pending) = state.get_mut(name).unwrap();
        if let Some(config) = pending.take() {
            endpoint.config = config;
        }
        endpoint.status = EndpointStatus::InService;
    }

    /// An alarm fired while the new fleet baked: the old one takes the traffic back.
    fn roll_back(&self, name: &str) {
        let mut state = self.state.lock().unwrap();
        let (endpoint, pending) = state.get_mut(name).unwrap();
        *pending = None;
        endpoint.status = EndpointStatus::InService;
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

#[async_trait]
impl Hosting for Endpoints {
    fn endpoint_name(&self, model: &str) -> String {
        format!("tg-{model}")
    }

    fn config_name(&self, release: &Release) -> String {
        format!("tg-{}-v{}", release.model, release.version)
    }

    async fn describe(&self, endpoint: &str) -> Result<Option<Endpoint>, PortError> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .get(endpoint)
            .map(|(e, _)| e.clone()))
    }

    async fn prepare(&self, release: &Release) -> Result<(), PortError> {
        let call = format!("prepare {}", self.config_name(release));
        self.calls.lock().unwrap().push(call);
        Ok(())
    }

    async fn create(&self, release: &Release) -> Result<(), PortError> {
        let name = self.endpoint_name(&release.model);
        let mut state = self.state.lock().unwrap();
        if state.contains_key(&name) {
            return Err(PortError::Conflict(format!("{name} exists")));
        }
        self.calls.lock().unwrap().push(format!("create {name}"));
        let endpoint = Endpoint {
            name: name.clone(),
            status: EndpointStatus::Creating,
            config: self.config_name(release),
            failure: None,
        };
        state.insert(name, (endpoint, None));
        Ok(())
    }

    async fn update(&self, release: &Release) -> Result<(), PortError> {
        let name = self.endpoint_name(&release.model);
        let mut state = self.state.lock().unwrap();
        let (endpoint, pending) = state.get_mut(&name).unwrap();
        if endpoint.status != EndpointStatus::InService {
            return Err(PortError::Conflict(format!("{name} is changing")));
        }
        self.calls
            .lock()
            .unwrap()
            .push(format!("update {name} to {}", self.config_name(release)));
        endpoint.status = EndpointStatus::Updating;
        *pending = Some(self.config_name(release));
        Ok(())
    }
}

struct World {
    _dir: tempfile::TempDir,
    catalog: Arc<dyn Catalog>,
    bus: Arc<InProcessBus>,
    promote: Promote,
    deploy: Deploy,
    endpoints: Arc<Endpoints>,
}

fn user(name: &str) -> UserId {
    UserId::parse(name).unwrap()
}

/// A model `wine` with `versions` staged versions and a pipeline that deploys to an endpoint.
async fn world(versions: u32) -> World {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::open(dir.path()).unwrap();
    let bus = Arc::new(InProcessBus::recording());
    let ports = data.ports(bus.clone());
    let catalog = ports.catalog.clone();
    tollgate_domain::conformance::staged(catalog.as_ref(), &ports.data_bucket, "wine", versions)
        .await;
    let mut stored = catalog.pipeline("wine", None).await.unwrap().unwrap();
    stored
        .text
        .push_str("\n[deploy]\nkind = \"sagemaker-endpoint\"\nimage = \"trainer:1\"\n");
    stored.pipeline = Pipeline::from_toml(&stored.text).unwrap();
    let applied = AuditEvent::new(
        jiff::Timestamp::now(),
        user("alice"),
        "pipeline.applied",
        "x",
    );
    catalog
        .put_pipeline(stored.clone(), Some(stored.version), applied)
        .await
        .unwrap();
    let endpoints = Arc::new(Endpoints::default());
    World {
        _dir: dir,
        catalog,
        bus,
        promote: Promote::new(&ports),
        deploy: Deploy::new(&ports, endpoints.clone()),
        endpoints,
    }
}

impl World {
    async fn production_changed(&self, request: Request, by: &str) -> Outcome {
        let outcome = self
            .promote
            .request("wine", &request, &user(by))
            .await
            .unwrap();
        assert!(
            matches!(
                outcome,
                tollgate_promote::Outcome::Done(_) | tollgate_promote::Outcome::Repeated(_)
            ),
            "{outcome:?}"
        );
        let version = self
            .catalog
            .model_state("wine")
            .await
            .unwrap()
            .unwrap()
            .versions
            .iter()
            .find(|v| v.stage == ModelStage::Production)
            .unwrap()
            .version;
        let event = Event::ModelStageChanged {
            model: "wine".into(),
            version,
            from: ModelStage::Staging,
            to: ModelStage::Production,
            actor: user(by),
        };
        self.deploy.handle(&event).await.unwrap().unwrap()
    }

    async fn endpoint_changed(&self) -> Outcome {
        self.deploy.endpoint_changed("tg-wine").await.unwrap()
    }

    async fn trail(&self) -> Vec<String> {
        self.catalog
            .audit(Some("model/wine/"))
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.action.starts_with("deployment."))
            .map(|e| format!("{} {}", e.action, e.subject))
            .collect()
    }

    fn announced(&self) -> Vec<(u32, DeploymentStatus)> {
        self.bus
            .published()
            .into_iter()
            .filter_map(|e| match e {
                Event::DeploymentChanged {
                    version, status, ..
                } => Some((version, status)),
                _ => None,
            })
            .collect()
    }
}

fn approve(version: u32) -> Request {
    Request::Approve {
        version,
        comment: None,
    }
}

#[tokio::test]
async fn a_deployment_waits_for_the_endpoint_settles_once_and_a_rollback_by_alarm_is_recorded() {
    let w = world(2).await;

    // v1 approved: the endpoint is created, and stays Creating for a while.
    let started = w.production_changed(approve(1), "bob").await;
    assert!(
        matches!(&started, Outcome::Started(d) if d.version == 1),
        "{started:?}"
    );
    // Events while it is creating wait; none creates it twice.
    assert!(matches!(w.endpoint_changed().await, Outcome::Waiting(_)));
    assert!(matches!(w.endpoint_changed().await, Outcome::Waiting(_)));
    w.endpoints.settle("tg-wine");
    let settled = w.endpoint_changed().await;
    assert!(
        matches!(&settled, Outcome::InService(d) if d.version == 1),
        "{settled:?}"
    );
    assert!(
        matches!(w.endpoint_changed().await, Outcome::Nothing(_)),
        "a duplicate"
    );

    // v2 approved: a blue/green update; an alarm rolls it back while it bakes.
    let updating = w.production_changed(approve(2), "bob").await;
    assert!(
        matches!(&updating, Outcome::Started(d) if d.version == 2 && d.previous == Some(1)),
        "{updating:?}"
    );
    assert!(matches!(w.endpoint_changed().await, Outcome::Waiting(_)));
    w.endpoints.roll_back("tg-wine");
    let rolled_back = w.endpoint_changed().await;
    let Outcome::Failed(record) = &rolled_back else {
        panic!("{rolled_back:?}")
    };
    assert_eq!((record.version, record.previous), (2, Some(1)));
    assert!(
        record.reason.as_deref().unwrap().contains("alarm"),
        "{record:?}"
    );
    // Reported once, and not retried in a loop.
    assert!(matches!(w.endpoint_changed().await, Outcome::Nothing(_)));

    // An operator rolls production back to v1 in Tollgate: what the endpoint serves already.
    let rollback = Request::Rollback {
        comment: Some("v2 failed on the endpoint".into()),
        from: None,
    };
    let back = w.production_changed(rollback, "carol").await;
    assert!(
        matches!(&back, Outcome::InService(d) if d.version == 1),
        "{back:?}"
    );

    assert_eq!(
        w.endpoints.calls(),
        [
            "prepare tg-wine-v1",
            "create tg-wine",
            "prepare tg-wine-v2",
            "update tg-wine to tg-wine-v2"
        ],
        "one create and one update, whatever the duplicates"
    );
    assert_eq!(
        w.trail().await,
        [
            "deployment.started model/wine/v1",
            "deployment.succeeded model/wine/v1",
            "deployment.started model/wine/v2",
            "deployment.rolled_back model/wine/v2",
            "deployment.succeeded model/wine/v1",
        ]
    );
    assert_eq!(
        w.announced(),
        [
            (1, DeploymentStatus::Deploying),
            (1, DeploymentStatus::InService),
            (2, DeploymentStatus::Deploying),
            (2, DeploymentStatus::Failed),
            (1, DeploymentStatus::InService),
        ]
    );
}

#[tokio::test]
async fn a_change_of_production_while_the_endpoint_updates_is_deployed_when_it_settles() {
    let w = world(3).await;
    w.production_changed(approve(1), "bob").await;
    w.endpoints.settle("tg-wine");
    w.endpoint_changed().await;
    w.production_changed(approve(2), "bob").await;
    // v3 approved while v2 is still shifting: it waits for the endpoint.
    let waiting = w.production_changed(approve(3), "erin").await;
    assert!(matches!(waiting, Outcome::Waiting(_)), "{waiting:?}");
    // v2 settles; the same event starts v3's update, since production is v3 now.
    w.endpoints.settle("tg-wine");
    let next = w.endpoint_changed().await;
    assert!(
        matches!(&next, Outcome::Started(d) if d.version == 3 && d.previous == Some(2)),
        "{next:?}"
    );
    w.endpoints.settle("tg-wine");
    let done = w.endpoint_changed().await;
    assert!(
        matches!(&done, Outcome::InService(d) if d.version == 3),
        "{done:?}"
    );
    let record = w.catalog.deployment("wine").await.unwrap().unwrap();
    assert_eq!(record.actor.as_str(), "erin", "who put v3 in production");
}

#[tokio::test]
async fn a_stage_change_outside_production_and_another_deployments_endpoint_do_nothing() {
    let w = world(1).await;
    let staged = Event::ModelStageChanged {
        model: "wine".into(),
        version: 1,
        from: ModelStage::Candidate,
        to: ModelStage::Staging,
        actor: user("tollgate"),
    };
    assert!(w.deploy.handle(&staged).await.unwrap().is_none());
    let stranger = w.deploy.endpoint_changed("someone-elses").await.unwrap();
    assert!(matches!(stranger, Outcome::Nothing(_)));
    assert!(w.endpoints.calls().is_empty());
}
