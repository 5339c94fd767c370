//! People's notices on AWS: the template's EventBridge rules turn the events people act on into
//! messages on the alerts topic, with no function in between. On the stand-in the rules deliver
//! to a queue in the topic's stead (`infra/standin_stack.py`), input transformers applied, so
//! what a subscriber would read is read here.

use tollgate_aws::EventBridgeBus;
use tollgate_aws_tests::standin::Stack;
use tollgate_domain::deploy::DeploymentStatus;
use tollgate_domain::ports::EventBus;
use tollgate_domain::{
    BlobKey, BucketName, ContentHash, DatasetName, Event, ModelStage, ObjectRef, UserId,
};

fn stage(version: u32, from: ModelStage, to: ModelStage, actor: &str) -> Event {
    Event::ModelStageChanged {
        model: "wine".into(),
        version,
        from,
        to,
        actor: UserId::parse(actor).unwrap(),
    }
}

#[tokio::test]
async fn the_alerts_topic_gets_a_notice_for_each_fact_people_act_on_and_no_other() {
    let stack = Stack::new().await;
    if stack.alerts_queue.is_none() {
        eprintln!("skipped: no notice rules without the template (TOLLGATE_STANDIN_TEMPLATE)");
        return;
    }
    let object = |key: &str| {
        ObjectRef::new(
            BucketName::parse(&stack.bucket).unwrap(),
            BlobKey::parse(key).unwrap(),
        )
    };
    let ada = UserId::parse("ada").unwrap();
    let told = [
        stage(2, ModelStage::Candidate, ModelStage::Staging, "tollgate"),
        stage(2, ModelStage::Staging, ModelStage::Production, "bo"),
        stage(1, ModelStage::Archived, ModelStage::Production, "bo"),
        stage(3, ModelStage::Staging, ModelStage::Rejected, "cy"),
        Event::RunFailed {
            pipeline: "wine".into(),
            run_id: "wine-0a1b2c3d".into(),
            reason: "this Month's budget of 20 trials had 0 left".into(),
            requested_by: ada.clone(),
        },
        Event::DriftDetected {
            model: "wine".into(),
            version: 2,
            features: vec!["alcohol".into(), "sulphates".into()],
            report: format!(
                "s3://{}/monitoring/wine/20261204T070000Z.json",
                stack.bucket
            ),
            outcome: "no retraining: new data is needed".into(),
            retraining_run: None,
        },
        Event::DatasetUploadRejected {
            dataset: DatasetName::parse("wine").unwrap(),
            content_hash: ContentHash::parse(&"ab".repeat(32)).unwrap(),
            quarantined: object("quarantine/wine/x.csv"),
            report: object("quarantine/wine/x.report.json"),
            reasons: vec!["row 7, column alcohol: \"abc\" is not a number".into()],
            uploaded_by: ada.clone(),
        },
        Event::DeploymentChanged {
            model: "wine".into(),
            version: 2,
            endpoint: "tg-wine".into(),
            status: DeploymentStatus::Failed,
            reason: Some("the 5xx alarm rolled it back".into()),
        },
    ];
    // Facts nobody acts on: the old version archived, a deployment under way, a passed test.
    let untold = [
        stage(1, ModelStage::Production, ModelStage::Archived, "bo"),
        Event::DeploymentChanged {
            model: "wine".into(),
            version: 2,
            endpoint: "tg-wine".into(),
            status: DeploymentStatus::Deploying,
            reason: None,
        },
        Event::ModelTested {
            model: "wine".into(),
            version: 2,
            passed: true,
            report: object("models/wine/v2/test-report.json"),
        },
    ];
    let bus = EventBridgeBus::new(&stack.aws, &stack.bus);
    for event in untold.iter().chain(&told) {
        bus.publish(event).await.unwrap();
    }

    let mut notices = stack.notices(told.len()).await.unwrap();
    notices.sort();
    let mut expected = vec![
        "wine v2 passed its model tests and waits for approval: see /models/wine/versions/2 in the console.".to_owned(),
        "wine v2 moved from staging to production, by bo.".to_owned(),
        "wine v1 moved from archived to production, by bo.".to_owned(),
        "wine v3 moved from staging to rejected, by cy.".to_owned(),
        "Run wine-0a1b2c3d of pipeline wine failed: this Month's budget of 20 trials had 0 left".to_owned(),
        format!(
            "wine v2 drifted past its monitoring thresholds; no retraining: new data is needed. \
             Report: s3://{}/monitoring/wine/20261204T070000Z.json",
            stack.bucket
        ),
        "An upload of wine by ada was rejected and quarantined: row 7, column alcohol: \"abc\" is not a number".to_owned(),
        "Deployment of wine v2 to endpoint tg-wine failed: the 5xx alarm rolled it back. The endpoint serves what it served before.".to_owned(),
    ];
    expected.sort();
    assert_eq!(notices, expected);
    // And nothing more arrives: the untold events matched no rule.
    let sqs = stack.sqs();
    let late = sqs
        .receive_message()
        .queue_url(stack.alerts_queue.as_ref().unwrap())
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    assert!(late.messages().is_empty(), "{:?}", late.messages());
}
