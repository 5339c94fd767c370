//! Tollgate's console: the pages where people see what went through the gates and decide what
//! goes to production. A client-side Leptos app that knows nothing but `/api/v1` (through
//! [`api`], the one module that talks HTTP) and the types of `tollgate-api-types`.
//!
//! Every page has its own URL, with its filters and page in the query string, so Back and a
//! shared link land where the person was. What is pure logic (times, report diffs, chart
//! scales) lives in [`view_model`] and [`charts`] with plain unit tests; components only lay it
//! out.

pub mod api;
pub mod auth;
pub mod charts;
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
                    <Route path=path!("/signed-in") view=pages::SignedInCallback/>
                    <Route path=path!("/approvals") view=pages::Approvals/>
                    <Route path=path!("/models") view=pages::Models/>
                    <Route path=path!("/models/:name") view=pages::Model/>
                    <Route path=path!("/models/:name/versions/:version") view=pages::ModelVersionPage/>
                    <Route path=path!("/models/:name/monitoring") view=pages::Monitoring/>
                    <Route path=path!("/runs") view=pages::Runs/>
                    <Route path=path!("/runs/:id") view=pages::RunPage/>
                    <Route path=path!("/datasets") view=pages::Datasets/>
                    <Route path=path!("/datasets/:name") view=pages::Dataset/>
                    <Route path=path!("/datasets/:name/uploads") view=pages::DatasetUploads/>
                    <Route path=path!("/datasets/:name/versions/:version") view=pages::DatasetVersionPage/>
                    <Route path=path!("/audit") view=pages::Audit/>
                </Routes>
            </main>
        </Router>
    }
}

/// Reads `config.json` (where the API is, how people sign in), then mounts the app; a
/// configuration that cannot be read is said in the page rather than half a console.
pub async fn start() {
    match api::load_config().await {
        Ok(_) => leptos::mount::mount_to_body(App),
        Err(failure) => leptos::mount::mount_to_body(move || {
            view! {
                <main>
                    <h1>"Tollgate"</h1>
                    <div class="alert" role="alert">
                        <strong>{failure.title()}</strong>
                        <p>{failure.message()}</p>
                        <p class="hint">"Reload the page; if it says the same, the console's config.json needs fixing."</p>
                    </div>
                </main>
            }
        }),
    }
}
