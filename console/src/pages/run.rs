//! A tuning run: what it trained on and for whom, its budget and how much it used, the best
//! objective so far over its trials (a chart; the trials table holds the same numbers), and
//! every trial with its hyperparameters, metrics and, for a failed one, why.

use leptos::prelude::*;
use tollgate_api_types::RunStatus;

use crate::api::{self, RunView};
use crate::components::{LineChart, Scatter, When, loaded};
use crate::view_model;

#[component]
pub fn RunPage() -> impl IntoView {
    let id = super::path_param("id");
    let run = LocalResource::new(move || api::run(id.get()));
    view! {
        <h1>{move || format!("Run {}", id.get())}</h1>
        {loaded(run, "the run", |run| view! { <RunDetail run/> })}
    }
}

#[component]
fn RunDetail(run: RunView) -> impl IntoView {
    let by_objective = super::query_param("sort");
    let status = match &run.status {
        RunStatus::Failed { reason } => format!("failed: {reason}"),
        other => other.as_str().to_owned(),
    };
    let spend: f64 = run.trials.iter().map(|t| t.spend()).sum();
    let budget = match run.max_cost_usd {
        Some(max) => format!("${spend:.2} of ${max:.2}"),
        None => format!("${spend:.2} (no money budget)"),
    };
    let ended = run.trials.iter().filter(|t| t.ended_at.is_some()).count();
    let objectives: Vec<(u32, Option<f64>)> =
        run.trials.iter().map(|t| (t.id, t.objective)).collect();
    let curve = view_model::best_so_far(&objectives);
    let metric = run.pipeline.pipeline.metric().as_str().to_owned();
    let series = view_model::param_series(
        &run.trials
            .iter()
            .map(|t| {
                (
                    &t.params,
                    view_model::validation_metric(&t.metrics, &metric),
                )
            })
            .collect::<Vec<_>>(),
    );
    // Wall time used: until the last trial ended, or until now while the run goes on.
    let until = match run.status {
        RunStatus::Running => jiff::Timestamp::now(),
        _ => run
            .trials
            .iter()
            .filter_map(|t| t.ended_at)
            .max()
            .unwrap_or(run.updated_at),
    };
    let wall = view_model::duration(until.as_second() - run.created_at.as_second());
    let candidate = run.candidate.clone().map(|c| {
        let href = format!("/models/{}/versions/{}", c.model, c.version);
        view! { <a href=href>{format!("{} v{}", c.model, c.version)}</a> }
    });
    let trials = run.trials.clone();
    view! {
        <dl class="facts">
            <dt>"Pipeline"</dt><dd>{format!("{} (version {})", run.pipeline.pipeline.name, run.pipeline.version)}</dd>
            <dt>"Trained on"</dt><dd>{format!("{} v{}", run.dataset, run.dataset_version)}</dd>
            <dt>"Status"</dt><dd>{status}</dd>
            <dt>"Started by"</dt><dd>{format!("{} ({})", run.requested_by, run.trigger.kind)}</dd>
            <dt>"Started"</dt><dd><When at=run.created_at/></dd>
            <dt>"Trials"</dt><dd>{format!("{} started, {ended} ended, at most {}", run.trials.len(), run.max_trials)}</dd>
            <dt>"Money"</dt><dd>{budget}</dd>
            <dt>"Wall time"</dt><dd>{wall} {run.deadline.map(|at| view! { ", no job past " <When at/> })}</dd>
            <dt>"Candidate"</dt><dd>{candidate}</dd>
        </dl>
        {(!run.notes.is_empty()).then(|| view! {
            <ul class="notes">{run.notes.iter().cloned().map(|n| view! { <li>{n}</li> }).collect_view()}</ul>
        })}
        {(curve.len() > 1).then(|| {
            // The objective is the metric made lower-is-better; the chart shows the metric.
            let kind = run.pipeline.pipeline.metric();
            let points: Vec<(u32, f64)> = curve.iter().map(|(t, o)| (*t, kind.objective(*o))).collect();
            let better = if kind.higher_is_better() { "higher" } else { "lower" };
            let title = format!("Best {metric} so far, over the trials ({better} is better; the table below lists every trial)");
            view! { <LineChart points title/> }
        })}
        {(!series.is_empty()).then(|| view! {
            <section aria-labelledby="params">
                <h2 id="params">{format!("Each hyperparameter against {metric}")}</h2>
                <div class="charts">
                    {series.into_iter().map(|s| {
                        let title = format!("{metric} against {} (the trials table holds the values)", s.name);
                        view! { <Scatter points=s.points title categories=s.categories/> }
                    }).collect_view()}
                </div>
            </section>
        })}
        <p>
            "Sort the trials: "
            <a href="?" aria-current=move || (by_objective.get() != "objective").then_some("true")>"by number"</a>
            " · "
            <a href="?sort=objective" aria-current=move || (by_objective.get() == "objective").then_some("true")>"best first"</a>
        </p>
        {move || {
            let mut order: Vec<(u32, Option<f64>)> = trials.iter().map(|t| (t.id, t.objective)).collect();
            view_model::trial_order(&mut order, by_objective.get() == "objective");
            view! {
                <table>
                    <caption>"Trials"</caption>
                    <thead><tr>
                        <th scope="col">"Trial"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Hyperparameters"</th>
                        <th scope="col">"Metrics"</th>
                        <th scope="col">"Cost"</th>
                        <th scope="col">"Why it failed"</th>
                    </tr></thead>
                    <tbody>
                        {order.into_iter().filter_map(|(id, _)| trials.iter().find(|t| t.id == id).cloned()).map(|t| {
                            let metrics = t.metrics.iter()
                                .map(|(k, v)| format!("{k} {}", view_model::metric(Some(*v))))
                                .collect::<Vec<_>>().join(", ");
                            view! {
                                <tr>
                                    <th scope="row">{t.id}</th>
                                    <td>{t.status.as_str()}</td>
                                    <td><code>{serde_json::to_string(&t.params).unwrap_or_default()}</code></td>
                                    <td>{metrics}</td>
                                    <td>{format!("${:.4}", t.spend())}</td>
                                    <td>{t.failure.unwrap_or_default()}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            }
        }}
    }
}
