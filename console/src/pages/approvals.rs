//! The queue: versions in staging waiting for approvals, and what each needs from the
//! signed-in person.

use leptos::prelude::*;

use crate::api;
use crate::components::{When, listed};

#[component]
pub fn Approvals() -> impl IntoView {
    let cursor = super::query_param("cursor");
    let waiting = LocalResource::new(move || api::approvals(cursor.get()));
    view! {
        <h1>"Approvals"</h1>
        <p class="lead">"Model versions in staging that production waits on."</p>
        {listed(waiting, "the approval queue", "Nothing waits for an approval.", |items| view! {
            <table>
                <caption>"Waiting for approval"</caption>
                <thead><tr>
                    <th scope="col">"Model version"</th>
                    <th scope="col">"Author"</th>
                    <th scope="col">"Registered"</th>
                    <th scope="col">"Approvals"</th>
                    <th scope="col">"You"</th>
                </tr></thead>
                <tbody>
                    {items.into_iter().map(|w| {
                        let href = format!("/models/{}/versions/{}", w.model, w.version);
                        let you = match (w.approval.caller_may_approve, w.approval.caller_refusal) {
                            (true, _) => "may approve".to_owned(),
                            (false, Some(why)) => why,
                            (false, None) => "may not approve".to_owned(),
                        };
                        view! {
                            <tr>
                                <td><a href=href>{format!("{} v{}", w.model, w.version)}</a></td>
                                <td>{w.author}</td>
                                <td><When at=w.created_at/></td>
                                <td>{format!("{} of {} ({} more needed)",
                                    w.approval.approvals.iter().filter(|a| a.counts).count(),
                                    w.approval.required, w.approval.still_needed)}</td>
                                <td>{you}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        })}
    }
}
