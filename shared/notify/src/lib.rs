//! Notifications: the events people act on, as messages to a webhook (`TOLLGATE_WEBHOOK_URL`):
//! from `tollgate up` and the CLI on a laptop, and from the notify function on AWS.
//!
//! The body is JSON that Slack's and Teams' incoming webhooks take as it is (`text`), with the
//! same facts for programs under `tollgate`. With `TOLLGATE_WEBHOOK_SECRET` set, each request
//! is signed: `X-Tollgate-Timestamp` holds the Unix time in seconds and `X-Tollgate-Signature`
//! `sha256=` and the hex HMAC-SHA256, keyed with the secret, of `<timestamp>.<body>`; a
//! receiver recomputes it, compares in constant time, and refuses old timestamps (replays).
//!
//! A delivery is tried [`ATTEMPTS`] times, backing off; the caller records one that still fails
//! (the audit trail's `notification.failed`, and its log), and nothing else waits on it: a dead
//! receiver never stops or fails the pipeline.

use std::time::Duration;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::json;
use sha2::Sha256;
use tollgate_domain::deploy::DeploymentStatus;
use tollgate_domain::{AuditEvent, Event, ModelStage, UserId};

/// An HTTP client that speaks TLS with this machine's trusted roots, and plain HTTP.
pub type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A webhook's settings that cannot be used, said for the person who set them.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SettingError(pub String);

/// The HTTPS client (the webhook's, and the CLI's remote mode's).
pub fn https_client() -> Result<HttpsClient, SettingError> {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
        .map_err(|e| SettingError(format!("reading this machine's trusted certificates: {e}")))?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(https))
}

/// Tries per message.
pub const ATTEMPTS: u32 = 4;

/// How long one try may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// What people are told, about what.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// `approval.needed`, `model.promoted`, `model.rolled_back`, `model.rejected`,
    /// `model.tests_failed`, `run.failed`, `upload.rejected`, `drift.detected`,
    /// `deployment.failed`.
    pub kind: &'static str,
    /// What it is about, as the audit trail names it: `model/wine/v3`, `run/…`, `dataset/wine`.
    pub subject: String,
    pub text: String,
    /// Where to see it in the console.
    pub link: Option<String>,
}

impl Message {
    fn new(kind: &'static str, subject: String, text: String, link: Option<String>) -> Self {
        Self {
            kind,
            subject,
            text,
            link,
        }
    }
}

fn link(console: Option<&str>, path: &str) -> Option<String> {
    console.map(|base| format!("{}{path}", base.trim_end_matches('/')))
}

/// The message an event calls for, if people act on it.
pub fn of_event(event: &Event, console: Option<&str>) -> Option<Message> {
    match event {
        Event::ModelStageChanged {
            model,
            version,
            from,
            to,
            actor,
        } => {
            let subject = format!("model/{model}/v{version}");
            let at = link(console, &format!("/models/{model}/versions/{version}"));
            let (kind, text) = match (from, to) {
                (_, ModelStage::Staging) => (
                    "approval.needed",
                    format!("{model} v{version} passed its model tests and waits for approval"),
                ),
                (ModelStage::Staging, ModelStage::Production) => (
                    "model.promoted",
                    format!("{model} v{version} is in production ({actor} approved it)"),
                ),
                (_, ModelStage::Production) => (
                    "model.rolled_back",
                    format!("{model} v{version} is back in production ({actor} rolled back)"),
                ),
                (_, ModelStage::Rejected) => (
                    "model.rejected",
                    format!("{model} v{version} was rejected by {actor}"),
                ),
                _ => return None,
            };
            Some(Message::new(kind, subject, text, at))
        }
        Event::ModelTested {
            model,
            version,
            passed: false,
            ..
        } => Some(Message::new(
            "model.tests_failed",
            format!("model/{model}/v{version}"),
            format!("{model} v{version} failed its model tests: it will not reach staging"),
            link(console, &format!("/models/{model}/versions/{version}")),
        )),
        Event::DatasetUploadRejected {
            dataset,
            reasons,
            uploaded_by,
            ..
        } => Some(Message::new(
            "upload.rejected",
            format!("dataset/{dataset}"),
            format!(
                "an upload of {dataset} by {uploaded_by} was rejected and quarantined: {}",
                reasons.first().map_or("see its report", String::as_str)
            ),
            link(console, &format!("/datasets/{dataset}/uploads")),
        )),
        Event::DeploymentChanged {
            model,
            version,
            endpoint,
            status: DeploymentStatus::Failed,
            reason,
        } => Some(Message::new(
            "deployment.failed",
            format!("model/{model}/v{version}"),
            format!(
                "deploying {model} v{version} to endpoint {endpoint} failed: {}; the endpoint \
                 serves what it served before",
                reason.as_deref().unwrap_or("no reason was given")
            ),
            link(console, &format!("/models/{model}/versions/{version}")),
        )),
        Event::RunFailed {
            pipeline,
            run_id,
            reason,
            ..
        } => Some(Message::new(
            "run.failed",
            format!("run/{run_id}"),
            format!("run {run_id} of {pipeline} failed: {reason}"),
            link(console, &format!("/runs/{run_id}")),
        )),
        Event::DriftDetected {
            model,
            version,
            features,
            outcome,
            ..
        } => Some(Message::new(
            "drift.detected",
            format!("model/{model}"),
            format!(
                "{model} v{version}: drift past the thresholds in {}; {outcome}",
                features.join(", ")
            ),
            link(console, &format!("/models/{model}/monitoring")),
        )),
        _ => None,
    }
}

/// The first wait between tries: a second, or `TOLLGATE_WEBHOOK_BACKOFF_MS` (the tests').
fn backoff() -> Duration {
    std::env::var("TOLLGATE_WEBHOOK_BACKOFF_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map_or(Duration::from_secs(1), Duration::from_millis)
}

/// Where messages go.
#[derive(Clone)]
pub struct Webhook {
    url: hyper::Uri,
    secret: Option<Vec<u8>>,
    client: HttpsClient,
    /// The first wait between tries; each next one doubles it.
    backoff: Duration,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("url", &self.shown())
            .field("signed", &self.secret.is_some())
            .finish()
    }
}

impl Webhook {
    /// `TOLLGATE_WEBHOOK_URL` and `TOLLGATE_WEBHOOK_SECRET`; `None` when no URL is set.
    pub fn from_env() -> Result<Option<Self>, SettingError> {
        let Some(url) = std::env::var("TOLLGATE_WEBHOOK_URL")
            .ok()
            .filter(|u| !u.trim().is_empty())
        else {
            return Ok(None);
        };
        let secret = std::env::var("TOLLGATE_WEBHOOK_SECRET")
            .ok()
            .filter(|s| !s.is_empty());
        Self::new(url.trim(), secret.map(String::into_bytes), backoff()).map(Some)
    }

    /// The webhook a secret's value describes: `{"url": "https://…", "secret": "…"}`, the
    /// signing `secret` optional (as on AWS, where the notify function reads it from Secrets
    /// Manager).
    pub fn from_secret(value: &str) -> Result<Self, SettingError> {
        let settings: serde_json::Value = serde_json::from_str(value).map_err(|e| {
            SettingError(format!(
                "the webhook's secret is not JSON ({e}): store {{\"url\": \"https://…\", \"secret\": \"…\"}}"
            ))
        })?;
        let url = settings["url"].as_str().filter(|u| !u.trim().is_empty()).ok_or_else(|| {
            SettingError("the webhook's secret has no \"url\": store {\"url\": \"https://…\", \"secret\": \"…\"}".into())
        })?;
        let secret = settings["secret"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(|s| s.as_bytes().to_vec());
        // Said without the URL, which for Slack and Teams is a secret itself.
        let web = url
            .trim()
            .parse::<hyper::Uri>()
            .is_ok_and(|u| matches!(u.scheme_str(), Some("http" | "https")));
        if !web {
            return Err(SettingError(
                "the webhook's secret has a \"url\" that is not an http:// or https:// URL (not \
                 shown here: it may be a secret itself)"
                    .into(),
            ));
        }
        Self::new(url.trim(), secret, backoff())
    }

    pub fn new(
        url: &str,
        secret: Option<Vec<u8>>,
        backoff: Duration,
    ) -> Result<Self, SettingError> {
        let parsed: hyper::Uri = url
            .parse()
            .map_err(|e| SettingError(format!("TOLLGATE_WEBHOOK_URL {url:?} is not a URL: {e}")))?;
        if !matches!(parsed.scheme_str(), Some("http" | "https")) {
            return Err(SettingError(format!(
                "TOLLGATE_WEBHOOK_URL {url:?}: give an http:// or https:// URL"
            )));
        }
        Ok(Self {
            url: parsed,
            secret,
            client: https_client()?,
            backoff,
        })
    }

    /// The URL without its path, which for Slack and Teams is the secret: for logs and audit.
    pub fn shown(&self) -> String {
        format!(
            "{}://{}",
            self.url.scheme_str().unwrap_or("http"),
            self.url.authority().map(|a| a.as_str()).unwrap_or_default()
        )
    }

    /// The JSON a message is sent as.
    pub fn body(message: &Message, at: jiff::Timestamp) -> String {
        let text = match &message.link {
            Some(link) => format!("{} {link}", message.text),
            None => message.text.clone(),
        };
        json!({
            "text": text,
            "tollgate": {
                "kind": message.kind,
                "subject": message.subject,
                "text": message.text,
                "link": message.link,
                "at": at.to_string(),
            }
        })
        .to_string()
    }

    /// `sha256=<hex>` of `<timestamp>.<body>` keyed with `secret`.
    pub fn signature(secret: &[u8], timestamp: i64, body: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(format!("{timestamp}.{body}").as_bytes());
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }

    /// Sends `message`, trying again with backoff: the tries it took, or why the last failed.
    pub async fn deliver(&self, message: &Message) -> Result<u32, String> {
        let now = jiff::Timestamp::now();
        let body = Self::body(message, now);
        let mut wait = self.backoff;
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            match self.send(&body, now.as_second()).await {
                Ok(()) => return Ok(attempt),
                Err((retry, why)) => {
                    last = why;
                    if !retry {
                        break;
                    }
                }
            }
            if attempt < ATTEMPTS {
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
        }
        Err(last)
    }

    /// The audit trail's record of `message` not delivered, after every try, for `reason`:
    /// `notification.failed` on the message's subject, with the URL without its path.
    pub fn failure(&self, message: &Message, reason: &str, at: jiff::Timestamp) -> AuditEvent {
        AuditEvent::new(
            at,
            UserId::parse("tollgate").expect("a valid user name"),
            "notification.failed",
            message.subject.clone(),
        )
        .details(json!({
            "kind": message.kind,
            "to": self.shown(),
            "tries": ATTEMPTS,
            "reason": reason,
            "text": message.text,
        }))
    }

    /// One try; the error says whether another may help.
    async fn send(&self, body: &str, timestamp: i64) -> Result<(), (bool, String)> {
        let mut request = hyper::Request::post(self.url.clone())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::USER_AGENT, "tollgate");
        if let Some(secret) = &self.secret {
            request = request
                .header("x-tollgate-timestamp", timestamp.to_string())
                .header(
                    "x-tollgate-signature",
                    Self::signature(secret, timestamp, body),
                );
        }
        let request = request
            .body(Full::new(Bytes::from(body.to_owned())))
            .map_err(|e| (false, e.to_string()))?;
        let response = tokio::time::timeout(TIMEOUT, self.client.request(request))
            .await
            .map_err(|_| (true, format!("no answer within {} s", TIMEOUT.as_secs())))?
            .map_err(|e| (true, format!("{e}")))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        // A 4xx other than throttling will be refused again: the URL or the secret is wrong.
        let retry = status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408;
        Err((retry, format!("the receiver answered {status}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hmac_a_receiver_computes_of_timestamp_dot_body() {
        // Python: hmac.new(b"shh", b'1700000000.{"text":"hi"}', hashlib.sha256).hexdigest()
        assert_eq!(
            Webhook::signature(b"shh", 1_700_000_000, r#"{"text":"hi"}"#),
            "sha256=25d6ef2af29dbf6b04f3c501ae151a0e41c34410e8c65687c74e4599f597561b"
        );
    }

    #[test]
    fn a_staged_version_asks_for_approval_with_its_console_link_and_the_rest_say_what_changed() {
        let change = |from, to| Event::ModelStageChanged {
            model: "wine".into(),
            version: 3,
            from,
            to,
            actor: UserId::parse("ana").unwrap(),
        };
        let console = Some("http://127.0.0.1:8321/");
        let asked = of_event(&change(ModelStage::Candidate, ModelStage::Staging), console).unwrap();
        assert_eq!(asked.kind, "approval.needed");
        assert_eq!(
            asked.link.as_deref(),
            Some("http://127.0.0.1:8321/models/wine/versions/3")
        );
        let body: serde_json::Value =
            serde_json::from_str(&Webhook::body(&asked, jiff::Timestamp::UNIX_EPOCH)).unwrap();
        assert_eq!(
            body["text"],
            "wine v3 passed its model tests and waits for approval \
             http://127.0.0.1:8321/models/wine/versions/3"
        );
        assert_eq!(body["tollgate"]["subject"], "model/wine/v3");
        let kinds: Vec<_> = [
            (ModelStage::Staging, ModelStage::Production),
            (ModelStage::Archived, ModelStage::Production),
            (ModelStage::Staging, ModelStage::Rejected),
            (ModelStage::Production, ModelStage::Archived),
        ]
        .into_iter()
        .map(|(from, to)| of_event(&change(from, to), None).map(|m| m.kind))
        .collect();
        assert_eq!(
            kinds,
            [
                Some("model.promoted"),
                Some("model.rolled_back"),
                Some("model.rejected"),
                None
            ]
        );
    }

    #[test]
    fn a_failed_deployment_is_told_with_its_reason_and_the_others_are_not() {
        let deployment = |status, reason: Option<&str>| Event::DeploymentChanged {
            model: "wine".into(),
            version: 4,
            endpoint: "tg-wine".into(),
            status,
            reason: reason.map(str::to_owned),
        };
        let failed = of_event(
            &deployment(DeploymentStatus::Failed, Some("an alarm fired")),
            None,
        )
        .unwrap();
        assert_eq!(failed.kind, "deployment.failed");
        assert!(
            failed.text.contains("tg-wine") && failed.text.contains("an alarm fired"),
            "{}",
            failed.text
        );
        for status in [DeploymentStatus::Deploying, DeploymentStatus::InService] {
            assert!(of_event(&deployment(status, None), None).is_none());
        }
    }

    #[test]
    fn a_secret_is_read_and_its_url_never_said() {
        let hook = Webhook::from_secret(r#"{"url": "https://hooks.example.com/T0/B0/x"}"#).unwrap();
        assert_eq!(hook.shown(), "https://hooks.example.com");
        for bad in [
            r#"{"url": "ftp://hooks.example.com/T0/B0/very-secret"}"#,
            r#"{"url": "not a url very-secret"}"#,
        ] {
            let said = Webhook::from_secret(bad).unwrap_err().to_string();
            assert!(!said.contains("very-secret"), "{said}");
            assert!(said.contains("not an http:// or https:// URL"), "{said}");
        }
        let said = Webhook::from_secret(r#"{"secret": "x"}"#)
            .unwrap_err()
            .to_string();
        assert!(said.contains("no \"url\""), "{said}");
    }

    #[test]
    fn only_web_addresses_are_taken() {
        assert!(Webhook::new("ftp://example.com/x", None, Duration::ZERO).is_err());
        assert!(Webhook::new("not a url", None, Duration::ZERO).is_err());
        let hook = Webhook::new(
            "https://hooks.example.com/services/T0/B0/secret",
            None,
            Duration::ZERO,
        )
        .unwrap();
        assert_eq!(
            hook.shown(),
            "https://hooks.example.com",
            "the path is the secret"
        );
    }
}
