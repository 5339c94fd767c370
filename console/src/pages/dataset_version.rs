//! A dataset version: what was accepted (rows, hash, where it is kept), its validation report
//! (every finding with its check, column and row), the drift against the version before (most
//! severe first, each statistic drawn against its threshold), each column's profile with its
//! histogram, and the contract it was checked against.

use leptos::prelude::*;
use tollgate_api_types::{
    ColumnProfile, Contract, DriftAction, DriftReport, Finding, StoredContract,
};

use crate::api;
use crate::components::{Histogram, ThresholdBar, When, loaded};
use crate::view_model;

#[component]
pub fn DatasetVersionPage() -> impl IntoView {
    let name = super::path_param("name");
    let version = super::version_param();
    let detail = LocalResource::new(move || {
        let (name, version) = (name.get(), version.get());
        async move {
            match version {
                Some(v) => api::dataset_version(name, v).await,
                None => Err(super::bad_address("version number")),
            }
        }
    });
    view! {
        <h1>{move || format!("{} v{}", name.get(), version.get().unwrap_or_default())}</h1>
        {loaded(detail, "the dataset version", |d| view! { <VersionDetailView detail=d/> })}
    }
}

#[component]
fn VersionDetailView(detail: api::VersionDetailView) -> impl IntoView {
    let v = detail.version;
    let dataset = v.dataset.to_string();
    let parent = match v.parent_version {
        Some(p) => {
            let href = format!("/datasets/{dataset}/versions/{p}");
            view! { <a href=href>{format!("v{p}")}</a> }.into_any()
        }
        None => "none: this version founded the contract".into_any(),
    };
    let contract = LocalResource::new({
        let (dataset, version) = (dataset.clone(), v.contract_version);
        move || api::contract(dataset.clone(), Some(version))
    });
    let report = detail.report;
    view! {
        <dl class="facts">
            <dt>"Rows"</dt><dd>{v.rows}</dd>
            <dt>"Size"</dt><dd>{format!("{} bytes, {}", v.bytes, v.format)}</dd>
            <dt>"Content hash"</dt><dd><code>{v.content_hash.to_string()}</code></dd>
            <dt>"Uploaded as"</dt><dd><code>{v.source.key}</code></dd>
            <dt>"Kept at"</dt><dd><code>{v.location.key}</code></dd>
            <dt>"Uploaded by"</dt><dd>{v.uploaded_by.to_string()}</dd>
            <dt>"Accepted"</dt><dd><When at=v.created_at/></dd>
            <dt>"Version before"</dt><dd>{parent}</dd>
        </dl>
        {match report {
            None => view! { <p class="empty">"This version has no validation report on record."</p> }.into_any(),
            Some(report) => view! { <Report report contract/> }.into_any(),
        }}
    }
}

/// The report's sections; the drift needs the contract for its thresholds.
#[component]
fn Report(
    report: api::ReportView,
    contract: LocalResource<Result<StoredContract, view_model::Failure>>,
) -> impl IntoView {
    let findings = report.findings;
    let profile = report.profile.map(|p| p.columns).unwrap_or_default();
    let drift = StoredValue::new(report.drift);
    view! {
        <Findings findings/>
        {loaded(contract, "the contract", move |stored| view! {
            {drift.get_value().map(|drift| view! { <DriftSection drift contract=stored.contract.clone()/> })}
            <ContractSection stored/>
        })}
        <Profiles columns=profile/>
    }
}

#[component]
fn Findings(findings: Vec<Finding>) -> impl IntoView {
    view! {
        <section aria-labelledby="findings">
            <h2 id="findings">"Validation findings"</h2>
            {if findings.is_empty() {
                view! { <p class="empty">"Every check passed: no finding."</p> }.into_any()
            } else {
                view! {
                    <table>
                        <caption>"Every finding, as the data gate reported it"</caption>
                        <thead><tr>
                            <th scope="col">"Check"</th>
                            <th scope="col">"Severity"</th>
                            <th scope="col">"Column"</th>
                            <th scope="col">"Row"</th>
                            <th scope="col">"What"</th>
                        </tr></thead>
                        <tbody>
                            {findings.into_iter().map(|f| view! {
                                <tr>
                                    <td>{f.check}</td>
                                    <td>{f.severity.as_str()}</td>
                                    <td>{f.column}</td>
                                    <td>{f.row.map(|r| r.to_string())}</td>
                                    <td>{f.message}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
}

#[component]
fn DriftSection(drift: DriftReport, contract: Contract) -> impl IntoView {
    let rows = view_model::drift_rows(&drift, &contract.drift);
    let drifted = rows.iter().filter(|r| r.drifted()).count();
    view! {
        <section aria-labelledby="drift">
            <h2 id="drift">{format!("Drift against v{}", drift.baseline_version)}</h2>
            <p>{format!(
                "{drifted} of {} columns past a threshold; on drift the contract says to {}. The most severe first; the mark on each bar is its threshold.",
                rows.len(),
                match contract.drift.action { DriftAction::Warn => "warn", DriftAction::Reject => "reject the upload" },
            )}</p>
            <table>
                <caption>"Drift per column"</caption>
                <thead><tr>
                    <th scope="col">"Column"</th>
                    <th scope="col">"Statistic"</th>
                    <th scope="col">"Value"</th>
                    <th scope="col">"Threshold"</th>
                    <th scope="col">"Against the threshold"</th>
                </tr></thead>
                <tbody>
                    {rows.into_iter().flat_map(|row| {
                        let span = row.statistics.len();
                        let column = row.column.clone();
                        let drifted = row.drifted();
                        row.statistics.into_iter().enumerate().map(move |(i, s)| view! {
                            <tr class={if s.exceeded { "exceeded" } else { "" }}>
                                {(i == 0).then(|| view! {
                                    <th scope="row" rowspan=span>{column.clone()} {drifted.then_some(" (drifted)")}</th>
                                })}
                                <td>{s.name.replace('_', " ")}</td>
                                <td>{view_model::metric(Some(s.value))}</td>
                                <td>{s.threshold.map(|t| view_model::metric(Some(t))).unwrap_or_else(|| "none".into())}</td>
                                <td><ThresholdBar value=s.value threshold=s.threshold exceeded=s.exceeded/></td>
                            </tr>
                        }).collect::<Vec<_>>()
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

#[component]
fn Profiles(columns: Vec<ColumnProfile>) -> impl IntoView {
    view! {
        <section aria-labelledby="profile">
            <h2 id="profile">"Column profiles"</h2>
            <table>
                <caption>"Each column: counts, range and distribution"</caption>
                <thead><tr>
                    <th scope="col">"Column"</th>
                    <th scope="col">"Type"</th>
                    <th scope="col">"Nulls"</th>
                    <th scope="col">"Distinct"</th>
                    <th scope="col">"Min"</th>
                    <th scope="col">"Mean"</th>
                    <th scope="col">"Max"</th>
                    <th scope="col">"Std"</th>
                    <th scope="col">"Distribution"</th>
                </tr></thead>
                <tbody>
                    {columns.into_iter().map(|c| {
                        let distribution = match &c.histogram {
                            Some(h) => {
                                let title = format!(
                                    "Histogram of {}: {} bins from {} to {}, counts {}",
                                    c.name,
                                    h.counts.len(),
                                    view_model::metric(h.edges.first().copied()),
                                    view_model::metric(h.edges.last().copied()),
                                    h.counts.iter().map(u64::to_string).collect::<Vec<_>>().join(", "),
                                );
                                view! { <Histogram counts=h.counts.clone() title/> }.into_any()
                            }
                            None => {
                                let top = c.top_values.iter().take(5)
                                    .map(|t| format!("{} ({})", t.value, t.count))
                                    .collect::<Vec<_>>().join(", ");
                                view! { <span>{top}</span> }.into_any()
                            }
                        };
                        view! {
                            <tr>
                                <th scope="row">{c.name.clone()}</th>
                                <td>{c.dtype.as_str()}</td>
                                <td>{format!("{} of {}", c.nulls, c.count)}</td>
                                <td>{c.distinct}</td>
                                <td>{view_model::metric(c.min)}</td>
                                <td>{view_model::metric(c.mean)}</td>
                                <td>{view_model::metric(c.max)}</td>
                                <td>{view_model::metric(c.std)}</td>
                                <td>{distribution}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

#[component]
fn ContractSection(stored: StoredContract) -> impl IntoView {
    let c = stored.contract;
    let rows = match c.max_rows {
        Some(max) => format!("{} to {max} rows", c.min_rows),
        None => format!("at least {} rows", c.min_rows),
    };
    view! {
        <section aria-labelledby="contract">
            <h2 id="contract">{format!("Contract v{}", stored.version)}</h2>
            <p>
                {format!("{}, {}; {rows}; ", stored.origin, stored.created_by)}
                {if c.allow_extra_columns { "columns it does not name are accepted" } else { "columns it does not name are refused" }}
                "; " <When at=stored.created_at/>
            </p>
            <table>
                <caption>"What each column must hold"</caption>
                <thead><tr>
                    <th scope="col">"Column"</th>
                    <th scope="col">"Type"</th>
                    <th scope="col">"Nulls"</th>
                    <th scope="col">"Range"</th>
                    <th scope="col">"Allowed values"</th>
                    <th scope="col">"Unique"</th>
                </tr></thead>
                <tbody>
                    {c.columns.into_iter().map(|col| {
                        let nulls = match (col.nullable, col.max_null_fraction) {
                            (false, _) => "none".to_owned(),
                            (true, Some(f)) => format!("up to {}%", view_model::metric(Some(f * 100.0))),
                            (true, None) => "allowed".to_owned(),
                        };
                        let range = match (col.min, col.max) {
                            (None, None) => String::new(),
                            (min, max) => format!("{} to {}", view_model::metric(min), view_model::metric(max)),
                        };
                        view! {
                            <tr>
                                <th scope="row">{col.name}</th>
                                <td>{col.dtype.as_str()}</td>
                                <td>{nulls}</td>
                                <td>{range}</td>
                                <td>{col.allowed_values.map(|v| v.join(", "))}</td>
                                <td>{if col.unique { "yes" } else { "" }}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}
