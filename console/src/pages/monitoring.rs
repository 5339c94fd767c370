//! A model's monitoring: each check of the model in production over time, the population
//! stability index of every feature (and the prediction) against its threshold, and the
//! retraining each drifted check started, or why it started none.

use leptos::prelude::*;
use tollgate_api_types::MonitorReport;

use crate::api;
use crate::components::{LineChart, ThresholdBar, When, listed};
use crate::view_model;

#[component]
pub fn Monitoring() -> impl IntoView {
    let name = super::path_param("name");
    let cursor = super::query_param("cursor");
    let reports = LocalResource::new(move || api::monitoring(name.get(), cursor.get()));
    view! {
        <h1>{move || format!("Monitoring of {}", name.get())}</h1>
        <p><a href=move || format!("/models/{}", name.get())>"The model's versions"</a></p>
        {listed(
            reports,
            "the monitoring reports",
            "No check yet: the monitor checks a model once it is in production and its traffic is captured.",
            |reports| view! { <Reports reports/> },
        )}
    }
}

#[component]
fn Reports(reports: Vec<MonitorReport>) -> impl IntoView {
    let largest: Vec<(u32, f64)> = reports
        .iter()
        .zip(1u32..)
        .filter_map(|(r, i)| Some((i, r.drift.iter().map(|d| d.psi).reduce(f64::max)?)))
        .collect();
    view! {
        {(largest.len() > 1).then(|| view! {
            <LineChart points=largest title="Largest PSI of each check, oldest first (the table below lists them)".to_owned()/>
        })}
        <table>
            <caption>"Checks, oldest first"</caption>
            <thead><tr>
                <th scope="col">"When"</th>
                <th scope="col">"Version in production"</th>
                <th scope="col">"Captured rows"</th>
                <th scope="col">"Drifted"</th>
                <th scope="col">"What it started"</th>
            </tr></thead>
            <tbody>
                {reports.iter().map(|r| {
                    let drifted: Vec<String> = r.drift.iter().filter(|d| d.drifted).map(|d| d.name.clone()).collect();
                    view! {
                        <tr>
                            <td><When at=r.at/></td>
                            <td>{r.version.map(|v| format!("v{v}")).unwrap_or_else(|| "none".into())}</td>
                            <td>{format!("{} in {} file{}", r.captured_rows, r.captured_files, if r.captured_files == 1 { "" } else { "s" })}</td>
                            <td>{if drifted.is_empty() { "no".to_owned() } else { drifted.join(", ") }}</td>
                            <td>{retraining(r)}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        {reports.into_iter().rev().enumerate().map(|(i, r)| view! { <Check report=r open=i == 0/> }).collect_view()}
    }
}

/// What a check started: the retraining run, a call for new data, or nothing.
fn retraining(report: &MonitorReport) -> AnyView {
    match (&report.retraining_run, report.new_data_needed) {
        (Some(run), _) => {
            let href = format!("/runs/{run}");
            view! { "retraining: " <a href=href>{run.clone()}</a> }.into_any()
        }
        (None, true) => "nothing: new data is needed (no accepted version is newer than the one in production was trained on)".into_any(),
        (None, false) => "nothing".into_any(),
    }
}

/// One check: each feature's PSI against its threshold, the most drifted first.
#[component]
fn Check(report: MonitorReport, open: bool) -> impl IntoView {
    let mut drift = report.drift.clone();
    drift.sort_by(|a, b| b.drifted.cmp(&a.drifted).then(b.psi.total_cmp(&a.psi)));
    let summary = format!(
        "Check of {}: {} features, {} drifted",
        view_model::absolute(view_model::to_second(report.at)),
        drift.len(),
        drift.iter().filter(|d| d.drifted).count()
    );
    view! {
        <details open=open class="check">
            <summary>{summary}</summary>
            <table>
                <caption>"Population stability index per feature, most drifted first"</caption>
                <thead><tr>
                    <th scope="col">"Feature"</th>
                    <th scope="col">"PSI"</th>
                    <th scope="col">"Threshold"</th>
                    <th scope="col">"Against the threshold"</th>
                </tr></thead>
                <tbody>
                    {drift.into_iter().map(|d| view! {
                        <tr class={if d.drifted { "exceeded" } else { "" }}>
                            <th scope="row">{d.name.clone()} {d.drifted.then_some(" (drifted)")}</th>
                            <td>{view_model::metric(Some(d.psi))}</td>
                            <td>{view_model::metric(Some(d.threshold))}</td>
                            <td><ThresholdBar value=d.psi threshold=Some(d.threshold) exceeded=d.drifted/></td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            {(!report.notes.is_empty()).then(|| view! {
                <ul class="notes">{report.notes.iter().cloned().map(|n| view! { <li>{n}</li> }).collect_view()}</ul>
            })}
        </details>
    }
}
