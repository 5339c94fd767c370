//! Datasets: what their uploads came to and their latest version; a dataset's versions over
//! time and every upload with what the data gate decided.

use leptos::prelude::*;
use tollgate_api_types::UploadStatus;

use crate::api;
use crate::components::{LineChart, When, listed};

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
                        let name = d.dataset.name.to_string();
                        let latest = d.latest.as_ref().map(|v| {
                            let href = format!("/datasets/{name}/versions/{}", v.version);
                            view! { <a href=href>{format!("v{}", v.version)}</a> }
                        });
                        let rows = d.latest.as_ref().map(|v| v.rows.to_string()).unwrap_or_default();
                        view! {
                            <tr>
                                <td><a href=format!("/datasets/{name}")>{name.clone()}</a></td>
                                <td>{latest}</td>
                                <td>{rows}</td>
                                <td>{d.accepted}</td>
                                <td><a href=format!("/datasets/{name}/uploads")>{d.rejected}</a></td>
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

/// A dataset's accepted versions, oldest first, with their rows over time.
#[component]
pub fn Dataset() -> impl IntoView {
    let name = super::path_param("name");
    let cursor = super::query_param("cursor");
    let versions = LocalResource::new(move || api::dataset_versions(name.get(), cursor.get()));
    view! {
        <h1>{move || format!("Dataset {}", name.get())}</h1>
        <p><a href=move || format!("/datasets/{}/uploads", name.get())>"Every upload, rejected ones included"</a></p>
        {listed(versions, "the dataset's versions", "No accepted version yet.", move |items| {
            let rows: Vec<(u32, f64)> = items.iter().map(|v| (v.version, v.rows as f64)).collect();
            let title = format!("Rows per version of {} (the table below lists them)", name.get_untracked());
            view! {
                {(rows.len() > 1).then(|| view! { <LineChart points=rows title/> })}
                <table>
                    <caption>"Accepted versions, oldest first"</caption>
                    <thead><tr>
                        <th scope="col">"Version"</th>
                        <th scope="col">"Rows"</th>
                        <th scope="col">"Contract"</th>
                        <th scope="col">"Drifted against the version before"</th>
                        <th scope="col">"Uploaded by"</th>
                        <th scope="col">"When"</th>
                    </tr></thead>
                    <tbody>
                        {items.into_iter().map(|v| {
                            let href = format!("/datasets/{}/versions/{}", v.dataset, v.version);
                            let drift = if v.drifted_columns.is_empty() {
                                "none".to_owned()
                            } else {
                                v.drifted_columns.join(", ")
                            };
                            view! {
                                <tr>
                                    <th scope="row"><a href=href>{format!("v{}", v.version)}</a></th>
                                    <td>{v.rows}</td>
                                    <td>{format!("v{}", v.contract_version)}</td>
                                    <td>{drift}</td>
                                    <td>{v.uploaded_by.to_string()}</td>
                                    <td><When at=v.created_at/></td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            }
        })}
    }
}

/// Every upload of a dataset, oldest first: accepted, duplicate or rejected, and why.
#[component]
pub fn DatasetUploads() -> impl IntoView {
    let name = super::path_param("name");
    let cursor = super::query_param("cursor");
    let uploads = LocalResource::new(move || api::uploads(name.get(), cursor.get()));
    view! {
        <h1>{move || format!("Uploads of {}", name.get())}</h1>
        <p><a href=move || format!("/datasets/{}", name.get())>"The accepted versions"</a></p>
        {listed(uploads, "the uploads", "Nothing uploaded yet.", |items| view! {
            <table>
                <caption>"Uploads, oldest first"</caption>
                <thead><tr>
                    <th scope="col">"When"</th>
                    <th scope="col">"File"</th>
                    <th scope="col">"Outcome"</th>
                    <th scope="col">"Rows"</th>
                    <th scope="col">"Why"</th>
                    <th scope="col">"Kept at"</th>
                    <th scope="col">"By"</th>
                </tr></thead>
                <tbody>
                    {items.into_iter().map(|u| {
                        let outcome = match (u.status, u.version) {
                            (UploadStatus::Rejected, _) | (_, None) => view! {
                                <span class=format!("status-{}", u.status.as_str())>{u.status.as_str()}</span>
                            }.into_any(),
                            (status, Some(v)) => {
                                let href = format!("/datasets/{}/versions/{v}", u.dataset);
                                let text = match status {
                                    UploadStatus::Duplicate => format!("duplicate of v{v}"),
                                    _ => format!("accepted as v{v}"),
                                };
                                view! { <a href=href>{text}</a> }.into_any()
                            }
                        };
                        view! {
                            <tr>
                                <td><When at=u.created_at/></td>
                                <td><code>{u.source.key.to_string()}</code></td>
                                <td>{outcome}</td>
                                <td>{u.rows.map(|r| r.to_string())}</td>
                                <td>{(!u.reasons.is_empty()).then(|| view! {
                                    <ul class="reasons">{u.reasons.iter().cloned().map(|r| view! { <li>{r}</li> }).collect_view()}</ul>
                                })}</td>
                                <td><code>{u.kept_at.key.to_string()}</code></td>
                                <td>{u.uploaded_by.to_string()}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        })}
    }
}
