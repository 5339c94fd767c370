//! Tuning runs as a user starts them: `pipeline init`, `pipeline apply`, `run`, an upload that
//! starts a run by itself; the candidate against scikit-learn on the same rows; its lineage.

use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};
use tollgate_domain::ports::Catalog;

use crate::helpers::{Tollgate, block_on, parse, sample};

fn baselines() -> Value {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/baselines/baselines.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// A data dir with v1 of `wine` (samples/wine/wine-2009-a.csv, the file the baselines use).
fn with_wine() -> Tollgate {
    let t = Tollgate::new();
    let (code, _) = t.upload(&sample("wine-2009-a.csv"), "wine");
    assert_eq!(code, 0);
    t
}

fn write(t: &Tollgate, name: &str, text: &str) -> String {
    let path = t.dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

fn run_json(t: &Tollgate, pipeline: &str) -> Value {
    let out = t.run(&["run", pipeline, "--json"]);
    let (code, value) = parse(&out);
    assert_eq!(
        code,
        0,
        "{value:#}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    value
}

/// The candidate's `metric` on the frozen test split, as its model tests scored it (no trial
/// sees the test labels).
fn test_metric(run: &Value, metric: &str) -> f64 {
    run["candidate"]["test_metrics"][metric]
        .as_f64()
        .unwrap_or_else(|| panic!("no test {metric} in {:#}", run["candidate"]))
}

#[test]
fn init_writes_a_pipeline_that_reaches_the_sklearn_baseline_for_classification() {
    let t = with_wine();
    let file = t.dir.path().join("wine-quality.toml");
    let out = t.run(&[
        "pipeline",
        "init",
        "--dataset",
        "wine",
        "--target",
        "quality",
        "--out",
        file.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("task = \"classification\""), "{text}");
    assert!(
        text.starts_with("# Pipeline wine-quality: predicts \"quality\" of dataset \"wine\""),
        "names read as names, not as the types that hold them: {text}"
    );
    let applied = t.json(&["pipeline", "apply", file.to_str().unwrap(), "--json"]);
    assert_eq!(applied["version"], 1);
    let shown = t.run(&["pipeline", "show", "wine-quality"]);
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.starts_with("# Pipeline \"wine-quality\", version 1 (sha256 "),
        "{shown}"
    );
    assert!(shown.ends_with(&text), "the file as applied: {shown}");
    let unknown = t.run(&["pipeline", "show", "nope"]);
    assert_eq!(unknown.status.code(), Some(2));
    let run = run_json(&t, "wine-quality");
    assert_eq!(run["pipeline"], "wine-quality");
    assert_eq!(run["dataset"], "wine");
    assert_eq!(run["dataset_version"], 1);
    let trials = run["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 20, "max_trials in the written file");
    assert!(
        trials.iter().all(|t| t["status"] == "completed"),
        "{trials:#?}"
    );
    assert_eq!(run["candidate"]["model"], "wine-quality");
    assert_eq!(run["candidate"]["version"], 1);
    // Quality 3 is 0.6% of the wines: init optimizes macro F1 with balanced class weights. Held
    // to scikit-learn's logistic regression on that metric, the plain baseline, with a margin
    // for the search (the real tables hold the default to the better models: real_tables.rs).
    assert!(text.contains("metric = \"f1_macro\""), "{text}");
    let ours = test_metric(&run, "f1_macro");
    let sklearn = baselines()["quality_logistic_f1_macro"].as_f64().unwrap();
    assert!(
        ours >= sklearn - 0.02,
        "test f1_macro {ours:.4}, scikit-learn's logistic regression {sklearn:.4}"
    );
}

#[test]
fn a_logistic_run_reaches_the_sklearn_baseline_on_the_same_rows() {
    let t = with_wine();
    let file = write(
        &t,
        "logit.toml",
        r#"
name = "wine-logit"
dataset = "wine"
target = "quality"
task = "classification"
model = "logistic_regression"
[search]
strategy = "tpe"
seed = 1
[search.space]
alpha = { type = "log_uniform", low = 1e-4, high = 10.0 }
max_iterations = { type = "int", low = 50, high = 400, log = true }
[budget]
max_trials = 16
max_parallel = 2
[split]
train = 0.7
validation = 0.15
test = 0.15
seed = 1
"#,
    );
    let run = run_json(&t, &file);
    assert_eq!(run["trials"].as_array().unwrap().len(), 16);
    assert_eq!(
        run["split"]["rows"][2],
        baselines()["test_rows"],
        "the same test rows"
    );
    let ours = test_metric(&run, "accuracy");
    let sklearn = baselines()["quality_logistic_accuracy"].as_f64().unwrap();
    assert!(
        ours >= sklearn - 0.02,
        "test accuracy {ours:.4}, scikit-learn's {sklearn:.4}"
    );
}

#[test]
fn a_regression_run_reaches_the_sklearn_baseline() {
    let t = with_wine();
    let file = write(
        &t,
        "alcohol.toml",
        r#"
name = "wine-alcohol"
dataset = "wine"
target = "alcohol"
task = "regression"
model = "elastic_net"
metric = "r2"
[search]
strategy = "tpe"
seed = 3
[search.space]
alpha = { type = "log_uniform", low = 1e-5, high = 1.0 }
l1_ratio = { type = "uniform", low = 0.0, high = 1.0 }
[budget]
max_trials = 12
max_parallel = 2
[split]
train = 0.7
validation = 0.15
test = 0.15
seed = 1
"#,
    );
    let run = run_json(&t, &file);
    assert_eq!(run["trials"].as_array().unwrap().len(), 12);
    assert_eq!(
        run["split"]["rows"][2],
        baselines()["test_rows"],
        "the same test rows"
    );
    let ours = test_metric(&run, "r2");
    let sklearn = baselines()["alcohol_linear_r2"].as_f64().unwrap();
    assert!(
        ours >= sklearn - 0.02,
        "test r2 {ours:.4}, scikit-learn's {sklearn:.4}"
    );
}

#[test]
fn failed_trials_are_recorded_with_their_reason_and_the_run_goes_on() {
    let t = with_wine();
    // l1_ratio above 1 is refused by the trainer: those trials fail, the others carry the run.
    let file = write(
        &t,
        "bad.toml",
        r#"
name = "half-bad"
dataset = "wine"
target = "alcohol"
task = "regression"
model = "elastic_net"
[search]
strategy = "random"
seed = 5
[search.space]
l1_ratio = { type = "uniform", low = 0.5, high = 1.5 }
[budget]
max_trials = 8
max_parallel = 3
"#,
    );
    let run = run_json(&t, &file);
    let trials = run["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 8, "failed trials count against the budget");
    let failed: Vec<&Value> = trials.iter().filter(|t| t["status"] == "failed").collect();
    assert!(!failed.is_empty(), "some l1_ratio above 1 was drawn");
    assert!(
        failed
            .iter()
            .all(|t| t["failure"].as_str().unwrap().contains("l1_ratio")),
        "{failed:#?}"
    );
    assert_eq!(run["status"], "succeeded");
    let best = &run["best"]["hyperparameters"]["l1_ratio"];
    assert!(best.as_f64().unwrap() <= 1.0);
}

#[test]
fn an_upload_starts_the_runs_of_listening_pipelines_and_lineage_reaches_its_bytes() {
    let t = Tollgate::new();
    let (code, _) = t.upload(&sample("wine-2009-a.csv"), "wine");
    assert_eq!(code, 0);
    let file = write(
        &t,
        "p.toml",
        r#"
name = "wine-quick"
dataset = "wine"
target = "quality"
task = "classification"
model = "logistic_regression"
[search]
strategy = "random"
[search.space]
alpha = { type = "log_uniform", low = 1e-3, high = 1.0 }
[budget]
max_trials = 3
max_parallel = 3
"#,
    );
    t.json(&["pipeline", "apply", &file, "--json"]);
    let (code, upload) = t.upload(&sample("wine-2009-b.csv"), "wine");
    assert_eq!(code, 0, "{upload:#}");
    let runs = upload["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{upload:#}");
    let run = &runs[0];
    assert_eq!(run["dataset_version"], 2);
    assert_eq!(run["candidate"]["version"], 1);
    // The same event again (a duplicate delivery) starts nothing new.
    let listed = t.json(&["runs", "--json"]);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["run_id"], run["run_id"]);
    assert_eq!(listed[0]["status"], "succeeded");

    // Lineage: the candidate names the version's content hash, which is the upload's SHA-256.
    let bytes = std::fs::read(sample("wine-2009-b.csv")).unwrap();
    let sha = hex::encode(Sha256::digest(&bytes));
    let catalog = t.catalog();
    let model = block_on(catalog.model_version("wine-quick", 1))
        .unwrap()
        .expect("candidate v1");
    assert_eq!(model.content_hash.as_str(), sha);
    assert_eq!(model.dataset_version, 2);
    assert_eq!(model.run_id, run["run_id"].as_str().unwrap());
    assert_eq!(model.author.as_str(), "tester");
    assert!(model.trainer.starts_with("tollgate-trainer"));
    assert_eq!(
        model.hyperparameters,
        serde_json::from_value(run["best"]["hyperparameters"].clone()).unwrap()
    );
    let applied = std::fs::read(&file).unwrap();
    assert_eq!(
        model.pipeline_hash.as_str(),
        hex::encode(Sha256::digest(&applied))
    );
    // The artifact is where the job wrote its model.
    let artifact = model.artifact.strip_prefix("s3://tollgate-data/").unwrap();
    let model_json = t
        .data_dir()
        .join("buckets/tollgate-data")
        .join(artifact)
        .join("model.json");
    assert!(model_json.is_file(), "{}", model_json.display());
    // The audit trail has the run and the registration.
    let audit = t.json(&["audit", "--json"]);
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"run.started") && actions.contains(&"model.candidate.registered"),
        "{actions:?}"
    );
}

/// A pipeline stored before the limits held (applying refuses it now) fails its run saying
/// why, and the other pipelines on the dataset run as if it were not there.
#[test]
fn a_pipeline_past_the_limits_fails_alone_and_the_others_on_its_dataset_run() {
    use tollgate_domain::pipeline::StrategyName;
    use tollgate_domain::search::ParamSpec;

    let t = with_wine();
    let good = "name = \"wine-quick\"\ndataset = \"wine\"\ntarget = \"quality\"\n\
                task = \"classification\"\nmodel = \"logistic_regression\"\n\
                [search]\nstrategy = \"random\"\n\
                [search.space]\nalpha = { type = \"log_uniform\", low = 1e-3, high = 1.0 }\n\
                [budget]\nmax_trials = 2\n";
    let file = write(&t, "quick.toml", good);
    t.json(&["pipeline", "apply", &file, "--json"]);
    // Twenty ranges of five points: a grid of 5^20 combinations.
    let mut grid = tollgate_domain::Pipeline::from_toml(good).unwrap();
    grid.name = "wine-grid".into();
    grid.search.strategy = StrategyName::Grid;
    grid.search.grid_levels = 5;
    grid.search.space.0 = (0..20)
        .map(|i| {
            (
                format!("p{i}"),
                ParamSpec::Uniform {
                    low: 0.0,
                    high: 1.0,
                },
            )
        })
        .collect();
    let catalog = t.catalog();
    let tester = tollgate_domain::UserId::parse("tester").unwrap();
    let now = jiff::Timestamp::now();
    block_on(catalog.put_pipeline(
        tollgate_domain::StoredPipeline {
            version: 0,
            text: grid.to_toml(),
            pipeline: grid,
            hash: tollgate_domain::ContentHash::parse(&"cd".repeat(32)).unwrap(),
            applied_by: tester.clone(),
            applied_at: now,
        },
        None,
        tollgate_domain::AuditEvent::new(now, tester, "pipeline.applied", "pipeline/wine-grid"),
    ))
    .unwrap();

    let (code, upload) = t.upload(&sample("wine-2009-b.csv"), "wine");
    assert_eq!(code, 0, "{upload:#}");

    let runs = t.json(&["runs", "--json"]);
    let status = |pipeline: &str| {
        runs.as_array()
            .unwrap()
            .iter()
            .find(|r| r["pipeline"] == pipeline)
            .unwrap_or_else(|| panic!("no run of {pipeline}: {runs:#}"))
            .clone()
    };
    assert_eq!(status("wine-quick")["status"], "succeeded", "{runs:#}");
    let failed = status("wine-grid");
    assert_eq!(failed["status"], "failed", "{failed:#}");
    assert!(
        failed["reason"]
            .as_str()
            .unwrap()
            .contains("95367431640625 points"),
        "{failed:#}"
    );
}

#[test]
fn a_bad_pipeline_file_is_refused_with_its_line() {
    let t = with_wine();
    let file = write(
        &t,
        "bad.toml",
        "name = \"x\"\ndataset = \"wine\"\ntarget = \"quality\"\ntask = \"classification\"\nmodel = \"svm\"\n",
    );
    let out = t.run(&["pipeline", "apply", &file]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 5") && err.contains("svm"), "{err}");
    // A run of an unknown pipeline is an error of use too.
    let out = t.run(&["run", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no pipeline \"nope\""));
}

#[test]
fn halving_gives_more_data_only_to_the_best_configurations() {
    let t = with_wine();
    let file = write(
        &t,
        "halving.toml",
        r#"
name = "wine-halving"
dataset = "wine"
target = "quality"
task = "classification"
model = "logistic_regression"
[search]
strategy = "halving"
seed = 2
[search.space]
alpha = { type = "log_uniform", low = 1e-4, high = 10.0 }
[search.halving]
resource = "data_fraction"
min = 0.11
max = 1.0
eta = 3
[budget]
max_trials = 13
max_parallel = 3
"#,
    );
    let run = run_json(&t, &file);
    let trials = run["trials"].as_array().unwrap();
    let at = |f: f64| -> Vec<&Value> {
        trials
            .iter()
            .filter(|t| (t["hyperparameters"]["data_fraction"].as_f64().unwrap() - f).abs() < 1e-6)
            .collect()
    };
    // Rungs 1/9, 1/3, 1: 9 configurations, the best 3 on a third, the best on all the rows.
    let (ninth, third) = (1.0 / 9.0, 1.0 / 3.0);
    assert_eq!(
        (at(ninth).len(), at(third).len(), at(1.0).len()),
        (9, 3, 1),
        "{trials:#?}"
    );
    assert_eq!(run["best"]["hyperparameters"]["data_fraction"], 1.0);
    let accuracy = |t: &Value| t["metrics"]["validation:accuracy"].as_f64().unwrap();
    let mut first: Vec<f64> = at(ninth).iter().map(|t| accuracy(t)).collect();
    first.sort_by(|a, b| b.total_cmp(a));
    for promoted in at(third) {
        let alpha = &promoted["hyperparameters"]["alpha"];
        let origin = at(ninth)
            .into_iter()
            .find(|t| t["hyperparameters"]["alpha"] == *alpha)
            .unwrap();
        // Asynchronous: promoted from the best third of what had finished, at worst the median.
        assert!(accuracy(origin) >= first[4], "{origin:#}");
    }
}

#[test]
fn a_fine_stage_searches_around_the_best_of_the_coarse_one() {
    let t = with_wine();
    let file = write(
        &t,
        "staged.toml",
        r#"
name = "wine-staged"
dataset = "wine"
target = "alcohol"
task = "regression"
model = "elastic_net"
[search]
strategy = "random"
seed = 4
[search.space]
alpha = { type = "log_uniform", low = 1e-5, high = 1.0 }
[[search.stage]]
trials = 8
[[search.stage]]
trials = 6
top = 3
[budget]
max_trials = 14
max_parallel = 4
"#,
    );
    let run = run_json(&t, &file);
    let trials = run["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 14);
    let alpha = |t: &Value| t["hyperparameters"]["alpha"].as_f64().unwrap().ln();
    let mut coarse: Vec<&Value> = trials[..8].iter().collect();
    coarse.sort_by(|a, b| {
        a["objective"]
            .as_f64()
            .unwrap()
            .total_cmp(&b["objective"].as_f64().unwrap())
    });
    let best: Vec<f64> = coarse[..3].iter().map(|t| alpha(t)).collect();
    let (lo, hi) = best
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), a| {
            (l.min(*a), h.max(*a))
        });
    let pad = ((hi - lo) * 0.5).max((1.0f64.ln() - 1e-5f64.ln()) * 0.05) + 1e-9;
    for fine in &trials[8..] {
        let a = alpha(fine);
        assert!(
            a >= lo - pad && a <= hi + pad,
            "fine alpha e^{a:.3} outside e^[{lo:.3}, {hi:.3}] ± {pad:.3}"
        );
    }
}

#[test]
fn a_period_budget_is_summed_over_the_runs_of_the_period() {
    let t = with_wine();
    let file = write(
        &t,
        "monthly.toml",
        r#"
name = "wine-monthly"
dataset = "wine"
target = "alcohol"
task = "regression"
model = "linear_regression"
[search]
strategy = "random"
[search.space]
fit_intercept = { type = "choice", values = [true, false] }
[budget]
max_trials = 4
max_parallel = 2
[budget.period]
every = "month"
max_trials = 5
"#,
    );
    let first = run_json(&t, &file);
    assert_eq!(first["trials"].as_array().unwrap().len(), 4);
    let second = run_json(&t, "wine-monthly");
    assert_eq!(second["trials"].as_array().unwrap().len(), 1, "{second:#}");
    assert!(
        second["notes"][0]
            .as_str()
            .unwrap()
            .contains("5 trials had 1 left"),
        "{second:#}"
    );
    // Nothing is left this month: the run is refused with the reason, and the team is told,
    // once.
    let receiver = crate::notifications::Receiver::start(Vec::new());
    let out = t
        .command()
        .env("TOLLGATE_WEBHOOK_URL", &receiver.url)
        .args(["run", "wine-monthly", "--json"])
        .output()
        .unwrap();
    let (code, third) = parse(&out);
    assert_eq!(code, 1, "{third:#}");
    assert_eq!(third["status"], "failed");
    assert!(
        third["reason"].as_str().unwrap().contains("had 0 left"),
        "{third:#}"
    );
    let received = receiver.received();
    assert_eq!(received.len(), 1, "{received:#?}");
    let told: Value = serde_json::from_str(&received[0].body).unwrap();
    assert_eq!(told["tollgate"]["kind"], "run.failed", "{told:#}");
    assert_eq!(
        told["tollgate"]["subject"],
        format!("run/{}", third["run_id"].as_str().unwrap())
    );
    assert!(
        told["text"].as_str().unwrap().contains("had 0 left"),
        "{told:#}"
    );
}

/// A run still going holds its whole allowance of the period's budget: a run started meanwhile
/// gets what is left after it, not what it has used so far.
#[test]
fn a_run_still_going_holds_its_allowance_of_the_period_budget() {
    let t = with_wine();
    let file = write(
        &t,
        "monthly.toml",
        "name = \"wine-monthly\"\ndataset = \"wine\"\ntarget = \"alcohol\"\n\
         task = \"regression\"\nmodel = \"linear_regression\"\n\
         [search]\nstrategy = \"random\"\n\
         [search.space]\nfit_intercept = { type = \"choice\", values = [true, false] }\n\
         [budget]\nmax_trials = 4\n[budget.period]\nevery = \"month\"\nmax_trials = 9\n",
    );
    let first = run_json(&t, &file);
    assert_eq!(first["trials"].as_array().unwrap().len(), 4);
    // Another run of it, just started elsewhere: allowed 4 trials, none started yet.
    let catalog = t.catalog();
    let mut going = block_on(catalog.run(first["run_id"].as_str().unwrap()))
        .unwrap()
        .unwrap();
    going.id = format!("{}-elsewhere", going.id);
    going.status = tollgate_domain::RunStatus::Running;
    going.trials.clear();
    going.best_trial = None;
    going.candidate = None;
    going.created_at = jiff::Timestamp::now();
    let audit = tollgate_domain::AuditEvent::new(
        going.created_at,
        going.requested_by.clone(),
        "run.started",
        format!("run/{}", going.id),
    );
    block_on(catalog.create_run(&going, audit)).unwrap();

    let second = run_json(&t, "wine-monthly");

    assert_eq!(
        second["trials"].as_array().unwrap().len(),
        1,
        "9 a month, 4 used, 4 held by the run still going: {second:#}"
    );
}

#[test]
fn a_candidate_is_tested_at_once_and_staged_only_when_its_gates_pass() {
    let t = with_wine();
    let pipeline = |name: &str, min_accuracy: f64| {
        format!(
            r#"
name = "{name}"
dataset = "wine"
target = "quality"
task = "classification"
model = "logistic_regression"
[search]
strategy = "random"
[search.space]
alpha = {{ type = "log_uniform", low = 1e-3, high = 1.0 }}
[budget]
max_trials = 2
max_parallel = 2
[gates.thresholds]
accuracy = {min_accuracy}
"#
        )
    };
    let easy = write(&t, "easy.toml", &pipeline("easy-gates", 0.3));
    let run = run_json(&t, &easy);
    assert_eq!(run["candidate"]["test"]["verdict"], "passed", "{run:#}");
    assert_eq!(run["candidate"]["stage"], "staging");
    // The report is named as every other object: bucket, key, and the absolute path behind it.
    let located = &run["candidate"]["test_report"];
    let path = std::path::Path::new(located["path"].as_str().unwrap());
    assert!(path.is_absolute(), "{located}");
    assert!(
        path.ends_with(located["key"].as_str().unwrap()),
        "{located}"
    );
    let report: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    assert_eq!(report["checks"][0]["name"], "accuracy");
    assert_eq!(report["checks"][0]["threshold"], 0.3);

    let hard = write(&t, "hard.toml", &pipeline("hard-gates", 0.99));
    let run = run_json(&t, &hard);
    assert_eq!(run["candidate"]["test"]["verdict"], "failed", "{run:#}");
    assert!(
        run["candidate"]["test"]["reason"]
            .as_str()
            .unwrap()
            .contains("accuracy")
    );
    assert_eq!(
        run["candidate"]["stage"], "candidate",
        "a failing candidate is not staged"
    );
}

/// What a run found, without what differs by design between two runs (ids, times, paths).
fn findings(run: &Value) -> Vec<(Value, Value)> {
    run["trials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["hyperparameters"].clone(), t["metrics"].clone()))
        .collect()
}

#[test]
fn the_same_pipeline_trains_the_same_model_in_two_processes() {
    // A random forest: before linfa-trees was patched (vendor/linfa-trees), its trees counted
    // classes in a hash map seeded per process, and two processes disagreed.
    let pipeline = "name = \"wine-forest\"\ndataset = \"wine\"\ntarget = \"quality\"\n\
        task = \"classification\"\nmodel = \"random_forest\"\n\
        [search]\nstrategy = \"random\"\nseed = 7\n\
        [search.space]\nn_trees = { type = \"int\", low = 20, high = 60 }\n\
        max_depth = { type = \"int\", low = 6, high = 16 }\n\
        feature_proportion = { type = \"uniform\", low = 0.3, high = 0.9 }\n\
        [budget]\nmax_trials = 3\nmax_parallel = 2\n";
    let runs: Vec<Value> = (0..2)
        .map(|_| {
            let t = with_wine();
            let file = write(&t, "wine-forest.toml", pipeline);
            run_json(&t, &file)
        })
        .collect();
    assert_eq!(findings(&runs[0]).len(), 3);
    assert_eq!(
        findings(&runs[0]),
        findings(&runs[1]),
        "the same trials and metrics in two processes"
    );
    assert_eq!(
        runs[0]["best"]["metrics"], runs[1]["best"]["metrics"],
        "the same model on the test split"
    );
}

#[test]
fn training_jobs_work_in_a_private_folder_that_goes_with_the_process() {
    let t = with_wine();
    let tmp = t.dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let file = write(
        &t,
        "wine-small.toml",
        "name = \"wine-small\"\ndataset = \"wine\"\ntarget = \"quality\"\n\
         task = \"regression\"\nmodel = \"elastic_net\"\n[search]\nstrategy = \"random\"\n\
         [search.space]\nalpha = { type = \"log_uniform\", low = 1e-4, high = 1.0 }\n\
         [budget]\nmax_trials = 2\n",
    );
    let out = t
        .command()
        .env("TMPDIR", &tmp)
        .args(["run", &file, "--json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let left: Vec<String> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("tollgate-jobs"))
        .collect();
    assert!(
        left.is_empty(),
        "the jobs' folder is removed with the process: {left:?}"
    );
}

/// A job that could read the test labels could write them as its predictions and pass its own
/// test gate: a spy trainer keeps what each job was given, then trains as `tollgate train` does.
#[test]
fn training_jobs_get_the_test_rows_without_their_labels() {
    use polars::prelude::{ParquetReader, SerReader};
    use std::os::unix::fs::PermissionsExt;

    let t = with_wine();
    let seen = t.dir.path().join("seen");
    let spy = write(
        &t,
        "spy.sh",
        "#!/bin/sh\n# train --root DIR\nmkdir -p \"$SPY_DIR\"\n\
         cp -r \"$3/input/data\" \"$SPY_DIR/$(basename \"$3\")\"\nexec \"$TOLLGATE_BIN\" \"$@\"\n",
    );
    std::fs::set_permissions(&spy, std::fs::Permissions::from_mode(0o755)).unwrap();
    let file = write(
        &t,
        "logit.toml",
        "name = \"wine-logit\"\ndataset = \"wine\"\ntarget = \"quality\"\n\
         task = \"classification\"\nmodel = \"logistic_regression\"\n\
         [search]\nstrategy = \"random\"\nseed = 1\n[search.space]\nalpha = { type = \"log_uniform\", low = 1e-3, high = 1.0 }\n\
         [budget]\nmax_trials = 2\n",
    );
    let out = t
        .command()
        .args(["run", &file, "--json"])
        .env("TOLLGATE_TRAINER", &spy)
        .env("SPY_DIR", &seen)
        .env("TOLLGATE_BIN", env!("CARGO_BIN_EXE_tollgate"))
        .output()
        .unwrap();
    let (code, run) = parse(&out);
    assert_eq!(code, 0, "{run:#}\n{}", String::from_utf8_lossy(&out.stderr));

    let columns = |path: std::path::PathBuf| -> Vec<String> {
        let file = std::fs::read_dir(&path).unwrap().next().unwrap().unwrap();
        let frame = ParquetReader::new(std::fs::File::open(file.path()).unwrap())
            .finish()
            .unwrap();
        frame
            .get_column_names()
            .iter()
            .map(|c| c.to_string())
            .collect()
    };
    let jobs: Vec<_> = std::fs::read_dir(&seen)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(jobs.len(), 2, "one folder per job: {jobs:?}");
    for job in jobs {
        assert!(columns(job.join("train")).contains(&"quality".to_owned()));
        assert!(columns(job.join("validation")).contains(&"quality".to_owned()));
        let test = columns(job.join("test"));
        assert!(
            !test.contains(&"quality".to_owned()),
            "the test rows came with their labels: {test:?}"
        );
        assert!(test.contains(&"alcohol".to_owned()), "{test:?}");
    }
    // The labels stayed with the model tests, which scored the candidate.
    assert!(
        test_metric(&run, "accuracy") > 0.0,
        "{:#}",
        run["candidate"]
    );
}

#[test]
fn a_training_program_of_your_own_runs_locally_and_its_candidate_is_tested_from_its_predictions() {
    let t = with_wine();
    // A program of "another framework": the contract's variables are all it is told; it leaves
    // a model the tests cannot load (no model.json), so they score the predictions it wrote.
    // It borrows the bundled trainer to fit, as a user's script would use its framework.
    let file = write(
        &t,
        "own.toml",
        r#"name = "wine-own"
dataset = "wine"
target = "quality"
task = "classification"
model = "logistic_regression"
[search]
strategy = "random"
seed = 1
[search.space]
alpha = { type = "log_uniform", low = 1e-3, high = 1.0 }
[budget]
max_trials = 2
[backend]
kind = "local"
command = ["sh", "-c", """
set -e
test -d "$SM_CHANNEL_TRAIN" && test -d "$SM_CHANNEL_TEST"
"$TOLLGATE_BIN" train --root "$(dirname "$SM_MODEL_DIR")"
mv "$SM_MODEL_DIR/model.json" "$SM_MODEL_DIR/weights.bin"
test -f "$SM_OUTPUT_DATA_DIR/predictions/test.csv"
"""]
"#,
    );
    let out = t
        .command()
        .args(["run", &file, "--json"])
        .env("TOLLGATE_BIN", env!("CARGO_BIN_EXE_tollgate"))
        .output()
        .unwrap();
    let (code, run) = parse(&out);
    assert_eq!(code, 0, "{run:#}\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(run["status"], "succeeded", "{run:#}");
    let trials = run["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 2, "{run:#}");
    assert!(
        trials.iter().all(|t| t["status"] == "completed"),
        "{trials:#?}"
    );
    let accuracy = test_metric(&run, "accuracy");
    assert!(
        accuracy > 0.4,
        "the candidate, scored from its predictions: {accuracy}"
    );
    // The jobs' models are what the program left: no model.json, its own file.
    let mut models = Vec::new();
    let mut dirs = vec![t.data_dir()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.parent().is_some_and(|p| p.ends_with("model")) {
                models.push(path.file_name().unwrap().to_string_lossy().into_owned());
            }
        }
    }
    assert_eq!(models, ["weights.bin", "weights.bin"], "{models:?}");

    // A command on the SageMaker backend is refused where it is written.
    let refused = write(
        &t,
        "refused.toml",
        &std::fs::read_to_string(&file)
            .unwrap()
            .replace("kind = \"local\"", "kind = \"sagemaker\"\nimage = \"x\""),
    );
    let out = t.run(&["pipeline", "apply", &refused]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("command") && stderr.contains("local backend only"),
        "{stderr}"
    );
}
