//! `tollgate up`: the embedded default as a running system. It serves the HTTP API on
//! 127.0.0.1 and runs what AWS would run by itself: a file landing under the bucket's
//! `incoming/<dataset>/` is ingested (the S3 notification), published events reach the
//! handlers (EventBridge), training jobs' ends advance their runs, and the monitor fires on a
//! timer (EventBridge Scheduler). Ctrl-C stops it; one server per data dir.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Seek, Write};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tollgate_api::{Api, BearerTokens, LocalSignIn, Uploads};
use tollgate_domain::ports::{BlobStore, Catalog};
use tollgate_domain::{BlobKey, UploadStatus};

use crate::embedded::Embedded;
use crate::{Outcome, RefusedError};

/// How often the bucket's `incoming/` is looked at.
const WATCH_EVERY: Duration = Duration::from_secs(1);

pub async fn run(
    env: &Embedded,
    host: IpAddr,
    port: u16,
    monitor_every: Duration,
    console: Option<std::path::PathBuf>,
) -> anyhow::Result<Outcome> {
    let console = console.map(checked_console).transpose()?;
    let mut lock = lock(env)?;
    let tokens = Arc::new(super::token::signing_key(&env.data_dir)?);
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(host, port))
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AddrInUse => RefusedError(format!(
                "port {port} is taken: choose another with --port (0 picks a free one)"
            ))
            .into(),
            _ => anyhow::Error::new(e).context(format!("listening on {host}:{port}")),
        })?;
    let address = listener.local_addr().context("reading the bound address")?;
    let base_url = format!("http://{address}");
    let env = &env.serving_console_at(&base_url);
    // Who holds the data dir, for a second `tollgate up` to say.
    lock.set_len(0)
        .and_then(|()| lock.rewind())
        .and_then(|()| writeln!(lock, "pid {} serving {base_url}", std::process::id()))
        .context("writing the lock file")?;

    let (endpoints, capture) =
        crate::serving::endpoints(env, BearerTokens(tokens.clone())).context("serving models")?;
    let api = Api::new(
        env.app(),
        Arc::new(BearerTokens(tokens.clone())),
        Uploads::Local {
            base_url: base_url.clone(),
            tokens: tokens.clone(),
        },
    );
    // The console's sign-in, for the people of this machine only.
    let api = if host.is_loopback() {
        api.with_local_sign_in(LocalSignIn {
            tokens,
            port: address.port(),
        })
    } else {
        api
    };
    let router = endpoints
        .router()
        .merge(with_console(api, console.as_deref()));

    env.fail_jobs_of_ended_processes().await?;
    let dispatcher = tokio::spawn({
        let env = env.clone();
        async move { env.dispatch().await }
    });
    let watcher = tokio::spawn(watch_incoming(env.clone()));
    let monitor = tokio::spawn(monitor_on_timer(env.clone(), monitor_every));
    let schedules = tokio::spawn(schedules_on_timer(env.clone()));
    let sweeper = tokio::spawn(sweep_on_timer(env.clone()));
    let follower = tokio::spawn(endpoints.clone().follow());
    let capturing = tokio::spawn(capture.run());

    if !host.is_loopback() {
        eprintln!(
            "warning: listening on {host}, not loopback: anyone who can reach this machine can \
             call the API (tokens still apply)"
        );
    }
    println!("Tollgate is up: {base_url}");
    println!("  data dir:  {}", env.data_dir.display());
    match &console {
        Some(_) => println!("  console:   {base_url}/   (open it in a browser)"),
        None => println!("  console:   not served (build it and pass --console DIR: see README)"),
    }
    println!("  API:       {base_url}/api/v1/health");
    println!("  serving:   {base_url}/models/<name>/invocations   (the model in production)");
    println!(
        "  sign in:   export TOLLGATE_TOKEN=$(tollgate --data-dir {} token --as YOU --group editors --group approvers)",
        env.data_dir.display()
    );
    println!(
        "  drop files into {}/<dataset>/ to ingest them",
        env.blobs
            .path_of(
                &env.bucket,
                &BlobKey::parse("incoming").expect("a valid key")
            )
            .display()
    );
    println!("Press Ctrl-C to stop.");

    let served = axum::serve(listener, router)
        .with_graceful_shutdown(stop_signal())
        .await;
    dispatcher.abort();
    watcher.abort();
    monitor.abort();
    schedules.abort();
    sweeper.abort();
    follower.abort();
    drop(endpoints);
    // The rows answered last are captured before the server says it stopped.
    let _ = follower.await;
    let _ = tokio::time::timeout(Duration::from_secs(30), capturing).await;
    served.context("serving the API")?;
    eprintln!("Tollgate stopped.");
    Ok(Outcome::Done)
}

/// The console's build folder, if it holds one (an `index.html`).
fn checked_console(dir: std::path::PathBuf) -> anyhow::Result<std::path::PathBuf> {
    if dir.join("index.html").is_file() {
        Ok(dir)
    } else {
        Err(RefusedError(format!(
            "{} holds no console build (no index.html): build it with `trunk build --release` in \
             console/ (bash scripts/demo.sh does), or leave --console out",
            dir.display()
        ))
        .into())
    }
}

/// The API under `/api/`, and everything else from the console's build: a path that is not
/// a file is one of the app's pages (a deep link), so it gets `index.html` and the app routes
/// it. Without a build, a page says how to get one.
fn with_console(api: Api, console: Option<&std::path::Path>) -> axum::Router {
    use tower_http::services::{ServeDir, ServeFile};
    match console {
        Some(dir) => tollgate_api::router_with_pages(
            api,
            ServeDir::new(dir).fallback(ServeFile::new(dir.join("index.html"))),
        )
        .layer(axum::middleware::map_response_with_state(
            console_policy(dir),
            with_policy,
        )),
        None => tollgate_api::router_with_pages(
            api,
            axum::routing::any(|| async {
                (
                    axum::http::StatusCode::NOT_FOUND,
                    "The console is not served here: start tollgate up with --console DIR (the \
                     folder trunk builds; bash scripts/demo.sh builds it and passes it). The API \
                     is at /api/v1.\n",
                )
            }),
        ),
    }
}

/// The console's Content Security Policy, as CloudFront sends it on AWS
/// (`infra/template.yaml`, `ConsoleHeadersPolicy`): scripts and styles from this origin only,
/// wasm allowed, no inline script or style attribute, requests to this origin and to the API
/// and sign-in origins a `config.json` beside the console names. Serving it here runs the
/// browser tests under the policy the deployed console gets.
fn console_policy(dir: &std::path::Path) -> axum::http::HeaderValue {
    let config: serde_json::Value = std::fs::read(dir.join("config.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    let mut connect = vec!["'self'".to_owned()];
    for url in [&config["api_url"], &config["cognito"]["domain"]] {
        if let Some(origin) = url.as_str().and_then(origin_of) {
            connect.push(origin);
        }
    }
    let policy = format!(
        "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; font-src 'self'; connect-src {}; manifest-src 'self'; \
         base-uri 'none'; form-action 'self'; object-src 'none'; frame-ancestors 'none'",
        connect.join(" ")
    );
    axum::http::HeaderValue::from_str(&policy)
        .unwrap_or_else(|_| axum::http::HeaderValue::from_static("default-src 'self'"))
}

/// `https://host:port` of a URL, if it is an http(s) one.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty() && !host.contains(char::is_whitespace)).then(|| format!("{scheme}://{host}"))
}

async fn with_policy(
    axum::extract::State(policy): axum::extract::State<axum::http::HeaderValue>,
    mut response: axum::response::Response,
) -> axum::response::Response {
    let headers = response.headers_mut();
    headers.insert(axum::http::header::CONTENT_SECURITY_POLICY, policy);
    headers.insert(
        axum::http::header::X_CONTENT_TYPE_OPTIONS,
        axum::http::HeaderValue::from_static("nosniff"),
    );
    response
}

/// Holds the data dir for this server: a second `tollgate up` is refused with who holds it,
/// while CLI commands keep working (they share the catalog as several processes do).
fn lock(env: &Embedded) -> anyhow::Result<std::fs::File> {
    let path = env.data_dir.join("up.lock");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            Err(RefusedError(format!(
                "another tollgate up ({}) serves {} already: use it, or stop it first",
                holder.trim(),
                env.data_dir.display()
            ))
            .into())
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("locking {}", path.display()))
        }
    }
}

async fn stop_signal() {
    tollgate_trainer::serve::stopped().await;
    eprintln!("Stopping: finishing the requests in flight.");
}

/// The local S3 notification: every object under `incoming/` that the catalog has no upload
/// record of is ingested once its size and time have held still for a look (a file still being
/// copied is left for the next one). Objects recorded before (by this server, an earlier one,
/// or `tollgate upload`) are left alone, so a restart ingests only what arrived meanwhile.
async fn watch_incoming(env: Embedded) {
    let mut done: HashSet<String> = HashSet::new();
    let mut last_seen: HashMap<String, String> = HashMap::new();
    let mut tick = tokio::time::interval(WATCH_EVERY);
    loop {
        tick.tick().await;
        if let Err(e) = look_at_incoming(&env, &mut done, &mut last_seen).await {
            tracing::warn!("watching incoming/: {e:#}");
        }
    }
}

async fn look_at_incoming(
    env: &Embedded,
    done: &mut HashSet<String>,
    last_seen: &mut HashMap<String, String>,
) -> anyhow::Result<()> {
    for meta in env.blobs.list(&env.bucket, "incoming/").await? {
        let name = meta.key.as_str().rsplit('/').next().unwrap_or_default();
        if name.starts_with('.') || name.ends_with('~') {
            continue;
        }
        let etag = meta.etag.clone().unwrap_or_default();
        let upload_key = format!("{}/{}#{etag}", env.bucket, meta.key);
        if done.contains(&upload_key) {
            continue;
        }
        if env.catalog.upload(&upload_key).await?.is_some() {
            done.insert(upload_key);
            continue;
        }
        if last_seen.get(meta.key.as_str()) != Some(&etag) {
            last_seen.insert(meta.key.to_string(), etag);
            continue;
        }
        last_seen.remove(meta.key.as_str());
        // Put through an upload URL: by whoever the URL was made for. Else by this machine's user.
        let by = env
            .app()
            .uploader(&upload_key)
            .await?
            .unwrap_or_else(|| env.user.clone());
        let event = super::upload::s3_put_event(env, &meta.key, meta.size, &etag, &by);
        match env.ingest().handle(&event).await {
            Ok(outcomes) => {
                for o in outcomes {
                    let what = match o.record.status {
                        UploadStatus::Accepted => format!(
                            "accepted as {} v{}",
                            o.record.dataset,
                            o.record.version.unwrap_or_default()
                        ),
                        UploadStatus::Duplicate => "a duplicate of a version already kept".into(),
                        UploadStatus::Rejected => {
                            "rejected (quarantined with its report)".to_owned()
                        }
                    };
                    println!("{}: {what}", meta.key);
                }
                done.insert(upload_key);
            }
            Err(e) if e.is_retryable() => {
                tracing::warn!(key = %meta.key, "ingesting failed, trying again: {e}");
            }
            Err(e) => {
                eprintln!("{}: ingesting failed: {e}", meta.key);
                done.insert(upload_key);
            }
        }
    }
    Ok(())
}

/// Pipelines' `[schedule]`s, as the tune function's schedule finds them on AWS: every half
/// minute, each firing that is due starts its run (once: the run's id is the firing's, so a
/// restart that asks again finds the same run). A firing that cannot start (no accepted version yet) is
/// said once.
async fn schedules_on_timer(env: Embedded) {
    let mut asked = std::collections::HashSet::new();
    let mut tick = tokio::time::interval(Duration::from_secs(30));
    loop {
        tick.tick().await;
        let due = match env.tune().due_firings(jiff::Timestamp::now()).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!("reading the pipelines' schedules: {e}");
                continue;
            }
        };
        for (name, at) in due {
            if !asked.insert((name.clone(), at)) {
                continue;
            }
            match env.tune().scheduled(&name, at).await {
                Ok(run) => println!("schedule: {name} fired at {at}: run {}", run.id),
                Err(e) => eprintln!("schedule: {name} could not start its run due at {at}: {e}"),
            }
        }
    }
}

/// How long an unfinished upload is left to the attempt that may still be at work on it.
const SWEEP_AFTER: Duration = Duration::from_secs(5 * 60);

/// The sweep of uploads a crash left unfinished ([`tollgate_ingest::Ingest::sweep`]) and of
/// stage changes left unannounced ([`tollgate_promote::Promote::announce_owed`]), every minute,
/// as schedules invoke the ingest and monitor functions on AWS. A server stopped mid-upload finds
/// the upload finished by its next start, whatever the watcher sees.
async fn sweep_on_timer(env: Embedded) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        match env.ingest().sweep(SWEEP_AFTER).await {
            Ok(finished) => {
                for o in finished {
                    println!(
                        "sweep: finished {} v{}, left unfinished by a stopped attempt",
                        o.record.dataset,
                        o.record.version.unwrap_or_default()
                    );
                }
            }
            Err(e) => tracing::warn!("sweeping unfinished uploads: {e}"),
        }
        match env.app().promote().announce_owed(SWEEP_AFTER).await {
            Ok(0) => {}
            Ok(n) => println!("sweep: announced {n} stage change(s) a stopped attempt left owed"),
            Err(e) => tracing::warn!("announcing the stage changes owed: {e}"),
        }
    }
}

/// The monitor on a timer, as EventBridge Scheduler fires it on AWS.
async fn monitor_on_timer(env: Embedded, every: Duration) {
    if every.is_zero() {
        return;
    }
    let mut tick = tokio::time::interval(every);
    tick.tick().await; // The first tick is now: the monitor waits one period.
    loop {
        tick.tick().await;
        match env.monitor().check_all().await {
            Ok(reports) => {
                for r in reports.iter().filter(|r| r.drifted) {
                    println!("monitor: {} drifted past its thresholds", r.model);
                }
            }
            Err(e) => tracing::warn!("the monitor failed: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_lets_the_console_reach_the_origins_its_config_names_and_no_other() {
        assert_eq!(
            origin_of("https://abc.execute-api.eu-west-1.amazonaws.com/prod/api").as_deref(),
            Some("https://abc.execute-api.eu-west-1.amazonaws.com")
        );
        assert_eq!(
            origin_of("http://127.0.0.1:9000").as_deref(),
            Some("http://127.0.0.1:9000")
        );
        assert_eq!(origin_of("javascript:alert(1)"), None);
        assert_eq!(origin_of("https://"), None);

        let dir = tempfile::tempdir().unwrap();
        let local = console_policy(dir.path());
        let local = local.to_str().unwrap();
        assert!(
            local.contains("connect-src 'self';")
                && local.contains("script-src 'self' 'wasm-unsafe-eval';")
        );
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"api_url": "https://api.example", "cognito": {"domain": "https://auth.example/", "client_id": "c"}}"#,
        )
        .unwrap();
        let aws = console_policy(dir.path());
        assert!(
            aws.to_str()
                .unwrap()
                .contains("connect-src 'self' https://api.example https://auth.example;"),
            "{aws:?}"
        );
    }
}
