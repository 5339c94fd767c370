//! A model version's page: the evidence an approver reads (every check of its test report
//! beside the production version's, with "differences only"), its approvals and the decision,
//! its stage history (what was in production when) and where it comes from (the lineage).

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};
use tollgate_api_types::{ApprovalStatus, Lineage, ModelStage, ModelVersionDetail, StageChange};

use crate::api;
use crate::components::{ErrorMessage, Loading, Stage, When, loaded};
use crate::view_model::{self, Failure};
use tollgate_api_types::TestReport;

#[component]
pub fn ModelVersionPage() -> impl IntoView {
    let params = use_params_map();
    let name = Memo::new(move |_| params.read().get("name").unwrap_or_default());
    let version = Memo::new(move |_| {
        params
            .read()
            .get("version")
            .and_then(|v| v.trim_start_matches('v').parse::<u32>().ok())
    });
    let detail = LocalResource::new(move || {
        let (name, version) = (name.get(), version.get());
        async move {
            match version {
                Some(v) => api::model_version(name, v).await,
                None => Err(super::model::bad_address("version number")),
            }
        }
    });
    // What the last decision did: shown above the version, which is read again after it.
    let decided = RwSignal::new(None::<String>);
    let on_decided = move |what: String| {
        decided.set(Some(what));
        detail.refetch();
    };
    view! {
        {move || decided.get().map(|what| view! { <p role="status" class="done">{what}</p> })}
        <Transition fallback=|| view! { <Loading what="the model version"/> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Err(failure) => view! {
                        <h1>{format!("{} v{}", name.get_untracked(), version.get_untracked().unwrap_or_default())}</h1>
                        <ErrorMessage failure/>
                    }.into_any(),
                    Ok(d) => view! { <Detail detail=d on_decided/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The lineage, read once the version is known to exist.
#[component]
fn LineageSection(model: String, version: u32) -> impl IntoView {
    let lineage = LocalResource::new(move || api::lineage(model.clone(), version));
    view! {
        {loaded(lineage, "the lineage", |l| view! { <LineageText lineage=l/> })}
    }
}

#[component]
fn Detail(
    detail: ModelVersionDetail,
    on_decided: impl Fn(String) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let v = detail.version;
    let title = format!("{} v{}", v.model, v.version);
    let candidate = detail.test_report.as_ref().map(view_model::report);
    let production = detail
        .production
        .as_ref()
        .and_then(|p| (p.version != v.version).then_some(p.version));
    let contributors = v
        .contributors
        .iter()
        .map(|c| format!("{} ({})", c.user, c.role))
        .collect::<Vec<_>>()
        .join("; ");
    let hyperparameters = serde_json::to_string(&v.hyperparameters).unwrap_or_default();
    view! {
        <h1>{title} " " <Stage stage=v.stage/></h1>
        <dl class="facts">
            <dt>"Author"</dt><dd>{v.author.to_string()}</dd>
            <dt>"Contributors"</dt><dd>{if contributors.is_empty() { "none recorded".to_owned() } else { contributors }}</dd>
            <dt>"Registered"</dt><dd><When at=v.created_at/></dd>
            <dt>"Trained on"</dt><dd>{format!("{} v{} (sha256 {})", v.dataset, v.dataset_version, &v.content_hash.as_str()[..12.min(v.content_hash.as_str().len())])}</dd>
            <dt>"Run"</dt><dd><code>{v.run_id.clone()}</code>{format!(", trial {}", v.trial)}</dd>
            <dt>"Model"</dt><dd>{format!("{:?}", v.family)}" " <code>{hyperparameters}</code></dd>
            <dt>"Model tests"</dt><dd>{match &v.test {
                Some(t) => serde_json::to_value(t).ok().and_then(|j| j.get("verdict").or(Some(&j)).and_then(|x| x.as_str().map(str::to_owned))).unwrap_or_else(|| format!("{t:?}")),
                None => "not run yet".into(),
            }}</dd>
        </dl>
        {(v.stage == ModelStage::Staging).then(|| view! {
            <Decision model=v.model.clone() version=v.version approval=detail.approval.clone() on_decided/>
        })}
        <Evidence candidate production/>
        <History history=detail.history/>
        <LineageSection model=v.model.clone() version=v.version/>
    }
}

/// The approvals so far and, for someone who may, the decision.
#[component]
fn Decision(
    model: String,
    version: u32,
    approval: ApprovalStatus,
    on_decided: impl Fn(String) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let comment = RwSignal::new(String::new());
    let missing_comment = RwSignal::new(false);
    let decide = Action::new_local(
        move |(model, verb, comment): &(String, &'static str, String)| {
            let comment = (!comment.trim().is_empty()).then(|| comment.trim().to_owned());
            api::decide(model.clone(), version, verb, comment)
        },
    );
    Effect::new(move |_| {
        if let Some(Ok(decided)) = decide.value().get() {
            on_decided(if decided.changes.is_empty() {
                "Your approval is recorded; production needs more.".to_owned()
            } else {
                let changes = decided
                    .changes
                    .iter()
                    .map(|c| format!("v{}: {} → {}", c.version, c.from.as_str(), c.to.as_str()))
                    .collect::<Vec<_>>()
                    .join("; ");
                format!("Done: {changes}.")
            });
        }
    });
    let send = move |verb: &'static str| {
        let model = model.clone();
        move |_| {
            let text = comment.get_untracked();
            if verb == "reject" && text.trim().is_empty() {
                missing_comment.set(true);
                return;
            }
            missing_comment.set(false);
            decide.dispatch((model.clone(), verb, text));
        }
    };
    let counted = approval.approvals.iter().filter(|a| a.counts).count();
    view! {
        <section class="card" aria-labelledby="decision">
            <h2 id="decision">"Approval"</h2>
            <p>{format!("Production needs {} approval(s) by people who had no hand in this version: {} so far, {} more needed.",
                approval.required, counted, approval.still_needed)}</p>
            {(!approval.approvals.is_empty()).then(|| view! {
                <table>
                    <caption>"Approvals"</caption>
                    <thead><tr>
                        <th scope="col">"Approver"</th><th scope="col">"When"</th>
                        <th scope="col">"Valid until"</th><th scope="col">"Counts"</th><th scope="col">"Comment"</th>
                    </tr></thead>
                    <tbody>
                        {approval.approvals.iter().cloned().map(|a| view! {
                            <tr>
                                <td>{a.approver}</td>
                                <td><When at=a.at/></td>
                                <td>{a.valid_until.map(|at| view! { <When at/> })}</td>
                                <td>{if a.counts { "yes" } else { "no (expired)" }}</td>
                                <td>{a.comment.unwrap_or_default()}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            })}
            {if approval.caller_may_approve {
                view! {
                    <label for="comment">"Comment"</label>
                    <textarea id="comment" bind:value=comment></textarea>
                    <div class="actions">
                        <button type="button" on:click=send("approve") disabled=move || decide.pending().get()>"Approve"</button>
                        <button type="button" class="danger" on:click=send("reject") disabled=move || decide.pending().get()>"Reject"</button>
                    </div>
                }.into_any()
            } else {
                let why = approval.caller_refusal.clone().unwrap_or_else(|| "you may not approve it".into());
                view! { <p class="refusal"><strong>"You cannot approve this version: "</strong>{why}</p> }.into_any()
            }}
            <Show when=move || missing_comment.get()>
                <ErrorMessage failure=Failure::Invalid {
                    message: "a rejection needs a comment: say why, for the author and the audit".into(),
                    field: Some("comment".into()),
                }/>
            </Show>
            {move || match decide.value().get() {
                Some(Err(failure)) => Some(view! { <ErrorMessage failure/> }),
                _ => None,
            }}
        </section>
    }
}

/// The test report, check by check, beside the version in production.
#[component]
fn Evidence(
    candidate: Option<Result<TestReport, String>>,
    production: Option<u32>,
) -> impl IntoView {
    let differences_only = super::query_param("diff");
    let navigate = use_navigate();
    let location = leptos_router::hooks::use_location();
    let toggle = move |ev: leptos::ev::Event| {
        let on = event_target_checked(&ev);
        let path = location.pathname.get_untracked();
        navigate(
            &if on { format!("{path}?diff=1") } else { path },
            Default::default(),
        );
    };
    let Some(candidate) = candidate else {
        return view! {
            <section aria-labelledby="evidence"><h2 id="evidence">"Model tests"</h2>
            <p class="empty">"No test report yet: the model tests have not run."</p></section>
        }
        .into_any();
    };
    let candidate = match candidate {
        Ok(report) => report,
        Err(why) => {
            return view! {
                <section aria-labelledby="evidence"><h2 id="evidence">"Model tests"</h2>
                <ErrorMessage failure=Failure::Internal(why)/></section>
            }
            .into_any();
        }
    };
    let heading = match production {
        Some(p) => format!("This version against v{p} in production, on the same test rows"),
        None => "This version (nothing is in production to compare with)".into(),
    };
    let verdict = if candidate.passed { "passed" } else { "failed" };
    let notes = candidate.notes.clone();
    view! {
        <section aria-labelledby="evidence">
            <h2 id="evidence">{format!("Model tests: {verdict}")}</h2>
            <label class="toggle">
                <input type="checkbox" prop:checked=move || differences_only.get() == "1" on:change=toggle/>
                " Differences only"
            </label>
            {move || {
                let rows = view_model::compare(&candidate, differences_only.get() == "1");
                view! {
                    <table>
                        <caption>{heading.clone()}</caption>
                        <thead><tr>
                            <th scope="col">"Check or metric"</th>
                            <th scope="col">"Kind"</th>
                            <th scope="col">"This version"</th>
                            <th scope="col">"Production"</th>
                            <th scope="col">"Rule"</th>
                            <th scope="col">"Verdict"</th>
                        </tr></thead>
                        <tbody>
                            {rows.into_iter().map(|r| { let differs = r.differs(); view! {
                                <tr class:differs=differs>
                                    <th scope="row">{r.name}</th>
                                    <td>{r.kind}</td>
                                    <td>{view_model::metric(r.candidate)}</td>
                                    <td>{view_model::metric(r.production)}</td>
                                    <td>{r.rule}</td>
                                    <td>{match r.passed { Some(true) => "pass", Some(false) => "FAIL", None => "" }}</td>
                                </tr>
                            }}).collect_view()}
                        </tbody>
                    </table>
                }
            }}
            {(!notes.is_empty()).then(|| view! {
                <ul class="notes">{notes.into_iter().map(|n| view! { <li>{n}</li> }).collect_view()}</ul>
            })}
        </section>
    }.into_any()
}

/// The stage history, and from it what was in production when.
#[component]
fn History(history: Vec<StageChange>) -> impl IntoView {
    let spans = view_model::production_spans(&history);
    view! {
        <section aria-labelledby="history">
            <h2 id="history">"Stage history"</h2>
            <table>
                <caption>"In production, over time"</caption>
                <thead><tr><th scope="col">"Version"</th><th scope="col">"From"</th><th scope="col">"Until"</th></tr></thead>
                <tbody>
                    {spans.into_iter().map(|(v, from, until)| view! {
                        <tr>
                            <td>{format!("v{v}")}</td>
                            <td><When at=from/></td>
                            <td>{match until { Some(at) => view! { <When at/> }.into_any(), None => "now".into_any() }}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            <table>
                <caption>"Every stage change, oldest first"</caption>
                <thead><tr><th scope="col">"When"</th><th scope="col">"Version"</th><th scope="col">"Change"</th><th scope="col">"By"</th></tr></thead>
                <tbody>
                    {history.into_iter().map(|c| view! {
                        <tr>
                            <td><When at=c.at/></td>
                            <td>{format!("v{}", c.version)}</td>
                            <td>{format!("{} → {}", c.from.as_str(), c.to.as_str())}</td>
                            <td>{c.actor.to_string()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

/// Where the version comes from, as text: each step and what led to it.
#[component]
fn LineageText(lineage: Lineage) -> impl IntoView {
    let label = |id: &str| {
        lineage
            .nodes
            .iter()
            .find(|n| n.id == id)
            .map(|n| n.label.clone())
            .unwrap_or_else(|| id.to_owned())
    };
    let edges: Vec<String> = lineage
        .edges
        .iter()
        .map(|e| format!("{} — {} → {}", label(&e.from), e.relation, label(&e.to)))
        .collect();
    view! {
        <section aria-labelledby="lineage">
            <h2 id="lineage">"Lineage"</h2>
            <ol class="lineage">
                {lineage.nodes.iter().cloned().map(|n| view! {
                    <li>
                        <strong>{n.kind.replace('_', " ")}</strong>": " {n.label}
                        {n.actor.map(|a| format!(", by {a}"))}
                        {n.at.map(|at| view! { ", " <When at/> })}
                    </li>
                }).collect_view()}
            </ol>
            <h3>"How they connect"</h3>
            <ul>{edges.into_iter().map(|e| view! { <li>{e}</li> }).collect_view()}</ul>
        </section>
    }
}
