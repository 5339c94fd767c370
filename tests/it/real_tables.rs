//! Public tables as R and pandas export them (tests/fixtures/real), taken as a new user takes
//! them: upload, `pipeline init`, `pipeline apply`, `run`, with the pipeline init writes and
//! nothing changed. Each candidate must reach staging and come within two points of the better of
//! scikit-learn's random forest and HistGradientBoosting on the same rows
//! (tests/fixtures/real/make.py writes baselines.json).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::helpers::{Tollgate, parse};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/real")
        .join(name)
}

fn baseline(case: &str) -> Value {
    let text = std::fs::read(fixture("baselines.json")).unwrap();
    let all: Value = serde_json::from_slice(&text).unwrap();
    all[case].clone()
}

fn ok(out: &std::process::Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Uploads `file` as `dataset` (accepted), writes the default pipeline for `target`, applies it
/// and runs it: the pipeline file's text, what init printed, and the run.
fn default_pipeline(
    t: &Tollgate,
    file: &str,
    dataset: &str,
    target: &str,
) -> (String, String, Value) {
    let (code, upload) = t.upload(&fixture(file), dataset);
    assert_eq!(code, 0, "{upload:#}");
    assert_eq!(upload["status"], "accepted", "{upload:#}");
    let out = t.dir.path().join(format!("{dataset}.toml"));
    let printed = ok(&t.run(&[
        "pipeline",
        "init",
        "--dataset",
        dataset,
        "--target",
        target,
        "--out",
        out.to_str().unwrap(),
    ]));
    let text = std::fs::read_to_string(&out).unwrap();
    ok(&t.run(&["pipeline", "apply", out.to_str().unwrap()]));
    let name = text
        .lines()
        .find_map(|l| l.strip_prefix("name = \""))
        .map(|n| n.trim_end_matches('"').to_owned())
        .unwrap();
    let run = t.run(&["run", &name, "--json"]);
    let (code, run) = parse(&run);
    assert_eq!(code, 0, "{run:#}");
    (text, printed, run)
}

/// The candidate is staged, and its test metric is within two points of scikit-learn's best.
fn within_two_points(run: &Value, case: &str) -> f64 {
    let b = baseline(case);
    let metric = b["metric"].as_str().unwrap();
    assert!(run["split"]["rows"][2].as_u64().unwrap() >= b["test_rows"].as_u64().unwrap());
    let candidate = &run["candidate"];
    assert_eq!(candidate["stage"], "staging", "{candidate:#}");
    let ours = candidate["test_metrics"][metric]
        .as_f64()
        .unwrap_or_else(|| panic!("no test {metric}: {candidate:#}"));
    let best = b["best"].as_f64().unwrap();
    assert!(
        ours >= best - 0.02,
        "{case}: test {metric} {ours:.4}; scikit-learn's random forest {:.4}, \
         HistGradientBoosting {:.4}",
        b["random_forest"],
        b["hist_gradient_boosting"]
    );
    eprintln!("{case}: {metric} {ours:.4} against scikit-learn's best {best:.4}");
    ours
}

#[test]
fn an_r_export_with_na_an_id_and_free_text_reaches_sklearn_on_three_classes() {
    let t = Tollgate::new();
    let (text, printed, run) = default_pipeline(&t, "penguins-raw.csv", "penguins", "Species");

    // R's NA made nullable numbers, and the contract says which spellings are missing.
    let contract = ok(&t.run(&["contract", "show", "penguins"]));
    assert!(contract.contains("null_values = ["), "{contract}");
    let culmen = contract
        .split("[[column]]")
        .find(|c| c.contains("name = \"Culmen Length (mm)\""))
        .unwrap();
    assert!(culmen.contains("type = \"float\""), "{culmen}");
    assert!(culmen.contains("nullable = true"), "{culmen}");

    // The identifier and the free text are left out, each with its reason, in the file and on
    // the terminal.
    assert!(
        text.contains("exclude = [\"Individual ID\", \"Comments\"]"),
        "{text}"
    );
    assert!(
        text.contains("#   \"Individual ID\": an identifier"),
        "{text}"
    );
    assert!(text.contains("#   \"Comments\": "), "{text}");
    assert!(printed.contains("Left out \"Comments\""), "{printed}");
    // Chinstrap penguins are 19.8% of the rows: under the 20% that makes accuracy misleading.
    assert!(text.contains("metric = \"f1_macro\""), "{text}");
    assert!(text.contains("model = \"gradient_boosting\""), "{text}");
    assert!(text.contains("class_weight = \"balanced\""), "{text}");
    within_two_points(&run, "penguins_species");
}

#[test]
fn a_regression_target_with_missing_values_leaves_those_rows_out_and_counts_them() {
    let t = Tollgate::new();
    let (text, _, run) = default_pipeline(&t, "penguins-raw.csv", "penguins", "Body Mass (g)");
    assert!(text.contains("task = \"regression\""), "{text}");
    assert!(text.contains("model = \"gradient_boosting\""), "{text}");
    assert!(
        text.contains("# 2 rows of v1 have no Body Mass (g)"),
        "{text}"
    );
    within_two_points(&run, "penguins_body_mass");
    // Counted where people read the evidence: the run, the model file and the test report.
    assert_eq!(run["candidate"]["test_rows_without_target"], 1, "{run:#}");
    let model = &run["candidate"];
    let report = t.json(&[
        "model",
        "show",
        model["model"].as_str().unwrap(),
        "--version",
        &model["version"].to_string(),
        "--json",
    ]);
    let text = report.to_string();
    assert!(
        text.contains("rows_without_target"),
        "the counts: {report:#}"
    );
}

#[test]
fn a_pandas_export_with_a_rare_yes_no_target_is_weighted_and_gated_on_macro_f1() {
    let t = Tollgate::new();
    let (text, printed, run) = default_pipeline(&t, "hdma.csv", "hdma", "deny");
    // pandas' index column is a row number, not a feature.
    assert!(text.contains("exclude = [\"Unnamed: 0\"]"), "{text}");
    assert!(text.contains("metric = \"f1_macro\""), "{text}");

    // The floor: always answering "no" (88% of the rows) scores a macro F1 of about 0.47.
    let floor: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("f1_macro = "))
        .unwrap()
        .parse()
        .unwrap();
    assert!((0.45..0.49).contains(&floor), "{text}");
    assert!(printed.contains("classes weighed the same"), "{printed}");
    assert!(text.contains("class_weight = \"balanced\""), "{text}");
    let ours = within_two_points(&run, "hdma_deny");
    assert!(ours > floor + 0.1, "test f1_macro {ours:.4}, floor {floor}");
}
