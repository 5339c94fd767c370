//! `tollgate demo`: the bundled sample data (red wine quality, UCI) through the gates, step by
//! step: a first version founds the contract; a pipeline to predict quality is applied; a second
//! version is compared with the first and starts a tuning run that registers a candidate model; a
//! re-upload is a duplicate; a broken file is quarantined with its reasons; a drifted batch is
//! flagged and trains the next candidate.

use std::path::PathBuf;

use anyhow::Context;
use tollgate_domain::ports::Catalog;

use crate::embedded::Embedded;
use crate::{Outcome, output};

const WINE_A: &str = include_str!("../../samples/wine/wine-2009-a.csv");
const WINE_B: &str = include_str!("../../samples/wine/wine-2009-b.csv");
const WINE_DRIFTED: &str = include_str!("../../samples/wine/wine-2010-drifted.csv");

/// The demo's pipeline: small enough to run in seconds in a debug build.
const PIPELINE: &str = r#"# Predicts a wine's quality (3-8) from its chemistry. Applied by `tollgate demo`.
name = "wine-quality"
dataset = "wine"
target = "quality"
task = "classification"
model = "logistic_regression"
metric = "accuracy"

[search]
strategy = "tpe"
seed = 1

[search.space]
alpha = { type = "log_uniform", low = 1e-4, high = 10.0 }
max_iterations = { type = "int", low = 50, high = 400, log = true }

[budget]
max_trials = 12
max_parallel = 2
max_wall_time = "5m"

[gates]
min_improvement = 0.0   # no worse than production on accuracy

[gates.thresholds]
accuracy = 0.42         # always answering the most frequent class scores 0.42

[split]
train = 0.7
validation = 0.15
test = 0.15
seed = 1
"#;

/// A batch a broken export might produce: a column lost and text where numbers belong.
fn broken_batch() -> String {
    let mut out = String::new();
    for (i, line) in WINE_B.lines().enumerate() {
        let mut fields: Vec<&str> = line.split(',').collect();
        fields.pop(); // the `quality` column is gone
        if i == 17 {
            fields[10] = "twelve";
        }
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

pub async fn run(env: &Embedded) -> anyhow::Result<Outcome> {
    let dataset = super::dataset_name("wine")?;
    if env.catalog.dataset(&dataset).await?.is_some() {
        println!(
            "note: {} already holds a dataset \"wine\"; the demo shows what the gate makes of the same files again.\n      Use an empty --data-dir for the first-run story.\n",
            env.data_dir.display()
        );
    }
    let samples: PathBuf = env.data_dir.join("samples");
    std::fs::create_dir_all(&samples).with_context(|| format!("creating {}", samples.display()))?;
    let steps: [(&str, &str, String); 5] = [
        (
            "The first batch founds the dataset and its contract.",
            "wine-2009-a.csv",
            WINE_A.to_owned(),
        ),
        (
            "The next batch is checked against the contract and compared with v1.",
            "wine-2009-b.csv",
            WINE_B.to_owned(),
        ),
        (
            "The first batch again: identical bytes are not a new version.",
            "wine-2009-a.csv",
            WINE_A.to_owned(),
        ),
        (
            "A broken export: a column lost and text in a numeric column. It goes to quarantine.",
            "wine-2010-broken.csv",
            broken_batch(),
        ),
        (
            "A batch from a new supplier: stronger wines. It passes, with drift flagged.",
            "wine-2010-drifted.csv",
            WINE_DRIFTED.to_owned(),
        ),
    ];
    for (i, (story, file, content)) in steps.iter().enumerate() {
        let path = samples.join(file);
        std::fs::write(&path, content).with_context(|| format!("writing {}", path.display()))?;
        println!("── step {} of {}: {story}", i + 1, steps.len());
        println!("   $ tollgate upload {} --dataset wine\n", path.display());
        let outcome = super::upload::upload(env, &path, &dataset, true).await?;
        println!("{}", output::upload_text(env, &outcome));
        // Pipelines listening to wine tune on each accepted version.
        let progress = super::runs::bar(true);
        let runs = env
            .settle(Vec::new(), |r| super::runs::show_progress(&progress, r))
            .await;
        progress.finish_and_clear();
        for run in runs? {
            println!("   A pipeline listens to wine, so the new version started a tuning run:\n");
            println!(
                "{}{}",
                super::runs::run_text(&run),
                super::runs::candidate_text(env, &run).await?
            );
        }
        if i == 1 {
            let ana = tollgate_domain::UserId::parse("ana").expect("a valid user name");
            println!(
                "── Production needs one approval, from someone with no hand in the model \
                 ({} uploaded the data it was trained on).",
                env.user
            );
            println!(
                "   $ tollgate --as ana approve wine-quality 1 --comment \"report checked\"\n"
            );
            let request = tollgate_domain::promotion::Request::Approve {
                version: 1,
                comment: Some("report checked".into()),
            };
            super::models::decide(env, "wine-quality", request, &ana, false).await?;
            println!();
        }
        if i == 0 {
            let file = samples.join("wine-quality.toml");
            std::fs::write(&file, PIPELINE)
                .with_context(|| format!("writing {}", file.display()))?;
            println!("── A pipeline: predict quality, tuned with TPE, 12 trials, 2 at a time.");
            println!("   $ tollgate pipeline apply {}\n", file.display());
            let (stored, _) = super::pipeline::store(env, &file).await?;
            println!(
                "Applied pipeline {} as version {}. Every accepted upload of wine now starts a run.\n",
                stored.pipeline.name, stored.version
            );
        }
    }
    println!("── what the catalog now holds:\n");
    super::datasets::show(env, "wine", None, false).await?;
    println!(
        "\nNext: tollgate models   ·   tollgate model show wine-quality   ·   tollgate runs   ·   tollgate audit"
    );
    Ok(Outcome::Done)
}
