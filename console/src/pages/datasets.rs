//! Datasets: what their uploads came to and their latest version.

use leptos::prelude::*;

use crate::api;
use crate::components::{When, listed};

#[component]
pub fn Datasets() -> impl IntoView {
    let cursor = super::query_param("cursor");
    let datasets = LocalResource::new(move || api::datasets(cursor.get()));
    view! {
        <h1>"Datasets"</h1>
        {listed(datasets, "datasets", "No dataset yet: upload a file to start one.", |items| view! {
            <table>
                <caption>"Datasets"</caption>
                <thead><tr>
                    <th scope="col">"Dataset"</th>
                    <th scope="col">"Latest version"</th>
                    <th scope="col">"Rows"</th>
                    <th scope="col">"Accepted"</th>
                    <th scope="col">"Rejected"</th>
                    <th scope="col">"Duplicates"</th>
                    <th scope="col">"Last upload"</th>
                </tr></thead>
                <tbody>
                    {items.into_iter().map(|d| {
                        let latest = d.latest.as_ref().map(|v| format!("v{}", v.version)).unwrap_or_else(|| "none".into());
                        let rows = d.latest.as_ref().map(|v| v.rows.to_string()).unwrap_or_default();
                        view! {
                            <tr>
                                <td>{d.dataset.name.to_string()}</td>
                                <td>{latest}</td>
                                <td>{rows}</td>
                                <td>{d.accepted}</td>
                                <td>{d.rejected}</td>
                                <td>{d.duplicates}</td>
                                <td>{d.last_upload_at.map(|at| view! { <When at/> })}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        })}
    }
}
