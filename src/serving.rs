//! `tollgate up`'s endpoints: each model in production answers at
//! `POST /models/<name>/invocations`, under the same contract as the `trainer serve` image on a
//! SageMaker endpoint (`tollgate_trainer::serve`). What serving follows is the production
//! pointer (`models/<name>/production.json`), as a deployment would: a promotion or a rollback,
//! made here or by another process on the same data dir, is served within a second. The swap
//! replaces the model that new requests get; a request in flight keeps the model it started
//! with, so none is dropped or answered by half of each.
//!
//! Every answered row is captured, its features as the model read them, its prediction and the
//! version that made it, as CSV under `capture/<name>/<yyyy>/<mm>/<dd>/<hh>/` (a header line,
//! then a line per row): the files the monitor reads. Rows are gathered and written every few
//! seconds (and when the server stops), one new file each time, never appended to, as
//! SageMaker's data capture writes objects; a file holds the rows of one set of columns.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use tokio::sync::mpsc;
use tollgate_api::{Authenticator, BearerTokens};
use tollgate_domain::ports::BlobStore;
use tollgate_domain::{BlobKey, PortError};
use tollgate_trainer::Model;
use tollgate_trainer::artifact::Artifact;
use tollgate_trainer::serve::{self, ServeError};

use crate::embedded::Embedded;

/// How often the production pointers of the models served are read again.
const FOLLOW_EVERY: Duration = Duration::from_secs(1);

/// How often captured rows are written out.
const CAPTURE_EVERY: Duration = Duration::from_secs(5);

/// Past this many rows gathered for a model, they are written out at once.
const CAPTURE_ROWS: usize = 10_000;

/// The header that says which version answered.
pub const VERSION_HEADER: &str = "x-tollgate-model-version";

/// A model version in service.
#[derive(Debug)]
struct Deployed {
    version: u32,
    model: Model,
    /// The header of its capture's rows.
    capture_header: Arc<str>,
}

/// The rows one request had answered, as CSV lines under `header`.
struct Captured {
    model: String,
    header: Arc<str>,
    lines: String,
    rows: usize,
}

/// What the capture writer gathers rows under: a model, and the header of their columns.
type CaptureKey = (String, Arc<str>);

#[derive(Clone)]
pub struct Endpoints {
    env: Embedded,
    auth: BearerTokens,
    served: Arc<RwLock<HashMap<String, Arc<Deployed>>>>,
    capture: mpsc::UnboundedSender<Captured>,
    /// Where model files are unpacked.
    work_dir: Arc<tempfile::TempDir>,
}

/// The endpoints, and what writes their capture: run [`Capture::run`] until the server stops.
pub fn endpoints(env: &Embedded, auth: BearerTokens) -> anyhow::Result<(Endpoints, Capture)> {
    let (capture, received) = mpsc::unbounded_channel();
    let endpoints = Endpoints {
        env: env.clone(),
        auth,
        served: Arc::default(),
        capture,
        work_dir: Arc::new(tempfile::tempdir()?),
    };
    let capture = Capture {
        env: env.clone(),
        received,
        pending: HashMap::new(),
        written: 0,
    };
    Ok((endpoints, capture))
}

impl Endpoints {
    /// `POST /models/{name}/invocations`, for any signed-in caller.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/models/{name}/invocations", post(invocations))
            .layer(DefaultBodyLimit::max(serve::MAX_BODY_BYTES))
            .with_state(self.clone())
    }

    /// The version in production now, as its pointer says: `None` when none is.
    async fn pointed(&self, name: &str) -> Result<Option<(u32, String)>, PortError> {
        let key = BlobKey::parse(&format!("models/{name}/production.json"))
            .map_err(|e| PortError::Invalid(e.to_string()))?;
        let bytes = match self.env.blobs.get(&self.env.bucket, &key).await {
            Ok(bytes) => bytes,
            Err(PortError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let pointer: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| PortError::Invalid(format!("{key}: {e}")))?;
        let version = pointer["version"]
            .as_u64()
            .and_then(|v| u32::try_from(v).ok());
        let artifact = pointer["artifact"].as_str();
        Ok(version.zip(artifact.map(str::to_owned)))
    }

    /// Loads the model file of a version's artifact.
    async fn load(&self, version: u32, artifact: &str) -> Result<Deployed, String> {
        let object = Artifact::parse(artifact)
            .map_err(|e| e.to_string())?
            .model_file(self.env.blobs.as_ref(), self.work_dir.path())
            .await
            .map_err(|e| format!("fetching the model file of v{version}: {e}"))?;
        let path: PathBuf = object.path.clone();
        let model = tokio::task::spawn_blocking(move || Model::load(&path))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        let capture_header = serve::capture_header(&model, &["model_version"]).into();
        Ok(Deployed {
            version,
            model,
            capture_header,
        })
    }

    /// The model version that answers `name` now: the one served, or the one its pointer names
    /// loaded for the first request.
    async fn current(&self, name: &str) -> Result<Arc<Deployed>, ServeError> {
        if let Some(deployed) = self.served.read().expect("served lock").get(name) {
            return Ok(deployed.clone());
        }
        let unavailable = |message: String| ServeError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message,
        };
        let (version, artifact) = self
            .pointed(name)
            .await
            .map_err(|e| match e {
                PortError::Invalid(_) if BlobKey::parse(&format!("models/{name}/")).is_err() => {
                    ServeError {
                        status: StatusCode::NOT_FOUND,
                        message: format!("{name:?} is not a model name"),
                    }
                }
                e => unavailable(format!("reading the production pointer of {name}: {e}")),
            })?
            .ok_or_else(|| ServeError {
                status: StatusCode::NOT_FOUND,
                message: format!(
                    "model {name} has no version in production: approve or promote one first"
                ),
            })?;
        let deployed = Arc::new(
            self.load(version, &artifact)
                .await
                .map_err(|e| unavailable(format!("loading {name} v{version}: {e}")))?,
        );
        let mut served = self.served.write().expect("served lock");
        // Another request may have loaded it meanwhile: one copy is kept.
        Ok(served.entry(name.to_owned()).or_insert(deployed).clone())
    }

    /// Follows the production pointers of the models served, for as long as the server runs:
    /// a changed version is loaded, then swapped in; a model taken out of production is no
    /// longer served. A version that will not load leaves the one in service answering.
    pub async fn follow(self) {
        let mut tick = tokio::time::interval(FOLLOW_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failed: HashMap<String, u32> = HashMap::new();
        loop {
            tick.tick().await;
            let names: Vec<(String, u32)> = self
                .served
                .read()
                .expect("served lock")
                .iter()
                .map(|(name, d)| (name.clone(), d.version))
                .collect();
            for (name, serving) in names {
                let pointed = match self.pointed(&name).await {
                    Ok(pointed) => pointed,
                    Err(e) => {
                        tracing::warn!(model = name, "reading the production pointer: {e}");
                        continue;
                    }
                };
                match pointed {
                    None => {
                        self.served.write().expect("served lock").remove(&name);
                        println!("serving: {name} has no version in production any more");
                    }
                    Some((version, _)) if version == serving => {}
                    Some((version, _)) if failed.get(&name) == Some(&version) => {}
                    Some((version, artifact)) => match self.load(version, &artifact).await {
                        Ok(deployed) => {
                            self.served
                                .write()
                                .expect("served lock")
                                .insert(name.clone(), Arc::new(deployed));
                            failed.remove(&name);
                            println!("serving: {name} v{version} (was v{serving})");
                        }
                        Err(e) => {
                            failed.insert(name.clone(), version);
                            eprintln!(
                                "error: serving: {name} v{version} did not load, v{serving} \
                                 still answers: {e}"
                            );
                        }
                    },
                }
            }
        }
    }
}

async fn invocations(
    State(endpoints): State<Endpoints>,
    Path(name): Path<String>,
    parts: Parts,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    if let Err(e) = endpoints.auth.identify(&parts) {
        return e.into_response();
    }
    let answered = async {
        let body = serve::body_or_refusal(body)?;
        let deployed = endpoints.current(&name).await?;
        let invocation = serve::invoke(
            &deployed.model,
            serve::header_text(&parts.headers, header::CONTENT_TYPE),
            serve::header_text(&parts.headers, header::ACCEPT),
            &body,
        )?;
        Ok::<_, ServeError>((deployed, invocation))
    }
    .await;
    match answered {
        Ok((deployed, invocation)) => {
            let version = deployed.version;
            let lines = invocation.capture_csv(&[version.into()]);
            // The capture writer outlives the routes; a send fails only as the server stops.
            let _ = endpoints.capture.send(Captured {
                model: name,
                header: deployed.capture_header.clone(),
                lines,
                rows: invocation.rows,
            });
            let mut response = invocation.into_response();
            response
                .headers_mut()
                .insert(VERSION_HEADER, HeaderValue::from(version));
            response
        }
        Err(e) => e.into_response(),
    }
}

/// Writes the captured rows out: every [`CAPTURE_EVERY`], past [`CAPTURE_ROWS`] for a model,
/// and what is left when the server stops.
pub struct Capture {
    env: Embedded,
    received: mpsc::UnboundedReceiver<Captured>,
    pending: HashMap<CaptureKey, (String, usize)>,
    written: u64,
}

impl Capture {
    /// Runs until every [`Endpoints`] is gone, then writes what is left.
    pub async fn run(mut self) {
        let mut tick = tokio::time::interval(CAPTURE_EVERY);
        loop {
            tokio::select! {
                received = self.received.recv() => match received {
                    Some(captured) => {
                        let key = (captured.model, captured.header);
                        let (lines, rows) = self.pending.entry(key.clone()).or_insert_with(|| {
                            (key.1.to_string(), 0)
                        });
                        lines.push_str(&captured.lines);
                        *rows += captured.rows;
                        if *rows >= CAPTURE_ROWS {
                            self.write(&key).await;
                        }
                    }
                    None => break,
                },
                _ = tick.tick() => self.write_all().await,
            }
        }
        self.write_all().await;
    }

    async fn write_all(&mut self) {
        let keys: Vec<CaptureKey> = self.pending.keys().cloned().collect();
        for key in keys {
            self.write(&key).await;
        }
    }

    async fn write(&mut self, key: &CaptureKey) {
        let Some((lines, rows)) = self.pending.remove(key) else {
            return;
        };
        let model = &key.0;
        let now = jiff::Zoned::now().with_time_zone(jiff::tz::TimeZone::UTC);
        self.written += 1;
        let key = format!(
            "capture/{model}/{}/{}-{}-{}.csv",
            now.strftime("%Y/%m/%d/%H"),
            now.strftime("%Y%m%dT%H%M%S%.3fZ"),
            std::process::id(),
            self.written
        );
        let stored = match BlobKey::parse(&key) {
            Ok(key) => self
                .env
                .blobs
                .put(&self.env.bucket, &key, Bytes::from(lines))
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = stored {
            eprintln!("error: capturing {rows} row(s) of {model} to {key}: {e}");
        }
    }
}
