//! Tollgate's console: the pages where people see what went through the gates and decide what
//! goes to production. A client-side Leptos app that knows nothing but `/api/v1` (through
//! [`api`], the one module that talks HTTP) and the types of `tollgate-api-types`.
//!
//! Every page has its own URL, with its filters and page in the query string, so Back and a
//! shared link land where the person was. What is pure logic (times, report diffs, chart
//! scales) lives in [`view_model`] with plain unit tests; components only lay it out.

pub mod api;
pub mod components;
pub mod pages;
pub mod session;
pub mod view_model;

use leptos::prelude::*;
use leptos_router::components::{A, Route, Router, Routes};
use leptos_router::path;

use crate::session::Session;

/// The app: the session, the navigation and the routes.
#[component]
pub fn App() -> impl IntoView {
    let session = Session::restore();
    provide_context(session);
    view! {
        <Router>
            <header class="top">
                <a class="brand" href="/">"Tollgate"</a>
                <nav aria-label="Main">
                    <A href="/">"Overview"</A>
                    <A href="/approvals">"Approvals"</A>
                    <A href="/models">"Models"</A>
                    <A href="/runs">"Runs"</A>
                    <A href="/datasets">"Datasets"</A>
                    <A href="/audit">"Audit"</A>
                </nav>
                <components::SignedInAs/>
            </header>
            <main id="main">
                <Routes fallback=|| view! { <pages::NotFound/> }>
                    <Route path=path!("/") view=pages::Overview/>
                    <Route path=path!("/sign-in") view=pages::SignIn/>
                    <Route path=path!("/approvals") view=pages::Approvals/>
                    <Route path=path!("/models") view=pages::Models/>
                    <Route path=path!("/models/:name") view=pages::Model/>
                    <Route path=path!("/models/:name/versions/:version") view=pages::ModelVersionPage/>
                    <Route path=path!("/runs") view=pages::Runs/>
                    <Route path=path!("/runs/:id") view=pages::RunPage/>
                    <Route path=path!("/datasets") view=pages::Datasets/>
                    <Route path=path!("/audit") view=pages::Audit/>
                </Routes>
            </main>
        </Router>
    }
}
