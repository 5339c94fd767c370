//! Several processes on one data dir: the same object uploaded at once, and the same S3 event
//! delivered at once, each yield exactly one version.

use std::process::Stdio;

use crate::helpers::{Tollgate, parse, sample};

#[test]
fn the_same_file_uploaded_by_several_processes_at_once_yields_one_version() {
    let t = Tollgate::new();
    let file = sample("wine-2009-a.csv");
    let children: Vec<_> = (0..6)
        .map(|_| {
            t.command()
                .args([
                    "upload",
                    file.to_str().unwrap(),
                    "--dataset",
                    "wine",
                    "--json",
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outcomes: Vec<_> = children
        .into_iter()
        .map(|c| parse(&c.wait_with_output().unwrap()))
        .collect();
    assert!(
        outcomes.iter().all(|(code, v)| *code == 0
            && v["version"] == 1
            && (v["status"] == "accepted" || v["status"] == "duplicate")),
        "every process reports v1, accepted or a duplicate of it: {outcomes:?}"
    );
    let shown = t.json(&["dataset", "show", "wine", "--json"]);
    let accepted = shown["uploads"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["status"] == "accepted")
        .count();
    assert_eq!(accepted, 1, "one upload record made the version: {shown}");
    let listed = t.json(&["dataset", "show", "wine", "--json"]);
    assert_eq!(listed["versions"].as_array().unwrap().len(), 1);
}

#[test]
fn one_event_delivered_to_several_processes_at_once_yields_one_version_and_one_record() {
    // The object is in the bucket, and no catalog record knows it yet.
    let u = Tollgate::new();
    let event_file = u.dropped_with_event("wine-2009-b.csv");
    let children: Vec<_> = (0..8)
        .map(|_| {
            u.command()
                .args(["ingest", event_file.to_str().unwrap(), "--json"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let (code, v) = parse(&child.wait_with_output().unwrap());
        assert_eq!(code, 0, "{v}");
        assert_eq!(
            v[0]["status"], "accepted",
            "every delivery reports the one outcome: {v}"
        );
        assert_eq!(v[0]["version"], 1);
    }
    let shown = u.json(&["dataset", "show", "wine", "--json"]);
    assert_eq!(shown["versions"].as_array().unwrap().len(), 1);
    assert_eq!(
        shown["uploads"].as_array().unwrap().len(),
        1,
        "one upload record for one event"
    );
    let trail = u.json(&["audit", "--json"]);
    assert_eq!(
        trail.as_array().unwrap().len(),
        1,
        "one audit event: {trail}"
    );
}
