//! Datasets: what their uploads came to and their latest version.

use leptos::prelude::*;

use crate::api;
use crate::components::{ErrorMessage, Loading, NextPage, When};

#[component]
pub fn Datasets() -> impl IntoView {
    let cursor = super::query_param("cursor");
    let datasets = LocalResource::new(move || api::datasets(cursor.get()));
    view! {
        <h1>"Datasets"</h1>
        <Transition fallback=|| view! { <Loading what="datasets"/> }>
            {move || Suspend::new(async move {
                match datasets.await {
                    Err(failure) => view! { <ErrorMessage failure/> }.into_any(),
                    Ok(page) if page.items.is_empty() => {
                        view! { <p class="empty">"No dataset yet: upload a file to start one."</p> }.into_any()
                    }
                    Ok(page) => view! {
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
                                {page.items.into_iter().map(|d| {
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
                        <NextPage next=page.next/>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}
