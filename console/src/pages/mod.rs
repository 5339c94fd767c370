//! One module per page; each reads its place (path and query string) from the router.

mod approvals;
mod audit;
mod dataset_version;
mod datasets;
mod model;
mod model_version;
mod monitoring;
mod overview;
mod run;
mod runs;
mod sign_in;

pub use approvals::Approvals;
pub use audit::Audit;
pub use dataset_version::DatasetVersionPage;
pub use datasets::{Dataset, DatasetUploads, Datasets};
pub use model::{Model, Models};
pub use model_version::ModelVersionPage;
pub use monitoring::Monitoring;
pub use overview::Overview;
pub use run::RunPage;
pub use runs::Runs;
pub use sign_in::{SignIn, SignedInCallback};

use leptos::prelude::*;

use crate::view_model::Failure;

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

/// A segment of the page's path (`:name` in its route), empty when absent.
fn path_param(name: &'static str) -> Memo<String> {
    let params = leptos_router::hooks::use_params_map();
    Memo::new(move |_| params.read().get(name).unwrap_or_default())
}

/// The `version` segment of the path (`3` or `v3`), or `None` when it is not a number.
fn version_param() -> Memo<Option<u32>> {
    let version = path_param("version");
    Memo::new(move |_| version.read().trim_start_matches('v').parse::<u32>().ok())
}

/// What a page says when its address names something that cannot exist.
fn bad_address(what: &str) -> Failure {
    Failure::NotFound(format!("the address names no {what}"))
}

/// Goes to this page with the query parameter `name` set to a value (left out when empty),
/// the others kept: a filter or a toggle that Back undoes and a shared link keeps.
fn set_query_param(name: &'static str) -> impl Fn(String) + Clone + 'static {
    let navigate = leptos_router::hooks::use_navigate();
    let location = leptos_router::hooks::use_location();
    move |value: String| {
        let mut query = location.query.get_untracked();
        if value.is_empty() {
            query.remove(name);
        } else {
            query.replace(name, value);
        }
        let path = location.pathname.get_untracked();
        navigate(
            &format!("{path}{}", query.to_query_string()),
            Default::default(),
        );
    }
}
