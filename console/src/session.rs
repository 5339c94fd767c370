//! Who is signed in: the token and what it says, in memory and in the tab's session storage
//! (gone when the tab closes, never in a cookie other sites could send).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use tollgate_api_types::SignedIn;

use crate::auth::{self, Cognito};
use crate::view_model::Failure;

const KEY: &str = "tollgate.session";
/// A hosted-UI sign-in under way: what the tab needs when Cognito sends it back.
const PENDING: &str = "tollgate.sign-in";
/// Where Cognito sends the browser back to (an allowed callback URL of the app client).
pub const CALLBACK_PATH: &str = "/signed-in";

/// The signed-in person, shared by every page through the context.
#[derive(Debug, Clone, Copy)]
pub struct Session {
    current: RwSignal<Option<SignedIn>>,
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok()?
}

impl Session {
    /// The session this tab had, unless its token has expired.
    pub fn restore() -> Self {
        let stored = storage()
            .and_then(|s| s.get_item(KEY).ok().flatten())
            .and_then(|text| serde_json::from_str::<SignedIn>(&text).ok())
            .filter(|s| s.expires_at > jiff::Timestamp::now());
        Self {
            current: RwSignal::new(stored),
        }
    }

    /// The session in the context ([`crate::App`] provides it).
    pub fn get() -> Self {
        expect_context::<Self>()
    }

    pub fn signed_in(&self) -> Option<SignedIn> {
        self.current.get()
    }

    /// The bearer token, read without tracking (for requests).
    pub fn token(&self) -> Option<String> {
        self.current
            .with_untracked(|s| s.as_ref().map(|s| s.token.clone()))
    }

    pub fn user(&self) -> Option<String> {
        self.current.with(|s| s.as_ref().map(|s| s.user.clone()))
    }

    pub fn in_group(&self, group: &str) -> bool {
        self.current.with(|s| {
            s.as_ref()
                .is_some_and(|s| s.groups.iter().any(|g| g == group))
        })
    }

    pub fn sign_in(&self, signed_in: SignedIn) {
        if let (Some(s), Ok(text)) = (storage(), serde_json::to_string(&signed_in)) {
            let _ = s.set_item(KEY, &text);
        }
        self.current.set(Some(signed_in));
    }

    pub fn sign_out(&self) {
        if let Some(s) = storage() {
            let _ = s.remove_item(KEY);
        }
        self.current.set(None);
    }
}

/// A sign-in with the hosted UI, between leaving for it and coming back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    pub verifier: String,
    pub state: String,
    /// The page to return to.
    pub next: String,
}

fn origin() -> Result<String, Failure> {
    web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .ok_or_else(|| Failure::Internal("the page has no origin".into()))
}

/// Where Cognito sends the browser back with the code.
pub fn redirect_uri() -> Result<String, Failure> {
    Ok(format!("{}{CALLBACK_PATH}", origin()?))
}

fn random<const N: usize>() -> Result<[u8; N], Failure> {
    let mut bytes = [0u8; N];
    web_sys::window()
        .and_then(|w| w.crypto().ok())
        .and_then(|c| c.get_random_values_with_u8_array(&mut bytes).ok())
        .ok_or_else(|| Failure::Internal("the browser gave no random numbers".into()))?;
    Ok(bytes)
}

/// Leaves for the hosted UI: a fresh verifier and state, kept in this tab until it returns.
pub fn begin_hosted_sign_in(cognito: &Cognito, next: String) -> Result<(), Failure> {
    let verifier = auth::verifier(&random::<32>()?);
    let state = auth::verifier(&random::<32>()?);
    let url = auth::authorize_url(
        cognito,
        &redirect_uri()?,
        &auth::challenge(&verifier),
        &state,
    );
    let pending = Pending {
        verifier,
        state,
        next,
    };
    let stored = storage().zip(serde_json::to_string(&pending).ok());
    match stored {
        Some((s, text)) if s.set_item(PENDING, &text).is_ok() => {}
        _ => {
            return Err(Failure::Internal(
                "this browser keeps no session storage, which the sign-in needs".into(),
            ));
        }
    }
    web_sys::window()
        .map(|w| w.location().assign(&url))
        .transpose()
        .ok()
        .flatten()
        .ok_or_else(|| Failure::Internal("the browser could not open the sign-in page".into()))
}

/// The sign-in this tab started, taken (it serves once), if the `state` Cognito returned is
/// its own.
pub fn take_pending(state: &str) -> Result<Pending, Failure> {
    let s = storage().ok_or_else(|| Failure::Internal("no session storage".into()))?;
    let pending = s
        .get_item(PENDING)
        .ok()
        .flatten()
        .and_then(|text| serde_json::from_str::<Pending>(&text).ok());
    let _ = s.remove_item(PENDING);
    match pending {
        Some(p) if p.state == state => Ok(p),
        Some(_) => Err(Failure::NotSignedIn(
            "the answer from the sign-in page is not for the sign-in this tab started".into(),
        )),
        None => Err(Failure::NotSignedIn(
            "no sign-in was started in this tab (it may have been opened elsewhere)".into(),
        )),
    }
}

/// Signs out of the hosted UI as well, back to the overview.
pub fn hosted_sign_out(cognito: &Cognito) {
    if let (Some(w), Ok(origin)) = (web_sys::window(), origin()) {
        let _ = w
            .location()
            .assign(&auth::logout_url(cognito, &format!("{origin}/")));
    }
}
