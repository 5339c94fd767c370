//! `tollgate pipeline init|apply` and `tollgate pipelines`.

use std::path::{Path, PathBuf};

use tollgate_domain::ports::{BlobStore, Catalog};
use tollgate_domain::report::{ColumnProfile, DatasetProfile};
use tollgate_domain::{BlobKey, ColumnType, ModelFamily, Pipeline, StoredPipeline, Task};

use crate::embedded::Embedded;
use crate::{Outcome, UsageError};

/// The search a pipeline starts with for a model family: ranges known to hold good models.
fn default_space(family: ModelFamily) -> &'static str {
    match family {
        ModelFamily::LogisticRegression => {
            "alpha = { type = \"log_uniform\", low = 1e-4, high = 10.0 }\n\
             max_iterations = { type = \"int\", low = 50, high = 400, log = true }\n"
        }
        ModelFamily::RandomForest => {
            "n_trees = { type = \"int\", low = 50, high = 200 }\n\
             max_depth = { type = \"int\", low = 4, high = 24 }\n\
             feature_proportion = { type = \"uniform\", low = 0.2, high = 1.0 }\n"
        }
        ModelFamily::DecisionTree => {
            "max_depth = { type = \"int\", low = 2, high = 20 }\n\
             min_weight_leaf = { type = \"int\", low = 1, high = 20, log = true }\n"
        }
        ModelFamily::ElasticNet => {
            "alpha = { type = \"log_uniform\", low = 1e-5, high = 1.0 }\n\
             l1_ratio = { type = \"uniform\", low = 0.0, high = 1.0 }\n"
        }
        ModelFamily::LinearRegression => "fit_intercept = { type = \"choice\", values = [true] }\n",
        ModelFamily::GradientBoosting => {
            "budget = { type = \"uniform\", low = 0.3, high = 1.5 }\n\
             max_bin = { type = \"choice\", values = [63, 255] }\n"
        }
    }
}

/// A class under this share of the rows makes a target imbalanced: accuracy then rewards
/// answering the majority.
const IMBALANCED: f64 = 0.2;

/// Why a column is not a feature by default, if it is not: an identifier or a row number (unique
/// per row, it tells a model nothing about a new row), or free text (which one-hot encoding
/// cannot use).
fn not_a_feature(c: &ColumnProfile) -> Option<String> {
    let present = c.count;
    if present < 20 {
        return None;
    }
    let lower = c.name.to_ascii_lowercase();
    let last_word = lower
        .rsplit(|ch: char| !ch.is_ascii_alphanumeric())
        .find(|w| !w.is_empty())
        .unwrap_or("");
    let named_like_an_id = lower.trim().is_empty()
        || lower.starts_with("unnamed")
        || matches!(last_word, "id" | "uuid" | "key" | "index")
        || lower.ends_with("id") && lower.len() <= 4;
    match c.dtype {
        ColumnType::String => {
            let seen = c.top_values.len().max(1) as f64;
            let mean_length = c
                .top_values
                .iter()
                .map(|v| v.value.chars().count())
                .sum::<usize>() as f64
                / seen;
            let mean_words = c
                .top_values
                .iter()
                .map(|v| v.value.split_whitespace().count())
                .sum::<usize>() as f64
                / seen;
            if c.distinct as f64 >= 0.9 * present as f64 {
                Some(format!(
                    "{} distinct values in {present} rows: an identifier or a name",
                    c.distinct
                ))
            } else if named_like_an_id && c.distinct as f64 >= 0.2 * present as f64 {
                Some(format!(
                    "an identifier ({} distinct values in {present} rows)",
                    c.distinct
                ))
            } else if mean_length >= 40.0 || mean_words >= 5.0 {
                Some(format!(
                    "free text (its most frequent values average {mean_words:.0} words, \
                     {mean_length:.0} characters)"
                ))
            } else {
                None
            }
        }
        ColumnType::Integer | ColumnType::Float if c.distinct >= present => {
            let (min, max) = (c.min.unwrap_or(f64::NAN), c.max.unwrap_or(f64::NAN));
            if (min == 0.0 || min == 1.0) && max - min + 1.0 == present as f64 {
                Some("a row number (as R's row names and pandas' index are written)".into())
            } else if named_like_an_id {
                Some("an identifier (unique per row)".into())
            } else {
                None
            }
        }
        _ => None,
    }
}

/// The rarest class's share, the most frequent one's, and how many classes, from a profile's
/// counts; `None` when the counts do not cover every class.
fn class_shares(c: &ColumnProfile) -> Option<(f64, f64, usize)> {
    let present = c.count;
    let counted: u64 = c.top_values.iter().map(|v| v.count).sum();
    if present == 0 || counted != present || c.top_values.len() < 2 {
        return None;
    }
    let shares: Vec<f64> = c
        .top_values
        .iter()
        .map(|v| v.count as f64 / present as f64)
        .collect();
    let minority = shares.iter().copied().fold(f64::INFINITY, f64::min);
    let majority = shares.iter().copied().fold(0.0, f64::max);
    Some((minority, majority, shares.len()))
}

/// Writes a pipeline file for a dataset and target, from its latest version's profile.
pub async fn init(
    env: &Embedded,
    dataset: &str,
    target: &str,
    task: Option<Task>,
    out: Option<PathBuf>,
) -> anyhow::Result<Outcome> {
    let name = super::dataset_name(dataset)?;
    let latest = env
        .catalog
        .dataset(&name)
        .await?
        .and_then(|d| d.latest_version)
        .ok_or_else(|| {
            UsageError(format!(
                "{name} has no accepted version yet: upload one first (tollgate upload FILE --dataset {name})"
            ))
        })?;
    let version = env
        .catalog
        .version(&name, latest)
        .await?
        .ok_or_else(|| anyhow::anyhow!("{name} v{latest} is missing from the catalog"))?;
    let Some(column) = version.schema.iter().find(|c| c.name == target) else {
        let columns: Vec<&str> = version.schema.iter().map(|c| c.name.as_str()).collect();
        return Err(UsageError(format!(
            "{name} has no column {target:?}; its columns are {}",
            columns.join(", ")
        ))
        .into());
    };
    let profile: DatasetProfile = serde_json::from_slice(
        &env.blobs
            .get(&env.bucket, &BlobKey::parse(&version.profile_key())?)
            .await?,
    )?;
    let distinct = profile.column(target).map_or(u64::MAX, |c| c.distinct);
    let task = task.unwrap_or(match column.dtype {
        ColumnType::String | ColumnType::Boolean => Task::Classification,
        ColumnType::Integer if distinct <= 20 => Task::Classification,
        _ => Task::Regression,
    });
    if task == Task::Regression && !column.dtype.is_numeric() {
        return Err(UsageError(format!(
            "{target} is a {} column: regression needs a number",
            column.dtype
        ))
        .into());
    }
    // Measured on the tables in tests/fixtures/real: within two points of the better of
    // scikit-learn's random forest and HistGradientBoosting on each, where the bundled forest
    // (which cannot weigh classes) fell short on both classifications.
    let family = ModelFamily::GradientBoosting;
    let why = "gradient-boosted trees: of the bundled families, the one that comes closest to \
               scikit-learn on real tables (see the README)";

    let excluded: Vec<(String, String)> = profile
        .columns
        .iter()
        .filter(|c| c.name != target)
        .filter_map(|c| not_a_feature(c).map(|why| (c.name.clone(), why)))
        .collect();
    let mut exclude = String::new();
    if !excluded.is_empty() {
        exclude.push_str("# Left out, as not features:\n");
        for (name, why) in &excluded {
            exclude.push_str(&format!("#   {name:?}: {why}\n"));
        }
        let names: Vec<String> = excluded.iter().map(|(n, _)| format!("{n:?}")).collect();
        exclude.push_str(&format!("exclude = [{}]\n", names.join(", ")));
    }

    let target_profile = profile.column(target);
    let missing_target = target_profile.map_or(0, |c| c.nulls);
    let shares = match task {
        Task::Classification => target_profile.and_then(class_shares),
        Task::Regression => None,
    };
    let imbalanced = shares.filter(|(minority, _, _)| *minority < IMBALANCED);
    let metric = match imbalanced {
        Some(_) => tollgate_domain::pipeline::Metric::F1Macro,
        None => tollgate_domain::pipeline::Metric::default_for(task),
    };
    let mut weighting = String::new();
    if let Some((minority, _, _)) = imbalanced {
        weighting = format!(
            "# The rarest class is {:.1}% of v{latest}: accuracy would reward answering the\n\
             # majority, so the metric is macro F1 and each class weighs the same in the fit.\n\
             class_weight = \"balanced\"\n",
            minority * 100.0
        );
    }
    if missing_target > 0 {
        weighting.push_str(&format!(
            "# {missing_target} rows of v{latest} have no {target}: runs leave them out of \
             training and testing, and count them.\n"
        ));
    }
    // The gates: better than always answering the most frequent class (or the mean) on the
    // pipeline's metric, and no worse than the model in production, so a retrain on the same
    // data passes.
    let floor = match (task, shares) {
        (Task::Classification, Some((_, majority, classes))) if imbalanced.is_some() => {
            // Always answering the majority: its F1 is 2p / (1 + p), every other class's is 0.
            let f1 = 2.0 * majority / (1.0 + majority) / classes as f64;
            format!(
                "# always answering the most frequent class of v{latest} scores this macro F1\n\
                 f1_macro = {:.3}\n",
                (f1 * 1000.0).floor() / 1000.0
            )
        }
        (Task::Classification, _) => {
            let share = target_profile
                .and_then(|c| {
                    let present = c.count.max(1);
                    c.top_values
                        .first()
                        .map(|v| v.count as f64 / present as f64)
                })
                .unwrap_or(0.0);
            format!(
                "# the share of the most frequent class in v{latest}: always answering it scores this\n\
                 accuracy = {:.3}\n",
                (share * 1000.0).floor() / 1000.0
            )
        }
        (Task::Regression, _) => {
            "# 0 is what always answering the mean scores\nr2 = 0.0\n".to_owned()
        }
    };
    let pipeline_name = format!(
        "{name}-{}",
        target.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
    )
    .chars()
    .take(40)
    .collect::<String>();
    let task_name = task.as_str();
    let text = format!(
        "# Pipeline {pipeline_name}: predicts {target:?} of dataset {name:?} ({task_name}).\n\
         # Written by `tollgate pipeline init` from {name} v{latest} ({} rows). Apply with\n\
         # `tollgate pipeline apply FILE`; every accepted upload of {name} then starts a run.\n\
         name = \"{pipeline_name}\"\n\
         dataset = \"{name}\"\n\
         target = \"{target}\"\n\
         # features = [\"a\", \"b\"]   # default: every other column but those excluded\n\
         {exclude}\
         task = \"{task_name}\"\n\
         # {why}\n\
         model = \"{}\"\n\
         metric = \"{}\"\n\
         {weighting}\
         \n\
         [search]\n\
         strategy = \"tpe\"   # grid | random | tpe | halving\n\
         seed = 1\n\
         \n\
         [search.space]\n\
         {}\
         \n\
         [budget]\n\
         max_trials = 20\n\
         max_parallel = 2\n\
         max_wall_time = \"30m\"\n\
         \n\
         [split]\n\
         train = 0.7\n\
         validation = 0.15\n\
         test = 0.15\n\
         seed = 1\n\
         \n\
         [backend]\n\
         kind = \"local\"\n\
         max_runtime = \"10m\"\n\
         \n\
         [gates]\n\
         min_improvement = 0.0   # on {metric} against production: no worse\n\
         \n\
         [gates.thresholds]\n\
         {floor}\
         \n\
         [promotion]\n\
         auto_staging = true\n\
         approvals = 1\n\
         approval_valid_for = \"7d\"\n",
        version.rows,
        family.as_str(),
        metric.as_str(),
        default_space(family),
        metric = metric.as_str(),
    );
    // What init writes must be a valid pipeline.
    Pipeline::from_toml(&text).map_err(|e| anyhow::anyhow!("init wrote an invalid file: {e}"))?;
    let out = out.unwrap_or_else(|| PathBuf::from(format!("pipelines/{pipeline_name}.toml")));
    if out.exists() {
        return Err(UsageError(format!(
            "{} exists; remove it or pass --out another path",
            out.display()
        ))
        .into());
    }
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&out, &text)?;
    println!(
        "Wrote {} ({task_name} of {target:?} with {}, metric {}).",
        out.display(),
        family.as_str(),
        metric.as_str()
    );
    for (name, why) in &excluded {
        println!("Left out {name:?}: {why}.");
    }
    if let Some((minority, _, _)) = imbalanced {
        println!(
            "The rarest class is {:.1}% of the rows: the metric is macro F1, classes weighed \
             the same.",
            minority * 100.0
        );
    }
    println!("Next: tollgate pipeline apply {}", out.display());
    Ok(Outcome::Done)
}

/// Reads and checks a pipeline file; a bad file is an error of use naming the line.
/// Stores the file as the pipeline's next version, unless it is the version in force.
pub async fn store(env: &Embedded, file: &Path) -> anyhow::Result<(StoredPipeline, bool)> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| UsageError(format!("reading {}: {e}", file.display())))?;
    let source = file.display().to_string();
    env.app()
        .apply_pipeline(&text, &source, &env.user)
        .await
        .map_err(|e| crate::app_error(e, Some(&source)))
}

pub async fn apply(env: &Embedded, file: &Path, json: bool) -> anyhow::Result<Outcome> {
    let (stored, changed) = store(env, file).await?;
    let p = &stored.pipeline;
    let dataset_known = env.catalog.dataset(&p.dataset).await?.is_some();
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "pipeline": p.name,
                "version": stored.version,
                "changed": changed,
                "hash": stored.hash,
                "dataset": p.dataset,
                "dataset_known": dataset_known,
            }))?
        );
    } else {
        if changed {
            println!("Applied pipeline {} as version {}.", p.name, stored.version);
        } else {
            println!(
                "Pipeline {} is unchanged (version {}).",
                p.name, stored.version
            );
        }
        if p.on_upload {
            println!("Every accepted upload of {} starts a run.", p.dataset);
        }
        if !dataset_known {
            println!(
                "Note: dataset {} has no upload yet (tollgate upload FILE --dataset {}).",
                p.dataset, p.dataset
            );
        } else {
            println!("Run it now on the latest version: tollgate run {}", p.name);
        }
    }
    Ok(Outcome::Done)
}

pub async fn list(env: &Embedded, json: bool) -> anyhow::Result<Outcome> {
    render_list(&env.catalog.pipelines().await?, json)
}

/// The pipelines, on the data dir or through the API.
pub fn render_list(pipelines: &[StoredPipeline], json: bool) -> anyhow::Result<Outcome> {
    if json {
        let rows: Vec<serde_json::Value> = pipelines
            .iter()
            .map(|s| {
                serde_json::json!({
                    "name": s.pipeline.name,
                    "version": s.version,
                    "dataset": s.pipeline.dataset,
                    "target": s.pipeline.target,
                    "task": s.pipeline.task,
                    "model": s.pipeline.model,
                    "strategy": s.pipeline.search.strategy,
                    "max_trials": s.pipeline.budget.max_trials,
                    "backend": s.pipeline.backend.kind,
                    "applied_by": s.applied_by,
                    "applied_at": s.applied_at,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(Outcome::Done);
    }
    if pipelines.is_empty() {
        println!(
            "No pipelines. Write one with: tollgate pipeline init --dataset NAME --target COLUMN"
        );
        return Ok(Outcome::Done);
    }
    println!(
        "{:<24} {:>3}  {:<16} {:<14} {:<20} {:<8} {:>6}  backend",
        "pipeline", "v", "dataset", "target", "model", "search", "trials"
    );
    for s in pipelines {
        let p = &s.pipeline;
        println!(
            "{:<24} {:>3}  {:<16} {:<14} {:<20} {:<8} {:>6}  {}",
            p.name,
            s.version,
            p.dataset,
            p.target,
            p.model.as_str(),
            format!("{:?}", p.search.strategy).to_lowercase(),
            p.budget.max_trials,
            format!("{:?}", p.backend.kind).to_lowercase(),
        );
    }
    Ok(Outcome::Done)
}

/// `tollgate pipeline show NAME`: the file as applied, under a header saying which version it is.
pub async fn show(
    env: &Embedded,
    name: &str,
    version: Option<u32>,
    json: bool,
) -> anyhow::Result<Outcome> {
    let stored = env
        .app()
        .pipeline(name, version)
        .await
        .map_err(|e| crate::not_found(e, "tollgate pipelines lists them"))?;
    render_show(&stored, json)
}

/// A pipeline as applied, on the data dir or through the API.
pub fn render_show(stored: &StoredPipeline, json: bool) -> anyhow::Result<Outcome> {
    if json {
        let value = serde_json::json!({
            "name": stored.pipeline.name,
            "version": stored.version,
            "hash": stored.hash,
            "applied_by": stored.applied_by,
            "applied_at": stored.applied_at,
            "pipeline": stored.pipeline,
            "text": stored.text,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(Outcome::Done);
    }
    println!(
        "# Pipeline {:?}, version {} (sha256 {}), applied by {} at {}.",
        stored.pipeline.name,
        stored.version,
        stored.hash.short(),
        stored.applied_by,
        stored.applied_at
    );
    println!("# Edit and apply with: tollgate pipeline apply FILE");
    print!("{}", stored.text);
    if !stored.text.ends_with('\n') {
        println!();
    }
    Ok(Outcome::Done)
}
