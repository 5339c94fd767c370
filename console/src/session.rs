//! Who is signed in: the token and what it says, in memory and in the tab's session storage
//! (gone when the tab closes, never in a cookie other sites could send).

use leptos::prelude::*;
use tollgate_api_types::SignedIn;

const KEY: &str = "tollgate.session";

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
