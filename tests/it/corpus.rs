//! The corpus of bad uploads (`tests/corpus/`): each is rejected with a reason that says what and
//! where, or accepted where it is valid; never a crash; its bytes are always kept.

use std::path::Path;

use serde_json::Value;

use crate::helpers::{Tollgate, corpus, reasons};

/// Uploads `file`, checks the outcome and that the kept copy is byte-identical to the upload.
fn expect(t: &Tollgate, file: &str, dataset: &str, status: &str, reason: &str) -> Value {
    let path = corpus(file);
    let (code, v) = t.upload(&path, dataset);
    assert!(
        code == 0 || code == 1,
        "{file}: exit {code} is neither accepted nor rejected: {v}"
    );
    assert_eq!(v["status"], status, "{file}: {}", reasons(&v));
    if status == "rejected" {
        assert_eq!(code, 1, "{file}");
        let all = reasons(&v);
        assert!(
            all.contains(reason),
            "{file}: expected {reason:?} in the reasons: {all}"
        );
        let kept = v["object"]["key"].as_str().unwrap();
        assert!(
            kept.starts_with(&format!("quarantine/{dataset}/")),
            "{file}: kept at {kept}"
        );
        let report = Path::new(v["report"]["path"].as_str().unwrap());
        let stored: Value = serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap();
        assert_eq!(
            stored["status"], "rejected",
            "{file}: the report is kept beside the upload"
        );
    }
    let kept = Path::new(v["object"]["path"].as_str().unwrap());
    assert_eq!(
        std::fs::read(kept).unwrap(),
        std::fs::read(&path).unwrap(),
        "{file}: the kept copy is the upload, byte for byte"
    );
    v
}

#[test]
fn malformed_files_without_a_contract_are_rejected_with_their_reason() {
    let t = Tollgate::new();
    let cases = [
        ("empty.csv", "the file is empty"),
        ("header_only.csv", "no data rows"),
        ("ragged_rows.csv", "line 6 has 6 fields, the header has 5"),
        ("semicolon_delimited.csv", "semicolon-separated"),
        ("latin1.csv", "not UTF-8"),
        ("binary.dat", "not UTF-8"),
        (
            "duplicate_header.csv",
            "columns 2 and 4 are both named \"age\"",
        ),
        (
            "all_null_column.csv",
            "column \"notes\": the column is entirely null",
        ),
        // `NaN` is one of the contract's spellings of missing (as pandas reads it); the
        // infinities are not.
        (
            "nan_inf.csv",
            "column \"score\", row 3: inf is not a finite number (2 such values",
        ),
        ("unterminated_quote.csv", "unterminated quote"),
        ("corrupt.csv.gz", "gzip stream is corrupt"),
        ("corrupt.parquet", "not a readable Parquet file"),
        ("control_chars.csv", "control character U+0001 at line 3"),
    ];
    for (i, (file, reason)) in cases.iter().enumerate() {
        // A dataset each, so no case founds a contract another is checked against.
        expect(&t, file, &format!("case{i}"), "rejected", reason);
    }
}

#[test]
fn ragged_rows_name_every_short_and_long_line() {
    let t = Tollgate::new();
    let v = expect(
        &t,
        "ragged_rows.csv",
        "ragged",
        "rejected",
        "line 6 has 6 fields",
    );
    assert!(
        reasons(&v).contains("line 9 has 3 fields, the header has 5"),
        "{}",
        reasons(&v)
    );
}

#[test]
fn awkward_but_valid_files_are_accepted() {
    let t = Tollgate::new();
    let v = expect(&t, "bom_crlf.csv", "bom", "accepted", "");
    assert_eq!(v["rows"], 30);
    let shown = t.json(&["dataset", "show", "bom", "--version", "1", "--json"]);
    let names: Vec<&str> = shown["version"]["schema"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["id", "age", "income", "segment", "target"],
        "the byte-order mark is not part of the first name"
    );

    let v = expect(&t, "multi_megabyte_field.csv.gz", "notes", "accepted", "");
    assert_eq!(v["rows"], 2);
    let v = expect(&t, "wide_20000_columns.csv.gz", "wide", "accepted", "");
    assert_eq!(v["rows"], 3);
    let v = expect(&t, "good.jsonl", "jsonl", "accepted", "");
    assert_eq!(v["format"], "jsonl");
    let v = expect(&t, "good.csv.gz", "gz", "accepted", "");
    assert_eq!(v["rows"], 35);
}

#[test]
fn uploads_that_break_the_contract_are_rejected_at_the_column_and_row() {
    let t = Tollgate::new();
    expect(&t, "good.csv", "loans", "accepted", "");
    expect(
        &t,
        "text_in_numeric.csv",
        "loans",
        "rejected",
        "column \"income\", row 3: \"abc\" is not a number",
    );
    expect(
        &t,
        "missing_target.csv",
        "loans",
        "rejected",
        "column \"target\": missing column",
    );
    expect(
        &t,
        "duplicate_header.csv",
        "loans",
        "rejected",
        "duplicate column",
    );
    // The same columns in other formats pass the same contract.
    expect(&t, "bom_crlf.csv", "loans", "accepted", "");
    expect(&t, "good.jsonl", "loans", "accepted", "");
    expect(&t, "good.csv.gz", "loans", "accepted", "");
    let listed = t.json(&["datasets", "--json"]);
    assert_eq!(listed[0]["latest_version"], 4);
    assert_eq!(listed[0]["rejected_uploads"], 3);
}

#[test]
fn an_upload_with_a_value_outside_the_allowed_ones_names_the_value() {
    let t = Tollgate::new();
    expect(&t, "good.csv", "loans", "accepted", "");
    let odd = t.dir.path().join("odd.csv");
    let text = std::fs::read_to_string(corpus("good_next.csv"))
        .unwrap()
        .replacen(",sme,", ",wholesale,", 1);
    std::fs::write(&odd, text).unwrap();
    let (code, v) = t.upload(&odd, "loans");
    assert_eq!(code, 1);
    assert!(
        reasons(&v)
            .contains("\"wholesale\" is not an allowed value (allowed: corporate, retail, sme"),
        "{}",
        reasons(&v)
    );
}

#[test]
fn a_parquet_upload_is_read_and_checked_like_a_csv() {
    use polars::prelude::*;
    let t = Tollgate::new();
    expect(&t, "good.csv", "loans", "accepted", "");
    let stored = t
        .data_dir()
        .join("buckets/tollgate-data/datasets/loans/v1/data.parquet");
    let mut df = ParquetReader::new(std::fs::File::open(&stored).unwrap())
        .finish()
        .unwrap();
    // Shift the ids so the content (and hash) differ but every check still passes.
    let ids = df.column("id").unwrap().as_materialized_series() + 1000;
    df.replace("id", ids.into_column()).unwrap();
    let path = t.dir.path().join("next.parquet");
    ParquetWriter::new(std::fs::File::create(&path).unwrap())
        .finish(&mut df)
        .unwrap();
    let (code, v) = t.upload(&path, "loans");
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["format"], "parquet");
    assert_eq!(v["version"], 2);
}
