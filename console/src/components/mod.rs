//! Pieces every page uses: who is signed in, failures and waiting, times, stages, paging.

use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_navigate};
use tollgate_api_types::ModelStage;

use crate::session::Session;
use crate::view_model::{self, Failure};

/// The signed-in person and their groups, with "Switch user"; or a link to sign in.
#[component]
pub fn SignedInAs() -> impl IntoView {
    let session = Session::get();
    let navigate = use_navigate();
    let switch = move |_| {
        session.sign_out();
        navigate("/sign-in", Default::default());
    };
    view! {
        <div class="who">
            {move || match session.signed_in() {
                Some(s) => {
                    let groups = if s.groups.is_empty() {
                        "read only".to_owned()
                    } else {
                        s.groups.join(", ")
                    };
                    view! {
                        <span>"Signed in as " <strong>{s.user}</strong> " (" {groups} ")"</span>
                    }
                        .into_any()
                }
                None => view! { <a href="/sign-in">"Sign in"</a> }.into_any(),
            }}
            <Show when=move || session.signed_in().is_some()>
                <button type="button" class="link" on:click=switch.clone()>
                    "Switch user"
                </button>
            </Show>
        </div>
    }
}

/// A failure, readable: what kind, the server's sentence, what to do.
#[component]
pub fn ErrorMessage(failure: Failure) -> impl IntoView {
    let location = use_location();
    let sign_in = matches!(failure, Failure::NotSignedIn(_)).then(|| {
        let next = location.pathname.get_untracked() + &location.search.get_untracked();
        let href = format!("/sign-in?next={}", view_model::encode_segment(&next));
        view! { <a href=href>"Sign in"</a> }
    });
    view! {
        <div class="alert" role="alert">
            <strong>{failure.title()}</strong>
            <p>{failure.message()}</p>
            <p class="hint">{failure.hint()} " " {sign_in}</p>
        </div>
    }
}

/// Loading, announced to screen readers.
#[component]
pub fn Loading(#[prop(into)] what: String) -> impl IntoView {
    view! { <p class="loading" role="status">"Loading " {what} "…"</p> }
}

/// A time: absolute, with how long ago beside it (the absolute one is the machine-readable
/// `datetime`).
#[component]
pub fn When(at: jiff::Timestamp) -> impl IntoView {
    let now = jiff::Timestamp::now();
    let at = view_model::to_second(at);
    view! {
        <time datetime=at.to_string()>
            {view_model::absolute(at)}
            <span class="ago">" (" {view_model::relative(at, now)} ")"</span>
        </time>
    }
}

/// A model stage as a labelled badge.
#[component]
pub fn Stage(stage: ModelStage) -> impl IntoView {
    let name = stage.as_str();
    view! { <span class=format!("stage stage-{name}")>{name}</span> }
}

/// The link to the next page of a list: the page's URL with `cursor` set, other query
/// parameters kept (so Back returns to the page before).
#[component]
pub fn NextPage(next: Option<String>) -> impl IntoView {
    let location = use_location();
    next.map(|cursor| {
        let mut query = location.query.get_untracked();
        query.replace("cursor", cursor);
        let href = format!(
            "{}{}",
            location.pathname.get_untracked(),
            query.to_query_string()
        );
        view! {
            <nav class="pager" aria-label="Pages">
                <a href=href rel="next">"Next page"</a>
            </nav>
        }
    })
}

/// What a read gives a page: the value, or the failure to show.
pub type Read<T> = LocalResource<Result<T, Failure>>;

/// A read, laid out by `render` once it is there; loading and failure shown as every page
/// shows them.
pub fn loaded<T, V>(
    read: Read<T>,
    what: &'static str,
    render: impl Fn(T) -> V + Copy + Send + Sync + 'static,
) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    view! {
        <Transition fallback=move || view! { <Loading what/> }>
            {move || Suspend::new(async move {
                match read.await {
                    Err(failure) => view! { <ErrorMessage failure/> }.into_any(),
                    Ok(value) => render(value).into_any(),
                }
            })}
        </Transition>
    }
}

/// A page of a list, laid out by `render` with the link to the next page; `empty` when it
/// holds nothing.
pub fn listed<T, V>(
    read: Read<tollgate_api_types::Page<T>>,
    what: &'static str,
    empty: &'static str,
    render: impl Fn(Vec<T>) -> V + Copy + Send + Sync + 'static,
) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    loaded(read, what, move |page| {
        if page.items.is_empty() {
            view! { <p class="empty">{empty}</p> }.into_any()
        } else {
            view! { {render(page.items)} <NextPage next=page.next/> }.into_any()
        }
    })
}

/// A line over numbered points (versions, trials) in SVG, higher values higher, titled for
/// screen readers; the page's table beside it holds the same numbers.
#[component]
pub fn LineChart(points: Vec<(u32, f64)>, title: String) -> impl IntoView {
    let (w, h, m) = (480.0, 160.0, 24.0);
    let line = view_model::polyline(&points, w, h, m);
    view! {
        <figure class="chart">
            <svg viewBox=format!("0 0 {w} {h}") role="img" aria-label=title.clone()>
                <title>{title.clone()}</title>
                <rect x="0" y="0" width=w height=h class="frame"/>
                <polyline points=line class="line"/>
            </svg>
            <figcaption>{title}</figcaption>
        </figure>
    }
}
