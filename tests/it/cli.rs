//! The CLI as a user runs it: upload, re-upload, listing, showing, contracts, exit codes.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::helpers::{Tollgate, corpus, parse, reasons, sample};

#[test]
fn a_first_upload_is_accepted_as_v1_and_founds_the_contract() {
    let t = Tollgate::new();
    let (code, v) = t.upload(&sample("wine-2009-a.csv"), "wine");
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["status"], "accepted");
    assert_eq!(v["dataset"], "wine");
    assert_eq!(v["version"], 1);
    assert_eq!(v["rows"], 800);
    assert_eq!(v["content_hash"].as_str().unwrap().len(), 64);
    assert_eq!(v["contract_version"], 1);
    // The upload is kept, byte for byte, with the version.
    let kept = v["object"]["path"].as_str().unwrap();
    assert!(kept.contains("datasets/wine/v1/original/"), "{kept}");
    assert_eq!(
        std::fs::read(kept).unwrap(),
        std::fs::read(sample("wine-2009-a.csv")).unwrap()
    );
    let folder = std::path::Path::new(kept)
        .parent()
        .unwrap()
        .parent()
        .unwrap();
    for file in ["data.parquet", "profile.json", "report.json"] {
        assert!(
            folder.join(file).is_file(),
            "{file} is stored beside the version"
        );
    }
    let contract = t.run(&["contract", "show", "wine"]);
    let toml = String::from_utf8_lossy(&contract.stdout);
    assert!(
        toml.contains("name = \"alcohol\"") && toml.contains("type = \"float\""),
        "{toml}"
    );
    assert!(
        toml.contains("name = \"quality\"") && toml.contains("type = \"integer\""),
        "{toml}"
    );
}

#[test]
fn a_second_version_reports_drift_values_per_column_and_names_its_parent() {
    let t = Tollgate::new();
    t.upload(&sample("wine-2009-a.csv"), "wine");
    let (code, v) = t.upload(&sample("wine-2010-drifted.csv"), "wine");
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["version"], 2);
    assert_eq!(v["drift_baseline_version"], 1);
    let alcohol = &v["drift"]["alcohol"];
    for stat in ["ks", "ks_pvalue", "psi", "wasserstein"] {
        assert!(alcohol[stat].is_f64(), "drift.alcohol.{stat} in {alcohol}");
    }
    assert!(
        alcohol["ks"].as_f64().unwrap() > 0.3,
        "alcohol was shifted by 1.2: {alcohol}"
    );
    assert!(alcohol["wasserstein"].as_f64().unwrap() > 1.0, "{alcohol}");
    let drifted: Vec<&str> = v["drifted_columns"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    assert!(
        drifted.contains(&"alcohol") && drifted.contains(&"sulphates"),
        "{drifted:?}"
    );
    assert!(!drifted.contains(&"pH"), "pH was not touched: {drifted:?}");
    let shown = t.json(&["dataset", "show", "wine", "--version", "2", "--json"]);
    assert_eq!(shown["lineage"]["parent_version"], 1);
    assert_eq!(shown["lineage"]["content_hash"], v["content_hash"]);
    assert!(shown["drift"]["alcohol"]["psi"].is_f64());
}

#[test]
fn identical_content_is_a_duplicate_that_names_the_existing_version() {
    let t = Tollgate::new();
    let (_, first) = t.upload(&sample("wine-2009-a.csv"), "wine");
    let copy = t.dir.path().join("renamed.csv");
    std::fs::copy(sample("wine-2009-a.csv"), &copy).unwrap();
    let (code, v) = t.upload(&copy, "wine");
    assert_eq!(code, 0);
    assert_eq!(v["status"], "duplicate");
    assert_eq!(v["version"], 1);
    assert_eq!(v["content_hash"], first["content_hash"]);
    let listed = t.json(&["datasets", "--json"]);
    assert_eq!(listed[0]["latest_version"], 1);
    assert_eq!(listed[0]["duplicate_uploads"], 1);
}

#[test]
fn a_rejection_exits_1_and_a_misuse_exits_2() {
    let t = Tollgate::new();
    let (code, v) = t.upload(&corpus("empty.csv"), "things");
    assert_eq!(code, 1);
    assert_eq!(v["status"], "rejected");
    assert!(reasons(&v).contains("empty"), "{}", reasons(&v));

    let bad_name = t.run(&[
        "upload",
        corpus("good.csv").to_str().unwrap(),
        "--dataset",
        "Not Valid",
    ]);
    assert_eq!(bad_name.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_name.stderr).contains("dataset name"));
    let missing = t.run(&["upload", "/nonexistent/file.csv", "--dataset", "things"]);
    assert_eq!(missing.status.code(), Some(2));
    let unknown = t.run(&["dataset", "show", "nothing"]);
    assert_eq!(unknown.status.code(), Some(2));
}

#[test]
fn the_readable_report_says_what_failed_and_where() {
    let t = Tollgate::new();
    t.upload(&corpus("good.csv"), "loans");
    let out = t.run(&[
        "upload",
        corpus("text_in_numeric.csv").to_str().unwrap(),
        "--dataset",
        "loans",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("✘ rejected"), "{text}");
    assert!(
        text.contains("12 rows × 5 columns"),
        "the file's shape, the column that failed its type included: {text}"
    );
    assert!(
        text.contains("column \"income\", row 3: \"abc\" is not a number"),
        "{text}"
    );
    assert!(text.contains("quarantined"), "{text}");
}

#[test]
fn a_replaced_contract_is_enforced_on_the_next_upload() {
    let t = Tollgate::new();
    t.upload(&corpus("good.csv"), "loans");
    let shown = t.run(&["contract", "show", "loans"]);
    let mut toml = String::from_utf8_lossy(&shown.stdout).into_owned();
    // Ages above 60 are now refused.
    toml = toml.replace(
        "name = \"age\"\ntype = \"float\"",
        "name = \"age\"\ntype = \"float\"\nmax = 60.0",
    );
    assert!(toml.contains("max = 60.0"), "{toml}");
    let file = t.dir.path().join("loans.toml");
    std::fs::write(&file, toml).unwrap();
    let applied = t.json(&["contract", "apply", file.to_str().unwrap(), "--json"]);
    assert_eq!(applied["contract_version"], 2);
    let (code, v) = t.upload(&corpus("good_next.csv"), "loans");
    assert_eq!(code, 1, "{v}");
    assert!(
        reasons(&v).contains("outside the contract's range <= 60"),
        "{}",
        reasons(&v)
    );
    assert_eq!(v["contract_version"], 2);

    let broken = t.dir.path().join("broken.toml");
    std::fs::write(
        &broken,
        "dataset = \"loans\"\n[[column]]\nname = \"a\"\ntype = \"text\"\n",
    )
    .unwrap();
    let out = t.run(&["contract", "apply", broken.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line 4"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn without_a_user_setting_the_actor_is_the_login_name_of_the_process() {
    let t = Tollgate::new();
    let login = Command::new("id").arg("-un").output().expect("id runs");
    let login = String::from_utf8_lossy(&login.stdout).trim().to_owned();
    let out = t
        .command()
        .env_remove("TOLLGATE_USER")
        .env_remove("USER")
        .env_remove("USERNAME")
        .env_remove("LOGNAME")
        .args([
            "upload",
            corpus("good.csv").to_str().unwrap(),
            "--dataset",
            "loans",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let trail = t.json(&["audit", "--json"]);
    assert_eq!(trail[0]["actor"], login.as_str(), "{trail:#}");
}

#[test]
fn every_decision_is_in_the_audit_trail() {
    let t = Tollgate::new();
    t.upload(&corpus("good.csv"), "loans");
    t.upload(&corpus("missing_target.csv"), "loans");
    let trail = t.json(&["audit", "--json"]);
    let actions: Vec<&str> = trail
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        ["dataset.version.accepted", "dataset.upload.rejected"]
    );
    assert!(
        trail
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["actor"] == "tester")
    );
}

#[test]
fn a_file_name_with_path_separators_and_dots_stays_inside_the_bucket() {
    let t = Tollgate::new();
    let dir = t.dir.path().join("in");
    std::fs::create_dir_all(&dir).unwrap();
    let evil = dir.join("..\\..\\evil name.csv");
    std::fs::copy(corpus("good.csv"), &evil).unwrap();
    let (code, v) = t.upload(&evil, "loans");
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["source"]["key"], "incoming/loans/evil_name.csv");
    let kept = std::path::Path::new(v["object"]["path"].as_str().unwrap())
        .canonicalize()
        .unwrap();
    assert!(
        kept.starts_with(t.data_dir().canonicalize().unwrap()),
        "{kept:?}"
    );
}

#[test]
fn the_demo_tells_the_story_of_the_data_gate_and_the_tuning_runs() {
    let t = Tollgate::new();
    let out = t.run(&["demo"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "✔ accepted   wine v1",
        "✔ accepted   wine v2",
        "= duplicate  wine (identical to v1)",
        "✘ rejected   wine",
        "✔ accepted   wine v3",
        "⚠ drift",
        "Applied pipeline wine-quality as version 1.",
        "of pipeline wine-quality v1 on wine v2 (12 trials): succeeded",
        "Candidate: model wine-quality version 1",
        "Model tests: passed",
        "wine-quality v1: staging → production",
        "of pipeline wine-quality v1 on wine v3 (12 trials): succeeded",
        "Candidate: model wine-quality version 2",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[cfg(unix)]
#[test]
fn the_catalog_and_the_signing_key_are_the_owners_alone() {
    use std::os::unix::fs::PermissionsExt;
    let t = Tollgate::new();
    let (code, _) = t.upload(&sample("wine-2009-a.csv"), "wine");
    assert_eq!(code, 0);
    assert_eq!(t.run(&["token", "--as", "alice"]).status.code(), Some(0));
    for file in ["catalog.sqlite", "api-signing-key"] {
        let mode = std::fs::metadata(t.data_dir().join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "{file} is 0600, not {:o}",
            mode & 0o777
        );
    }
}

/// `tollgate audit | head`: a reader that stops early ends the command quietly, with the status
/// a shell reports for SIGPIPE, not with a panic's message.
#[test]
fn output_to_a_closed_pipe_ends_quietly() {
    let t = Tollgate::new();
    assert_eq!(t.upload(&sample("wine-2009-a.csv"), "wine").0, 0);
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = t.command().args(["audit"]).stdout(writer).output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{said}");
    assert!(!said.contains("panicked"), "{said}");
}

/// Past the streaming threshold an upload goes through the gate in batches, as a user sees it:
/// a version with the rows of every batch, a bad value found in a later batch by its row, and a
/// Parquet upload streamed too.
#[test]
fn a_large_upload_streams_through_the_gate_in_batches() {
    let t = Tollgate::new();
    let rows = 600_000; // more than one 500,000-row batch
    let write = |path: &Path, bad_row: Option<usize>| {
        let mut csv = String::with_capacity(rows * 24);
        csv.push_str("id,amount,kind\n");
        for i in 0..rows {
            let amount = if Some(i) == bad_row {
                "lots".to_owned()
            } else {
                format!("{}.25", i % 1000)
            };
            csv.push_str(&format!("{i},{amount},{}\n", ["a", "b", "c"][i % 3]));
        }
        std::fs::write(path, csv).unwrap();
    };
    let streamed = |args: &[&str]| {
        let out = t
            .command()
            .env("TOLLGATE_STREAM_ABOVE_BYTES", "1")
            .args(args)
            .output()
            .expect("tollgate runs");
        parse(&out)
    };
    let good = t.dir.path().join("big.csv");
    write(&good, None);
    let (code, v) = streamed(&[
        "upload",
        good.to_str().unwrap(),
        "--dataset",
        "big",
        "--json",
    ]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["rows"], rows as u64);
    assert!(v["timings_ms"]["streamed"].is_u64(), "{}", v["timings_ms"]);
    let profile: Value =
        serde_json::from_slice(&std::fs::read(v["report"]["path"].as_str().unwrap()).unwrap())
            .unwrap();
    let amount = &profile["profile"]["columns"][1];
    assert_eq!(amount["count"], rows as u64);
    assert!(amount["estimated"].is_null(), "600,000 values stay exact");

    // A value that is not a number, in the second batch: the row it is on.
    let bad = t.dir.path().join("bad.csv");
    write(&bad, Some(543_210));
    let (code, v) = streamed(&[
        "upload",
        bad.to_str().unwrap(),
        "--dataset",
        "big",
        "--json",
    ]);
    assert_eq!(code, 1, "{v}");
    let reasons = reasons(&v);
    assert!(
        reasons.contains("\"lots\" is not a number") && reasons.contains("543211"),
        "{reasons}"
    );

    // The version's Parquet, uploaded as a new file, streams as Parquet.
    let parquet = t.dir.path().join("again.parquet");
    std::fs::copy(
        t.data_dir()
            .join("buckets/tollgate-data/datasets/big/v1/data.parquet"),
        &parquet,
    )
    .unwrap();
    let (code, v) = streamed(&[
        "upload",
        parquet.to_str().unwrap(),
        "--dataset",
        "big",
        "--json",
    ]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(
        (v["format"].as_str(), v["version"].as_u64()),
        (Some("parquet"), Some(2))
    );
    assert_eq!(v["rows"], rows as u64);
}

/// A folder of files (as Spark writes one: `part-*` files, `_SUCCESS`, `.crc` files) becomes
/// one version, as a user uploads it; the same folder again is a duplicate of it; a folder
/// whose files disagree is refused with the file named.
/// `tollgate upload DIR` with TOLLGATE_PROCESS_ABOVE_BYTES set below the folder's size: the
/// files are shared among `tollgate process` subprocesses, whose shards conclude what one pass
/// concludes.
fn upload_processed(t: &Tollgate, folder: &Path, dataset: &str) -> (i32, Value) {
    let out = t
        .command()
        .env("TOLLGATE_PROCESS_ABOVE_BYTES", "1")
        .env("TOLLGATE_PROCESS_INSTANCES", "3")
        .args([
            "upload",
            folder.to_str().unwrap(),
            "--dataset",
            dataset,
            "--json",
        ])
        .output()
        .expect("tollgate runs");
    parse(&out)
}

/// `tollgate ingest` of the notification of a file too big for one process waits for the
/// processing job it started, as `tollgate upload` does: the job's subprocesses would end with it.
#[test]
fn ingesting_an_event_for_an_upload_too_big_for_one_process_waits_for_its_job() {
    let t = Tollgate::new();
    let event_file = t.dropped_with_event("wine-2009-a.csv");
    let out = t
        .command()
        .env("TOLLGATE_PROCESS_ABOVE_BYTES", "1")
        .args(["ingest", event_file.to_str().unwrap(), "--json"])
        .output()
        .expect("tollgate runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("processing job"), "{stderr}");
    let outcomes: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(outcomes[0]["status"], "accepted", "{outcomes}");
    assert_eq!(outcomes[0]["version"], 1, "{outcomes}");
    let shown = t.json(&["dataset", "show", "wine", "--version", "1", "--json"]);
    assert_eq!(shown["version"]["rows"], outcomes[0]["rows"], "{shown}");
}

/// Writes `rows` under `header` as CSV parts of 250 rows in a new folder `name` of `t`'s dir.
fn write_parts(t: &Tollgate, name: &str, header: &str, rows: &[&str]) -> std::path::PathBuf {
    let folder = t.dir.path().join(name);
    std::fs::create_dir(&folder).unwrap();
    for (i, chunk) in rows.chunks(250).enumerate() {
        let part = format!("{header}\n{}\n", chunk.join("\n"));
        std::fs::write(folder.join(format!("part-{i:05}.csv")), part).unwrap();
    }
    folder
}

#[test]
fn a_folder_too_big_for_one_process_is_read_by_subprocesses_as_one_pass_reads_it() {
    let t = Tollgate::new();
    let text = std::fs::read_to_string(sample("wine-2009-a.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    let folder = write_parts(&t, "export", header, &rows);
    let (code, split) = upload_processed(&t, &folder, "split");
    assert_eq!(code, 0, "{split}");
    assert_eq!(split["status"], "accepted");
    assert_eq!(split["rows"], rows.len() as u64);
    let (code, whole) = t.upload(&folder, "whole");
    assert_eq!(code, 0, "{whole}");
    assert_eq!(split["content_hash"], whole["content_hash"]);
    let profile = |dataset: &str| -> Value {
        let path = t.data_dir().join(format!(
            "buckets/tollgate-data/datasets/{dataset}/v1/profile.json"
        ));
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    };
    assert_eq!(profile("split"), profile("whole"));
    let shown = t.json(&["dataset", "show", "split", "--version", "1", "--json"]);
    let keys = shown["data"]["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 3, "one Parquet part per subprocess: {shown}");

    // The next version's drift is measured against the kept summaries of the split one.
    let shifted: Vec<String> = rows
        .iter()
        .map(|r| {
            let mut cells: Vec<String> = r.split(',').map(str::to_owned).collect();
            let alcohol = cells.len() - 2;
            cells[alcohol] = format!("{}", cells[alcohol].parse::<f64>().unwrap() + 3.0);
            cells.join(",")
        })
        .collect();
    let shifted: Vec<&str> = shifted.iter().map(String::as_str).collect();
    let next = write_parts(&t, "next", header, &shifted);
    let (code, v2) = upload_processed(&t, &next, "split");
    assert_eq!(code, 0, "{v2}");
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["drift_baseline_version"], 1);
    assert!(
        v2["drifted_columns"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c == "alcohol")),
        "{v2}"
    );

    // A bad value in one subprocess's share: rejected, the file and its row named.
    let mut bad: Vec<&str> = rows.clone();
    let broken = format!("abc{}", &rows[600][rows[600].find(',').unwrap()..]);
    bad[600] = &broken;
    let third = write_parts(&t, "bad", header, &bad);
    let (code, rejected) = upload_processed(&t, &third, "split");
    assert_eq!(code, 1, "{rejected}");
    let bad_value = reasons(&rejected);
    assert!(
        bad_value.contains("row 601") && bad_value.contains("(in part-00002.csv, its row 101)"),
        "{bad_value}"
    );

    // A column declared unique, across the subprocesses' shares: each keeps its values as a
    // run in its output, and the merge of the runs finds the last row repeating the sixth.
    let id_header = format!("id,{header}");
    let with_ids = |from: usize| -> Vec<String> {
        let ids = rows.iter().enumerate();
        ids.map(|(i, r)| format!("{},{r}", from + i)).collect()
    };
    let first = with_ids(0);
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    let (code, v1) = upload_processed(&t, &write_parts(&t, "ids-1", &id_header, &first), "ids");
    assert_eq!(code, 0, "{v1}");
    let toml = String::from_utf8_lossy(&t.run(&["contract", "show", "ids"]).stdout).into_owned();
    assert!(
        toml.contains("name = \"id\"\ntype = \"integer\"\nnullable = false\nunique = true"),
        "{toml}"
    );
    let mut next = with_ids(rows.len());
    let last = rows.len() - 1;
    next[last] = format!("{},{}", rows.len() + 5, rows[last]);
    let next: Vec<&str> = next.iter().map(String::as_str).collect();
    let (code, repeated) =
        upload_processed(&t, &write_parts(&t, "ids-2", &id_header, &next), "ids");
    assert_eq!(code, 1, "{repeated}");
    let why = reasons(&repeated);
    assert!(
        why.contains(&format!("row {}", rows.len())) && why.contains("repeats the value of row 6;"),
        "{why}"
    );
}

#[test]
fn a_folder_of_parts_becomes_one_version() {
    let t = Tollgate::new();
    let text = std::fs::read_to_string(sample("wine-2009-a.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    let folder = t.dir.path().join("export");
    std::fs::create_dir(&folder).unwrap();
    for (i, chunk) in rows.chunks(300).enumerate() {
        let part = format!("{header}\n{}\n", chunk.join("\n"));
        std::fs::write(folder.join(format!("part-{i:05}.csv")), part).unwrap();
    }
    std::fs::write(folder.join("_SUCCESS"), "").unwrap();
    std::fs::write(folder.join(".part-00000.csv.crc"), "crc").unwrap();

    let (code, v) = t.upload(&folder, "wine");
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["status"], "accepted");
    assert_eq!(v["rows"], rows.len() as u64, "rows is the total");
    let files: Vec<&str> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        ["part-00000.csv", "part-00001.csv", "part-00002.csv"]
    );
    let source = v["source"]["key"].as_str().unwrap();
    assert!(
        source.starts_with("incoming/wine/export-") && source.ends_with("/_manifest.json"),
        "{source}"
    );

    let (code, again) = t.upload(&folder, "wine");
    assert_eq!(code, 0, "{again}");
    assert_eq!(again["status"], "duplicate");
    assert_eq!(again["version"], 1);

    std::fs::write(
        folder.join("part-00003.csv"),
        "fixed_acidity,colour\n7.0,red\n",
    )
    .unwrap();
    let (code, bad) = t.upload(&folder, "wine");
    assert_eq!(code, 1, "{bad}");
    let reasons = reasons(&bad);
    assert!(
        reasons.contains("part-00003.csv has no column") && reasons.contains("\"colour\""),
        "{reasons}"
    );
}
