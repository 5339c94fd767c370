//! Serving a trained model under SageMaker's inference container contract: `GET /ping` answers
//! 200 once the model is loaded, `POST /invocations` predicts the rows of its body. The image
//! runs as `<entrypoint> serve`, listens on port 8080 and finds the model in `/opt/ml/model`
//! (`model.json`, the preprocessing included). `tollgate up` answers the same requests at
//! `POST /models/<name>/invocations` with [`invoke`].
//!
//! Requests (`Content-Type`):
//! - `text/csv`: one row per line, the features in the model's order, no header; or a header
//!   line that names every feature, and then the columns go by name (others, the target among
//!   them, are ignored), so rows cut from a dataset file can be sent as they are.
//! - `application/jsonlines` (or `application/x-ndjson`): one JSON object per line, feature name
//!   to value, or one array of values in feature order.
//! - `application/json`: one such object, or an array of them.
//!
//! A missing value (an empty CSV field, `NA` and the other [`NULL_VALUES`], JSON `null`) is
//! imputed as in training; a key left out of a JSON object is an error, so that a misspelt name
//! is not silently a missing value. Rows are numbered from 1 in errors.
//!
//! Answers (`Accept`, by default the request's format): JSON Lines of
//! `{"prediction": …, "probabilities": {class: p, …}}`, one per row in order (probabilities
//! when the model gives them); CSV lines of the prediction then each class's probability, in
//! the order of the model's classes (sorted); or, for `application/json`, one array of the same
//! objects. Bad requests get a 4xx whose text names the row and column; the server never stops
//! on one.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tollgate_domain::contract::NULL_VALUES;

use crate::data::{Encoding, Values};
use crate::{Model, Predictions, TrainError};

/// The largest request body taken: SageMaker's limit for a real-time endpoint's payload.
pub const MAX_BODY_BYTES: usize = 6 * 1024 * 1024;

/// The port the contract listens on.
pub const PORT: u16 = 8080;

/// A body format, of a request or an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    JsonLines,
    Json,
}

impl Format {
    /// The format a `Content-Type` or `Accept` value names (parameters such as `charset` are
    /// ignored); `None` for one it does not know.
    pub fn of(media_type: &str) -> Option<Self> {
        let essence = media_type.split(';').next().unwrap_or("").trim();
        match essence.to_ascii_lowercase().as_str() {
            "text/csv" => Some(Self::Csv),
            "application/jsonlines"
            | "application/jsonl"
            | "application/x-ndjson"
            | "application/x-jsonlines" => Some(Self::JsonLines),
            "application/json" => Some(Self::Json),
            _ => None,
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv",
            Self::JsonLines => "application/jsonlines",
            Self::Json => "application/json",
        }
    }
}

/// A request refused, with the status and the text to answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ServeError {
    pub status: StatusCode,
    pub message: String,
}

impl ServeError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// What a value in a row and column got wrong.
    fn cell(row: usize, column: &str, reason: impl std::fmt::Display) -> Self {
        Self::bad(format!("row {row}, column {column}: {reason}"))
    }
}

impl IntoResponse for ServeError {
    fn into_response(self) -> Response {
        let mut response = (self.status, format!("{}\n", self.message)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        response
    }
}

/// A request predicted: the answer, and what capture keeps of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    pub rows: usize,
    pub format: Format,
    pub body: String,
    /// The features as the model read them, as CSV fields, for the capture: row `i` ends at
    /// `row_ends[i]`.
    features_text: String,
    row_ends: Vec<usize>,
    predictions: Predictions,
}

impl IntoResponse for Invocation {
    fn into_response(self) -> Response {
        let mut response = self.body.into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.format.media_type()),
        );
        response
    }
}

impl Invocation {
    /// The rows as the capture keeps them, CSV lines under [`capture_header`]: each feature's
    /// value as the model read it (a number as it was sent when it is a plain decimal, else in
    /// the fewest digits that read back the same; missing is empty), `prediction`, then the
    /// `extra` values. A request's own text is copied, not formatted again: capturing every
    /// row costs little beside answering it.
    pub fn capture_csv(&self, extra: &[u64]) -> String {
        let mut out = String::with_capacity(self.features_text.len() + self.rows * 24);
        let mut start = 0;
        for (i, &end) in self.row_ends.iter().enumerate() {
            out.push_str(&self.features_text[start..end]);
            start = end;
            out.push(',');
            match &self.predictions {
                Predictions::Classes { labels, .. } => push_csv_field(&mut out, &labels[i]),
                Predictions::Values(values) => push_number(&mut out, values[i]),
            }
            for value in extra {
                out.push(',');
                out.push_str(itoa::Buffer::new().format(*value));
            }
            out.push('\n');
        }
        out
    }
}

/// The header line of [`Invocation::capture_csv`]'s rows for `model`: its features in order,
/// `prediction`, then the `extra` names.
pub fn capture_header(model: &Model, extra: &[&str]) -> String {
    let mut out = String::new();
    for (k, name) in model.features().enumerate() {
        if k > 0 {
            out.push(',');
        }
        push_csv_field(&mut out, name);
    }
    out.push_str(",prediction");
    for name in extra {
        out.push(',');
        push_csv_field(&mut out, name);
    }
    out.push('\n');
    out
}

/// Predicts the rows of a request body. `content_type` and `accept` are the headers' values;
/// no `Accept` (or `*/*`) answers in the request's format.
pub fn invoke(
    model: &Model,
    content_type: Option<&str>,
    accept: Option<&str>,
    body: &[u8],
) -> Result<Invocation, ServeError> {
    let Some(content_type) = content_type else {
        return Err(ServeError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "no Content-Type: send text/csv, application/jsonlines or application/json",
        ));
    };
    let request = Format::of(content_type).ok_or_else(|| {
        ServeError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "Content-Type {content_type} is not taken: send text/csv, \
                 application/jsonlines or application/json"
            ),
        )
    })?;
    let answer = answer_format(accept, request)?;
    let text = std::str::from_utf8(body)
        .map_err(|e| ServeError::bad(format!("the body is not UTF-8 text: {e}")))?;
    let rows = match request {
        Format::Csv => csv_rows(model, text)?,
        Format::JsonLines => json_rows(model, json_lines(text)?)?,
        Format::Json => json_rows(model, json_document(text)?)?,
    };
    if rows.count == 0 {
        return Err(ServeError::bad("the body holds no row to predict"));
    }
    // Prediction is arithmetic on a checked matrix; should a model still panic, the request
    // fails and the server goes on.
    let predictions = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        model.predict_values(rows.count, &rows.columns)
    }))
    .map_err(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        ServeError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the model failed on this request: {what}"),
        )
    })?;
    if let Predictions::Values(values) = &predictions
        && let Some(row) = values.iter().position(|v| !v.is_finite())
    {
        return Err(ServeError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "row {}: the model predicts a value that is not a number",
                row + 1
            ),
        ));
    }
    let body = render(&predictions, answer);
    Ok(Invocation {
        rows: rows.count,
        format: answer,
        body,
        features_text: rows.text,
        row_ends: rows.ends,
        predictions,
    })
}

fn answer_format(accept: Option<&str>, request: Format) -> Result<Format, ServeError> {
    let Some(accept) = accept.map(str::trim).filter(|a| !a.is_empty()) else {
        return Ok(request);
    };
    let mut wildcard = false;
    for choice in accept.split(',') {
        if let Some(format) = Format::of(choice) {
            return Ok(format);
        }
        let essence = choice.split(';').next().unwrap_or("").trim();
        wildcard |= essence == "*/*" || essence == "application/*" || essence == "text/*";
    }
    if wildcard {
        return Ok(request);
    }
    Err(ServeError::new(
        StatusCode::NOT_ACCEPTABLE,
        format!(
            "Accept {accept} names no format this server writes: text/csv, \
             application/jsonlines or application/json"
        ),
    ))
}

/// A request's rows, one [`Values`] per feature, and their features as CSV text for the
/// capture (row `i` ending at `ends[i]`).
struct Rows {
    count: usize,
    columns: Vec<Values>,
    text: String,
    ends: Vec<usize>,
}

impl Rows {
    fn new(model: &Model) -> Self {
        let columns = model
            .preprocessing()
            .features
            .iter()
            .map(|f| match f.encoding {
                Encoding::Numeric { .. } => Values::Numbers(Vec::new()),
                Encoding::Categorical { .. } => Values::Texts(Vec::new()),
            })
            .collect();
        Self {
            count: 0,
            columns,
            text: String::new(),
            ends: Vec::new(),
        }
    }

    /// Ends a row: it is counted, and its capture text closed.
    fn end_row(&mut self) {
        self.count += 1;
        self.ends.push(self.text.len());
    }
}

fn is_missing(text: &str) -> bool {
    NULL_VALUES.contains(&text.trim())
}

/// A CSV field into its feature's column, and its capture text into `text`.
fn push_text(
    column: &mut Values,
    text: &mut String,
    row: usize,
    name: &str,
    field: &str,
) -> Result<(), ServeError> {
    match column {
        Values::Numbers(values) => {
            // A number first (most fields are); what is not one may be a missing value. (The
            // missing values that read as numbers, `NaN` and `nan`, are not finite.)
            let trimmed = field.trim();
            let value = match trimmed.parse::<f64>() {
                Ok(number) => number.is_finite().then_some(number),
                Err(_) if is_missing(trimmed) => None,
                Err(_) => {
                    return Err(ServeError::cell(
                        row,
                        name,
                        format!("{field:?} is not a number"),
                    ));
                }
            };
            if let Some(number) = value {
                push_captured_number(text, trimmed, number);
            }
            values.push(value);
        }
        Values::Texts(values) => {
            let value = (!is_missing(field)).then(|| field.to_owned());
            if let Some(value) = &value {
                push_csv_field(text, value);
            }
            values.push(value);
        }
    }
    Ok(())
}

/// A number as the capture keeps it: as it was sent when that is a plain decimal (`-12.5`; with
/// `.0` added to a whole one, so that every captured value reads back as a float), else (`3e-4`,
/// `+7`, `.5`) as `value` in the fewest digits that read back the same.
fn push_captured_number(text: &mut String, sent: &str, value: f64) {
    let bytes = sent.as_bytes();
    let digits = bytes.strip_prefix(b"-").unwrap_or(bytes);
    let (whole, rest) = digits.split_at(digits.iter().take_while(|b| b.is_ascii_digit()).count());
    let plain = !whole.is_empty()
        && match rest {
            [] => true,
            [b'.', fraction @ ..] => {
                !fraction.is_empty() && fraction.iter().all(u8::is_ascii_digit)
            }
            _ => false,
        };
    if plain {
        text.push_str(sent);
        if rest.is_empty() {
            text.push_str(".0");
        }
    } else {
        push_number(text, value);
    }
}

/// A JSON value into its feature's column, and its capture text into `text`.
fn push_json(
    column: &mut Values,
    text: &mut String,
    row: usize,
    name: &str,
    value: &Value,
) -> Result<(), ServeError> {
    match (column, value) {
        (Values::Numbers(values), Value::Null) => values.push(None),
        (Values::Numbers(values), Value::Number(n)) => {
            let number = n.as_f64().filter(|v| v.is_finite());
            if let Some(number) = number {
                push_number(text, number);
            }
            values.push(number);
        }
        (Values::Numbers(values), Value::Bool(b)) => {
            let number = f64::from(u8::from(*b));
            push_number(text, number);
            values.push(Some(number));
        }
        (column @ Values::Numbers(_), Value::String(field)) => {
            push_text(column, text, row, name, field)?;
        }
        // A missing value's marker is missing in JSON too, as in a CSV field and in training.
        (Values::Texts(values), Value::Null) => values.push(None),
        (Values::Texts(values), Value::String(level)) if is_missing(level) => values.push(None),
        (Values::Texts(values), value) => {
            let level = match value {
                Value::String(level) => level.clone(),
                // As training reads a number in a text column: 5 and 5.0 are the level "5".
                Value::Number(n) => match n.as_f64() {
                    Some(v) => format!("{v}"),
                    None => n.to_string(),
                },
                Value::Bool(b) => b.to_string(),
                other => {
                    return Err(ServeError::cell(
                        row,
                        name,
                        format!("{other} is not a value (a number, text or null)"),
                    ));
                }
            };
            push_csv_field(text, &level);
            values.push(Some(level));
        }
        (_, other) => {
            return Err(ServeError::cell(
                row,
                name,
                format!("{other} is not a value (a number, text or null)"),
            ));
        }
    }
    Ok(())
}

fn feature_list(model: &Model) -> String {
    model.features().collect::<Vec<_>>().join(", ")
}

/// The rows of a CSV body. Without a quote (or a lone `\r`) in it, a line is its fields split
/// at commas (RFC 4180 has nothing else to say of it), which spares building a CSV reader per
/// request; otherwise the `csv` crate reads it.
fn csv_rows(model: &Model, text: &str) -> Result<Rows, ServeError> {
    // A spreadsheet's "CSV UTF-8" starts with a byte order mark, as the CSV reader knows.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut table = CsvTable::new(model);
    // A lone `\r` ends a record for the CSV reader: such a body goes to it.
    let plain = !text.contains('"') && !text.split("\r\n").any(|part| part.contains('\r'));
    if plain {
        let mut fields = Vec::new();
        for record in text.split('\n') {
            let record = record.strip_suffix('\r').unwrap_or(record);
            fields.clear();
            fields.extend(record.split(','));
            table.take(&fields)?;
        }
    } else {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes());
        for (line, record) in reader.records().enumerate() {
            let record = record.map_err(|e| ServeError::bad(format!("line {}: {e}", line + 1)))?;
            let fields: Vec<&str> = record.iter().collect();
            table.take(&fields)?;
        }
    }
    Ok(table.rows)
}

/// A CSV body's rows as they are read, line by line.
struct CsvTable<'m> {
    model: &'m Model,
    features: Vec<&'m str>,
    rows: Rows,
    /// Which field holds each feature, under a header line; in order without one.
    positions: Option<Vec<usize>>,
    /// Whether a line that is not blank was read: the header can only be the first.
    started: bool,
}

impl<'m> CsvTable<'m> {
    fn new(model: &'m Model) -> Self {
        Self {
            model,
            features: model.features().collect(),
            rows: Rows::new(model),
            positions: None,
            started: false,
        }
    }

    /// A line of the body, as its fields: a blank line is skipped, a first line naming every
    /// feature is the header, any other is a row.
    fn take(&mut self, fields: &[&str]) -> Result<(), ServeError> {
        if fields.iter().all(|f| f.trim().is_empty()) {
            return Ok(());
        }
        if !std::mem::replace(&mut self.started, true) {
            let names: Vec<&str> = fields.iter().map(|f| f.trim()).collect();
            if self.features.iter().all(|f| names.contains(f)) {
                self.positions = Some(
                    self.features
                        .iter()
                        .map(|f| names.iter().position(|n| n == f).unwrap_or_default())
                        .collect(),
                );
                return Ok(());
            }
        }
        let row = self.rows.count + 1;
        let Rows { columns, text, .. } = &mut self.rows;
        match &self.positions {
            Some(positions) => {
                for (k, ((column, name), at)) in columns
                    .iter_mut()
                    .zip(&self.features)
                    .zip(positions)
                    .enumerate()
                {
                    let field = fields.get(*at).ok_or_else(|| {
                        ServeError::cell(row, name, "no value: the row is shorter than the header")
                    })?;
                    if k > 0 {
                        text.push(',');
                    }
                    push_text(column, text, row, name, field)?;
                }
            }
            None => {
                if fields.len() != self.features.len() {
                    return Err(ServeError::bad(format!(
                        "row {row}: {} value(s), and the model takes {} ({}), in that order; \
                         or send a header line naming them",
                        fields.len(),
                        self.features.len(),
                        feature_list(self.model)
                    )));
                }
                for (k, ((column, name), field)) in columns
                    .iter_mut()
                    .zip(&self.features)
                    .zip(fields)
                    .enumerate()
                {
                    if k > 0 {
                        text.push(',');
                    }
                    push_text(column, text, row, name, field)?;
                }
            }
        }
        self.rows.end_row();
        Ok(())
    }
}

/// The rows of a JSON Lines body, numbered.
fn json_lines(text: &str) -> Result<Vec<Value>, ServeError> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line)
                .map_err(|e| ServeError::bad(format!("line {}: not JSON: {e}", i + 1)))
        })
        .collect()
}

/// The rows of a JSON body: one object, or an array of objects (or of arrays).
fn json_document(text: &str) -> Result<Vec<Value>, ServeError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| ServeError::bad(format!("the body is not JSON: {e}")))?;
    Ok(match value {
        Value::Array(items) if items.iter().all(|i| i.is_object() || i.is_array()) => items,
        other => vec![other],
    })
}

fn json_rows(model: &Model, values: Vec<Value>) -> Result<Rows, ServeError> {
    let features: Vec<&str> = model.features().collect();
    let mut rows = Rows::new(model);
    for (i, value) in values.iter().enumerate() {
        let row = i + 1;
        let Rows { columns, text, .. } = &mut rows;
        match value {
            Value::Object(fields) => {
                for (k, (column, name)) in columns.iter_mut().zip(&features).enumerate() {
                    let value = fields.get(*name).ok_or_else(|| {
                        ServeError::cell(row, name, "no value (give null for a missing one)")
                    })?;
                    if k > 0 {
                        text.push(',');
                    }
                    push_json(column, text, row, name, value)?;
                }
            }
            Value::Array(items) => {
                if items.len() != features.len() {
                    return Err(ServeError::bad(format!(
                        "row {row}: {} value(s), and the model takes {} ({}), in that order",
                        items.len(),
                        features.len(),
                        feature_list(model)
                    )));
                }
                for (k, ((column, name), value)) in
                    columns.iter_mut().zip(&features).zip(items).enumerate()
                {
                    if k > 0 {
                        text.push(',');
                    }
                    push_json(column, text, row, name, value)?;
                }
            }
            other => {
                return Err(ServeError::bad(format!(
                    "row {row}: {other} is not a row: send an object of feature to value, or an \
                     array of values in the order {}",
                    feature_list(model)
                )));
            }
        }
        rows.end_row();
    }
    Ok(rows)
}

/// `text` as a JSON string.
fn push_json_text(out: &mut String, text: &str) {
    if text
        .chars()
        .all(|c| c != '"' && c != '\\' && !c.is_control())
    {
        out.push('"');
        out.push_str(text);
        out.push('"');
    } else {
        out.push_str(&Value::from(text).to_string());
    }
}

/// A number as JSON; missing is `null`.
fn push_json_number(out: &mut String, value: Option<f64>) {
    match value.filter(|v| v.is_finite()) {
        Some(v) => push_number(out, v),
        None => out.push_str("null"),
    }
}

/// A finite number, in the fewest digits that read back as the same `f64` (ryu, as serde_json
/// writes numbers).
fn push_number(out: &mut String, value: f64) {
    out.push_str(ryu::Buffer::new().format_finite(value));
}

/// Row `i`'s prediction as JSON: the label, or the value.
fn push_prediction(out: &mut String, predictions: &Predictions, i: usize) {
    match predictions {
        Predictions::Classes { labels, .. } => push_json_text(out, &labels[i]),
        Predictions::Values(values) => push_json_number(out, Some(values[i])),
    }
}

/// Row `i`'s answer as a JSON object: `prediction`, and `probabilities` when the model gives
/// them.
fn push_answer(out: &mut String, predictions: &Predictions, i: usize) {
    out.push_str("{\"prediction\":");
    push_prediction(out, predictions, i);
    if let Predictions::Classes {
        classes,
        probabilities: Some(p),
        ..
    } = predictions
    {
        out.push_str(",\"probabilities\":{");
        for (k, (class, p)) in classes.iter().zip(p.row(i)).enumerate() {
            if k > 0 {
                out.push(',');
            }
            push_json_text(out, class);
            out.push(':');
            push_json_number(out, Some(*p));
        }
        out.push('}');
    }
    out.push('}');
}

/// A CSV field, quoted when it must be.
fn push_csv_field(out: &mut String, text: &str) {
    if text.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(text);
    }
}

fn render(predictions: &Predictions, format: Format) -> String {
    let rows = predictions.len();
    let mut out = String::with_capacity(rows * 64);
    match format {
        Format::JsonLines => {
            for i in 0..rows {
                push_answer(&mut out, predictions, i);
                out.push('\n');
            }
        }
        Format::Json => {
            out.push('[');
            for i in 0..rows {
                if i > 0 {
                    out.push(',');
                }
                push_answer(&mut out, predictions, i);
            }
            out.push(']');
        }
        Format::Csv => {
            for i in 0..rows {
                match predictions {
                    Predictions::Classes {
                        labels,
                        probabilities,
                        ..
                    } => {
                        push_csv_field(&mut out, &labels[i]);
                        for p in probabilities.iter().flat_map(|p| p.row(i).to_vec()) {
                            out.push(',');
                            push_number(&mut out, p);
                        }
                    }
                    Predictions::Values(values) => push_number(&mut out, values[i]),
                }
                out.push('\n');
            }
        }
    }
    out
}

/// The request's body, or the answer to a body too large (or cut short).
pub fn body_or_refusal(
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Bytes, ServeError> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ServeError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the body is larger than {} MiB: send fewer rows per request",
                    MAX_BODY_BYTES >> 20
                ),
            )
        } else {
            ServeError::new(e.status(), format!("reading the body: {e}"))
        }
    })
}

/// A header's value as text, when it is text.
pub fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `/ping` and `/invocations` for one loaded model: the container's routes.
pub fn router(model: Arc<Model>) -> Router {
    Router::new()
        .route("/ping", get(|| async { StatusCode::OK }))
        .route("/invocations", post(invocations))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(model)
}

async fn invocations(
    State(model): State<Arc<Model>>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Invocation, ServeError> {
    let body = body_or_refusal(body)?;
    invoke(
        &model,
        header_text(&headers, header::CONTENT_TYPE),
        header_text(&headers, header::ACCEPT),
        &body,
    )
}

/// `serve`: loads `<root>/model/model.json` and answers on `address` until SIGTERM or Ctrl-C.
pub fn serve(root: &Path, address: SocketAddr) -> Result<(), TrainError> {
    let path = root.join("model").join("model.json");
    let model = Arc::new(Model::load(&path)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| TrainError::io("starting the server", root, e))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|e| TrainError::io("listening on", Path::new(&address.to_string()), e))?;
        let bound = listener
            .local_addr()
            .map_err(|e| TrainError::io("listening on", Path::new(&address.to_string()), e))?;
        println!(
            "serving {} ({} model of {}) on http://{bound}",
            path.display(),
            model.family(),
            model.target()
        );
        axum::serve(listener, router(model))
            .with_graceful_shutdown(stopped())
            .await
            .map_err(|e| TrainError::io("serving on", Path::new(&bound.to_string()), e))
    })
}

/// SIGTERM (how SageMaker stops a container, and service managers a server) or Ctrl-C.
pub async fn stopped() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
