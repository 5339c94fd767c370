//! Runs, newest first, paged by cursor (a list of thousands loads one page at a time),
//! filtered by pipeline and status in the query string.

use leptos::prelude::*;

use crate::api;
use crate::components::{When, listed};

#[component]
pub fn Runs() -> impl IntoView {
    let (pipeline, status, cursor) = (
        super::query_param("pipeline"),
        super::query_param("status"),
        super::query_param("cursor"),
    );
    let runs = LocalResource::new(move || {
        api::runs(vec![
            ("pipeline", pipeline.get()),
            ("status", status.get()),
            ("cursor", cursor.get()),
        ])
    });
    view! {
        <h1>"Runs"</h1>
        <form class="filters" method="get" action="/runs">
            <label>"Pipeline " <input type="text" name="pipeline" value=pipeline/></label>
            <label>"Status "
                <select name="status">
                    {["", "running", "succeeded", "failed"].into_iter().map(|s| {
                        let label = if s.is_empty() { "any" } else { s };
                        view! { <option value=s selected=move || status.get() == s>{label}</option> }
                    }).collect_view()}
                </select>
            </label>
            <button type="submit">"Filter"</button>
        </form>
        {listed(runs, "runs", "No run matches.", |items| view! {
            <table>
                <caption>"Runs, newest first"</caption>
                <thead><tr>
                    <th scope="col">"Run"</th>
                    <th scope="col">"Pipeline"</th>
                    <th scope="col">"Trained on"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Trials"</th>
                    <th scope="col">"Started by"</th>
                    <th scope="col">"Started"</th>
                    <th scope="col">"Candidate"</th>
                </tr></thead>
                <tbody>
                    {items.into_iter().map(|r| {
                        let status = match &r.status {
                            tollgate_api_types::RunStatus::Failed { reason } => {
                                format!("failed: {reason}")
                            }
                            other => other.as_str().to_owned(),
                        };
                        let candidate = r.candidate.map(|c| {
                            let href = format!("/models/{}/versions/{}", c.model, c.version);
                            view! { <a href=href>{format!("{} v{}", c.model, c.version)}</a> }
                        });
                        view! {
                            <tr>
                                <td><a href=format!("/runs/{}", r.id)><code>{r.id.clone()}</code></a></td>
                                <td>{r.pipeline}</td>
                                <td>{format!("{} v{}", r.dataset, r.dataset_version)}</td>
                                <td>{status}</td>
                                <td>{format!("{} of {} ended ({} started)", r.trials_ended, r.max_trials, r.trials)}</td>
                                <td>{format!("{} ({})", r.requested_by, r.trigger)}</td>
                                <td><When at=r.created_at/></td>
                                <td>{candidate}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        })}
    }
}
