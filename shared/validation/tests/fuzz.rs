//! No upload can panic the data gate. Every file of the corpus of bad uploads (`tests/corpus/`),
//! mutated a few dozen seeded ways (bytes flipped, inserted, removed; cut short; a piece repeated;
//! and for a gzip file, its text mutated under a sound compression), goes through what ingest
//! runs on an upload (hash, parse, type, check, profile, compare with a parent) and comes out a
//! verdict or findings, never a panic: a panic reachable from an upload would take its whole SQS
//! batch down with it. (polars' Parquet reader does panic on some mutants of a good file; the
//! gate catches those where it reads an upload, and this test holds it to that.)

use std::io::{Read, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use tollgate_domain::DatasetName;

const MUTANTS_PER_FILE: u64 = 200;
/// Parquet's reader is the one that panicked (12 of 3,000 mutants of a good file): more of them.
const PARQUET_MUTANTS: u64 = 3000;
/// Bytes that mean something to a reader: separators, quotes, line ends, JSON, number parts.
const LOADED: &[u8] = b",;\"'\n\r\t{}[]:-+.eE0123456789nN \\\x00\xff\xef\xbb\xbf";

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e != "py"))
        // The two large files are read whole once each in the corpus tests; mutants of the
        // small ones cover the same readers.
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            !name.starts_with("wide_") && !name.starts_with("multi_megabyte")
        })
        .collect();
    files.sort();
    files
}

fn mutate(rng: &mut Xoshiro256PlusPlus, bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let at = |rng: &mut Xoshiro256PlusPlus, len: usize| rng.random_range(0..=len);
    for _ in 0..rng.random_range(1..4) {
        let len = out.len();
        match rng.random_range(0..6) {
            0 if len > 0 => {
                let i = rng.random_range(0..len);
                out[i] ^= rng.random_range(1..=255u8);
            }
            1 => {
                let i = at(rng, len);
                let b = LOADED[rng.random_range(0..LOADED.len())];
                out.insert(i, b);
            }
            2 if len > 0 => {
                let i = rng.random_range(0..len);
                let j = (i + rng.random_range(1..64)).min(len);
                out.drain(i..j);
            }
            3 => out.truncate(at(rng, len)),
            4 if len > 0 => {
                let i = rng.random_range(0..len);
                let j = (i + rng.random_range(1..256)).min(len);
                let piece = out[i..j].to_vec();
                for _ in 0..rng.random_range(1..20) {
                    out.splice(j..j, piece.iter().copied());
                }
            }
            _ => {
                let i = at(rng, len);
                let b = LOADED[rng.random_range(0..LOADED.len())];
                out.splice(i..i, std::iter::repeat_n(b, rng.random_range(1..300)));
            }
        }
    }
    out
}

fn gunzip(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// What ingest does with an upload: hash and parse; for a frame, found a contract, check it
/// against that, and write its Parquet copy.
fn gate(path: &Path, name: &str) {
    let dataset = DatasetName::parse("fuzz").unwrap();
    let Ok(inspection) = tollgate_validation::inspect(path, name, None) else {
        return;
    };
    if let Some(frame) = inspection.frame {
        let founding = tollgate_validation::evaluate(&dataset, &frame, None, None);
        let contract = founding.inferred_contract.clone();
        tollgate_validation::evaluate(&dataset, &frame, contract.as_ref(), None);
        let mut frame = frame;
        let dir = tempfile::tempdir().unwrap();
        let _ = tollgate_validation::to_parquet(&mut frame, dir.path());
    }
}

/// The corpus's good CSV as Parquet, as a well-formed Parquet file to mutate.
fn good_parquet(dir: &Path) -> PathBuf {
    let good = corpus()
        .into_iter()
        .find(|p| p.ends_with("good.csv"))
        .unwrap();
    let mut frame = tollgate_validation::inspect(&good, "good.csv", None)
        .unwrap()
        .frame
        .unwrap();
    let written = tollgate_validation::to_parquet(&mut frame, dir).unwrap();
    let path = dir.join("good.parquet");
    std::fs::copy(written.path(), &path).unwrap();
    path
}

#[test]
fn no_mutant_of_the_corpus_panics_the_data_gate() {
    let dir = tempfile::tempdir().unwrap();
    let seeds = tempfile::tempdir().unwrap();
    let mut files = corpus();
    files.push(good_parquet(seeds.path()));
    let mut panicked = Vec::new();
    for (n, file) in files.iter().enumerate() {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let original = std::fs::read(file).unwrap();
        let text = name.ends_with(".gz").then(|| gunzip(&original)).flatten();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(n as u64);
        let mutants = if name.ends_with(".parquet") {
            PARQUET_MUTANTS
        } else {
            MUTANTS_PER_FILE
        };
        for m in 0..mutants {
            let bytes = match &text {
                Some(text) if m % 2 == 0 => gzip(&mutate(&mut rng, text)),
                _ => mutate(&mut rng, &original),
            };
            let path = dir.path().join(&name);
            std::fs::write(&path, &bytes).unwrap();
            if catch_unwind(AssertUnwindSafe(|| gate(&path, &name))).is_err() {
                let kept = dir.path().join(format!("panicked-{m}-{name}"));
                std::fs::copy(&path, &kept).unwrap();
                panicked.push(format!("{name} mutant {m} ({} bytes)", bytes.len()));
            }
        }
    }
    assert!(panicked.is_empty(), "panics on: {panicked:#?}");
}

/// A JSON Lines record nested a hundred thousand deep: a finding, not a stack overflow (which
/// no unwinding could catch).
#[test]
fn deeply_nested_json_is_a_finding_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep.jsonl");
    let depth = 100_000;
    let line = format!("{{\"a\": {}1{}}}\n", "[".repeat(depth), "]".repeat(depth));
    std::fs::write(&path, format!("{{\"a\": 1}}\n{line}")).unwrap();
    let inspection = tollgate_validation::inspect(&path, "deep.jsonl", None).unwrap();
    assert!(inspection.frame.is_none());
    assert!(
        inspection.findings[0].message.contains("nested"),
        "{:?}",
        inspection.findings
    );
}
