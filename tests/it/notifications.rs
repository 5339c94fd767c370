//! Notifications as a team receives them: a webhook that is signed, tried again when the
//! receiver fails, and never in the pipeline's way when the receiver is gone.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::helpers::{Tollgate, sample};

/// A request the receiver got: its headers (lower-case names) and body.
#[derive(Debug, Clone)]
pub struct Received {
    headers: Vec<(String, String)>,
    pub body: String,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A webhook receiver on 127.0.0.1 that answers each request with the next status of a script
/// (then 200), stopped when dropped.
pub struct Receiver {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
}

impl Receiver {
    pub fn start(mut script: Vec<u16>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}/hooks/team", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        script.reverse();
        std::thread::spawn({
            let (received, stop) = (received.clone(), stop.clone());
            move || {
                while !stop.load(Ordering::Relaxed) {
                    let Ok((stream, _)) = listener.accept() else {
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    };
                    stream.set_nonblocking(false).unwrap();
                    let mut reader = BufReader::new(stream);
                    let mut headers = Vec::new();
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    loop {
                        line.clear();
                        reader.read_line(&mut line).unwrap();
                        let Some((name, value)) = line.trim_end().split_once(": ") else {
                            break;
                        };
                        headers.push((name.to_ascii_lowercase(), value.to_owned()));
                    }
                    let length: usize = headers
                        .iter()
                        .find(|(n, _)| n == "content-length")
                        .map_or(0, |(_, v)| v.parse().unwrap());
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    received.lock().unwrap().push(Received {
                        headers,
                        body: String::from_utf8(body).unwrap(),
                    });
                    let status = script.pop().unwrap_or(200);
                    let _ = write!(
                        reader.get_mut(),
                        "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                }
            }
        });
        Self {
            url,
            received,
            stop,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

const SECRET: &str = "a shared secret";

fn verified(r: &Received) -> bool {
    let (Some(timestamp), Some(signature)) = (
        r.header("x-tollgate-timestamp"),
        r.header("x-tollgate-signature"),
    ) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.{}", r.body).as_bytes());
    let expected = hex::decode(signature.strip_prefix("sha256=").unwrap_or_default()).unwrap();
    mac.verify_slice(&expected).is_ok()
}

#[test]
fn people_are_told_what_waits_for_them_signed_retried_and_never_in_the_pipelines_way() {
    let t = Tollgate::new();
    // The receiver fails twice, then takes the message: three tries of the same body.
    let receiver = Receiver::start(vec![503, 500]);
    let run = |url: &str, args: &[&str]| {
        let out = Tollgate::succeed(
            t.command()
                .env("TOLLGATE_WEBHOOK_URL", url)
                .env("TOLLGATE_WEBHOOK_SECRET", SECRET)
                .env("TOLLGATE_WEBHOOK_BACKOFF_MS", "50")
                .env("TOLLGATE_CONSOLE_URL", "http://console.example")
                .args(args),
        );
        String::from_utf8(out.stderr).unwrap()
    };
    assert_eq!(t.upload(&sample("wine-2009-a.csv"), "wine").0, 0);
    let file = t.dir.path().join("p.toml");
    std::fs::write(&file, crate::promotion::PIPELINE).unwrap();
    t.json(&["pipeline", "apply", file.to_str().unwrap(), "--json"]);
    run(&receiver.url, &["run", "wine-promo", "--json"]);
    let received = receiver.received();
    assert_eq!(received.len(), 3, "{received:#?}");
    assert!(received.iter().all(|r| r.body == received[0].body));
    assert!(received.iter().all(verified), "every try is signed");
    let message: Value = serde_json::from_str(&received[0].body).unwrap();
    assert_eq!(
        message["tollgate"]["kind"], "approval.needed",
        "{message:#}"
    );
    assert_eq!(
        message["tollgate"]["link"],
        "http://console.example/models/wine-promo/versions/1"
    );
    assert!(
        message["text"]
            .as_str()
            .unwrap()
            .starts_with("wine-promo v1 passed its model tests and waits for approval"),
        "{message:#}"
    );

    // A second candidate, and someone else approves both: the team hears of each once.
    run(&receiver.url, &["run", "wine-promo", "--json"]);
    run(
        &receiver.url,
        &["--as", "ana", "approve", "wine-promo", "1"],
    );
    run(
        &receiver.url,
        &["--as", "ana", "approve", "wine-promo", "2"],
    );
    let received = receiver.received();
    let kinds: Vec<Value> = received[3..]
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.body).unwrap()["tollgate"]["kind"].clone())
        .collect();
    assert_eq!(
        kinds,
        ["approval.needed", "model.promoted", "model.promoted"],
        "{received:#?}"
    );
    assert!(received.iter().all(verified));

    // A receiver that is gone: the rollback happens all the same, the failure is said and is in
    // the audit trail, and the command does not wait for long.
    drop(receiver);
    let gone = TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/hooks/team", gone.local_addr().unwrap());
    drop(gone);
    let started = Instant::now();
    let stderr = run(&dead, &["--as", "bob", "rollback", "wine-promo"]);
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(
        stderr.contains("notification about model/wine-promo/v"),
        "{stderr}"
    );
    let models = t.json(&["models", "--json"]);
    assert_eq!(models[0]["production_version"], 1, "{models:#}");
    let trail = t.json(&["audit", "--json"]);
    let failed = trail
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "notification.failed")
        .unwrap_or_else(|| panic!("no failure in the trail: {trail:#}"));
    assert_eq!(failed["details"]["kind"], "model.rolled_back");
    assert!(
        !failed["details"]["to"]
            .as_str()
            .unwrap()
            .contains("/hooks/"),
        "the URL's path (the secret of Slack's and Teams' hooks) is not written down"
    );
}
