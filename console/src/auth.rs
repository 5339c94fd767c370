//! Signing in on AWS: the Cognito hosted UI with the authorization code flow and PKCE
//! (RFC 7636), for a public client that keeps no secret. What is pure is here, with unit tests:
//! the console's `config.json`, the verifier and its S256 challenge, the addresses of the hosted
//! UI, and the claims of the ID token the API's authorizer checks. [`crate::api`] makes the
//! requests; the sign-in pages move the browser.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::view_model::encode_segment as enc;

/// `config.json`, next to the console's files: where the API is and how people sign in. The
/// infrastructure writes it; `tollgate up` has none, and then the API is on the page's own
/// origin with `tollgate up`'s local sign-in.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Config {
    /// The API's origin (`https://abc.execute-api.eu-west-1.amazonaws.com`); empty for the
    /// page's own.
    #[serde(default)]
    pub api_url: String,
    #[serde(default)]
    pub cognito: Option<Cognito>,
}

/// A Cognito user pool's hosted UI and the console's app client.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Cognito {
    /// `https://<prefix>.auth.<region>.amazoncognito.com`.
    pub domain: String,
    pub client_id: String,
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// The ID token's claim that names people; the API function reads the same one.
    #[serde(default = "default_actor_claim")]
    pub actor_claim: String,
}

fn default_scopes() -> Vec<String> {
    ["openid", "email", "profile"].map(String::from).to_vec()
}

fn default_actor_claim() -> String {
    "email".into()
}

/// A PKCE code verifier from 32 random bytes: 43 characters of base64url.
pub fn verifier(random: &[u8; 32]) -> String {
    URL_SAFE_NO_PAD.encode(random)
}

/// The S256 challenge of a verifier: base64url of its SHA-256.
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The hosted UI's sign-in address for this attempt.
pub fn authorize_url(c: &Cognito, redirect_uri: &str, challenge: &str, state: &str) -> String {
    format!(
        "{}/oauth2/authorize?response_type=code&client_id={}&redirect_uri={}&scope={}&state={}&code_challenge={}&code_challenge_method=S256",
        c.domain.trim_end_matches('/'),
        enc(&c.client_id),
        enc(redirect_uri),
        enc(&c.scopes.join(" ")),
        enc(state),
        enc(challenge),
    )
}

/// The token endpoint's address.
pub fn token_url(c: &Cognito) -> String {
    format!("{}/oauth2/token", c.domain.trim_end_matches('/'))
}

/// The form that trades the code for tokens, proving this is the tab that asked.
pub fn token_form(c: &Cognito, code: &str, redirect_uri: &str, verifier: &str) -> String {
    format!(
        "grant_type=authorization_code&client_id={}&code={}&redirect_uri={}&code_verifier={}",
        enc(&c.client_id),
        enc(code),
        enc(redirect_uri),
        enc(verifier),
    )
}

/// The hosted UI's sign-out, back to `logout_uri` after.
pub fn logout_url(c: &Cognito, logout_uri: &str) -> String {
    format!(
        "{}/logout?client_id={}&logout_uri={}",
        c.domain.trim_end_matches('/'),
        enc(&c.client_id),
        enc(logout_uri),
    )
}

/// What the token endpoint answers.
#[derive(Debug, Clone, Deserialize)]
pub struct Tokens {
    pub id_token: String,
}

/// Who an ID token names, for the page to show. The console does not verify the token: the
/// API's authorizer does, on every request.
#[derive(Debug, Clone, PartialEq)]
pub struct IdClaims {
    pub user: String,
    pub groups: Vec<String>,
    pub expires_at: jiff::Timestamp,
}

pub fn id_claims(id_token: &str, actor_claim: &str) -> Result<IdClaims, String> {
    let payload = id_token
        .split('.')
        .nth(1)
        .ok_or("the ID token is not a JWT (no payload)")?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| format!("the ID token's payload is not base64url: {e}"))?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| format!("the ID token's payload is not JSON: {e}"))?;
    let user = claims
        .get(actor_claim)
        .and_then(|v| v.as_str())
        .ok_or_else(|| format!("the ID token has no {actor_claim} claim to name you"))?
        .to_owned();
    let groups = claims
        .get("cognito:groups")
        .and_then(|g| g.as_array())
        .map(|g| {
            g.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let expires_at = claims
        .get("exp")
        .and_then(|e| e.as_i64())
        .and_then(|e| jiff::Timestamp::from_second(e).ok())
        .ok_or("the ID token has no expiry (exp)")?;
    Ok(IdClaims {
        user,
        groups,
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cognito() -> Cognito {
        Cognito {
            domain: "https://tollgate-dev.auth.eu-west-1.amazoncognito.com/".into(),
            client_id: "abc123".into(),
            scopes: default_scopes(),
            actor_claim: default_actor_claim(),
        }
    }

    #[test]
    fn the_challenge_is_rfc_7636s_s256() {
        // The example of RFC 7636, appendix B: its 32 octets, verifier and challenge.
        let octets: [u8; 32] = [
            116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212,
            37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
        ];
        assert_eq!(
            verifier(&octets),
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        );
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        // 32 random bytes make a verifier of 43 unreserved characters that keeps all of them.
        let random: [u8; 32] = std::array::from_fn(|i| (i * 37 + 11) as u8);
        let v = verifier(&random);
        assert_eq!(v.len(), 43);
        assert!(
            v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(URL_SAFE_NO_PAD.decode(&v).unwrap(), random);
    }

    #[test]
    fn the_hosted_ui_is_asked_for_a_code_with_the_challenge() {
        let url = authorize_url(&cognito(), "https://console.example/signed-in", "CH", "ST");
        assert_eq!(
            url,
            "https://tollgate-dev.auth.eu-west-1.amazoncognito.com/oauth2/authorize?response_type=code&client_id=abc123&redirect_uri=https%3A%2F%2Fconsole.example%2Fsigned-in&scope=openid%20email%20profile&state=ST&code_challenge=CH&code_challenge_method=S256"
        );
        assert_eq!(
            token_form(&cognito(), "c/1", "https://console.example/signed-in", "V"),
            "grant_type=authorization_code&client_id=abc123&code=c%2F1&redirect_uri=https%3A%2F%2Fconsole.example%2Fsigned-in&code_verifier=V"
        );
        assert!(
            logout_url(&cognito(), "https://console.example/")
                .ends_with("/logout?client_id=abc123&logout_uri=https%3A%2F%2Fconsole.example%2F")
        );
    }

    #[test]
    fn a_config_without_cognito_is_the_local_sign_in() {
        let local: Config = serde_json::from_str("{}").unwrap();
        assert_eq!(local, Config::default());
        let aws: Config = serde_json::from_str(
            r#"{"api_url": "https://api.example", "cognito": {"domain": "https://d", "client_id": "c"}}"#,
        )
        .unwrap();
        let c = aws.cognito.unwrap();
        assert_eq!((c.scopes.len(), c.actor_claim.as_str()), (3, "email"));
    }

    #[test]
    fn the_id_token_names_the_person_and_their_groups() {
        let payload = URL_SAFE_NO_PAD.encode(
            r#"{"email":"ana@example.com","cognito:groups":["approvers"],"exp":1800000000}"#,
        );
        let token = format!("eyJhbGciOiJSUzI1NiJ9.{payload}.sig");
        let claims = id_claims(&token, "email").unwrap();
        assert_eq!(claims.user, "ana@example.com");
        assert_eq!(claims.groups, ["approvers"]);
        assert_eq!(claims.expires_at.as_second(), 1_800_000_000);
        assert!(
            id_claims(&token, "sub")
                .unwrap_err()
                .contains("no sub claim")
        );
        assert!(id_claims("nonsense", "email").is_err());
    }
}
