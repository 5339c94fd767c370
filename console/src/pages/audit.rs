//! The audit trail, newest first, paged, filtered by subject, actor, action and time (all in
//! the query string: a filtered trail is a link to share).

use leptos::prelude::*;

use crate::api;
use crate::components::{When, listed};
use crate::view_model;

/// A time from the filter's box as the API takes it (UTC); what does not read as one goes as
/// typed, for the API to say what is wrong with it.
fn time_filter(typed: String) -> String {
    view_model::utc_input(&typed)
        .map(|at| at.to_string())
        .unwrap_or(typed)
}

#[component]
pub fn Audit() -> impl IntoView {
    let (subject, actor, action, since, until, cursor) = (
        super::query_param("subject"),
        super::query_param("actor"),
        super::query_param("action"),
        super::query_param("since"),
        super::query_param("until"),
        super::query_param("cursor"),
    );
    let events = LocalResource::new(move || {
        api::audit(vec![
            ("subject", subject.get()),
            ("actor", actor.get()),
            ("action", action.get()),
            ("since", time_filter(since.get())),
            ("until", time_filter(until.get())),
            ("cursor", cursor.get()),
        ])
    });
    view! {
        <h1>"Audit"</h1>
        <form class="filters" method="get" action="/audit">
            <label>"Subject starts with " <input type="text" name="subject" value=subject/></label>
            <label>"Actor " <input type="text" name="actor" value=actor/></label>
            <label>"Action " <input type="text" name="action" value=action/></label>
            <label>"From (UTC) " <input type="datetime-local" step="1" name="since" value=since/></label>
            <label>"Until (UTC) " <input type="datetime-local" step="1" name="until" value=until/></label>
            <button type="submit">"Filter"</button>
        </form>
        {listed(events, "the audit trail", "No event matches.", |items| view! {
            <table>
                <caption>"Audit trail, newest first"</caption>
                <thead><tr>
                    <th scope="col">"When"</th>
                    <th scope="col">"Actor"</th>
                    <th scope="col">"Action"</th>
                    <th scope="col">"Subject"</th>
                    <th scope="col">"Change"</th>
                    <th scope="col">"Comment"</th>
                </tr></thead>
                <tbody>
                    {items.into_iter().map(|e| {
                        let change = match (e.from, e.to) {
                            (Some(f), Some(t)) => format!("{f} → {t}"),
                            (None, Some(t)) => t,
                            (Some(f), None) => f,
                            (None, None) => String::new(),
                        };
                        view! {
                            <tr>
                                <td><When at=e.at/></td>
                                <td>{e.actor.to_string()}</td>
                                <td><code>{e.action}</code></td>
                                <td>{e.subject}</td>
                                <td>{change}</td>
                                <td>{e.comment.unwrap_or_default()}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        })}
    }
}
