//! One module per page; each reads its place (path and query string) from the router.

mod approvals;
mod audit;
mod datasets;
mod model;
mod model_version;
mod overview;
mod run;
mod runs;
mod sign_in;

pub use approvals::Approvals;
pub use audit::Audit;
pub use datasets::Datasets;
pub use model::{Model, Models};
pub use model_version::ModelVersionPage;
pub use overview::Overview;
pub use run::RunPage;
pub use runs::Runs;
pub use sign_in::SignIn;

use leptos::prelude::*;

#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <h1>"Not found"</h1>
        <div class="alert" role="alert">
            <strong>"Not found"</strong>
            <p>"There is no page at this address."</p>
            <p class="hint"><a href="/">"Go to the overview"</a></p>
        </div>
    }
}

/// A query parameter of the page's URL, empty when absent.
fn query_param(name: &'static str) -> Memo<String> {
    let query = leptos_router::hooks::use_query_map();
    Memo::new(move |_| query.read().get(name).unwrap_or_default())
}
