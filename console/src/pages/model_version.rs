//! A model version's page: the evidence an approver reads (every check of its test report
//! beside the production version's, with "differences only"), its approvals and the decision,
//! its stage history (what was in production when) and where it comes from (the lineage).

use leptos::prelude::*;
use tollgate_api_types::{ApprovalStatus, Lineage, ModelStage, StageChange};

use crate::api::{self, ModelVersionDetailView};
use crate::charts;
use crate::components::{ErrorMessage, Loading, Stage, When, loaded};
use crate::view_model::{self, Failure};
use tollgate_api_types::TestReport;

#[component]
pub fn ModelVersionPage() -> impl IntoView {
    let name = super::path_param("name");
    let version = super::version_param();
    let detail = LocalResource::new(move || {
        let (name, version) = (name.get(), version.get());
        async move {
            match version {
                Some(v) => api::model_version(name, v).await,
                None => Err(super::bad_address("version number")),
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
    detail: ModelVersionDetailView,
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
            <dt>"Model"</dt><dd>{v.family.as_str()}" " <code>{hyperparameters}</code></dd>
            <dt>"Model tests"</dt><dd>{match &v.test {
                Some(t) => t.to_string(),
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
    let set_diff = super::set_query_param("diff");
    let toggle = move |ev: leptos::ev::Event| {
        set_diff(if event_target_checked(&ev) {
            "1".into()
        } else {
            String::new()
        });
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
            <ProductionAt history=history.clone()/>
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

/// "What was in production at time T": a time typed in (kept in the query string as `at`),
/// answered from the stage history.
#[component]
fn ProductionAt(history: Vec<StageChange>) -> impl IntoView {
    let at = super::query_param("at");
    let set_at = super::set_query_param("at");
    let answer = move || {
        let typed = at.get();
        match view_model::utc_input(&typed) {
            None if typed.is_empty() => {
                "Pick a time to see which version was in production then.".to_owned()
            }
            None => format!("“{typed}” is not a date and time."),
            Some(t) => {
                let when = view_model::absolute(t);
                match view_model::in_production_at(&history, t) {
                    Some(v) => format!("v{v} was in production at {when}."),
                    None => format!("No version was in production at {when}."),
                }
            }
        }
    };
    view! {
        <p class="production-at">
            <label>"In production at (UTC) "
                <input type="datetime-local" step="1" prop:value=move || at.get()
                    on:change=move |ev| set_at(event_target_value(&ev))/>
            </label>
            " " <output aria-live="polite">{answer}</output>
        </p>
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
            <LineageGraph lineage=lineage.clone()/>
            <h3>"The same, as text"</h3>
            <ol class="lineage">
                {lineage.nodes.iter().cloned().enumerate().map(|(i, n)| view! {
                    <li id=format!("lineage-{i}")>
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

/// The lineage as a graph, from the uploaded bytes on the left to the stage on the right.
/// Every node is a link (to its page, or to its line in the text version), so Tab walks the
/// graph in that order and Enter opens a node.
#[component]
fn LineageGraph(lineage: Lineage) -> impl IntoView {
    const COLUMN: f64 = 180.0;
    const ROW: f64 = 56.0;
    const BOX_W: f64 = 160.0;
    const BOX_H: f64 = 40.0;
    let ids: Vec<&str> = lineage.nodes.iter().map(|n| n.id.as_str()).collect();
    let links: Vec<(&str, &str)> = lineage
        .edges
        .iter()
        .map(|e| (e.from.as_str(), e.to.as_str()))
        .collect();
    let placed = charts::layers(&ids, &links);
    let columns = placed.iter().map(|p| p.0 + 1).max().unwrap_or(1);
    let rows = placed.iter().map(|p| p.1 + 1).max().unwrap_or(1);
    let (width, height) = (columns as f64 * COLUMN, rows as f64 * ROW);
    let corner = |i: usize| (placed[i].0 as f64 * COLUMN, placed[i].1 as f64 * ROW + 8.0);
    let index = |id: &str| ids.iter().position(|n| *n == id);
    let lines: Vec<(f64, f64, f64, f64)> = lineage
        .edges
        .iter()
        .filter_map(|e| {
            let ((x1, y1), (x2, y2)) = (corner(index(&e.from)?), corner(index(&e.to)?));
            Some((x1 + BOX_W, y1 + BOX_H / 2.0, x2, y2 + BOX_H / 2.0))
        })
        .collect();
    // Tab order follows the drawing: column by column, top to bottom.
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by_key(|&i| placed[i]);
    let nodes: Vec<_> = order
        .into_iter()
        .map(|i| {
            let node = &lineage.nodes[i];
            let (x, y) = corner(i);
            let href =
                view_model::lineage_href(&node.id).unwrap_or_else(|| format!("#lineage-{i}"));
            let kind = node.kind.replace('_', " ");
            let label = format!("{kind}: {}", node.label);
            (href, label.clone(), label, kind, node.label.clone(), x, y)
        })
        .collect();
    // The edges are SVG; the nodes are HTML links laid over them at the same coordinates, so
    // they are links to every browser and screen reader, and their labels wrap as text does.
    // Positions are set as style properties (`style:left`), which a Content Security Policy
    // without 'unsafe-inline' allows, not as a style attribute, which it refuses.
    view! {
        <div class="lineage-graph-wrap">
        <div class="lineage-graph" role="group" aria-label="Lineage graph: each node is a link"
            style:width=format!("{width}px") style:height=format!("{height}px")>
            <svg viewBox=format!("0 0 {width} {height}") width=width height=height aria-hidden="true">
                {lines.into_iter().map(|(x1, y1, x2, y2)| view! {
                    <line x1=x1 y1=y1 x2=x2 y2=y2 class="edge"/>
                }).collect_view()}
            </svg>
            {nodes.into_iter().map(|(href, label, tooltip, kind, text, x, y)| view! {
                <a href=href aria-label=label title=tooltip class="node"
                    style:left=format!("{x}px") style:top=format!("{y}px")
                    style:width=format!("{BOX_W}px") style:height=format!("{BOX_H}px")>
                    <span class="kind">{kind}</span>
                    // Cut to the box with an ellipsis; the title and the text version hold it all.
                    <span class="label">{text}</span>
                </a>
            }).collect_view()}
        </div>
        </div>
    }
}
