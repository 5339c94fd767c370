//! The drift statistics agree with scipy's to 1e-6 (`tests/fixtures/drift/reference.py` made the
//! expected values with scipy and numpy).

use std::io::Read;
use std::path::Path;

use serde_json::Value;
use tollgate_validation::stats;

const TOLERANCE: f64 = 1e-6;

fn cases() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/drift/cases.json.gz");
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    let mut out: Vec<f64> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    out.sort_unstable_by(f64::total_cmp);
    out
}

fn counts(v: &Value) -> Vec<u64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect()
}

#[test]
fn drift_statistics_match_scipy_within_1e_6() {
    let all = cases();
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in all["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let expected = &case["expected"];
        let got: Vec<(&str, f64)> = if case["kind"] == "numeric" {
            let (a, b) = (floats(&case["baseline"]), floats(&case["current"]));
            let ks = stats::ks_2samp(&a, &b);
            vec![
                ("ks", ks.statistic),
                ("ks_pvalue", ks.pvalue),
                ("wasserstein", stats::wasserstein(&a, &b)),
                ("psi", stats::psi(&a, &b)),
            ]
        } else {
            let (a, b) = (counts(&case["baseline"]), counts(&case["current"]));
            let chi = stats::chi2_contingency(&a, &b);
            vec![
                ("chi2", chi.statistic),
                ("chi2_pvalue", chi.pvalue),
                ("jensen_shannon", stats::jensen_shannon(&a, &b)),
                ("linf", stats::linf(&a, &b)),
            ]
        };
        for (stat, value) in got {
            let want = expected[stat].as_f64().unwrap();
            checked += 1;
            if (value - want).abs() > TOLERANCE {
                failures.push(format!(
                    "{name}.{stat}: ours {value}, scipy {want}, off by {:e}",
                    (value - want).abs()
                ));
            }
        }
    }
    assert!(checked >= 70, "only {checked} values checked");
    assert!(
        failures.is_empty(),
        "scipy {} disagrees:\n{}",
        all["scipy"],
        failures.join("\n")
    );
}
