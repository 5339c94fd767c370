//! `tollgate up` as a user runs it: the API on 127.0.0.1 over real sockets, a file dropped into
//! `incoming/` becoming a version, a run requested over HTTP going to its end, the author
//! refused and another approver deciding, one server per data dir, Ctrl-C stopping it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{Tollgate, sample};

/// A running `tollgate up`, stopped (SIGINT, as Ctrl-C) when dropped. What it prints is read
/// as it comes (a pipe nobody reads would fill and stop the server) and shown if the test fails.
struct Up {
    child: Child,
    address: String,
    output: Arc<Mutex<String>>,
}

impl Up {
    fn start(t: &Tollgate) -> Self {
        Self::start_with(t.command())
    }

    /// `tollgate up` by `command` (a [`Tollgate::command`] with more of its environment).
    fn start_with(mut command: std::process::Command) -> Self {
        let mut child = command
            .args(["up", "--port", "0", "--monitor-every", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tollgate up starts");
        let mut first = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut first)
            .unwrap();
        let address = first
            .trim()
            .strip_prefix("Tollgate is up: http://")
            .unwrap_or_else(|| panic!("the first line says where: {first:?}"))
            .to_owned();
        assert!(
            address.starts_with("127.0.0.1:"),
            "loopback by default: {address}"
        );
        let output = Arc::new(Mutex::new(String::new()));
        let stdout: Box<dyn Read + Send> = Box::new(child.stdout.take().unwrap());
        let stderr: Box<dyn Read + Send> = Box::new(child.stderr.take().unwrap());
        for stream in [stdout, stderr] {
            let output = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let mut output = output.lock().unwrap();
                    output.push_str(&line);
                    output.push('\n');
                }
            });
        }
        Self {
            child,
            address,
            output,
        }
    }

    /// One HTTP/1.1 exchange: the status and the JSON body.
    fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, Value) {
        let mut stream = TcpStream::connect(&self.address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let body = body.unwrap_or("");
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.address,
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status: u16 = response[9..12].parse().unwrap();
        let (head, payload) = response.split_once("\r\n\r\n").unwrap();
        // Small bodies; the server may chunk them.
        let payload = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(payload)
        } else {
            payload.to_owned()
        };
        (
            status,
            serde_json::from_str(&payload).unwrap_or(Value::Null),
        )
    }

    fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "tollgate up stops on Ctrl-C");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- what tollgate up printed ---\n{}",
                self.output.lock().unwrap()
            );
        }
    }
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&after[..n]);
        rest = &after[n + 2..];
    }
    out
}

/// Polls `check` until it holds, or fails after `secs`.
fn eventually(secs: u64, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check() {
        assert!(Instant::now() < deadline, "{what} within {secs} s");
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn token(t: &Tollgate, user: &str, groups: &[&str]) -> String {
    let mut args = vec!["token", "--as", user];
    for g in groups {
        args.extend(["--group", g]);
    }
    let out = t.run(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn up_serves_the_api_ingests_dropped_files_and_runs_what_is_asked() {
    let t = Tollgate::new();
    let (code, _) = t.upload(&sample("wine-2009-a.csv"), "wine");
    assert_eq!(code, 0);
    let up = Up::start(&t);

    let second = t.run(&["up", "--port", "0"]);
    assert_eq!(
        second.status.code(),
        Some(1),
        "a second server on the data dir is refused"
    );
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("serves"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );

    let (status, _) = up.call("GET", "/api/v1/health", None, None);
    assert_eq!(status, 200);
    let (status, v) = up.call("GET", "/api/v1/datasets", None, None);
    assert_eq!(status, 401, "{v}");
    let alice = token(&t, "alice", &["editors", "approvers"]);
    let bob = token(&t, "bob", &["approvers"]);

    // A file dropped into the local bucket's incoming/ becomes a version.
    let incoming = t.data_dir().join("buckets/tollgate-data/incoming/wine");
    std::fs::copy(sample("wine-2009-b.csv"), incoming.join("wine-2009-b.csv")).unwrap();
    eventually(30, "the dropped file becomes wine v2", || {
        let (_, v) = up.call("GET", "/api/v1/datasets/wine", Some(&alice), None);
        v["latest_version"] == 2
    });
    // CLI commands keep working on the data dir while it is served.
    let listed = t.json(&["datasets", "--json"]);
    assert_eq!(listed[0]["latest_version"], 2, "{listed}");

    // A pipeline applied and a run requested over HTTP, taken to its end by the server.
    let pipeline = "name = \"wine-quality\"\ndataset = \"wine\"\ntarget = \"quality\"\n\
        task = \"regression\"\nmodel = \"elastic_net\"\n[search]\nstrategy = \"random\"\n\
        [search.space]\nalpha = { type = \"log_uniform\", low = 1e-4, high = 1.0 }\n\
        [budget]\nmax_trials = 2\n";
    let (status, v) = up.call("POST", "/api/v1/pipelines", Some(&alice), Some(pipeline));
    assert_eq!(status, 201, "{v}");
    // Sent twice with the caller's own id (a retry after a lost answer): one run.
    let ask = json!({"pipeline": "wine-quality", "request_id": "retrain-2009-b"}).to_string();
    let (status, accepted) = up.call("POST", "/api/v1/runs", Some(&alice), Some(&ask));
    assert_eq!(status, 202, "{accepted}");
    let (status, again) = up.call("POST", "/api/v1/runs", Some(&alice), Some(&ask));
    assert_eq!((status, &again), (202, &accepted));
    let request = accepted["request_id"].as_str().unwrap().to_owned();
    let mut last = Value::Null;
    let deadline = Instant::now() + Duration::from_secs(120);
    while last["items"][0]["status"]["status"] != "succeeded" {
        assert!(
            last["items"].as_array().is_none_or(|runs| runs.len() <= 1),
            "one run for one request id: {last}"
        );
        assert!(
            Instant::now() < deadline,
            "the requested run succeeds within 120 s: {last}"
        );
        std::thread::sleep(Duration::from_millis(250));
        last = up
            .call(
                "GET",
                &format!("/api/v1/runs?request_id={request}"),
                Some(&alice),
                None,
            )
            .1;
    }
    assert_eq!(last["items"].as_array().unwrap().len(), 1, "{last}");
    // The version alice's run made: the pipeline also listens to uploads, so when the server
    // is slow to finish v2's ingest, a run the upload started may have registered v1 first.
    let candidate = last["items"][0]["candidate"]["version"].as_u64().unwrap();
    let approve = format!("/api/v1/models/wine-quality/versions/{candidate}/approve");

    // The author is refused; another approver promotes.
    let (status, v) = up.call("POST", &approve, Some(&alice), None);
    assert_eq!(status, 409, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("author"),
        "{v}"
    );
    let (status, v) = up.call("POST", &approve, Some(&bob), None);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["changes"][0]["to"], "production", "{v}");

    // An upload URL, PUT to without a token, is ingested too.
    let (status, ticket) = up.call(
        "POST",
        "/api/v1/uploads",
        Some(&alice),
        Some(&json!({"dataset": "wine", "file": "drifted.csv"}).to_string()),
    );
    assert_eq!(status, 201, "{ticket}");
    let url = ticket["url"].as_str().unwrap();
    let path = &url[url.find("/api/").unwrap()..];
    let bytes = std::fs::read_to_string(sample("wine-2010-drifted.csv")).unwrap();
    let (status, _) = up.call("PUT", path, None, Some(&bytes));
    assert_eq!(status, 200);
    eventually(30, "the uploaded file becomes wine v3", || {
        let (_, v) = up.call("GET", "/api/v1/datasets/wine", Some(&alice), None);
        v["latest_version"] == 3
    });
    // Stored by the server, uploaded by alice: the URL was hers (the server runs as "tester").
    let (_, v3) = up.call(
        "GET",
        "/api/v1/datasets/wine/versions/3",
        Some(&alice),
        None,
    );
    assert_eq!(v3["version"]["uploaded_by"], "alice", "{v3}");

    assert!(up.stop().success(), "Ctrl-C stops it cleanly");
}

#[test]
fn the_cli_through_the_api_gives_the_same_answers_as_on_the_data_dir() {
    let t = Tollgate::new();
    let up = Up::start(&t);
    let alice = token(&t, "alice", &["editors", "approvers"]);
    let bob = token(&t, "bob", &["approvers"]);
    let remote = |token: &str, args: &[&str]| {
        t.command()
            .env("TOLLGATE_API", format!("http://{}", up.address))
            .env("TOLLGATE_TOKEN", token)
            .args(args)
            .output()
            .expect("tollgate runs")
    };
    let a = sample("wine-2009-a.csv");
    let out = remote(
        &alice,
        &["upload", a.to_str().unwrap(), "--dataset", "wine", "--json"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let record: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (record["status"].as_str(), record["version"].as_u64()),
        (Some("accepted"), Some(1))
    );
    let out = remote(
        &alice,
        &["upload", a.to_str().unwrap(), "--dataset", "wine", "--json"],
    );
    let record: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        record["status"], "duplicate",
        "the second upload is its own record"
    );
    let rejected = remote(
        &alice,
        &[
            "upload",
            crate::helpers::corpus("good.csv").to_str().unwrap(),
            "--dataset",
            "wine",
        ],
    );
    assert_eq!(
        rejected.status.code(),
        Some(1),
        "a rejection exits 1 as on the data dir"
    );

    let file = t.dir.path().join("wine-quality.toml");
    std::fs::write(
        &file,
        "name = \"wine-quality\"\ndataset = \"wine\"\ntarget = \"quality\"\n\
         task = \"regression\"\nmodel = \"elastic_net\"\n[search]\nstrategy = \"random\"\n\
         [search.space]\nalpha = { type = \"log_uniform\", low = 1e-4, high = 1.0 }\n\
         [budget]\nmax_trials = 2\n",
    )
    .unwrap();
    let out = remote(&alice, &["run", file.to_str().unwrap(), "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(run["status"], "succeeded", "{run}");
    let out = remote(&alice, &["runs", "--json"]);
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        listed,
        t.json(&["runs", "--json"]),
        "the same list through the API"
    );

    let out = remote(&alice, &["approve", "wine-quality", "1", "--json"]);
    assert_eq!(out.status.code(), Some(1), "the author is refused");
    let refused: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        refused["reason"].as_str().unwrap().contains("author"),
        "{refused}"
    );
    let out = remote(&bob, &["approve", "wine-quality", "1", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = remote(
        &alice,
        &["audit", "--subject", "model/wine-quality", "--json"],
    );
    let remote_trail: Value = serde_json::from_slice(&out.stdout).unwrap();
    let local_trail = t.json(&["audit", "--subject", "model/wine-quality", "--json"]);
    assert_eq!(remote_trail, local_trail, "the same trail through the API");

    let out = remote("", &["runs"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "no token: a misuse, saying what to set"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("TOLLGATE_TOKEN"));
    // Every read the CLI has prints the same through the API as on the data dir.
    for args in [
        &["datasets"][..],
        &["datasets", "--json"],
        &["dataset", "show", "wine"],
        &["dataset", "show", "wine", "--json"],
        &["contract", "show", "wine"],
        &["pipelines", "--json"],
        &["pipeline", "show", "wine-quality"],
        &["models"],
        &["models", "--json"],
        &["model", "show", "wine-quality"],
        &["model", "show", "wine-quality", "--json"],
        &["lineage", "wine-quality", "1"],
    ] {
        let out = remote(&alice, args);
        let local = t.run(args);
        assert_eq!(
            (out.status.code(), String::from_utf8_lossy(&out.stdout)),
            (local.status.code(), String::from_utf8_lossy(&local.stdout)),
            "tollgate {} through the API: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A version's files are on the server's machine: only their local path differs.
    let out = remote(
        &alice,
        &["dataset", "show", "wine", "--version", "1", "--json"],
    );
    let mut through_api: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut local = t.json(&["dataset", "show", "wine", "--version", "1", "--json"]);
    assert!(local["data"]["path"].is_string(), "{local}");
    assert!(through_api["data"]["path"].is_null(), "{through_api}");
    local["data"]["path"] = Value::Null;
    through_api["data"]["path"] = Value::Null;
    assert_eq!(through_api, local);
    let out = remote(&alice, &["model", "show", "nothing-here"]);
    assert_eq!(out.status.code(), Some(2), "an unknown model is a misuse");

    let out = remote(&alice, &["monitor"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no route through --api"));
    assert!(up.stop().success());
}

/// One request to a model's endpoint: the status, the version that answered and the body.
fn invoke(
    address: &str,
    model: &str,
    token: Option<&str>,
    csv: &str,
) -> (u16, Option<u32>, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "POST /models/{model}/invocations HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\
         Content-Type: text/csv\r\nAccept: application/jsonlines\r\n{auth}Content-Length: {}\r\n\r\n{csv}",
        csv.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let version = head.lines().find_map(|l| {
        l.to_ascii_lowercase()
            .strip_prefix("x-tollgate-model-version: ")
            .and_then(|v| v.trim().parse().ok())
    });
    (status, version, body.to_owned())
}

#[test]
fn up_serves_the_model_in_production_captures_its_traffic_and_swaps_without_losing_a_request() {
    let t = Tollgate::new();
    assert_eq!(t.upload(&sample("wine-2009-a.csv"), "wine").0, 0);
    let file = t.dir.path().join("p.toml");
    std::fs::write(&file, crate::promotion::PIPELINE).unwrap();
    t.json(&["pipeline", "apply", file.to_str().unwrap(), "--json"]);
    t.json(&["run", "wine-promo", "--json"]);
    t.json(&["run", "wine-promo", "--json"]);
    let decide = |who: &str, args: &[&str]| {
        let out = t.run(&[&["--as", who][..], args].concat());
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    decide("ana", &["approve", "wine-promo", "1"]);

    let up = Up::start(&t);
    let app = token(&t, "scoring-app", &[]);
    // Rows as the sample holds them, header and target included.
    let sample_rows = std::fs::read_to_string(sample("wine-2010-drifted.csv")).unwrap();
    let (header, rows) = sample_rows.split_once('\n').unwrap();
    let rows: Vec<&str> = rows.lines().collect();
    let one = |i: usize| format!("{header}\n{}\n", rows[i % rows.len()]);

    let (status, _, why) = invoke(&up.address, "wine-promo", None, &one(0));
    assert_eq!(status, 401, "{why}");
    let (status, _, why) = invoke(&up.address, "no-such-model", Some(&app), &one(0));
    assert_eq!(status, 404, "{why}");
    assert!(why.contains("no version in production"), "{why}");
    let (status, version, answer) = invoke(&up.address, "wine-promo", Some(&app), &one(0));
    assert_eq!((status, version), (200, Some(1)), "{answer}");
    let answer: Value = serde_json::from_str(answer.trim()).unwrap();
    assert!(answer["prediction"].is_string(), "{answer}");
    let (status, _, why) = invoke(
        &up.address,
        "wine-promo",
        Some(&app),
        &format!("{header}\n{}", rows[0].replacen(',', ",x", 1)),
    );
    assert_eq!(status, 400, "{why}");
    assert!(why.starts_with("row 1, column volatile_acidity"), "{why}");

    // Clients send rows without a pause while v2 is approved into production and then rolled
    // back, by another process on the same data dir: every request is answered, by one version.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let (address, app, stop) = (up.address.clone(), app.clone(), stop.clone());
            let requests: Vec<String> = (0..50).map(|i| one(c * 50 + i)).collect();
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let (status, version, body) = invoke(
                        &address,
                        "wine-promo",
                        Some(&app),
                        &requests[i % requests.len()],
                    );
                    assert_eq!(status, 200, "{body}");
                    seen.push(version.unwrap());
                    i += 1;
                }
                seen
            })
        })
        .collect();
    // The requests of this thread that were answered, the first one above included.
    let probes = std::cell::Cell::new(1);
    let latest = |up: &Up| {
        let (status, version, _) = invoke(&up.address, "wine-promo", Some(&app), &one(1));
        probes.set(probes.get() + usize::from(status == 200));
        version
    };
    decide("ana", &["approve", "wine-promo", "2"]);
    eventually(15, "v2 served after its approval", || {
        latest(&up) == Some(2)
    });
    decide("bob", &["rollback", "wine-promo"]);
    eventually(15, "v1 served again after the rollback", || {
        latest(&up) == Some(1)
    });
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut answered = 0;
    for client in clients {
        let seen = client.join().expect("no request failed");
        answered += seen.len();
        // Each client saw v1, then v2, then v1 again: never a step back before the rollback.
        let mut phases = seen.clone();
        phases.dedup();
        assert!(
            [&[1][..], &[1, 2], &[1, 2, 1], &[2, 1], &[2]].contains(&phases.as_slice()),
            "{phases:?}"
        );
    }
    assert!(answered > 20, "{answered} requests answered");
    eprintln!("{answered} requests answered by the clients during the swaps");
    let status = up.stop();
    assert!(status.success(), "{status:?}");

    // Every answered row was captured, with its prediction and the version that made it.
    let capture = t
        .data_dir()
        .join("buckets/tollgate-data/capture/wine-promo");
    let mut captured = Vec::new();
    let mut dirs = vec![capture.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                // CSV: the model's features, `prediction` and `model_version`.
                let text = std::fs::read_to_string(&path).unwrap();
                let mut lines = text.lines();
                let header: Vec<&str> = lines.next().unwrap().split(',').collect();
                assert_eq!(header[0], "fixed_acidity", "{}", path.display());
                assert_eq!(header[header.len() - 2..], ["prediction", "model_version"]);
                captured.extend(lines.map(|l| {
                    header
                        .iter()
                        .zip(l.split(','))
                        .map(|(k, v)| ((*k).to_owned(), v.to_owned()))
                        .collect::<std::collections::HashMap<String, String>>()
                }));
            }
        }
    }
    assert_eq!(
        captured.len(),
        answered + probes.get(),
        "one row per answered request"
    );
    assert!(
        captured
            .iter()
            .all(|row| { !row["prediction"].is_empty() && row["alcohol"].parse::<f64>().is_ok() })
    );
    assert!(captured.iter().any(|row| row["model_version"] == "2"));
    // The monitor reads what serving captured.
    let monitored = t.json(&["monitor", "--json"]);
    assert_eq!(
        monitored["reports"][0]["captured_rows"],
        captured.len(),
        "{monitored:#}"
    );
}

/// One keep-alive connection's exchange: sends `request`, reads one answer (its status, and the
/// body by Content-Length).
fn exchange(stream: &mut BufReader<TcpStream>, request: &[u8]) -> u16 {
    stream.get_mut().write_all(request).unwrap();
    let mut line = String::new();
    stream.read_line(&mut line).unwrap();
    let status = line.split(' ').nth(1).unwrap_or("0").parse().unwrap_or(0);
    let mut length = 0;
    loop {
        line.clear();
        stream.read_line(&mut line).unwrap();
        if line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).unwrap();
    status
}

/// The load generator of `bench/serving/run.sh`, not a test: for each target of `BENCH_TARGETS`
/// (lines of `name url [token]`), requests of 1 and of 1,000 rows (`BENCH_SIZES`) of the drifted wine sample
/// (CSV, no header) from `BENCH_CONNECTIONS` keep-alive connections for `BENCH_SECONDS` each;
/// prints requests and rows per second and the latency percentiles, as a Markdown table.
#[test]
#[ignore = "a benchmark: bash bench/serving/run.sh"]
fn serving_load() {
    let targets = std::env::var("BENCH_TARGETS").expect("BENCH_TARGETS");
    let seconds: u64 = std::env::var("BENCH_SECONDS").map_or(5, |s| s.parse().unwrap());
    let connections: usize = std::env::var("BENCH_CONNECTIONS").map_or(4, |s| s.parse().unwrap());
    let sizes: Vec<usize> = std::env::var("BENCH_SIZES")
        .unwrap_or_else(|_| "1,1000".into())
        .split(',')
        .map(|s| s.trim().parse().unwrap())
        .collect();
    let rows: Vec<String> = std::fs::read_to_string(sample("wine-2010-drifted.csv"))
        .unwrap()
        .lines()
        .skip(1)
        // The features alone: the target is the last column.
        .map(|l| l.rsplit_once(',').unwrap().0.to_owned())
        .collect();
    println!("| server | rows per request | requests/s | rows/s | p50 ms | p99 ms |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for target in targets.lines().filter(|l| !l.trim().is_empty()) {
        let mut words = target.split_whitespace();
        let (name, url) = (words.next().unwrap(), words.next().unwrap());
        let auth = words
            .next()
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let (address, path) = url
            .strip_prefix("http://")
            .and_then(|rest| rest.split_once('/'))
            .unwrap();
        for per_request in &sizes {
            let per_request = *per_request;
            let body: String = (0..per_request)
                .map(|i| format!("{}\n", rows[i % rows.len()]))
                .collect();
            let request = format!(
                "POST /{path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: text/csv\r\n\
                 Accept: text/csv\r\n{auth}Content-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes();
            let request = Arc::new(request);
            let deadline = Instant::now() + Duration::from_secs(seconds);
            let workers: Vec<_> = (0..connections)
                .map(|_| {
                    let (request, address) = (request.clone(), address.to_owned());
                    std::thread::spawn(move || {
                        let mut stream = BufReader::new(TcpStream::connect(&address).unwrap());
                        // A first exchange warms the connection (and loads the model).
                        assert_eq!(exchange(&mut stream, &request), 200);
                        let mut latencies = Vec::new();
                        while Instant::now() < deadline {
                            let started = Instant::now();
                            assert_eq!(exchange(&mut stream, &request), 200);
                            latencies.push(started.elapsed());
                        }
                        latencies
                    })
                })
                .collect();
            let mut latencies: Vec<Duration> = workers
                .into_iter()
                .flat_map(|w| w.join().unwrap())
                .collect();
            latencies.sort();
            let at = |q: f64| {
                latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)]
                    .as_secs_f64()
                    * 1e3
            };
            let per_second = latencies.len() as f64 / seconds as f64;
            println!(
                "| {name} | {per_request} | {per_second:.0} | {:.0} | {:.2} | {:.2} |",
                per_second * per_request as f64,
                at(0.5),
                at(0.99)
            );
        }
    }
}

#[test]
fn the_loop_traffic_drift_retraining_notice_approval_served_and_rolled_back() {
    let t = Tollgate::new();
    let receiver = crate::notifications::Receiver::start(Vec::new());
    let hooked = || {
        let mut cmd = t.command();
        cmd.env("TOLLGATE_WEBHOOK_URL", &receiver.url);
        cmd
    };
    let run = |who: &str, args: &[&str]| {
        let out = Tollgate::succeed(hooked().args(["--as", who]).args(args));
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(t.upload(&sample("wine-2009-a.csv"), "wine").0, 0);
    let file = t.dir.path().join("p.toml");
    // A retrained model may score a little below production on its own test split (another
    // batch's rows): within 10 points it may still be approved.
    let pipeline = crate::promotion::PIPELINE
        .replacen(
            "task = \"classification\"",
            "task = \"classification\"\non_upload = false",
            1,
        )
        .replacen(
            "[gates.thresholds]",
            "[gates]\nmin_improvement = -0.1\n[gates.thresholds]",
            1,
        );
    std::fs::write(&file, pipeline).unwrap();
    run("tester", &["pipeline", "apply", file.to_str().unwrap()]);
    run("tester", &["run", "wine-promo"]);
    run("ana", &["approve", "wine-promo", "1"]);
    // Newer data arrives (another batch), which retraining may learn from.
    assert_eq!(t.upload(&sample("wine-2009-b.csv"), "wine").0, 0);

    let up = Up::start_with(hooked());
    let app = token(&t, "scoring-app", &[]);
    // Production traffic: the drifted batch, as the application sends it.
    let drifted = std::fs::read_to_string(sample("wine-2010-drifted.csv")).unwrap();
    let (status, version, body) = invoke(&up.address, "wine-promo", Some(&app), &drifted);
    assert_eq!((status, version), (200, Some(1)), "{body}");
    std::thread::sleep(Duration::from_secs(6)); // the capture is written every 5 s

    // The monitor sees the drift and retrains on the newer version (watched to its end); the
    // candidate passes and waits for approval, and the team is told where to look.
    let monitored = run("monitor-runner", &["monitor", "--wait", "--json"]);
    let monitored: Value = serde_json::from_str(&monitored).unwrap();
    assert_eq!(monitored["reports"][0]["drifted"], true, "{monitored:#}");
    assert_eq!(monitored["runs"][0]["dataset_version"], 2, "{monitored:#}");
    let kinds: Vec<Value> = receiver
        .received()
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.body).unwrap()["tollgate"].clone())
        .collect();
    let asked = kinds
        .iter()
        .find(|k| k["kind"] == "approval.needed" && k["subject"] == "model/wine-promo/v2")
        .unwrap_or_else(|| panic!("no approval asked for v2: {kinds:#?}"));
    assert!(
        kinds.iter().any(|k| k["kind"] == "drift.detected"),
        "{kinds:#?}"
    );
    assert!(
        asked["link"]
            .as_str()
            .unwrap()
            .ends_with("/models/wine-promo/versions/2"),
        "{asked:#}"
    );

    // Someone else approves: the new version is served; a rollback serves the old one again.
    run("bob", &["approve", "wine-promo", "2"]);
    eventually(15, "v2 served", || {
        invoke(&up.address, "wine-promo", Some(&app), &drifted).1 == Some(2)
    });
    run("bob", &["rollback", "wine-promo"]);
    eventually(15, "v1 served again", || {
        invoke(&up.address, "wine-promo", Some(&app), &drifted).1 == Some(1)
    });
    assert!(up.stop().success());
}
