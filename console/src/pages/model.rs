//! The registry by model, and a model's page: its versions with their stages, its metric
//! across versions (a chart and the same numbers as a table), and rollback.

use leptos::prelude::*;
use tollgate_api_types::ModelStage;

use crate::api::{self, ModelVersionView};
use crate::components::{ErrorMessage, LineChart, NextPage, Stage, When, listed, loaded};
use crate::view_model;

#[component]
pub fn Models() -> impl IntoView {
    let cursor = super::query_param("cursor");
    let models = LocalResource::new(move || api::models(cursor.get()));
    view! {
        <h1>"Models"</h1>
        {listed(models, "models", "No model yet: a run registers one.", |items| view! {
            <table>
                <caption>"Models"</caption>
                <thead><tr>
                    <th scope="col">"Model"</th>
                    <th scope="col">"In production"</th>
                    <th scope="col">"In staging"</th>
                    <th scope="col">"Latest version"</th>
                </tr></thead>
                <tbody>
                    {items.into_iter().map(|m| {
                        let name = m.latest.model.clone();
                        let link = |v: u32| {
                            let href = format!("/models/{name}/versions/{v}");
                            view! { <a href=href>{format!("v{v}")}</a> " " }
                        };
                        view! {
                            <tr>
                                <td><a href=format!("/models/{name}")>{name.clone()}</a></td>
                                <td>{m.production_version.map(link)}</td>
                                <td>{m.staging_versions.iter().map(|v| link(*v)).collect_view()}</td>
                                <td>{link(m.latest.version)} <Stage stage=m.latest.stage/></td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        })}
    }
}

#[component]
pub fn Model() -> impl IntoView {
    let name = super::path_param("name");
    let cursor = super::query_param("cursor");
    let versions = LocalResource::new(move || api::model_versions(name.get(), cursor.get()));
    view! {
        <h1>{move || format!("Model {}", name.get())}</h1>
        <p><a href=move || format!("/models/{}/monitoring", name.get())>"Monitoring: drift in production and the retraining it started"</a></p>
        {loaded(versions, "the model's versions", move |page| {
            let in_production = page
                .items
                .iter()
                .find(|v| v.stage == ModelStage::Production)
                .map(|v| v.version);
            view! {
                {in_production.map(|v| view! { <Rollback model=name.get_untracked() version=v/> })}
                <MetricChart versions=page.items.clone()/>
                <VersionsTable versions=page.items/>
                <NextPage next=page.next/>
            }
        })}
    }
}

#[component]
fn VersionsTable(versions: Vec<ModelVersionView>) -> impl IntoView {
    view! {
        <table>
            <caption>"Versions, newest first"</caption>
            <thead><tr>
                <th scope="col">"Version"</th>
                <th scope="col">"Stage"</th>
                <th scope="col">"Primary metric"</th>
                <th scope="col">"Trained on"</th>
                <th scope="col">"Author"</th>
                <th scope="col">"Registered"</th>
            </tr></thead>
            <tbody>
                {versions.into_iter().map(|v| {
                    let href = format!("/models/{}/versions/{}", v.model, v.version);
                    let value = v.metrics.get(&v.primary_metric).copied();
                    view! {
                        <tr>
                            <td><a href=href>{format!("v{}", v.version)}</a></td>
                            <td><Stage stage=v.stage/></td>
                            <td>{format!("{} {}", v.primary_metric, view_model::metric(value))}</td>
                            <td>{format!("{} v{}", v.dataset, v.dataset_version)}</td>
                            <td>{v.author.to_string()}</td>
                            <td><When at=v.created_at/></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// The primary metric across versions, as a line; the table above holds the same numbers.
#[component]
fn MetricChart(versions: Vec<ModelVersionView>) -> impl IntoView {
    let mut points: Vec<(u32, f64)> = versions
        .iter()
        .filter_map(|v| Some((v.version, *v.metrics.get(&v.primary_metric)?)))
        .collect();
    points.sort_by_key(|p| p.0);
    let metric = versions
        .first()
        .map(|v| v.primary_metric.clone())
        .unwrap_or_default();
    (points.len() > 1).then(|| {
        let title = format!("{metric} across versions (the table below lists the values)");
        view! { <LineChart points title/> }
    })
}

/// Rolls production back from `version` to the version before it, with a comment.
#[component]
fn Rollback(model: String, version: u32) -> impl IntoView {
    let comment = RwSignal::new(String::new());
    let rollback = Action::new_local(move |(model, comment): &(String, String)| {
        let comment = (!comment.trim().is_empty()).then(|| comment.trim().to_owned());
        api::rollback(model.clone(), version, comment)
    });
    let submit = {
        let model = model.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            rollback.dispatch((model.clone(), comment.get_untracked()));
        }
    };
    view! {
        <form class="card" on:submit=submit aria-labelledby="rollback-title">
            <h2 id="rollback-title">{format!("v{version} is in production")}</h2>
            <label for="rollback-comment">"Comment"</label>
            <textarea id="rollback-comment" bind:value=comment></textarea>
            <button type="submit" disabled=move || rollback.pending().get()>"Roll back"</button>
        </form>
        {move || rollback.value().get().map(|result| match result {
            Ok(decided) => {
                let text = decided.changes.iter()
                    .map(|c| format!("v{}: {} → {}", c.version, c.from.as_str(), c.to.as_str()))
                    .collect::<Vec<_>>().join("; ");
                view! { <p role="status" class="done">{format!("Rolled back: {text}. Reload to see the versions.")}</p> }.into_any()
            }
            Err(failure) => view! { <ErrorMessage failure=failure/> }.into_any(),
        })}
    }
}
