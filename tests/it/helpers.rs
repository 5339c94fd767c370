//! Running the `tollgate` binary on a data dir of its own.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(name)
}

pub fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples/wine")
        .join(name)
}

/// A data dir that is removed when the test ends.
pub struct Tollgate {
    pub dir: tempfile::TempDir,
}

impl Tollgate {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temp dir"),
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The data dir's catalog, for what a test reads or plants directly.
    pub fn catalog(&self) -> tollgate_local::SqliteCatalog {
        tollgate_local::SqliteCatalog::open(&self.data_dir().join("catalog.sqlite"))
            .expect("the data dir's catalog opens")
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tollgate"));
        cmd.env("TOLLGATE_DATA_DIR", self.data_dir())
            .env("TOLLGATE_USER", "tester")
            .env_remove("TOLLGATE_LOG");
        cmd
    }

    /// Runs `command` (a [`Tollgate::command`] with more set on it) and expects success; what
    /// it printed on stderr is shown when it fails.
    pub fn succeed(command: &mut Command) -> Output {
        let out = command.output().expect("tollgate runs");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("tollgate runs")
    }

    /// `tollgate upload FILE --dataset NAME --json`: the exit code and the JSON.
    pub fn upload(&self, file: &Path, dataset: &str) -> (i32, Value) {
        let out = self.run(&[
            "upload",
            file.to_str().unwrap(),
            "--dataset",
            dataset,
            "--json",
        ]);
        parse(&out)
    }

    /// Puts the sample `name` in the bucket's `incoming/wine/`, as if uploaded without telling
    /// anyone, and writes its S3 notification (`tollgate event s3-put`) to a file for
    /// `tollgate ingest`.
    pub fn dropped_with_event(&self, name: &str) -> PathBuf {
        let incoming = self.data_dir().join("buckets/tollgate-data/incoming/wine");
        std::fs::create_dir_all(&incoming).unwrap();
        std::fs::copy(sample(name), incoming.join(name)).unwrap();
        let key = format!("incoming/wine/{name}");
        let event = self.json(&["event", "s3-put", "--key", &key]);
        let event_file = self.dir.path().join("event.json");
        std::fs::write(&event_file, event.to_string()).unwrap();
        event_file
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON on stdout")
    }
}

pub fn parse(out: &Output) -> (i32, Value) {
    let code = out.status.code().unwrap_or(-1);
    let value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON on stdout ({e}); exit {code}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, value)
}

pub fn reasons(v: &Value) -> String {
    v["reasons"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .unwrap_or_default()
}

/// Runs `future` to its end, for a test that calls a port directly.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(future)
}
