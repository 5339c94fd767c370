//! Pieces every page uses: who is signed in, failures and waiting, times, stages, paging.

use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_navigate};
use tollgate_api_types::ModelStage;

use crate::charts;
use crate::session::Session;
use crate::view_model::{self, Failure};

/// The signed-in person and their groups, with "Switch user"; or a link to sign in.
#[component]
pub fn SignedInAs() -> impl IntoView {
    let session = Session::get();
    let navigate = use_navigate();
    // With the hosted UI, signing out leaves it too (or it would sign the same person in
    // again); locally, another name can be given at once.
    let hosted = crate::api::config().cognito.as_ref();
    let switch = move |_| {
        session.sign_out();
        match hosted {
            Some(cognito) => crate::session::hosted_sign_out(cognito),
            None => navigate("/sign-in", Default::default()),
        }
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
                    {if hosted.is_some() { "Sign out" } else { "Switch user" }}
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
    let line = charts::polyline(&points, w, h, m);
    let span = span(
        charts::extent(points.iter().map(|p| f64::from(p.0))),
        charts::extent(points.iter().map(|p| p.1)),
    );
    view! {
        <figure class="chart">
            <svg viewBox=format!("0 0 {w} {h}") role="img" aria-label=title.clone()>
                <title>{title.clone()}</title>
                <rect x="0" y="0" width=w height=h class="frame"/>
                <polyline points=line class="line"/>
            </svg>
            <figcaption>{title} <span class="range">{span}</span></figcaption>
        </figure>
    }
}

/// A statistic's bar with its threshold's mark, in a strip as wide as a table cell; the cell
/// beside it holds the numbers.
#[component]
pub fn ThresholdBar(value: f64, threshold: Option<f64>, exceeded: bool) -> impl IntoView {
    let (w, h) = (160.0, 14.0);
    let drawn = charts::against_threshold(value, threshold, w);
    let label = match threshold {
        Some(t) => format!(
            "{} against a threshold of {}",
            view_model::metric(Some(value)),
            view_model::metric(Some(t))
        ),
        None => format!("{} (no threshold)", view_model::metric(Some(value))),
    };
    view! {
        <svg class="threshold-bar" viewBox=format!("0 0 {w} {h}") width=w height=h role="img" aria-label=label>
            <rect x="0" y="2" width=drawn.bar height={h - 4.0} class={if exceeded { "bar exceeded" } else { "bar" }}/>
            {drawn.mark.map(|x| view! { <line x1=x x2=x y1="0" y2=h class="mark"/> })}
        </svg>
    }
}

/// A column's histogram in SVG: equal-width bins between its min and max.
#[component]
pub fn Histogram(counts: Vec<u64>, title: String) -> impl IntoView {
    let (w, h) = (200.0, 48.0);
    let bars = charts::histogram_bars(&counts, w, h);
    let label = title.clone();
    view! {
        <svg class="histogram" viewBox=format!("0 0 {w} {h}") width=w height=h role="img" aria-label=label>
            <title>{title}</title>
            {bars.into_iter().map(|b| view! {
                <rect x=b.x y=b.y width=b.width height=b.height class="bar"/>
            }).collect_view()}
        </svg>
    }
}

/// Points of `y` against `x` in SVG (a log `x` axis when the values span orders of
/// magnitude), titled for screen readers; the page's table holds the same numbers.
#[component]
pub fn Scatter(points: Vec<(f64, f64)>, title: String, categories: Vec<String>) -> impl IntoView {
    let (w, h, m) = (240.0, 140.0, 16.0);
    let xs: Vec<f64> = points.iter().map(|p| p.0).collect();
    let log_x = categories.is_empty() && charts::wants_log(&xs);
    let placed = charts::scatter(&points, w, h, m, log_x);
    let axis = if !categories.is_empty() {
        categories.join(" · ")
    } else if log_x {
        "log scale".to_owned()
    } else {
        String::new()
    };
    let (label, tooltip) = (title.clone(), title.clone());
    let span = span(
        charts::extent(xs.iter().copied()).filter(|_| categories.is_empty()),
        charts::extent(points.iter().map(|p| p.1)),
    );
    view! {
        <figure class="chart scatter">
            <svg viewBox=format!("0 0 {w} {h}") role="img" aria-label=label>
                <title>{tooltip}</title>
                <rect x="0" y="0" width=w height=h class="frame"/>
                {placed.into_iter().map(|(x, y)| view! { <circle cx=x cy=y r="3" class="point"/> }).collect_view()}
            </svg>
            <figcaption>
                {title} {(!axis.is_empty()).then(|| format!(" ({axis})"))}
                <span class="range">{span}</span>
            </figcaption>
        </figure>
    }
}

/// What a chart's box spans, for its caption: `across 1 to 12, from 0.52 to 0.59`.
fn span(x: Option<(f64, f64)>, y: Option<(f64, f64)>) -> String {
    let range = |(low, high): (f64, f64)| {
        format!(
            "{} to {}",
            view_model::metric(Some(low)),
            view_model::metric(Some(high))
        )
    };
    match (x, y) {
        (Some(x), Some(y)) => format!("across {}, from {}", range(x), range(y)),
        (None, Some(y)) => format!("from {}", range(y)),
        (Some(x), None) => format!("across {}", range(x)),
        (None, None) => String::new(),
    }
}
