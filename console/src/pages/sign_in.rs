//! The local sign-in of `tollgate up`: a name and groups, no password, for the people of this
//! machine (the embedded default has no identity provider).

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

use crate::api;
use crate::components::ErrorMessage;
use crate::session::Session;

#[component]
pub fn SignIn() -> impl IntoView {
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
