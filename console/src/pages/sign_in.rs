//! Signing in. On AWS (`config.json` names a Cognito user pool): the hosted UI, with the
//! authorization code and PKCE, and the page it returns to. With `tollgate up`: the local
//! sign-in, a name and groups, no password, for the people of this machine (the embedded
//! default has no identity provider).

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use tollgate_api_types::SignedIn;

use crate::api;
use crate::auth::{self, Cognito};
use crate::components::{ErrorMessage, Loading};
use crate::session::{self, Session};
use crate::view_model::Failure;

#[component]
pub fn SignIn() -> impl IntoView {
    match &api::config().cognito {
        Some(cognito) => view! { <HostedSignIn cognito/> }.into_any(),
        None => view! { <LocalSignIn/> }.into_any(),
    }
}

/// The way to the organisation's sign-in page.
#[component]
fn HostedSignIn(cognito: &'static Cognito) -> impl IntoView {
    let next = super::query_param("next");
    let failure = RwSignal::new(None::<Failure>);
    let go = move |_| {
        if let Err(why) = session::begin_hosted_sign_in(cognito, next.get_untracked()) {
            failure.set(Some(why));
        }
    };
    view! {
        <h1>"Sign in"</h1>
        <p class="lead">
            "You sign in with your organisation's account, on its sign-in page (Amazon Cognito);
            it sends you back here. Your groups there (editors, approvers) say what you may do."
        </p>
        <button type="button" on:click=go>"Sign in"</button>
        {move || failure.get().map(|failure| view! { <ErrorMessage failure/> })}
    }
}

/// Where the hosted UI sends the browser back: the code traded for tokens, then the page the
/// person was on.
#[component]
pub fn SignedInCallback() -> impl IntoView {
    let (code, state, error) = (
        super::query_param("code"),
        super::query_param("state"),
        super::query_param("error_description"),
    );
    let session = Session::get();
    let navigate = use_navigate();
    let finished = LocalResource::new(move || async move {
        let cognito = api::config().cognito.as_ref().ok_or_else(|| {
            Failure::NotFound(
                "this console signs in locally: it has no sign-in page to return from".into(),
            )
        })?;
        if !error.get_untracked().is_empty() {
            return Err(Failure::NotSignedIn(format!(
                "the sign-in page said: {}",
                error.get_untracked()
            )));
        }
        let pending = session::take_pending(&state.get_untracked())?;
        let tokens = api::exchange_code(
            cognito,
            &code.get_untracked(),
            &session::redirect_uri()?,
            &pending.verifier,
        )
        .await?;
        let claims =
            auth::id_claims(&tokens.id_token, &cognito.actor_claim).map_err(Failure::Internal)?;
        session.sign_in(SignedIn {
            token: tokens.id_token,
            user: claims.user,
            groups: claims.groups,
            expires_at: claims.expires_at,
        });
        Ok(if pending.next.starts_with('/') {
            pending.next
        } else {
            "/".to_owned()
        })
    });
    view! {
        <h1>"Signing in"</h1>
        <Suspense fallback=|| view! { <Loading what="your sign-in"/> }>
            {move || Suspend::new({
                let navigate = navigate.clone();
                async move {
                    match finished.await {
                        Ok(next) => {
                            navigate(&next, Default::default());
                            view! { <Loading what="the page you were on"/> }.into_any()
                        }
                        Err(failure) => view! { <ErrorMessage failure/> }.into_any(),
                    }
                }
            })}
        </Suspense>
    }
}

/// `tollgate up`'s sign-in: a name and groups.
#[component]
fn LocalSignIn() -> impl IntoView {
    let session = Session::get();
    let next = super::query_param("next");
    let name = RwSignal::new(String::new());
    let editor = RwSignal::new(true);
    let approver = RwSignal::new(true);
    let sign_in = Action::new_local(move |(user, groups): &(String, Vec<String>)| {
        api::sign_in(user.clone(), groups.clone())
    });
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(signed_in)) = sign_in.value().get() {
            session.sign_in(signed_in);
            let target = next.get_untracked();
            let target = if target.starts_with('/') {
                target
            } else {
                "/".into()
            };
            navigate(&target, Default::default());
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let groups = [(editor, "editors"), (approver, "approvers")]
            .iter()
            .filter(|(on, _)| on.get_untracked())
            .map(|(_, g)| (*g).to_owned())
            .collect();
        sign_in.dispatch((name.get_untracked().trim().to_owned(), groups));
    };
    view! {
        <h1>"Sign in"</h1>
        <p class="lead">
            "This console is served by " <code>"tollgate up"</code>
            " on this machine, which has no identity provider: say who you are. Anyone who can
            open this page can sign in as anyone, so it answers on 127.0.0.1 only. On AWS, the
            console signs in with your organisation's Cognito user pool instead."
        </p>
        <form class="card" on:submit=submit>
            <label for="name">"Name"</label>
            <input id="name" type="text" autocomplete="username" required
                bind:value=name/>
            <fieldset>
                <legend>"Groups"</legend>
                <label><input type="checkbox" bind:checked=editor/>
                    " editors (upload data, apply pipelines, request runs)"</label>
                <label><input type="checkbox" bind:checked=approver/>
                    " approvers (approve, reject, roll back)"</label>
            </fieldset>
            <button type="submit" disabled=move || sign_in.pending().get()>"Sign in"</button>
        </form>
        {move || match sign_in.value().get() {
            Some(Err(failure)) => Some(view! { <ErrorMessage failure/> }),
            _ => None,
        }}
    }
}
