//! Promotion as people do it: approvals (never the author's), production, rollback, the
//! production pointer and the audit trail.

use serde_json::Value;

use crate::helpers::{Tollgate, parse, sample};

pub const PIPELINE: &str = r#"
name = "wine-promo"
dataset = "wine"
target = "quality"
task = "classification"
model = "logistic_regression"
[search]
strategy = "random"
[search.space]
alpha = { type = "log_uniform", low = 1e-3, high = 1.0 }
[budget]
max_trials = 2
max_parallel = 2
[gates.thresholds]
accuracy = 0.3
"#;

fn decide(t: &Tollgate, who: &str, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["--as", who];
    all.extend_from_slice(args);
    all.push("--json");
    parse(&t.run(&all))
}

#[test]
fn approvals_promote_rollback_restores_and_the_author_cannot_approve() {
    let t = Tollgate::new();
    assert_eq!(t.upload(&sample("wine-2009-a.csv"), "wine").0, 0);
    let file = t.dir.path().join("p.toml");
    std::fs::write(&file, PIPELINE).unwrap();
    // The uploader ("tester") is the author of both candidates.
    t.json(&["pipeline", "apply", file.to_str().unwrap(), "--json"]);
    t.json(&["run", "wine-promo", "--json"]);
    t.json(&["run", "wine-promo", "--json"]);
    let models = t.json(&["models", "--json"]);
    assert_eq!(
        models[0]["staging_versions"],
        serde_json::json!([1, 2]),
        "{models:#}"
    );

    let (code, refused) = decide(&t, "tester", &["approve", "wine-promo", "1"]);
    assert_eq!(code, 1, "{refused:#}");
    assert!(
        refused["reason"].as_str().unwrap().contains("author"),
        "{refused:#}"
    );
    // The attempt is a fact for the audit trail: who, what, when and why.
    let trail = t.json(&["audit", "--subject", "model/wine-promo/v1", "--json"]);
    let attempt = trail
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "model.approve.refused")
        .unwrap_or_else(|| panic!("no refusal in {trail:#}"));
    assert_eq!(attempt["actor"], "tester");
    assert_eq!(attempt["details"]["reason"], refused["reason"]);
    assert!(attempt["at"].is_string());
    let text = t.run(&["audit", "--subject", "model/wine-promo/v1"]);
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("refused: tester is the author"),
        "{}",
        String::from_utf8_lossy(&text.stdout)
    );

    let (code, done) = decide(
        &t,
        "ana",
        &["approve", "wine-promo", "1", "--comment", "ok"],
    );
    assert_eq!(code, 0, "{done:#}");
    assert_eq!(done["changes"][0]["to"], "production");
    assert_eq!(done["repeated"], false);
    // Ana asks again (as after a lost answer): what her approval did then, said as such, and
    // nothing more in the trail.
    let trail = t.json(&["audit", "--json"]).as_array().unwrap().len();
    let (code, again) = decide(&t, "ana", &["approve", "wine-promo", "1"]);
    assert_eq!(code, 0, "{again:#}");
    assert_eq!(
        (&again["repeated"], &again["changes"]),
        (&Value::Bool(true), &done["changes"])
    );
    let text = t.run(&[
        "--as",
        "ana",
        "promote",
        "wine-promo",
        "1",
        "--to",
        "production",
    ]);
    let said = String::from_utf8_lossy(&text.stdout);
    assert!(
        said.starts_with("Already done; nothing changed now.")
            && said.contains("wine-promo v1: staging → production at ")
            && said.contains(" UTC by ana"),
        "{said}"
    );
    assert_eq!(
        t.json(&["audit", "--json"]).as_array().unwrap().len(),
        trail
    );
    let (code, _) = decide(&t, "bob", &["approve", "wine-promo", "2"]);
    assert_eq!(code, 0);
    let shown = t.json(&["model", "show", "wine-promo", "--version", "1", "--json"]);
    assert_eq!(shown["stage"], "archived", "v2 replaced it");
    assert_eq!(
        shown["contributors"][0]["role"],
        "requested its run and uploaded wine v1 (its training data)",
        "who may not approve it, and why: {shown:#}"
    );
    let text = t.run(&["model", "show", "wine-promo", "--version", "1"]);
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("contributor  tester requested its run"),
        "{}",
        String::from_utf8_lossy(&text.stdout)
    );

    let (code, back) = decide(&t, "bob", &["rollback", "wine-promo"]);
    assert_eq!(code, 0, "{back:#}");
    let models = t.json(&["models", "--json"]);
    assert_eq!(models[0]["production_version"], 1);
    let pointer: Value = serde_json::from_slice(
        &std::fs::read(
            t.data_dir()
                .join("buckets/tollgate-data/models/wine-promo/production.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(pointer["version"], 1);

    // A rejection needs a version that is not in production; v2 is archived now.
    let (code, refused) = decide(
        &t,
        "bob",
        &["reject", "wine-promo", "2", "--comment", "worse"],
    );
    assert_eq!(code, 1, "{refused:#}");

    let lineage = t.json(&["lineage", "wine-promo", "1", "--json"]);
    assert_eq!(lineage["dataset_version"], 1);
    assert_eq!(lineage["approvals"][0]["approver"], "ana");
    let stages: Vec<&str> = lineage["stage_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["to"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["staging", "production", "archived", "production"]);
    let audit = t.json(&["audit", "--subject", "model/wine-promo/v1", "--json"]);
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .all(|e| !e["actor"].as_str().unwrap().is_empty())
    );
}

/// Starts `tollgate --as WHO ARGS --json` in the background.
fn spawn(t: &Tollgate, who: &str, args: &[&str]) -> std::process::Child {
    t.command()
        .args(["--as", who])
        .args(args)
        .arg("--json")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn racing_approvals_and_rollbacks_leave_one_consistent_state_and_a_complete_audit() {
    let t = Tollgate::new();
    assert_eq!(t.upload(&sample("wine-2009-a.csv"), "wine").0, 0);
    let file = t.dir.path().join("p.toml");
    std::fs::write(&file, PIPELINE).unwrap();
    t.json(&["pipeline", "apply", file.to_str().unwrap(), "--json"]);
    for _ in 0..3 {
        t.json(&["run", "wine-promo", "--json"]);
    }
    // Eight approvers at once, on three versions in staging.
    let children: Vec<_> = (0..8)
        .map(|i| {
            let version = (i % 3 + 1).to_string();
            spawn(
                &t,
                &format!("approver-{i}"),
                &["approve", "wine-promo", &version],
            )
        })
        .collect();
    let mut codes: Vec<i32> = children
        .into_iter()
        .map(|c| parse(&c.wait_with_output().unwrap()).0)
        .collect();
    // Then four rollbacks at once.
    let children: Vec<_> = (0..4)
        .map(|i| spawn(&t, &format!("operator-{i}"), &["rollback", "wine-promo"]))
        .collect();
    codes.extend(
        children
            .into_iter()
            .map(|c| parse(&c.wait_with_output().unwrap()).0),
    );
    assert!(
        codes.iter().all(|c| *c == 0 || *c == 1),
        "done or refused, never failed: {codes:?}"
    );

    // One version in production at most, and the stage history replays to the stages stored.
    let mut stage = std::collections::BTreeMap::new();
    let mut history = Vec::new();
    for v in 1..=3u32 {
        let shown = t.json(&[
            "model",
            "show",
            "wine-promo",
            "--version",
            &v.to_string(),
            "--json",
        ]);
        stage.insert(v, shown["stage"].as_str().unwrap().to_owned());
        history.extend(shown["stage_history"].as_array().unwrap().clone());
    }
    assert!(
        stage.values().filter(|s| *s == "production").count() <= 1,
        "{stage:?}"
    );
    history.sort_by_key(|c| c["at"].as_str().unwrap().to_owned());
    let mut replay = std::collections::BTreeMap::new();
    for c in &history {
        let v = c["version"].as_u64().unwrap() as u32;
        let from = replay
            .get(&v)
            .cloned()
            .unwrap_or_else(|| "candidate".to_owned());
        assert_eq!(
            from,
            c["from"].as_str().unwrap(),
            "history of v{v} is a chain: {history:#?}"
        );
        replay.insert(v, c["to"].as_str().unwrap().to_owned());
    }
    assert_eq!(replay, stage, "the history ends where the stages are");
    // Every stage change has its audit event, and nothing more changed stage.
    let audit = t.json(&["audit", "--subject", "model/wine-promo/", "--json"]);
    let transitions = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["from"].is_string() && e["to"].is_string() && e["from"] != e["to"])
        .count();
    assert_eq!(transitions, history.len(), "{audit:#}");
}

/// Production traffic of wine-promo: the drifted sample's wines (stronger: drifted alcohol) as
/// JSON Lines with a prediction each, in `capture/wine-promo/day-1.jsonl`. Returns the folder
/// and the file's text.
fn capture_drifted_traffic(t: &Tollgate) -> (std::path::PathBuf, String) {
    let capture = t
        .data_dir()
        .join("buckets/tollgate-data/capture/wine-promo");
    std::fs::create_dir_all(&capture).unwrap();
    let drifted = std::fs::read_to_string(sample("wine-2010-drifted.csv")).unwrap();
    let mut lines = drifted.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let mut jsonl = String::new();
    for line in lines {
        let mut row = serde_json::Map::new();
        for (k, v) in header.iter().zip(line.split(',')) {
            row.insert(
                (*k).to_owned(),
                serde_json::json!(v.parse::<f64>().unwrap()),
            );
        }
        row.insert("prediction".into(), serde_json::json!("5"));
        jsonl.push_str(&serde_json::Value::Object(row).to_string());
        jsonl.push('\n');
    }
    std::fs::write(capture.join("day-1.jsonl"), &jsonl).unwrap();
    (capture, jsonl)
}

/// wine-promo (`pipeline`) with v1 in production and drifted traffic captured, then the next
/// batch uploaded, which starts the pipeline's run on wine v2 by itself: that run's id.
fn drifted_with_a_run_on_new_data(t: &Tollgate, pipeline: &str) -> String {
    assert_eq!(t.upload(&sample("wine-2009-a.csv"), "wine").0, 0);
    let file = t.dir.path().join("p.toml");
    std::fs::write(&file, pipeline).unwrap();
    t.json(&["pipeline", "apply", file.to_str().unwrap(), "--json"]);
    t.json(&["run", "wine-promo", "--json"]);
    let (code, _) = decide(t, "ana", &["approve", "wine-promo", "1"]);
    assert_eq!(code, 0);
    capture_drifted_traffic(t);
    assert_eq!(t.upload(&sample("wine-2009-b.csv"), "wine").0, 0);
    let runs = t.json(&["runs", "--json"]);
    runs.as_array()
        .unwrap()
        .iter()
        .find(|r| r["dataset_version"] == 2)
        .unwrap_or_else(|| panic!("no run on wine v2: {runs:#}"))["run_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The monitor's check: no run started; the report, and its notes as text.
fn checked_without_a_run(t: &Tollgate) -> (Value, String) {
    let runs = t.json(&["runs", "--json"]).as_array().unwrap().len();
    let checked = t.json(&["monitor", "--json"]);
    let report = checked["reports"][0].clone();
    assert_eq!(report["drifted"], true, "{report:#}");
    assert!(
        checked["runs"].as_array().unwrap().is_empty(),
        "{checked:#}"
    );
    assert_eq!(t.json(&["runs", "--json"]).as_array().unwrap().len(), runs);
    let notes = report["notes"].to_string();
    (report, notes)
}

/// New data that started its own run (the pipeline listens to uploads) has been learnt from:
/// the monitor's drift starts no second run on it. While that run's candidate waits for
/// approval, the monitor points at it; once it is decided against (rejected, or failed its
/// model tests), new data is needed.
#[test]
fn drift_starts_no_second_run_on_data_a_run_already_learnt_from() {
    // A pipeline whose candidates may score a little below production: v2 is staged.
    let t = Tollgate::new();
    let lenient = PIPELINE.replacen(
        "[gates.thresholds]",
        "[gates]\nmin_improvement = -0.1\n[gates.thresholds]",
        1,
    );
    let run = drifted_with_a_run_on_new_data(&t, &lenient);
    let (report, notes) = checked_without_a_run(&t);
    assert_eq!(report["new_data_needed"], false, "{report:#}");
    assert!(
        notes.contains(&format!(
            "run {run} on wine v2, the newest version, gave v2, which waits for approval"
        )),
        "{report:#}"
    );
    let (code, _) = decide(
        &t,
        "ana",
        &["reject", "wine-promo", "2", "--comment", "not better"],
    );
    assert_eq!(code, 0);
    let (report, notes) = checked_without_a_run(&t);
    assert_eq!(report["new_data_needed"], true, "{report:#}");
    assert!(
        notes.contains("gave v2, which is rejected") && notes.contains("upload new data of wine"),
        "{report:#}"
    );

    // The default gates: v2 fails its model tests.
    let t = Tollgate::new();
    let run = drifted_with_a_run_on_new_data(&t, PIPELINE);
    let (report, notes) = checked_without_a_run(&t);
    assert_eq!(report["new_data_needed"], true, "{report:#}");
    assert!(
        notes.contains(&format!(
            "run {run} on wine v2, the newest version, gave v2, which is a candidate that \
             failed its model tests"
        )),
        "{report:#}"
    );
}

#[test]
fn monitoring_drift_retrains_once_on_new_data_not_on_the_same_rows_nor_in_a_loop() {
    let t = Tollgate::new();
    assert_eq!(t.upload(&sample("wine-2009-a.csv"), "wine").0, 0);
    let file = t.dir.path().join("p.toml");
    // New data starts no run by itself here, so only the monitor's runs are counted.
    let pipeline = PIPELINE.replacen(
        "task = \"classification\"",
        "task = \"classification\"\non_upload = false",
        1,
    );
    std::fs::write(&file, pipeline).unwrap();
    t.json(&["pipeline", "apply", file.to_str().unwrap(), "--json"]);
    t.json(&["run", "wine-promo", "--json"]);
    // Nothing in production yet: nothing to monitor, nothing started.
    let quiet = t.json(&["monitor", "--json"]);
    assert!(quiet["runs"].as_array().unwrap().is_empty(), "{quiet:#}");
    let (code, _) = decide(&t, "ana", &["approve", "wine-promo", "1"]);
    assert_eq!(code, 0);

    // Production traffic: stronger wines (drifted alcohol), as JSON Lines with the predictions.
    let (capture, jsonl) = capture_drifted_traffic(&t);
    // A file that is not JSON Lines, and a month-old one: each left out, saying so, and the
    // rest is judged.
    std::fs::write(capture.join("broken.jsonl"), "{\"alcohol\": 1\nnot json\n").unwrap();
    let deep = format!(
        "{{\"alcohol\": {}1{}}}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    std::fs::write(capture.join("deep.jsonl"), deep).unwrap();
    let old = capture.join("last-month.jsonl");
    std::fs::write(&old, jsonl.replace("\"5\"", "\"9\"")).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(30 * 86_400))
        .unwrap();

    // A decision that stopped between its commit and its pointer left a stale one.
    let pointer = t
        .data_dir()
        .join("buckets/tollgate-data/models/wine-promo/production.json");
    std::fs::write(&pointer, "null").unwrap();

    let first = t.json(&["monitor", "--json"]);
    let report = &first["reports"][0];
    let notes = report["notes"].to_string();
    assert!(notes.contains("production.json did not name the version in production"));
    let mended: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&pointer).unwrap()).unwrap();
    assert_eq!(mended["version"], 1, "{mended:#}");
    assert!(
        notes.contains("capture/wine-promo/broken.jsonl is left out")
            && notes.contains("deep.jsonl is left out: line 1 is nested deeper than 64")
            && notes.contains("1 captured file(s) older than the 7d window are left out"),
        "{report:#}"
    );
    assert_eq!(report["captured_files"], 1, "{report:#}");
    assert_eq!(report["drifted"], true, "{report:#}");
    let drifted: Vec<&str> = report["drift"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["drifted"] == true)
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert!(drifted.contains(&"alcohol"), "{drifted:?}");
    assert!(
        report["drift"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["name"] == "prediction"),
        "prediction drift is measured: {report:#}"
    );
    // wine v1 is all there is, and production was trained on it: nothing new to learn from.
    assert!(first["runs"].as_array().unwrap().is_empty(), "{first:#}");
    assert_eq!(report["new_data_needed"], true, "{report:#}");
    assert!(notes.contains("upload new data of wine"), "{report:#}");
    let text = t.run(&["monitor"]);
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("no accepted version newer than v1"),
        "{}",
        String::from_utf8_lossy(&text.stdout)
    );

    // New data arrives: the drift now starts one retraining, on it.
    assert_eq!(t.upload(&sample("wine-2009-b.csv"), "wine").0, 0);
    let started = std::time::Instant::now();
    let first = t.json(&["monitor", "--json"]);
    assert_eq!(first["runs"].as_array().unwrap().len(), 1, "{first:#}");
    assert_eq!(first["runs"][0]["trigger"]["kind"], "monitor");
    assert_eq!(first["runs"][0]["dataset_version"], 2);
    assert_eq!(first["reports"][0]["new_data_needed"], false);
    // It returned as soon as the check was done: the run proceeds in a process of its own,
    // whose log the answer names, and ends there.
    assert_eq!(first["runs"][0]["status"], "running", "{first:#}");
    let log = std::path::PathBuf::from(first["background"]["log"].as_str().unwrap());
    let id = first["runs"][0]["run_id"].as_str().unwrap().to_owned();
    let ended = loop {
        let run = t.json(&["run", "show", &id, "--json"]);
        if run["status"] != "running" {
            break run;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(300),
            "the retraining run did not end in 5 minutes: {run:#}"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    assert_eq!(ended["status"], "succeeded", "{ended:#}");
    let said = (0..100)
        .map(|_| {
            std::thread::sleep(std::time::Duration::from_millis(100));
            std::fs::read_to_string(&log).unwrap_or_default()
        })
        .find(|said| said.contains(&id) && said.contains("Model tests:"))
        .unwrap_or_else(|| std::fs::read_to_string(&log).unwrap_or_default());
    assert!(
        said.contains(&id) && said.contains("Model tests:"),
        "{said}"
    );

    // The same drift an hour later, or a minute: within the cooldown, no second run.
    let second = t.json(&["monitor", "--json"]);
    assert!(second["runs"].as_array().unwrap().is_empty(), "{second:#}");
    assert!(
        second["reports"][0]["notes"]
            .to_string()
            .contains("cooldown"),
        "{second:#}"
    );
    let runs = t.json(&["runs", "--json"]);
    assert_eq!(
        runs.as_array().unwrap().len(),
        2,
        "one tuning run and one retraining"
    );
    // Every drifted check is in the audit trail, with what it led to.
    let audit = t.json(&["audit", "--json"]);
    let drift: Vec<&serde_json::Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "model.drift.detected")
        .collect();
    assert_eq!(drift.len(), 4, "one per drifted check: {drift:#?}");
    assert!(
        drift
            .iter()
            .all(|e| e["actor"] == "monitor" && e["subject"] == "model/wine-promo/v1")
    );
    // People hear of the drift once per cooldown, and of each retraining it starts.
    let told: Vec<bool> = drift.iter().map(|e| e["details"]["told"] == true).collect();
    assert_eq!(told, [true, false, true, false], "{drift:#?}");
    let comments: Vec<&str> = drift
        .iter()
        .map(|e| e["comment"].as_str().unwrap())
        .collect();
    assert!(
        comments[0].contains("alcohol") && comments[0].contains("new data is needed"),
        "{comments:?}"
    );
    assert!(
        comments.iter().any(|c| c.contains("retraining run")),
        "{comments:?}"
    );
}

#[test]
fn an_expired_approval_does_not_count() {
    let t = Tollgate::new();
    assert_eq!(t.upload(&sample("wine-2009-a.csv"), "wine").0, 0);
    let file = t.dir.path().join("p.toml");
    let policy = "\n[promotion]\napprovals = 2\napproval_valid_for = \"3s\"\n";
    std::fs::write(&file, format!("{PIPELINE}{policy}")).unwrap();
    t.json(&["pipeline", "apply", file.to_str().unwrap(), "--json"]);
    t.json(&["run", "wine-promo", "--json"]);
    let (code, first) = decide(&t, "ana", &["approve", "wine-promo", "1"]);
    assert_eq!(code, 0, "{first:#}");
    assert!(
        first["changes"].as_array().unwrap().is_empty(),
        "one of two: {first:#}"
    );
    let trail = t.run(&["audit", "--subject", "model/wine-promo/v1"]);
    let trail = String::from_utf8_lossy(&trail.stdout);
    assert!(
        trail.contains("model.approved") && trail.contains("approval 1 of 2 recorded"),
        "what happened, not a transition that did not occur: {trail}"
    );
    assert!(!trail.contains("staging → staging"), "{trail}");
    std::thread::sleep(std::time::Duration::from_millis(3300));
    // Bob's is the second approval given, but Ana's has expired: still one valid.
    let (code, second) = decide(&t, "bob", &["approve", "wine-promo", "1"]);
    assert_eq!(code, 0, "{second:#}");
    assert!(
        second["changes"].as_array().unwrap().is_empty(),
        "{second:#}"
    );
    let (code, refused) = decide(
        &t,
        "bob",
        &["promote", "wine-promo", "1", "--to", "production"],
    );
    assert_eq!(code, 1);
    assert!(
        refused["reason"].as_str().unwrap().contains("expired"),
        "{refused:#}"
    );
    let shown = t.json(&["model", "show", "wine-promo", "--version", "1", "--json"]);
    assert_eq!(shown["stage"], "staging");
    // Ana approves again: two valid approvals now, so production.
    let (code, third) = decide(&t, "ana", &["approve", "wine-promo", "1"]);
    assert_eq!(code, 0);
    assert_eq!(third["changes"][0]["to"], "production", "{third:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rollbacks_racing_to_replace_the_same_version_roll_back_once() {
    use std::sync::Arc;
    use tollgate_domain::ports::Catalog;
    use tollgate_domain::promotion::Request;
    use tollgate_domain::{ModelStage, UserId};
    use tollgate_local::{DataDir, InProcessBus};
    use tollgate_promote::{Outcome, Promote};

    let dir = tempfile::tempdir().unwrap();
    let local = DataDir::open(dir.path()).unwrap();
    let (catalog, bucket) = (local.catalog.clone(), local.bucket.clone());
    let ports = local.ports(Arc::new(InProcessBus::new()));
    tollgate_domain::conformance::staged(catalog.as_ref(), &bucket, "racing", 3).await;
    let promote = Promote::new(&ports);
    let bob = UserId::parse("bob").unwrap();
    for version in 1..=3 {
        let approve = Request::Approve {
            version,
            comment: None,
        };
        let outcome = promote.request("racing", &approve, &bob).await.unwrap();
        assert!(
            matches!(outcome, Outcome::Done(c) if !c.is_empty()),
            "v{version} ships"
        );
    }

    // Four operators see v3 misbehave and roll it back at once, each naming it.
    let rollbacks = (0..4).map(|i| {
        let promote = promote.clone();
        tokio::spawn(async move {
            let request = Request::Rollback {
                comment: None,
                from: Some(3),
            };
            let who = UserId::parse(&format!("operator-{i}")).unwrap();
            promote.request("racing", &request, &who).await
        })
    });
    let mut done = 0;
    for outcome in futures::future::join_all(rollbacks).await {
        // One rolled back; the others are told it was done, with what it did.
        let (changes, made) = match outcome.unwrap().unwrap() {
            Outcome::Done(changes) => (changes, true),
            Outcome::Repeated(changes) => (changes, false),
            other => panic!(
                "{other:?}: {:#?}",
                catalog
                    .model_state("racing")
                    .await
                    .unwrap()
                    .unwrap()
                    .history
            ),
        };
        done += usize::from(made);
        assert_eq!(
            changes
                .iter()
                .map(|c| (c.version, c.to))
                .collect::<Vec<_>>(),
            [(3, ModelStage::Archived), (2, ModelStage::Production)],
            "each answers the one rollback"
        );
    }
    assert_eq!(done, 1, "one rollback was made");
    let state = catalog.model_state("racing").await.unwrap().unwrap();
    assert_eq!(
        state.in_production().map(|v| v.version),
        Some(2),
        "one version back"
    );
    let rolled = catalog
        .audit(Some("model/racing/"))
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "model.rolled_back")
        .count();
    assert_eq!(rolled, 1, "one rollback in the audit trail");
}

/// A promotion whose process stopped between its commit and its announcement, with no one asking
/// again: the sweep of `tollgate up` (the monitor's schedule on AWS) announces it from the outbox
/// entry written with the commit, once.
#[tokio::test]
async fn a_promotion_cut_short_and_never_asked_again_is_announced_by_the_sweep() {
    use std::sync::Arc;
    use std::time::Duration;
    use tollgate_domain::ports::{Catalog, Ports};
    use tollgate_domain::promotion::Request;
    use tollgate_domain::{Event, ModelStage, UserId};
    use tollgate_local::{DataDir, InProcessBus};
    use tollgate_promote::Promote;

    let dir = tempfile::tempdir().unwrap();
    let local = DataDir::open(dir.path()).unwrap();
    let (catalog, bucket) = (local.catalog.clone(), local.bucket.clone());
    let bus = InProcessBus::recording();
    let ports = local.ports(Arc::new(bus.clone()));
    tollgate_domain::conformance::staged(catalog.as_ref(), &bucket, "cut", 1).await;
    let approve = Request::Approve {
        version: 1,
        comment: None,
    };
    let cut_short = Promote::new(&Ports {
        bus: Arc::new(tollgate_domain::conformance::Unreachable),
        ..ports.clone()
    });
    let bob = UserId::parse("bob").unwrap();
    assert!(cut_short.request("cut", &approve, &bob).await.is_err());
    assert_eq!(catalog.unannounced_changes().await.unwrap().len(), 2);

    let sweep = Promote::new(&ports);
    assert_eq!(
        sweep
            .announce_owed(Duration::from_secs(3600))
            .await
            .unwrap(),
        0,
        "a young change is left to its request"
    );
    assert_eq!(sweep.announce_owed(Duration::ZERO).await.unwrap(), 2);
    assert_eq!(
        sweep.announce_owed(Duration::ZERO).await.unwrap(),
        0,
        "once"
    );
    let announced: Vec<Event> = bus.published();
    assert!(
        announced.iter().any(|e| matches!(
            e,
            Event::ModelStageChanged { model, version: 1, to: ModelStage::Production, .. }
                if model == "cut"
        )),
        "{announced:#?}"
    );
}
