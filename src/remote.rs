//! `tollgate --api URL`: the commands that have a route, as a client of the HTTP API (a
//! `tollgate up`, or a deployed stack's API), with the token of `TOLLGATE_TOKEN`.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use serde::de::DeserializeOwned;
use tollgate_api_types::{ErrorBody, Page};

use crate::{RefusedError, UsageError};

use tollgate_notify::HttpsClient;

fn https_client() -> anyhow::Result<HttpsClient> {
    tollgate_notify::https_client().map_err(anyhow::Error::new)
}

#[derive(Debug, Clone)]
pub struct Remote {
    base: String,
    token: Option<String>,
    client: HttpsClient,
}

impl Remote {
    pub fn new(url: &str, token: Option<String>) -> anyhow::Result<Self> {
        let base = url
            .trim_end_matches('/')
            .trim_end_matches("/api/v1")
            .to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(UsageError(format!(
                "--api {url}: give the server's URL, such as http://127.0.0.1:8321"
            ))
            .into());
        }
        Ok(Self {
            base,
            token: token.filter(|t| !t.trim().is_empty()),
            client: https_client()?,
        })
    }

    /// Calls `method path` with `body`; the JSON answer as `T`, or the error body as the CLI's
    /// errors: a refusal (409) exits 1, a misuse (400, 401, 403, 404, 422) 2, the rest 3.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, Bytes)>,
    ) -> anyhow::Result<T> {
        let url = format!("{}/api/v1{path}", self.base);
        let mut request = Request::builder().method(method.clone()).uri(&url);
        if let Some(token) = &self.token {
            request = request.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match body {
            Some((content_type, bytes)) => {
                request = request.header(hyper::header::CONTENT_TYPE, content_type);
                bytes
            }
            None => Bytes::new(),
        };
        let request = request
            .body(Full::new(body))
            .map_err(|e| UsageError(format!("{url}: {e}")))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| anyhow::anyhow!("calling {url}: {e} (is the server up?)"))?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| anyhow::anyhow!("reading the answer of {url}: {e}"))?
            .to_bytes();
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| {
                anyhow::anyhow!("{method} {url}: an answer this CLI cannot read ({e})")
            });
        }
        let message = serde_json::from_slice::<ErrorBody>(&bytes)
            .map(|b| match b.error.field {
                Some(field) => format!("{} ({field})", b.error.message),
                None => b.error.message,
            })
            .unwrap_or_else(|_| format!("{status}: {}", String::from_utf8_lossy(&bytes)));
        Err(match status {
            StatusCode::CONFLICT => RefusedError(message).into(),
            StatusCode::UNAUTHORIZED if self.token.is_none() => {
                UsageError(format!("{message} (set TOLLGATE_TOKEN)")).into()
            }
            s if s.is_client_error() => UsageError(message).into(),
            _ => anyhow::anyhow!("{method} {url}: {message}"),
        })
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.call(Method::GET, path, None).await
    }

    pub async fn post_json<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> anyhow::Result<T> {
        let body = Bytes::from(serde_json::to_vec(body)?);
        self.call(Method::POST, path, Some(("application/json", body)))
            .await
    }

    /// Every item of a paged list, following `next` (`path` has its query, if any).
    pub async fn all<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<Vec<T>> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let url = match &cursor {
                Some(c) => format!("{path}{sep}limit=500&cursor={c}"),
                None => format!("{path}{sep}limit=500"),
            };
            let page: Page<T> = self.get(&url).await?;
            items.extend(page.items);
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(items),
            }
        }
    }

    /// PUTs `body` to an upload URL the API handed out (it carries its own credential), with
    /// the headers signed into it; the object's ETag, as the store answered it.
    pub async fn put_url(
        &self,
        url: &str,
        headers: &std::collections::BTreeMap<String, String>,
        body: Bytes,
    ) -> anyhow::Result<Option<String>> {
        let mut request = Request::builder().method(Method::PUT).uri(url);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let request = request
            .body(Full::new(body))
            .map_err(|e| anyhow::anyhow!("{url}: {e}"))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| anyhow::anyhow!("uploading to {url}: {e}"))?;
        if !response.status().is_success() {
            let status = response.status();
            let bytes = response.into_body().collect().await?.to_bytes();
            anyhow::bail!("uploading: {status}: {}", String::from_utf8_lossy(&bytes));
        }
        Ok(response
            .headers()
            .get(hyper::header::ETAG)
            .and_then(|t| t.to_str().ok())
            .map(|t| t.trim_matches('"').to_owned()))
    }
}

/// A path segment or query value, percent-encoded.
pub fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}
