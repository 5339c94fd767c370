//! Who is calling: an [`Identity`] from the request, by whichever [`Authenticator`] the edge
//! uses (the local server's tokens, API Gateway's JWT authorizer on AWS), and the roles.

use std::fmt::Debug;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tollgate_domain::UserId;

use crate::{Api, ApiError};

/// May upload, apply contracts and pipelines, request runs.
pub const EDITORS: &str = "editors";
/// May approve, reject, promote and roll back.
pub const APPROVERS: &str = "approvers";

/// The caller, as the edge vouches for them. The actor of every write is this, never a field
/// of the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: UserId,
    pub groups: Vec<String>,
}

impl Identity {
    /// `Forbidden`, naming the group, unless the caller is in it.
    pub fn require(&self, group: &str, to: &str) -> Result<(), ApiError> {
        if self.groups.iter().any(|g| g == group) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "{} is not in the {group} group, whose members may {to}",
                self.user
            )))
        }
    }
}

/// How an edge finds the caller of a request.
pub trait Authenticator: Send + Sync + Debug {
    /// `Unauthenticated` when the request carries no identity this edge trusts.
    fn identify(&self, parts: &Parts) -> Result<Identity, ApiError>;
}

impl FromRequestParts<Api> for Identity {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, api: &Api) -> Result<Self, Self::Rejection> {
        api.auth.identify(parts)
    }
}

/// What a local token says.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Claims {
    sub: String,
    /// `upload` for an upload URL's grant, which is no sign-in; absent on a user's token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    purpose: Option<String>,
    #[serde(default)]
    groups: Vec<String>,
    /// On an upload grant: who asked for it, the uploader of what is PUT with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    by: Option<String>,
    iss: String,
    iat: i64,
    exp: i64,
}

const ISSUER: &str = "tollgate-local";
const UPLOAD: &str = "upload";

/// The tokens of one data dir's server: HS256, signed with the key kept in the data dir.
#[derive(Clone)]
pub struct LocalTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl Debug for LocalTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalTokens(..)")
    }
}

impl LocalTokens {
    /// Tokens signed with `key` (at least 32 bytes).
    pub fn new(key: &[u8]) -> Result<Self, String> {
        if key.len() < 32 {
            return Err(format!(
                "a signing key of {} bytes is too short: it takes at least 32",
                key.len()
            ));
        }
        let bad = |e: jsonwebtoken::errors::Error| format!("the signing key: {e}");
        Ok(Self {
            encoding: EncodingKey::from_secret(key).map_err(bad)?,
            decoding: DecodingKey::from_secret(key).map_err(bad)?,
        })
    }

    /// Tokens signed with the key kept in `dir` (`api-signing-key`, mode 0600: who can read it
    /// can sign in as anyone): read, or made (32 random bytes) if there is none yet. Two
    /// processes making it at once agree: the first link wins and the other reads it.
    pub fn of_dir(dir: &std::path::Path) -> Result<Self, String> {
        use std::io::Write;
        const KEY_FILE: &str = "api-signing-key";
        let path = dir.join(KEY_FILE);
        let said = |what: &str, p: &std::path::Path, e: std::io::Error| {
            format!("{what} {}: {e}", p.display())
        };
        if !path.exists() {
            std::fs::create_dir_all(dir).map_err(|e| said("creating the folder", dir, e))?;
            let mut key = [0u8; 32];
            getrandom::fill(&mut key).map_err(|e| format!("no randomness for a key: {e}"))?;
            let tmp = dir.join(format!(".{KEY_FILE}.{}", std::process::id()));
            let mut file = private_file(&tmp).map_err(|e| said("creating", &tmp, e))?;
            file.write_all(hex::encode(key).as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| said("writing", &tmp, e))?;
            let linked = std::fs::hard_link(&tmp, &path);
            let _ = std::fs::remove_file(&tmp);
            match linked {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(said("storing", &path, e)),
            }
        }
        let text =
            std::fs::read_to_string(&path).map_err(|e| said("reading the token key", &path, e))?;
        let key = hex::decode(text.trim()).map_err(|e| {
            format!(
                "{} is not a token key ({e}): remove it to make a new one",
                path.display()
            )
        })?;
        Self::new(&key).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// A token for `user` in `groups`, valid from `now` for `valid_for`.
    pub fn issue(
        &self,
        user: &UserId,
        groups: &[String],
        now: jiff::Timestamp,
        valid_for: std::time::Duration,
    ) -> String {
        let iat = now.as_second();
        let claims = Claims {
            sub: user.to_string(),
            purpose: None,
            groups: groups.to_vec(),
            by: None,
            iss: ISSUER.into(),
            iat,
            exp: iat.saturating_add(i64::try_from(valid_for.as_secs()).unwrap_or(i64::MAX)),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing does not fail")
    }

    /// The identity a token vouches for; `Unauthenticated` saying why when it does not.
    pub fn verify(&self, token: &str) -> Result<Identity, ApiError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).map_err(
            |e| {
                ApiError::Unauthenticated(match e.kind() {
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                        "the token has expired: get a new one (tollgate token --as USER)".into()
                    }
                    _ => format!(
                        "the token is not one this server issued ({e}): get one with tollgate token --as USER"
                    ),
                })
            },
        )?;
        if data.claims.purpose.is_some() {
            return Err(ApiError::Unauthenticated(
                "an upload URL's grant is not a sign-in: use a token from tollgate token".into(),
            ));
        }
        let user = UserId::parse(&data.claims.sub)
            .map_err(|e| ApiError::Unauthenticated(format!("the token's subject: {e}")))?;
        Ok(Identity {
            user,
            groups: data.claims.groups,
        })
    }

    /// A short-lived token that lets its bearer PUT one object (`key`) and nothing else, on
    /// behalf of `by`: the local server's presigned upload URL.
    pub fn upload_grant(
        &self,
        key: &str,
        by: &UserId,
        now: jiff::Timestamp,
        valid_for: std::time::Duration,
    ) -> String {
        let iat = now.as_second();
        let claims = Claims {
            sub: format!("upload:{key}"),
            purpose: Some(UPLOAD.into()),
            groups: Vec::new(),
            by: Some(by.to_string()),
            iss: ISSUER.into(),
            iat,
            exp: iat.saturating_add(i64::try_from(valid_for.as_secs()).unwrap_or(i64::MAX)),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing does not fail")
    }

    /// Whether `grant` lets its bearer PUT `key` now: the person it was made for when it does.
    pub fn check_upload(&self, grant: &str, key: &str) -> Result<UserId, ApiError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        let data =
            jsonwebtoken::decode::<Claims>(grant, &self.decoding, &validation).map_err(|e| {
                ApiError::Forbidden(format!(
                    "the upload URL is not valid ({e}): ask for a new one"
                ))
            })?;
        if data.claims.purpose.as_deref() != Some(UPLOAD)
            || data.claims.sub != format!("upload:{key}")
        {
            return Err(ApiError::Forbidden(
                "the upload URL was made for another file".into(),
            ));
        }
        data.claims
            .by
            .as_deref()
            .and_then(|by| UserId::parse(by).ok())
            .ok_or_else(|| {
                ApiError::Forbidden("the upload URL names no uploader: ask for a new one".into())
            })
    }
}

/// The local server's authenticator: `Authorization: Bearer <token>` from `tollgate token`.
#[derive(Debug, Clone)]
pub struct BearerTokens(pub Arc<LocalTokens>);

impl Authenticator for BearerTokens {
    fn identify(&self, parts: &Parts) -> Result<Identity, ApiError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::Unauthenticated(
                    "sign in: send Authorization: Bearer TOKEN (tollgate token --as USER prints one)"
                        .into(),
                )
            })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or_else(|| {
                ApiError::Unauthenticated("the Authorization header is not Bearer TOKEN".into())
            })?;
        self.0.verify(token.trim())
    }
}

/// A new file only its owner can read.
#[cfg(unix)]
fn private_file(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn private_file(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}
