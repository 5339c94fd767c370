//! SageMaker's data capture, read as the monitor reads its own: an endpoint with data capture
//! writes JSON Lines under its S3 prefix, a record per request, each holding the request's body
//! (`captureData.endpointInput`) and the answer (`endpointOutput`), as text (`"encoding": "CSV"`
//! or `"JSON"`) or base64 (`"BASE64"`). The bodies follow the serving contract
//! (`tollgate_trainer::serve`): CSV rows of the features in the model's order (or under a header
//! naming them), or JSON Lines of objects; answers of CSV lines starting with the prediction, or
//! JSON Lines with `prediction`.

use std::io::BufRead;
use std::path::Path;

use base64::Engine;
use polars::prelude::*;
use serde_json::Value;

/// Whether the file's first record is a SageMaker capture record.
pub fn is_capture(path: &Path) -> Result<bool, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let first = std::io::BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .find(|l| !l.trim().is_empty());
    Ok(first.is_some_and(|line| {
        serde_json::from_str::<Value>(&line).is_ok_and(|v| v.get("captureData").is_some())
    }))
}

/// One side of a record: its content type and its text.
fn payload(record: &Value, side: &str, event: &str) -> Result<(String, String), String> {
    let part = &record["captureData"][side];
    let data = part["data"]
        .as_str()
        .ok_or_else(|| format!("event {event}: no {side}.data"))?;
    let text = match part["encoding"].as_str().unwrap_or("CSV") {
        "BASE64" => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data)
                .map_err(|e| format!("event {event}: {side} is not base64: {e}"))?;
            String::from_utf8(bytes).map_err(|e| format!("event {event}: {side}: {e}"))?
        }
        _ => data.to_owned(),
    };
    let content_type = part["observedContentType"]
        .as_str()
        .unwrap_or("text/csv")
        .to_ascii_lowercase();
    Ok((content_type, text))
}

fn csv_records(text: &str) -> Result<Vec<Vec<String>>, String> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
        .records()
        .filter(|r| {
            r.as_ref()
                .map_or(true, |r| r.iter().any(|f| !f.trim().is_empty()))
        })
        .map(|r| {
            r.map(|r| r.iter().map(str::to_owned).collect())
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// A JSON value as a CSV field: text as it is, `null` as empty.
fn field(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The rows of a request body, each the features' values in `features`' order.
fn inputs(content_type: &str, text: &str, features: &[String]) -> Result<Vec<Vec<String>>, String> {
    if content_type.contains("json") {
        return text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str::<Value>(l).map_err(|e| e.to_string()))
            .map(|row| {
                let row = row?;
                Ok(features.iter().map(|f| field(&row[f.as_str()])).collect())
            })
            .collect();
    }
    if features.is_empty() {
        return Err(
            "the model's features are not known (no model.json): its CSV has no names".into(),
        );
    }
    let mut records = csv_records(text)?;
    let header = records
        .first()
        .filter(|first| features.iter().all(|f| first.contains(f)));
    let positions: Vec<usize> = match header {
        Some(names) => features
            .iter()
            .map(|f| names.iter().position(|n| n == f).unwrap_or_default())
            .collect(),
        None => (0..features.len()).collect(),
    };
    if header.is_some() {
        records.remove(0);
    }
    records
        .into_iter()
        .map(|r| {
            positions
                .iter()
                .map(|p| {
                    r.get(*p)
                        .cloned()
                        .ok_or_else(|| format!("a row of {} values", r.len()))
                })
                .collect()
        })
        .collect()
}

/// The predictions of an answer body, one per row.
fn predictions(content_type: &str, text: &str) -> Result<Vec<String>, String> {
    if content_type.contains("json") {
        let trimmed = text.trim_start();
        let values: Vec<Value> = if trimmed.starts_with('[') {
            serde_json::from_str(trimmed).map_err(|e| e.to_string())?
        } else {
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| serde_json::from_str(l).map_err(|e| e.to_string()))
                .collect::<Result<_, String>>()?
        };
        return Ok(values.iter().map(|v| field(&v["prediction"])).collect());
    }
    Ok(csv_records(text)?
        .into_iter()
        .map(|r| r.into_iter().next().unwrap_or_default())
        .collect())
}

/// The records of a capture file as one frame: the features, and `prediction`.
pub fn read(path: &Path, features: &[String]) -> Result<DataFrame, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<&str> = features.iter().map(String::as_str).collect();
    header.push("prediction");
    out.write_record(&header).map_err(|e| e.to_string())?;
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let record: Value =
            serde_json::from_str(line).map_err(|e| format!("line {}: not JSON: {e}", i + 1))?;
        let event = record["eventMetadata"]["eventId"]
            .as_str()
            .map_or_else(|| format!("on line {}", i + 1), str::to_owned);
        let (input_type, input) = payload(&record, "endpointInput", &event)?;
        let (output_type, output) = payload(&record, "endpointOutput", &event)?;
        let rows =
            inputs(&input_type, &input, features).map_err(|e| format!("event {event}: {e}"))?;
        let answers =
            predictions(&output_type, &output).map_err(|e| format!("event {event}: {e}"))?;
        if rows.len() != answers.len() {
            return Err(format!(
                "event {event}: {} input row(s) and {} prediction(s)",
                rows.len(),
                answers.len()
            ));
        }
        for (mut row, answer) in rows.into_iter().zip(answers) {
            row.push(answer);
            out.write_record(&row).map_err(|e| e.to_string())?;
        }
    }
    let bytes = out.into_inner().map_err(|e| e.to_string())?;
    CsvReadOptions::default()
        .with_has_header(true)
        .into_reader_with_file_handle(std::io::Cursor::new(bytes))
        .finish()
        .map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, input: (&str, &str, &str), output: (&str, &str, &str)) -> String {
        serde_json::json!({
            "captureData": {
                "endpointInput": {"observedContentType": input.0, "mode": "INPUT", "data": input.1, "encoding": input.2},
                "endpointOutput": {"observedContentType": output.0, "mode": "OUTPUT", "data": output.1, "encoding": output.2},
            },
            "eventMetadata": {"eventId": id, "inferenceTime": "2026-12-03T10:00:00Z"},
            "eventVersion": "0",
        })
        .to_string()
    }

    #[test]
    fn sagemakers_capture_reads_as_features_and_predictions_whatever_its_encoding() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("capture.jsonl");
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let lines = [
            // Two CSV rows in one request, as text; the answer's probabilities are ignored.
            record(
                "a",
                ("text/csv", "7.4,9.4\n7.8,9.8\n", "CSV"),
                ("text/csv; charset=utf-8", "5,0.1,0.9\n6,0.8,0.2\n", "CSV"),
            ),
            // Base64, with a header naming the columns in another order.
            record(
                "b",
                ("text/csv", &b64("alcohol,acidity\n10.5,6.9\n"), "BASE64"),
                (
                    "application/jsonlines",
                    &b64("{\"prediction\":\"7\"}\n"),
                    "BASE64",
                ),
            ),
            // JSON Lines in, with a missing value.
            record(
                "c",
                (
                    "application/jsonlines",
                    "{\"acidity\": null, \"alcohol\": 11.0}\n",
                    "JSON",
                ),
                ("application/jsonlines", "{\"prediction\":\"6\"}\n", "JSON"),
            ),
        ];
        std::fs::write(&path, lines.join("\n")).unwrap();
        assert!(is_capture(&path).unwrap());
        let features = ["acidity".to_owned(), "alcohol".to_owned()];
        let frame = read(&path, &features).unwrap();
        assert_eq!(frame.height(), 4);
        let alcohol: Vec<Option<f64>> = frame
            .column("alcohol")
            .unwrap()
            .f64()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(alcohol, [Some(9.4), Some(9.8), Some(10.5), Some(11.0)]);
        assert_eq!(frame.column("acidity").unwrap().null_count(), 1);
        let predicted: Vec<i64> = frame
            .column("prediction")
            .unwrap()
            .i64()
            .unwrap()
            .iter()
            .flatten()
            .collect();
        assert_eq!(predicted, [5, 6, 7, 6]);

        // A record whose rows and answers disagree is named.
        std::fs::write(
            &path,
            record(
                "d",
                ("text/csv", "1,2\n3,4\n", "CSV"),
                ("text/csv", "5\n", "CSV"),
            ),
        )
        .unwrap();
        let err = read(&path, &features).unwrap_err();
        assert_eq!(err, "event d: 2 input row(s) and 1 prediction(s)");
    }
}
