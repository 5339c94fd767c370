//! The flow at a glance: what waits for approval, what is in production, runs in progress and
//! recent failures, drift alerts, and what the uploads came to.

use leptos::prelude::*;

use crate::api;
use crate::components::{When, loaded};

#[component]
pub fn Overview() -> impl IntoView {
    let waiting = LocalResource::new(|| api::approvals(String::new()));
    let models = LocalResource::new(|| api::models(String::new()));
    let running = LocalResource::new(|| {
        api::runs(vec![("status", "running".into()), ("limit", "10".into())])
    });
    let failed =
        LocalResource::new(|| api::runs(vec![("status", "failed".into()), ("limit", "5".into())]));
    let datasets = LocalResource::new(|| api::datasets(String::new()));
    let drift = LocalResource::new(|| {
        api::audit(vec![
            ("action", "model.drift.detected".into()),
            ("limit", "5".into()),
        ])
    });
    view! {
        <h1>"Overview"</h1>
        <div class="grid">
            <section aria-labelledby="waiting">
                <h2 id="waiting">"Waiting for approval"</h2>
                {loaded(waiting, "the approval queue", |page| if page.items.is_empty() {
                    view! { <p class="empty">"Nothing waits."</p> }.into_any()
                } else {
                    view! {
                                <ul>
                                    {page.items.into_iter().map(|w| {
                                        let href = format!("/models/{}/versions/{}", w.model, w.version);
                                        view! {
                                            <li>
                                                <a href=href>{format!("{} v{}", w.model, w.version)}</a>
                                                {format!(" by {}, {} more approval(s) needed", w.author, w.approval.still_needed)}
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                            }.into_any()
                })}
            </section>
            <section aria-labelledby="production">
                <h2 id="production">"Models"</h2>
                {loaded(models, "models", |page| if page.items.is_empty() {
                    view! { <p class="empty">"No model yet."</p> }.into_any()
                } else {
                    view! {
                                <ul>
                                    {page.items.into_iter().map(|m| {
                                        let name = m.latest.model.clone();
                                        let production = match m.production_version {
                                            Some(v) => format!("v{v} in production"),
                                            None => "nothing in production".into(),
                                        };
                                        view! {
                                            <li>
                                                <a href=format!("/models/{name}")>{name.clone()}</a>
                                                {format!(": {production}, latest v{} · ", m.latest.version)}
                                                <a href=format!("/models/{name}/monitoring")>"monitoring"</a>
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                            }.into_any()
                })}
            </section>
            <section aria-labelledby="running">
                <h2 id="running">"Runs in progress"</h2>
                {loaded(running, "runs", |page| if page.items.is_empty() {
                    view! { <p class="empty">"No run is in progress."</p> }.into_any()
                } else {
                    view! {
                                <ul>
                                    {page.items.into_iter().map(|r| view! {
                                        <li>
                                            {format!("{} on {} v{}: {} of {} trials ended, ${:.2} spent",
                                                r.pipeline, r.dataset, r.dataset_version, r.trials_ended, r.max_trials, r.spend_usd)}
                                        </li>
                                    }).collect_view()}
                                </ul>
                            }.into_any()
                })}
            </section>
            <section aria-labelledby="failures">
                <h2 id="failures">"Recent failures"</h2>
                {loaded(failed, "failed runs", |page| if page.items.is_empty() {
                    view! { <p class="empty">"No run has failed."</p> }.into_any()
                } else {
                    view! {
                                <ul>
                                    {page.items.into_iter().map(|r| {
                                        let reason = match r.status {
                                            tollgate_api_types::RunStatus::Failed { reason } => reason,
                                            other => other.as_str().to_owned(),
                                        };
                                        view! { <li>{format!("{}: {reason} ", r.pipeline)}<When at=r.updated_at/></li> }
                                    }).collect_view()}
                                </ul>
                            }.into_any()
                })}
            </section>
            <section aria-labelledby="drift">
                <h2 id="drift">"Drift alerts"</h2>
                {loaded(datasets, "datasets", |page| {
                    let drifted: Vec<_> = page.items.into_iter()
                        .filter_map(|d| d.latest.filter(|v| !v.drifted_columns.is_empty()))
                        .collect();
                    if drifted.is_empty() {
                        view! { <p class="empty">"No dataset's latest version drifted from the one before."</p> }.into_any()
                    } else {
                        view! {
                            <ul>
                                {drifted.into_iter().map(|v| {
                                    let href = format!("/datasets/{}/versions/{}#drift", v.dataset, v.version);
                                    view! {
                                        <li>
                                            <a href=href>{format!("{} v{}", v.dataset, v.version)}</a>
                                            {format!(" drifted in {} ", v.drifted_columns.join(", "))}
                                            <When at=v.created_at/>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any()
                    }
                })}
                {loaded(drift, "the monitor's findings", |page| if page.items.is_empty() {
                    view! { <p class="empty">"The monitor found no drift in production traffic."</p> }.into_any()
                } else {
                    view! {
                        <ul>
                            {page.items.into_iter().map(|e| {
                                let model = e.subject.trim_start_matches("model/").split('/').next().unwrap_or_default().to_owned();
                                view! {
                                    <li>
                                        <a href=format!("/models/{model}/monitoring")>{e.subject.trim_start_matches("model/").replace("/v", " v")}</a>
                                        {format!(" in production: {} ", e.comment.unwrap_or_default())}
                                        <When at=e.at/>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any()
                })}
            </section>
            <section aria-labelledby="uploads">
                <h2 id="uploads">"Uploads"</h2>
                {loaded(datasets, "datasets", |page| if page.items.is_empty() {
                    view! { <p class="empty">"No upload yet."</p> }.into_any()
                } else {
                    view! {
                                <ul>
                                    {page.items.into_iter().map(|d| {
                                        let name = d.dataset.name.to_string();
                                        view! {
                                            <li>
                                                <a href=format!("/datasets/{name}/uploads")>{name.clone()}</a>
                                                {format!(": {} accepted, {} rejected, {} duplicate(s)",
                                                    d.accepted, d.rejected, d.duplicates)}
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                            }.into_any()
                })}
            </section>
        </div>
    }
}
