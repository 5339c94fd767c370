//! The SageMaker training container contract, end to end: the `trainer` binary run on a root laid
//! out as SageMaker lays out `/opt/ml`, with the UCI red-wine sample (`samples/wine`), and the
//! model it writes loaded back through the library.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use polars::prelude::*;
use tollgate_trainer::{Layout, Model, Predictions, read_table};

const FEATURES: [&str; 11] = [
    "fixed_acidity",
    "volatile_acidity",
    "citric_acid",
    "residual_sugar",
    "chlorides",
    "free_sulfur_dioxide",
    "total_sulfur_dioxide",
    "density",
    "pH",
    "sulphates",
    "alcohol",
];

/// A job's root in its own temporary directory.
struct Job {
    _dir: tempfile::TempDir,
    layout: Layout,
}

/// What one run of the binary did.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Job {
    /// The first 800 wines split in file order (the sample is shuffled already): 560 to train, in
    /// two CSV files; 120 to validate, as Parquet; 120 to test, as CSV.
    fn wine(hyperparameters: &[(&str, &str)]) -> Self {
        Self::wine_with(hyperparameters, |frame| frame)
    }

    /// As [`Job::wine`], every channel's frame first passed through `change`.
    fn wine_with(
        hyperparameters: &[(&str, &str)],
        change: impl Fn(DataFrame) -> DataFrame,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        let wine = change(read_table(&sample()).unwrap());
        let channel = |name: &str| {
            let dir = layout.channel(name);
            std::fs::create_dir_all(&dir).unwrap();
            dir
        };
        write_csv(
            &mut wine.slice(0, 280),
            &channel("train").join("part-1.csv"),
        );
        write_csv(
            &mut wine.slice(280, 280),
            &channel("train").join("part-2.csv"),
        );
        let mut validation = wine.slice(560, 120);
        ParquetWriter::new(File::create(channel("validation").join("wine.parquet")).unwrap())
            .finish(&mut validation)
            .unwrap();
        write_csv(&mut wine.slice(680, 120), &channel("test").join("wine.csv"));
        let job = Self { _dir: dir, layout };
        job.configure(hyperparameters);
        job
    }

    fn configure(&self, hyperparameters: &[(&str, &str)]) {
        let map: BTreeMap<&str, &str> = hyperparameters.iter().copied().collect();
        let path = self.layout.hyperparameters();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, serde_json::to_string(&map).unwrap()).unwrap();
    }

    /// Runs the binary as SageMaker does: `<entrypoint> train`.
    fn run(&self) -> Run {
        let Output {
            status,
            stdout,
            stderr,
        } = Command::new(env!("CARGO_BIN_EXE_trainer"))
            .args(["train", "--root"])
            .arg(self.layout.root())
            .env_remove("TOLLGATE_ML_ROOT")
            .output()
            .unwrap();
        Run {
            code: status.code(),
            stdout: String::from_utf8(stdout).unwrap(),
            stderr: String::from_utf8(stderr).unwrap(),
        }
    }

    /// Runs and expects success.
    fn train(&self) -> Run {
        let run = self.run();
        assert_eq!(run.code, Some(0), "the trainer failed:\n{}", run.stderr);
        run
    }

    /// Runs and expects a failure: the reason in `output/failure`.
    fn fail(&self) -> String {
        let run = self.run();
        assert_eq!(run.code, Some(1), "expected a failure:\n{}", run.stderr);
        std::fs::read_to_string(self.layout.failure()).unwrap()
    }

    fn metrics(&self) -> BTreeMap<String, f64> {
        let [main, data] = self
            .layout
            .metrics()
            .map(|p| std::fs::read_to_string(p).unwrap());
        assert_eq!(main, data, "the two metrics files differ");
        serde_json::from_str(&main).unwrap()
    }

    fn model_json(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.layout.model()).unwrap()).unwrap()
    }

    fn predictions(&self, channel: &str) -> String {
        std::fs::read_to_string(self.layout.predictions(channel)).unwrap()
    }

    fn channel_file(&self, channel: &str, file: &str) -> PathBuf {
        self.layout.channel(channel).join(file)
    }
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/wine/wine-2009-a.csv")
}

fn write_csv(frame: &mut DataFrame, path: &Path) {
    CsvWriter::new(File::create(path).unwrap())
        .finish(frame)
        .unwrap();
}

/// The value a SageMaker metric definition `<name>=([0-9.]+);` captures from stdout.
fn metric_line(stdout: &str, name: &str) -> Option<f64> {
    stdout.lines().find_map(|line| {
        let value = line
            .strip_prefix(name)?
            .strip_prefix('=')?
            .strip_suffix(';')?;
        let digits = !value.is_empty() && value.chars().all(|c| c.is_ascii_digit() || c == '.');
        digits.then(|| value.parse().ok()).flatten()
    })
}

fn features_json() -> String {
    serde_json::to_string(&FEATURES).unwrap()
}

#[test]
fn logistic_regression_learns_wine_quality_from_string_hyperparameters() {
    let features = features_json();
    let job = Job::wine(&[
        ("model", "logistic_regression"),
        ("task", "classification"),
        ("target", "quality"),
        ("features", &features),
        ("alpha", "0.01"),
        ("max_iterations", "100"),
        ("seed", "7"),
        ("metric", "accuracy"),
    ]);
    let run = job.train();

    let model = job.model_json();
    assert_eq!(model["format_version"], 1);
    assert_eq!(model["family"], "logistic_regression");
    assert_eq!(model["features"], serde_json::json!(FEATURES));
    assert_eq!(
        model["classes"],
        serde_json::json!(["3", "4", "5", "6", "7", "8"])
    );
    let preprocessing = model["preprocessing"].as_array().unwrap();
    assert_eq!(preprocessing.len(), 11);
    assert_eq!(preprocessing[10]["name"], "alcohol");
    assert_eq!(preprocessing[10]["kind"], "numeric");
    assert!(preprocessing[10]["std"].as_f64().unwrap() > 0.0);
    assert_eq!(model["hyperparameters"]["alpha"], 0.01);
    assert_eq!(model["training"]["rows"], 560);

    let accuracy = job.metrics()["validation:accuracy"];
    assert!(
        accuracy > 0.5 && accuracy <= 1.0,
        "validation accuracy {accuracy}"
    );
    let printed = metric_line(&run.stdout, "validation:accuracy").expect("a metric line");
    assert!((printed - accuracy).abs() < 1e-6);
    for name in [
        "train:accuracy",
        "validation:f1_macro",
        "validation:log_loss",
        "test:accuracy",
    ] {
        assert!(
            metric_line(&run.stdout, name).is_some(),
            "no {name} in\n{}",
            run.stdout
        );
    }

    for channel in ["validation", "test"] {
        let csv = job.predictions(channel);
        let mut lines = csv.lines();
        assert_eq!(lines.next(), Some("row,prediction,p_3,p_4,p_5,p_6,p_7,p_8"));
        assert_eq!(lines.count(), 120, "{channel} predictions");
    }
}

#[test]
fn linear_models_explain_most_of_the_alcohol_content() {
    for (model, extra) in [
        ("linear_regression", ("fit_intercept", "true")),
        ("elastic_net", ("alpha", "0.01")),
    ] {
        let job = Job::wine(&[
            ("model", model),
            ("task", "regression"),
            ("target", "alcohol"),
            extra,
        ]);
        let run = job.train();
        let metrics = job.metrics();
        assert!(metrics["validation:r2"] > 0.5, "{model}: {metrics:?}");
        assert!(metrics["validation:rmse"] > 0.0);
        assert!(metric_line(&run.stdout, "test:mae").is_some());
        let csv = job.predictions("test");
        assert!(csv.starts_with("row,prediction\n0,"), "{model}: {csv}");
        assert_eq!(
            job.model_json()["features"].as_array().unwrap().len(),
            11,
            "quality is a feature"
        );
    }
}

#[test]
fn trees_and_forests_classify_wine_quality() {
    for (model, extra) in [
        ("decision_tree", ("max_depth", "8")),
        ("random_forest", ("n_trees", "30")),
    ] {
        let job = Job::wine(&[
            ("model", model),
            ("target", "quality"),
            ("seed", "3"),
            extra,
        ]);
        job.train();
        let accuracy = job.metrics()["validation:accuracy"];
        assert!(accuracy > 0.45, "{model}: validation accuracy {accuracy}");
        let csv = job.predictions("validation");
        assert_eq!(csv.lines().count(), 121);
        // A forest gives its trees' vote shares; a single tree no probabilities.
        let header = csv.lines().next().unwrap();
        match model {
            "random_forest" => assert!(header.starts_with("row,prediction,p_3,"), "{header}"),
            _ => assert_eq!(header, "row,prediction"),
        }
    }
}

#[test]
fn a_missing_validation_channel_fails_and_says_so() {
    let job = Job::wine(&[("model", "decision_tree"), ("target", "quality")]);
    std::fs::remove_dir_all(job.layout.channel("validation")).unwrap();
    let failure = job.fail();
    assert!(
        failure.contains("channel validation: no such directory"),
        "{failure}"
    );
    assert!(!job.layout.model().exists());
}

#[test]
fn a_value_that_is_not_a_number_fails_naming_the_key_and_the_value() {
    let job = Job::wine(&[
        ("model", "logistic_regression"),
        ("target", "quality"),
        ("alpha", "abc"),
    ]);
    let failure = job.fail();
    assert_eq!(
        failure.trim(),
        "hyperparameter alpha: \"abc\" is not a number"
    );
}

#[test]
fn an_unknown_target_fails_naming_the_column() {
    let job = Job::wine(&[("model", "logistic_regression"), ("target", "qualty")]);
    let failure = job.fail();
    assert!(
        failure.starts_with("channel train, column qualty: no such column"),
        "{failure}"
    );
}

#[test]
fn a_loaded_model_reproduces_the_test_predictions() {
    for (model, extra) in [
        ("logistic_regression", ("alpha", "0.1")),
        ("random_forest", ("n_trees", "20")),
    ] {
        let job = Job::wine(&[
            ("model", model),
            ("target", "quality"),
            ("seed", "11"),
            extra,
        ]);
        job.train();
        let loaded = Model::load(&job.layout.model()).unwrap();
        let test = read_table(&job.channel_file("test", "wine.csv")).unwrap();
        let predictions = loaded.predict(&test).unwrap();
        assert_eq!(predictions.len(), 120);
        assert_eq!(predictions.to_csv(), job.predictions("test"), "{model}");
    }
}

#[test]
fn test_rows_without_their_target_are_predicted_not_scored() {
    let job = Job::wine(&[("model", "logistic_regression"), ("target", "quality")]);
    // As Tollgate hands a job the test rows: the features only, the labels kept back.
    let test = job.channel_file("test", "wine.csv");
    let mut features = read_table(&test).unwrap().drop("quality").unwrap();
    write_csv(&mut features, &test);

    let run = job.train();

    let metrics = job.metrics();
    assert!(metrics.contains_key("validation:accuracy"), "{metrics:?}");
    assert!(
        !metrics.keys().any(|k| k.starts_with("test:")),
        "nothing to score the test rows against: {metrics:?}"
    );
    assert!(metric_line(&run.stdout, "test:accuracy").is_none());
    let loaded = Model::load(&job.layout.model()).unwrap();
    assert_eq!(
        loaded.predict(&features).unwrap().to_csv(),
        job.predictions("test"),
        "each test row predicted, in order"
    );
}

/// Wine graded `good` (quality 6 and up) or `bad`, with a text feature: the acidity `band`.
fn graded(frame: DataFrame) -> DataFrame {
    let text = |name: &str, values: Vec<&'static str>| Column::new(name.into(), values);
    let quality = frame.column("quality").unwrap().i64().unwrap().clone();
    let grade = quality
        .into_no_null_iter()
        .map(|q| if q >= 6 { "good" } else { "bad" })
        .collect();
    let acidity = frame
        .column("fixed_acidity")
        .unwrap()
        .f64()
        .unwrap()
        .clone();
    let band = acidity
        .into_no_null_iter()
        .map(|a| if a < 8.0 { "low" } else { "high" })
        .collect();
    let mut frame = frame.drop("quality").unwrap();
    frame.with_column(text("grade", grade)).unwrap();
    frame.with_column(text("band", band)).unwrap();
    frame
}

#[test]
fn a_binary_text_target_trains_a_binary_logistic_regression() {
    let features = format!("{},band", FEATURES.join(","));
    let job = Job::wine_with(
        &[
            ("model", "logistic_regression"),
            ("target", "grade"),
            ("features", &features),
            ("metric", "log_loss"),
        ],
        graded,
    );
    job.train();
    let model = job.model_json();
    assert_eq!(model["classes"], serde_json::json!(["bad", "good"]));
    assert!(model["model"]["labels"].is_object(), "a binary linfa model");
    let band = &model["preprocessing"][11];
    assert_eq!(band["kind"], "categorical");
    assert_eq!(band["levels"], serde_json::json!(["high", "low"]));
    let metrics = job.metrics();
    assert!(metrics["validation:accuracy"] > 0.65, "{metrics:?}");
    assert!(metrics["validation:log_loss"] < 0.65, "{metrics:?}");
    assert!(
        job.predictions("test")
            .starts_with("row,prediction,p_bad,p_good\n")
    );

    let loaded = Model::load(&job.layout.model()).unwrap();
    let test = read_table(&job.channel_file("test", "wine.csv")).unwrap();
    let Predictions::Classes { probabilities, .. } = loaded.predict(&test).unwrap() else {
        panic!("a classifier predicts classes");
    };
    let p = probabilities.expect("logistic regression gives probabilities");
    assert!(p.rows().into_iter().all(|r| (r.sum() - 1.0).abs() < 1e-9));
}

#[test]
fn a_data_fraction_trains_on_a_seeded_share_of_the_rows() {
    let job = Job::wine(&[
        ("model", "logistic_regression"),
        ("target", "quality"),
        ("data_fraction", "0.3"),
        ("seed", "5"),
    ]);
    let run = job.train();
    let training = &job.model_json()["training"];
    assert_eq!(training["rows"], 560);
    assert_eq!(training["rows_used"], 168);
    assert!(
        run.stderr.contains("training on 168 of 560 rows"),
        "{}",
        run.stderr
    );

    let first = std::fs::read_to_string(job.layout.model()).unwrap();
    job.train();
    let second = std::fs::read_to_string(job.layout.model()).unwrap();
    assert_eq!(first, second, "the same seed and data gave another model");
}

#[test]
fn the_root_may_come_from_the_environment() {
    let job = Job::wine(&[("model", "linear_regression"), ("target", "alcohol")]);
    let status = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .env("TOLLGATE_ML_ROOT", job.layout.root())
        .output()
        .unwrap()
        .status;
    assert!(status.success());
    assert!(job.layout.model().exists());
}

#[test]
fn gradient_boosting_classifies_and_regresses_the_same_for_a_seed() {
    for (target, task, metric, floor) in [
        ("quality", "classification", "validation:accuracy", 0.5),
        ("alcohol", "regression", "validation:r2", 0.5),
    ] {
        let hyperparameters = [
            ("model", "gradient_boosting"),
            ("task", task),
            ("target", target),
            ("seed", "5"),
            ("budget", "0.5"),
        ];
        let first = Job::wine(&hyperparameters);
        first.train();
        let value = first.metrics()[metric];
        assert!(value > floor, "{task}: {metric} {value}");
        let again = Job::wine(&hyperparameters);
        again.train();
        assert_eq!(
            first.model_json()["model"],
            again.model_json()["model"],
            "{task}: the same model for the same seed"
        );
        // What the evaluator loads predicts what the job predicted.
        let loaded = Model::load(&first.layout.model()).unwrap();
        let test = read_table(&first.channel_file("test", "wine.csv")).unwrap();
        let predicted = loaded.predict(&test).unwrap();
        assert_eq!(predicted.to_csv(), first.predictions("test"), "{task}");
    }
    let job = Job::wine(&[("model", "gradient_boosting"), ("target", "quality")]);
    job.train();
    let header = job.predictions("validation");
    let header = header.lines().next().unwrap();
    assert!(header.starts_with("row,prediction,p_3,p_4,"), "{header}");
}

#[test]
fn rows_without_a_target_are_left_out_of_the_fit_and_the_scores_and_counted() {
    // Every fifth wine has no grade, in every channel.
    let ungraded = |frame: DataFrame| {
        let frame = graded(frame);
        let grade: Vec<Option<String>> = frame
            .column("grade")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, g)| g.filter(|_| i % 5 != 0).map(str::to_owned))
            .collect();
        let mut frame = frame;
        frame
            .with_column(Column::new("grade".into(), grade))
            .unwrap();
        frame
    };
    let job = Job::wine_with(
        &[
            ("model", "gradient_boosting"),
            ("target", "grade"),
            ("class_weight", "balanced"),
        ],
        ungraded,
    );
    let run = job.train();
    let model = job.model_json();
    assert_eq!(model["training"]["rows"], 560);
    assert_eq!(model["training"]["rows_without_target"], 112);
    assert_eq!(model["training"]["rows_used"], 448);
    assert_eq!(model["hyperparameters"]["class_weight"], "balanced");
    assert!(
        run.stderr.contains("scored 96 of 120 rows of validation"),
        "{}",
        run.stderr
    );
    // Every row is still predicted, so `row` is the row of the channel.
    assert_eq!(job.predictions("validation").lines().count(), 121);
    assert!(job.metrics()["validation:accuracy"] > 0.6);
}

#[test]
fn a_text_column_with_many_values_is_encoded_over_its_frequent_ones_and_the_rest_grouped() {
    // A name per row (unique) and a code with a few frequent values and a long tail.
    let named = |mut frame: DataFrame| {
        let n = frame.height();
        let names: Vec<String> = (0..n).map(|i| format!("wine {i}")).collect();
        let codes: Vec<String> = (0..n)
            .map(|i| match i % 10 {
                0..=5 => format!("common-{}", i % 3),
                _ => format!("rare-{i}"),
            })
            .collect();
        frame
            .with_column(Column::new("name".into(), names))
            .unwrap();
        frame
            .with_column(Column::new("code".into(), codes))
            .unwrap();
        frame
    };
    let job = Job::wine_with(
        &[
            ("model", "decision_tree"),
            ("target", "quality"),
            ("features", "alcohol,name,code"),
        ],
        named,
    );
    let run = job.train();
    let model = job.model_json();
    let name = &model["preprocessing"][1];
    assert_eq!(
        name["levels"],
        serde_json::json!([]),
        "no name is seen twice"
    );
    assert_eq!(name["grouped"], 560);
    let code = &model["preprocessing"][2];
    assert_eq!(
        code["levels"],
        serde_json::json!(["common-0", "common-1", "common-2"])
    );
    assert_eq!(code["grouped"], 224);
    assert_eq!(model["training"]["columns"], 1 + 1 + 4);
    assert!(
        run.stderr
            .contains("code: 227 distinct values; one-hot encoding the 3 most frequent"),
        "{}",
        run.stderr
    );
}

#[test]
fn class_weights_are_refused_where_the_family_cannot_weigh_rows() {
    let job = Job::wine(&[
        ("model", "random_forest"),
        ("target", "quality"),
        ("class_weight", "balanced"),
    ]);
    let failure = job.fail();
    assert!(
        failure.contains("class_weight: balanced is not available for random_forest"),
        "{failure}"
    );
}

/// `<entrypoint> serve` on a job's root, stopped (SIGTERM, as SageMaker stops it) when dropped.
struct Served {
    child: std::process::Child,
    address: String,
}

impl Served {
    fn start(job: &Job) -> Self {
        use std::io::BufRead;
        let mut child = Command::new(env!("CARGO_BIN_EXE_trainer"))
            .args(["serve", "--host", "127.0.0.1", "--port", "0", "--root"])
            .arg(job.layout.root())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        std::io::BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut first)
            .unwrap();
        let address = first
            .trim()
            .rsplit_once("http://")
            .unwrap_or_else(|| panic!("the first line says where: {first:?}"))
            .1
            .to_owned();
        Self { child, address }
    }

    /// One HTTP/1.1 exchange: the status, the Content-Type and the body.
    fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, String, String) {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&self.address).unwrap();
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.address,
            body.len()
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).unwrap();
        stream.write_all(body).unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).unwrap();
        let answer = String::from_utf8(answer).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        let content_type = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-type: ")
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        (status, content_type, body.to_owned())
    }

    fn post(&self, content_type: &str, accept: Option<&str>, body: &str) -> (u16, String, String) {
        let mut headers = vec![("Content-Type", content_type)];
        headers.extend(accept.map(|a| ("Accept", a)));
        self.call("POST", "/invocations", &headers, body.as_bytes())
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// The test rows as CSV: with the header and every column, or the features alone, no header.
fn test_rows_csv(job: &Job, header: bool) -> String {
    let mut test = read_table(&job.channel_file("test", "wine.csv")).unwrap();
    let mut out = Vec::new();
    if header {
        CsvWriter::new(&mut out).finish(&mut test).unwrap();
    } else {
        CsvWriter::new(&mut out)
            .include_header(false)
            .finish(&mut test.select(FEATURES).unwrap())
            .unwrap();
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn the_serve_entry_point_answers_the_inference_contract_and_survives_bad_requests() {
    let job = Job::wine(&[
        ("model", "logistic_regression"),
        ("target", "quality"),
        ("seed", "11"),
    ]);
    job.train();
    // What the job itself predicted for its test rows: the server must answer the same.
    let expected: Vec<String> = job
        .predictions("test")
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().to_owned())
        .collect();
    let served = Served::start(&job);
    assert_eq!(served.call("GET", "/ping", &[], b"").0, 200);

    // CSV without a header, the features in order: one line per row, the label then each class's
    // probability.
    let (status, content_type, body) = served.post("text/csv", None, &test_rows_csv(&job, false));
    assert_eq!((status, content_type.as_str()), (200, "text/csv"), "{body}");
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), 120);
    let labels: Vec<String> = lines
        .iter()
        .map(|l| l.split(',').next().unwrap().to_owned())
        .collect();
    assert_eq!(labels, expected);
    let shares: f64 = lines[0]
        .split(',')
        .skip(1)
        .map(|p| p.parse::<f64>().unwrap())
        .sum();
    assert!((shares - 1.0).abs() < 1e-9, "{}", lines[0]);

    // Rows cut from the file as they are, header and target included: columns go by name.
    let (status, _, by_name) =
        served.post("text/csv; charset=utf-8", None, &test_rows_csv(&job, true));
    assert_eq!(status, 200, "{by_name}");
    assert_eq!(by_name, body);

    // JSON Lines of objects, answered as JSON Lines; and as CSV when Accept says so.
    let test = read_table(&job.channel_file("test", "wine.csv")).unwrap();
    let mut objects = Vec::new();
    JsonWriter::new(&mut objects)
        .with_json_format(JsonFormat::JsonLines)
        .finish(&mut test.clone())
        .unwrap();
    let objects = String::from_utf8(objects).unwrap();
    let (status, content_type, answers) = served.post("application/jsonlines", None, &objects);
    assert_eq!(
        (status, content_type.as_str()),
        (200, "application/jsonlines"),
        "{answers}"
    );
    let answers: Vec<serde_json::Value> = answers
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let labels: Vec<String> = answers
        .iter()
        .map(|a| a["prediction"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(labels, expected);
    assert!(answers[0]["probabilities"].as_object().unwrap().len() > 1);
    let (_, content_type, as_csv) =
        served.post("application/jsonlines", Some("text/csv"), &objects);
    assert_eq!(
        (content_type.as_str(), as_csv.as_str()),
        ("text/csv", body.as_str())
    );

    // Bad requests: each refused with what and where, and the server goes on.
    let mut rows: Vec<String> = test_rows_csv(&job, false)
        .lines()
        .take(3)
        .map(str::to_owned)
        .collect();
    rows[2] = rows[2].rsplit_once(',').unwrap().0.to_owned() + ",abc";
    let (status, _, why) = served.post("text/csv", None, &rows.join("\n"));
    assert_eq!(status, 400);
    assert_eq!(why.trim(), "row 3, column alcohol: \"abc\" is not a number");
    let (status, _, why) = served.post("text/csv", None, "7.4,0.7\n");
    assert_eq!(status, 400);
    assert!(
        why.starts_with("row 1: 2 value(s), and the model takes 11 (fixed_acidity,"),
        "{why}"
    );
    let (status, _, why) = served.post("application/jsonlines", None, "{\"alcohol\": 9.4}\n");
    assert_eq!(status, 400);
    assert!(
        why.contains("row 1, column fixed_acidity: no value"),
        "{why}"
    );
    let (status, _, why) = served.post("application/jsonlines", None, "{not json\n");
    assert_eq!(status, 400);
    assert!(why.starts_with("line 1: not JSON"), "{why}");
    assert_eq!(
        served
            .post("application/x-www-form-urlencoded", None, "a=1")
            .0,
        415
    );
    assert_eq!(served.post("text/csv", Some("image/png"), &rows[0]).0, 406);
    let huge = format!("{}\n", rows[0]).repeat(7 * 1024 * 1024 / rows[0].len());
    let (status, _, why) = served.post("text/csv", None, &huge);
    assert_eq!(status, 413, "{why}");
    assert!(why.contains("6 MiB"), "{why}");
    // A missing value is imputed as in training, not refused.
    let gap = format!(",{}", rows[0].split_once(',').unwrap().1);
    assert_eq!(served.post("text/csv", None, &gap).0, 200);
    assert_eq!(served.call("GET", "/ping", &[], b"").0, 200);
}

#[test]
fn the_capture_holds_each_row_as_the_model_read_it_whatever_the_request_format() {
    use tollgate_trainer::serve::{capture_header, invoke};
    let job = Job::wine(&[
        ("model", "logistic_regression"),
        ("target", "quality"),
        ("seed", "11"),
    ]);
    job.train();
    let model = Model::load(&job.layout.model()).unwrap();
    let header = capture_header(&model, &["model_version"]);
    assert_eq!(
        header,
        format!("{},prediction,model_version\n", FEATURES.join(","))
    );
    // Three rows: plain decimals (a whole number gains `.0`), other spellings of numbers (in the
    // fewest digits that read back the same), and missing values (empty).
    let rows = [
        [
            "7.4", "0.7", "0", "1.9", "0.076", "11", "34", "0.9978", "3.51", "0.56", "9.4",
        ],
        [
            "+7.4", ".7", "0.", "1.9e0", "0.076", "11", "34", "0.9978", "3.51", "0.56", "9.4",
        ],
        [
            "NA", "", "0", "1.9", "0.076", "11", "34", "0.9978", "3.51", "0.56", " 9.4 ",
        ],
    ];
    let features = [
        "7.4,0.7,0.0,1.9,0.076,11.0,34.0,0.9978,3.51,0.56,9.4",
        "7.4,0.7,0.0,1.9,0.076,11.0,34.0,0.9978,3.51,0.56,9.4",
        ",,0.0,1.9,0.076,11.0,34.0,0.9978,3.51,0.56,9.4",
    ];
    let csv: String = rows.iter().map(|r| format!("{}\n", r.join(","))).collect();
    // A spreadsheet's byte order mark, and old Mac line ends (a lone CR, for the CSV reader),
    // read the same.
    for variant in [format!("\u{feff}{csv}"), csv.replace('\n', "\r")] {
        let same = invoke(&model, Some("text/csv"), None, variant.as_bytes()).unwrap();
        let plain = invoke(&model, Some("text/csv"), None, csv.as_bytes()).unwrap();
        assert_eq!(
            same.capture_csv(&[3]),
            plain.capture_csv(&[3]),
            "{variant:?}"
        );
        assert_eq!(same.body, plain.body);
    }
    let answered = invoke(&model, Some("text/csv"), None, csv.as_bytes()).unwrap();
    let labels: Vec<&str> = answered
        .body
        .lines()
        .map(|l| l.split(',').next().unwrap())
        .collect();
    let expected: String = features
        .iter()
        .zip(&labels)
        .map(|(f, label)| format!("{f},{label},3\n"))
        .collect();
    assert_eq!(answered.capture_csv(&[3]), expected);

    // The same rows quoted (read by the CSV reader, not split at commas), under a header that
    // names the features in another order, with the target: the same capture.
    let mut order: Vec<usize> = (0..FEATURES.len()).rev().collect();
    order.push(usize::MAX);
    let line = |cells: &dyn Fn(usize) -> String| {
        order
            .iter()
            .map(|&i| cells(i))
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut quoted = line(&|i| {
        FEATURES
            .get(i)
            .map_or("quality".into(), |f| format!("\"{f}\""))
    });
    quoted.push('\n');
    for row in &rows {
        quoted.push_str(&line(&|i| {
            row.get(i).map_or("5".into(), |v| format!("\"{v}\""))
        }));
        quoted.push_str("\r\n");
    }
    let answered = invoke(&model, Some("text/csv"), None, quoted.as_bytes()).unwrap();
    assert_eq!(answered.capture_csv(&[3]), expected);

    // JSON Lines: numbers as JSON has them, null for missing.
    let json: String = rows
        .iter()
        .map(|row| {
            let object: serde_json::Map<String, serde_json::Value> = FEATURES
                .iter()
                .zip(row)
                .map(|(f, v)| {
                    let value = v
                        .trim()
                        .parse::<f64>()
                        .map_or(serde_json::Value::Null, |n| serde_json::json!(n));
                    ((*f).to_owned(), value)
                })
                .collect();
            format!("{}\n", serde_json::Value::Object(object))
        })
        .collect();
    let answered = invoke(&model, Some("application/jsonlines"), None, json.as_bytes()).unwrap();
    assert_eq!(answered.capture_csv(&[3]), expected);
}
