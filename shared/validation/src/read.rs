//! Reading an upload: hashing its bytes, telling its format, checking that text is UTF-8 without
//! control characters and that CSV rows line up with the header, then parsing it with polars.
//! Whatever is wrong becomes a [`Finding`] that says what and where; only I/O failures are errors.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use sha2::{Digest, Sha256};
use tollgate_domain::report::Finding;
use tollgate_domain::{ColumnType, ContentHash, Contract, UploadedFile};

use crate::ValidationError;

const CHUNK: usize = 1 << 20;

/// What an upload may not exceed, each refused as a finding that says which and where (the
/// upload quarantined with its report, like any other), before it can fill memory or disk.
pub mod limits {
    /// The header row: a longer one is not a header but a file without newlines.
    pub const MAX_HEADER_BYTES: usize = 16 << 20;
    pub const MAX_COLUMNS: usize = 100_000;
    /// A gzip upload may decompress to this many times its size (CSV compresses 5 to 20 times;
    /// a decompression bomb, a million times) ...
    pub const MAX_DECOMPRESSION_RATIO: u64 = 200;
    /// ... or to this much, whichever is more, for small files.
    pub const MIN_DECOMPRESSED_ALLOWANCE: u64 = 256 << 20;
    /// Arrays and objects within one another in a JSON Lines record: the JSON reader recurses
    /// once per level, and a record nested a hundred thousand deep overflowed its stack.
    pub const MAX_JSON_DEPTH: usize = 64;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Format {
    Csv,
    JsonLines,
    Parquet,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::JsonLines => "jsonl",
            Self::Parquet => "parquet",
        }
    }
}

/// The SHA-256 and size of a file, streamed, and its first bytes.
#[derive(Debug, Clone)]
pub struct Fingerprint {
    pub hash: ContentHash,
    pub bytes: u64,
    pub head: Vec<u8>,
}

pub fn fingerprint(path: &Path) -> Result<Fingerprint, ValidationError> {
    let mut file =
        File::open(path).map_err(|e| ValidationError::io("opening the upload", path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut head = Vec::new();
    let mut bytes = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| ValidationError::io("reading the upload", path, e))?;
        if n == 0 {
            break;
        }
        if head.len() < 512 {
            head.extend_from_slice(&buf[..n.min(512 - head.len())]);
        }
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
    let hash =
        ContentHash::parse(&hex::encode(hasher.finalize())).expect("sha-256 is 64 hex digits");
    Ok(Fingerprint { hash, bytes, head })
}

/// The content hash of an upload of many files: the SHA-256 of `sha256sum`'s lines for them
/// (`<hex>  <name>\n`) in name order (bytewise), so that `LC_ALL=C sha256sum -- * | sha256sum`
/// in the folder, its markers left out, gives it too.
pub fn files_hash(files: &[UploadedFile]) -> ContentHash {
    let mut sorted: Vec<&UploadedFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    let mut hasher = Sha256::new();
    for f in sorted {
        hasher.update(format!("{}  {}\n", f.sha256.as_str(), f.name).as_bytes());
    }
    ContentHash::parse(&hex::encode(hasher.finalize())).expect("sha-256 is 64 hex digits")
}

/// What reading found: the frame when it parsed, and the findings either way.
#[derive(Debug)]
pub struct Parsed {
    pub format: Format,
    pub frame: Option<DataFrame>,
    pub findings: Vec<Finding>,
}

impl Parsed {
    /// An upload that did not parse, and why.
    fn failed(format: Format, finding: Finding) -> Self {
        Self {
            format,
            frame: None,
            findings: vec![finding],
        }
    }

    /// A frame that parsed; zero rows is still a finding.
    fn frame(format: Format, frame: DataFrame) -> Self {
        if frame.height() == 0 {
            return Self::failed(
                format,
                Finding::error(
                    "rows",
                    "the file holds no rows (zero rows are never accepted)",
                ),
            );
        }
        Self {
            format,
            frame: Some(frame),
            findings: Vec::new(),
        }
    }
}

fn parse_error(message: impl Into<String>) -> Finding {
    Finding::error("parse", message)
}

/// Reads an upload whose fingerprint is known.
pub fn parse(
    path: &Path,
    file_name: &str,
    fp: &Fingerprint,
    contract: Option<&Contract>,
) -> Result<Parsed, ValidationError> {
    let lower = file_name.to_ascii_lowercase();
    if fp.bytes == 0 {
        let format = guess_text_format(&lower, &[]);
        return Ok(Parsed::failed(
            format,
            parse_error("the file is empty (0 bytes)"),
        ));
    }
    if fp.head.starts_with(b"PAR1") || lower.ends_with(".parquet") {
        return Ok(read_parquet_upload(path));
    }
    let gzip = fp.head.starts_with(&[0x1f, 0x8b]);
    if !gzip && lower.ends_with(".gz") {
        return Ok(Parsed::failed(
            guess_text_format(lower.trim_end_matches(".gz"), &fp.head),
            parse_error("the file name ends in .gz but the content is not gzip-compressed"),
        ));
    }
    let bom = fp.head.starts_with(b"\xef\xbb\xbf");
    if !gzip && !bom && guess_text_format(&lower, &fp.head) == Format::Csv {
        return read_plain_csv(path, &lower, contract);
    }
    // Other text: decompress if needed, drop a byte-order mark, and check every byte on the way
    // into the copy polars reads.
    let staged = if gzip || bom {
        Some(
            tempfile::NamedTempFile::new()
                .map_err(|e| ValidationError::io("creating a temporary file", &temp_dir(), e))?,
        )
    } else {
        None
    };
    let input = File::open(path).map_err(|e| ValidationError::io("opening the upload", path, e))?;
    let name_inside = lower.trim_end_matches(".gz").to_owned();
    let sink = staged.as_ref().map(|t| t.as_file());
    let scan = if gzip {
        let decoder = flate2::read::MultiGzDecoder::new(BufReader::with_capacity(CHUNK, input));
        let allowance = fp
            .bytes
            .saturating_mul(limits::MAX_DECOMPRESSION_RATIO)
            .max(limits::MIN_DECOMPRESSED_ALLOWANCE);
        scan_text(decoder, &name_inside, sink, Some(allowance))
    } else {
        scan_text(input, &name_inside, sink, None)
    };
    let scan = match scan {
        Ok(scan) => scan,
        Err(ScanError::Decode(e)) => {
            return Ok(Parsed::failed(
                guess_text_format(&name_inside, &[]),
                parse_error(format!("the gzip stream is corrupt: {e}")),
            ));
        }
        Err(ScanError::Write(e)) => {
            return Err(ValidationError::io(
                "writing a temporary file",
                &temp_dir(),
                e,
            ));
        }
    };
    if !scan.findings.is_empty() {
        return Ok(Parsed {
            format: scan.format,
            frame: None,
            findings: scan.findings,
        });
    }
    let text_path = staged
        .as_ref()
        .map(|t| t.path())
        .unwrap_or(path)
        .to_path_buf();
    let parsed = match scan.format {
        Format::Csv => read_csv(&text_path, &scan, contract),
        Format::JsonLines => read_json_lines(&text_path),
        Format::Parquet => unreachable!("text is never parquet"),
    };
    Ok(parsed)
}

fn guess_text_format(lower_name: &str, head: &[u8]) -> Format {
    if [".jsonl", ".ndjson", ".json"]
        .iter()
        .any(|e| lower_name.ends_with(e))
    {
        return Format::JsonLines;
    }
    let first = head
        .strip_prefix(b"\xef\xbb\xbf")
        .unwrap_or(head)
        .iter()
        .find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'{') {
        Format::JsonLines
    } else {
        Format::Csv
    }
}

#[derive(Debug)]
enum ScanError {
    Decode(std::io::Error),
    Write(std::io::Error),
}

#[derive(Debug, Clone)]
struct TextScan {
    format: Format,
    header: Vec<String>,
    /// Data records (CSV) or non-blank lines (JSON Lines).
    records: u64,
    findings: Vec<Finding>,
}

/// One pass over the text: UTF-8, control characters, and for CSV the record structure.
/// `max_bytes`: the most text to read (a compressed upload's allowance), a finding past it.
fn scan_text(
    mut input: impl Read,
    name: &str,
    sink: Option<&File>,
    max_bytes: Option<u64>,
) -> Result<TextScan, ScanError> {
    let mut sink = sink.map(|f| std::io::BufWriter::with_capacity(CHUNK, f));
    let mut buf = vec![0u8; CHUNK];
    let mut carry: Vec<u8> = Vec::new();
    let mut first = true;
    let mut format = Format::Csv;
    let mut csv = CsvShape::new();
    let mut line: u64 = 1;
    let mut offset: u64 = 0;
    let mut findings = Vec::new();
    let mut json_records = 0u64;
    let mut line_has_content = false;
    let mut json = JsonDepth::default();
    let mut read: u64 = 0;
    loop {
        let n = input.read(&mut buf).map_err(ScanError::Decode)?;
        if n == 0 {
            break;
        }
        read += n as u64;
        if let Some(max) = max_bytes
            && read > max
        {
            findings.push(parse_error(format!(
                "the gzip stream decompresses to more than {max} bytes ({} times the upload, or \
                 {} MiB: the limit), so it is refused as a possible decompression bomb; upload \
                 it uncompressed, or in parts",
                limits::MAX_DECOMPRESSION_RATIO,
                limits::MIN_DECOMPRESSED_ALLOWANCE >> 20
            )));
            break;
        }
        let mut chunk = &buf[..n];
        if first {
            first = false;
            chunk = chunk.strip_prefix(b"\xef\xbb\xbf").unwrap_or(chunk);
            format = guess_text_format(name, chunk);
        }
        if let Some(sink) = sink.as_mut() {
            sink.write_all(chunk).map_err(ScanError::Write)?;
        }

        // UTF-8, across chunk boundaries.
        let mut joined;
        let text: &[u8] = if carry.is_empty() {
            chunk
        } else {
            joined = std::mem::take(&mut carry);
            joined.extend_from_slice(chunk);
            &joined[..]
        };
        let valid_len = match std::str::from_utf8(text) {
            Ok(_) => text.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(e) => {
                let at = e.valid_up_to();
                let bad_line = line + count_newlines(&text[..at]);
                findings.push(
                    parse_error(format!(
                        "the file is not UTF-8 text: byte 0x{:02x} at line {bad_line} (byte offset {}) is not valid UTF-8",
                        text[at],
                        offset + at as u64
                    ))
                    .row(bad_line.saturating_sub(1).max(1)),
                );
                break;
            }
        };
        let (checked, rest) = text.split_at(valid_len);
        // The common case, no control character, is two branch-free passes the compiler
        // vectorizes; the byte-by-byte walk only runs to say where a bad byte is.
        if checked.iter().fold(false, |bad, &b| bad | is_control(b)) {
            let at = checked
                .iter()
                .position(|&b| is_control(b))
                .unwrap_or_default();
            let bad_line = line + count_newlines(&checked[..at]);
            findings.push(parse_error(format!(
                "control character U+{:04X} at line {bad_line}; text fields must not contain control characters other than tab",
                checked[at]
            )));
            break;
        }
        if format == Format::JsonLines {
            if let Some(at) = json.feed(checked) {
                let bad_line = line + count_newlines(&checked[..at]);
                findings.push(
                    parse_error(format!(
                        "line {bad_line} is nested deeper than {} arrays or objects (the limit)",
                        limits::MAX_JSON_DEPTH
                    ))
                    .row(json_records + 1),
                );
                break;
            }
            for piece in checked.split_inclusive(|&b| b == b'\n') {
                line_has_content |= piece.iter().any(|b| !b.is_ascii_whitespace());
                if piece.ends_with(b"\n") {
                    if line_has_content {
                        json_records += 1;
                    }
                    line_has_content = false;
                }
            }
        }
        line += count_newlines(checked);
        if format == Format::Csv {
            csv.feed(checked);
        }
        offset += checked.len() as u64;
        carry = rest.to_vec();
    }
    if findings.is_empty() && !carry.is_empty() {
        findings.push(parse_error(format!(
            "the file is not UTF-8 text: it ends inside a multi-byte character at line {line}"
        )));
    }
    if line_has_content {
        json_records += 1;
    }
    if let Some(sink) = sink.as_mut() {
        sink.flush().map_err(ScanError::Write)?;
    }
    let mut scan = TextScan {
        format,
        header: Vec::new(),
        records: json_records,
        findings,
    };
    if format == Format::Csv && scan.findings.is_empty() {
        let shape = csv.finish();
        scan.header = shape.header;
        scan.records = shape.records;
        scan.findings = shape.findings;
    }
    Ok(scan)
}

/// Whether a JSON Lines file stays within [`limits::MAX_JSON_DEPTH`], before a JSON reader
/// (which recurses once per level) is given it: the line that does not, when one does not.
pub fn check_json_depth(path: &Path) -> Result<(), String> {
    let mut file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (mut json, mut buf, mut line) = (JsonDepth::default(), vec![0u8; CHUNK], 1u64);
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if n == 0 {
            return Ok(());
        }
        if let Some(at) = json.feed(&buf[..n]) {
            return Err(format!(
                "line {} is nested deeper than {} arrays or objects (the limit)",
                line + count_newlines(&buf[..at]),
                limits::MAX_JSON_DEPTH
            ));
        }
        line += count_newlines(&buf[..n]);
    }
}

/// How deep the JSON Lines text read so far is nested, across chunks.
#[derive(Debug, Default)]
struct JsonDepth {
    depth: usize,
    in_string: bool,
    escaped: bool,
}

impl JsonDepth {
    /// Reads `text`; the offset of the first byte past [`limits::MAX_JSON_DEPTH`], if any.
    fn feed(&mut self, text: &[u8]) -> Option<usize> {
        for (i, &b) in text.iter().enumerate() {
            if self.in_string {
                match b {
                    _ if self.escaped => self.escaped = false,
                    b'\\' => self.escaped = true,
                    b'"' => self.in_string = false,
                    // A string left open ends with its record, as the record's nesting does.
                    b'\n' => {
                        self.in_string = false;
                        self.depth = 0;
                    }
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'[' | b'{' => {
                    self.depth += 1;
                    if self.depth > limits::MAX_JSON_DEPTH {
                        return Some(i);
                    }
                }
                b']' | b'}' => self.depth = self.depth.saturating_sub(1),
                // A record ends at its line: whatever it left open is its own finding.
                b'\n' => self.depth = 0,
                _ => {}
            }
        }
        None
    }
}

/// C0 controls other than tab, line feed and carriage return, and DEL.
fn is_control(b: u8) -> bool {
    (b < 0x20 && b != b'\t' && b != b'\n' && b != b'\r') || b == 0x7f
}

fn count_newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

/// CSV structure, fed chunk by chunk: the header's names (read by csv-core, which unquotes
/// them), then, for every data record, whether it has as many fields as the header. Data records
/// are only counted, never copied: memchr jumps from one `,` `"` or newline to the next, with
/// csv-core's quoting rules (a quote opens a quoted field only at the field's start; `""` inside
/// one is a quote).
struct CsvShape {
    header_reader: csv_core::Reader,
    out: Vec<u8>,
    out_len: usize,
    ends: Vec<usize>,
    ends_len: usize,
    header: Option<Vec<String>>,
    /// Past a limit: the finding says which, and nothing more is read.
    refused: bool,
    /// Bytes seen so far: positions below are offsets into the whole text.
    offset: u64,
    line: u64,
    record_line: u64,
    record_start: u64,
    field_start: u64,
    fields: usize,
    in_quotes: bool,
    /// Where a quote right after a closing quote would be an escaped quote.
    reopen_at: Option<u64>,
    records: u64,
    findings: Vec<Finding>,
}

struct CsvFacts {
    header: Vec<String>,
    records: u64,
    findings: Vec<Finding>,
}

impl CsvShape {
    fn new() -> Self {
        Self {
            header_reader: csv_core::Reader::new(),
            out: vec![0; 64 * 1024],
            out_len: 0,
            ends: vec![0; 1024],
            ends_len: 0,
            header: None,
            refused: false,
            offset: 0,
            line: 1,
            record_line: 1,
            record_start: 0,
            field_start: 0,
            fields: 1,
            in_quotes: false,
            reopen_at: None,
            records: 0,
            findings: Vec::new(),
        }
    }

    fn feed(&mut self, mut input: &[u8]) {
        if self.refused {
            return;
        }
        if self.header.is_none() {
            let consumed = self.feed_header(input);
            input = &input[consumed..];
            if self.header.is_none() {
                return;
            }
        }
        let base = self.offset;
        for pos in memchr::memchr3_iter(b',', b'"', b'\n', input) {
            let at = base + pos as u64;
            match input[pos] {
                b'"' => {
                    if self.in_quotes {
                        self.in_quotes = false;
                        self.reopen_at = Some(at + 1);
                    } else if at == self.field_start || self.reopen_at == Some(at) {
                        self.in_quotes = true;
                    }
                }
                b',' if !self.in_quotes => {
                    self.fields += 1;
                    self.field_start = at + 1;
                }
                b'\n' => {
                    self.line += 1;
                    if !self.in_quotes {
                        // A record of nothing but an optional carriage return is a blank line.
                        let blank = self.fields == 1
                            && (at == self.record_start
                                || (at == self.record_start + 1
                                    && pos > 0
                                    && input[pos - 1] == b'\r'));
                        if !blank {
                            self.end_record();
                        }
                        self.fields = 1;
                        self.record_start = at + 1;
                        self.field_start = at + 1;
                        self.record_line = self.line;
                    }
                }
                _ => {}
            }
        }
        self.offset += input.len() as u64;
    }

    /// Feeds csv-core until the header record ends; returns the bytes it consumed.
    fn feed_header(&mut self, input: &[u8]) -> usize {
        let mut consumed = 0;
        loop {
            let (result, nin, nout, nend) = self.header_reader.read_record(
                &input[consumed..],
                &mut self.out[self.out_len..],
                &mut self.ends[self.ends_len..],
            );
            consumed += nin;
            self.out_len += nout;
            self.ends_len += nend;
            match result {
                csv_core::ReadRecordResult::InputEmpty | csv_core::ReadRecordResult::End => {
                    self.offset += consumed as u64;
                    return consumed;
                }
                csv_core::ReadRecordResult::OutputFull => {
                    let len = self.out.len();
                    if len >= limits::MAX_HEADER_BYTES {
                        self.refuse(format!(
                            "the header row is longer than {} MiB (the limit): is the file \
                             missing its line breaks?",
                            limits::MAX_HEADER_BYTES >> 20
                        ));
                        return input.len();
                    }
                    self.out.resize(len * 2, 0);
                }
                csv_core::ReadRecordResult::OutputEndsFull => {
                    let len = self.ends.len();
                    self.ends.resize(len * 2, 0);
                }
                csv_core::ReadRecordResult::Record => {
                    self.take_header();
                    let columns = self.header.as_ref().map_or(0, Vec::len);
                    if columns > limits::MAX_COLUMNS {
                        self.refuse(format!(
                            "the header names {columns} columns, above the limit of {}",
                            limits::MAX_COLUMNS
                        ));
                        return input.len();
                    }
                    self.offset += consumed as u64;
                    self.line = self.header_reader.line();
                    self.record_line = self.line;
                    self.record_start = self.offset;
                    self.field_start = self.offset;
                    return consumed;
                }
            }
        }
    }

    /// Stops reading: `reason` is the upload's one finding.
    fn refuse(&mut self, reason: String) {
        self.refused = true;
        self.header = Some(Vec::new());
        self.out = Vec::new();
        self.ends = Vec::new();
        self.findings = vec![parse_error(reason)];
    }

    fn take_header(&mut self) {
        let mut names = Vec::with_capacity(self.ends_len);
        let mut start = 0;
        for &end in &self.ends[..self.ends_len] {
            names.push(
                String::from_utf8_lossy(&self.out[start..end])
                    .trim()
                    .to_owned(),
            );
            start = end;
        }
        self.header = Some(names);
        self.out = Vec::new();
        self.ends = Vec::new();
    }

    fn end_record(&mut self) {
        self.records += 1;
        let expected = self.header.as_ref().map_or(0, Vec::len);
        if self.fields != expected && self.findings.len() < 5 {
            let (fields, line) = (self.fields, self.record_line);
            self.findings.push(
                parse_error(format!(
                    "line {line} has {fields} field{}, the header has {expected}",
                    if fields == 1 { "" } else { "s" },
                ))
                .row(self.records),
            );
        }
    }

    fn finish(mut self) -> CsvFacts {
        if self.refused {
            return CsvFacts {
                header: Vec::new(),
                records: self.records,
                findings: self.findings,
            };
        }
        if self.header.is_none() {
            // A file without a newline: its only record is the header.
            let mut ends = std::mem::take(&mut self.ends);
            let (result, _, nout, nend) = self.header_reader.read_record(
                &[],
                &mut self.out[self.out_len..],
                &mut ends[self.ends_len..],
            );
            self.ends = ends;
            self.out_len += nout;
            self.ends_len += nend;
            if result == csv_core::ReadRecordResult::Record {
                self.take_header();
            }
        } else if self.in_quotes {
            self.findings.insert(
                0,
                parse_error(format!(
                    "the quoted field opened on line {} is never closed (unterminated quote)",
                    self.record_line
                )),
            );
        } else if self.offset > self.record_start {
            // The last record has no newline after it.
            let tail_is_cr = self.offset == self.record_start + 1 && self.fields == 1;
            if !tail_is_cr {
                self.end_record();
            }
        }
        let mut findings = std::mem::take(&mut self.findings);
        let header = self.header.unwrap_or_default();
        if header.is_empty() || header.iter().all(String::is_empty) && header.len() == 1 {
            findings.push(parse_error("the file has no header row"));
        } else {
            let mut seen = std::collections::HashMap::new();
            for (i, name) in header.iter().enumerate() {
                // pandas (`to_csv` with its index) and R (`write.csv` with row names) leave the
                // first name empty: read as pandas reads it back, `Unnamed: 0`.
                if name.is_empty() && i == 0 && header.len() > 1 {
                    continue;
                }
                if name.is_empty() {
                    findings.push(Finding::error(
                        "schema",
                        format!("column {} has no name in the header", i + 1),
                    ));
                } else if let Some(first) = seen.insert(name.as_str(), i) {
                    findings.push(
                        Finding::error(
                            "schema",
                            format!(
                                "duplicate column: columns {} and {} are both named {name:?}",
                                first + 1,
                                i + 1
                            ),
                        )
                        .column(name.clone()),
                    );
                }
            }
            if header.len() == 1 {
                for (sep, label) in [(';', "semicolon"), ('\t', "tab"), ('|', "pipe")] {
                    if header[0].contains(sep) {
                        findings.push(parse_error(format!(
                            "the header is one column {:?}, which looks {label}-separated; Tollgate reads comma-separated CSV",
                            header[0]
                        )));
                        break;
                    }
                }
            }
        }
        CsvFacts {
            header,
            records: self.records,
            findings,
        }
    }
}

fn polars_type(t: ColumnType) -> DataType {
    match t {
        ColumnType::Integer => DataType::Int64,
        ColumnType::Float => DataType::Float64,
        ColumnType::Boolean => DataType::Boolean,
        ColumnType::String => DataType::String,
    }
}

/// How a CSV is read: a header row, and the contract's spellings of a missing value (without a
/// contract, the common ones) read as null in every column.
fn csv_options(contract: Option<&Contract>, infer_schema_length: usize) -> CsvReadOptions {
    let tokens: Vec<&str> = match contract {
        Some(c) => c.null_values.iter().map(String::as_str).collect(),
        None => tollgate_domain::contract::NULL_VALUES.to_vec(),
    };
    let empty_is_null = tokens.contains(&"");
    let others: Vec<PlSmallStr> = tokens
        .into_iter()
        .filter(|t| !t.is_empty())
        .map(PlSmallStr::from)
        .collect();
    let null_values = (!others.is_empty()).then_some(NullValues::AllColumns(others));
    CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(infer_schema_length))
        .map_parse_options(|p| {
            p.with_missing_is_null(empty_is_null)
                .with_null_values(null_values.clone())
                .with_truncate_ragged_lines(false)
        })
}

/// A plain CSV file is scanned (UTF-8, control characters, field counts) on one thread while
/// polars reads it on the others; what the scan finds wins over what polars made of it.
fn read_plain_csv(
    path: &Path,
    lower_name: &str,
    contract: Option<&Contract>,
) -> Result<Parsed, ValidationError> {
    let header = match csv_header(path) {
        Ok(header) => header,
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            return Ok(Parsed::failed(Format::Csv, parse_error(e.to_string())));
        }
        Err(e) => return Err(ValidationError::io("reading the header of", path, e)),
    };
    let (scan, frame) = std::thread::scope(|threads| {
        let scanner = threads.spawn(|| {
            let input = File::open(path).map_err(ScanError::Decode)?;
            scan_text(input, lower_name, None, None)
        });
        let frame = read_csv_frame(path, &header, contract);
        (scanner.join(), frame)
    });
    let scan = match scan {
        Ok(Ok(scan)) => scan,
        Ok(Err(ScanError::Decode(e) | ScanError::Write(e))) => {
            return Err(ValidationError::io("reading the upload", path, e));
        }
        Err(_) => {
            return Err(ValidationError::io(
                "scanning",
                path,
                std::io::Error::other("the scan thread panicked"),
            ));
        }
    };
    Ok(csv_parsed(&scan, frame))
}

/// The header's names, read with csv-core (a header may be long: 20,000 columns).
fn csv_header(path: &Path) -> std::io::Result<Vec<String>> {
    let mut file = File::open(path)?;
    let mut shape = CsvShape::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(shape.finish().header);
        }
        shape.feed_header(&buf[..n]);
        if shape.refused {
            let reason = shape.findings.remove(0).message;
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, reason));
        }
        if let Some(header) = shape.header.take() {
            return Ok(header);
        }
    }
}

/// What a scan and a polars read of the same CSV add up to.
fn csv_parsed(scan: &TextScan, frame: Result<DataFrame, Finding>) -> Parsed {
    if !scan.findings.is_empty() {
        return Parsed {
            format: Format::Csv,
            frame: None,
            findings: scan.findings.clone(),
        };
    }
    if scan.records == 0 {
        return Parsed::failed(
            Format::Csv,
            Finding::error(
                "rows",
                "the file has a header but no data rows (zero rows are never accepted)",
            ),
        );
    }
    match frame {
        Ok(frame) => Parsed::frame(Format::Csv, frame),
        Err(finding) => Parsed::failed(Format::Csv, finding),
    }
}

fn read_csv(path: &Path, scan: &TextScan, contract: Option<&Contract>) -> Parsed {
    csv_parsed(scan, read_csv_frame(path, &scan.header, contract))
}

/// Reads a CSV with polars: contract columns as their types; when a value does not parse as its
/// type, as text, so that typing can say which row holds it.
fn read_csv_frame(
    path: &Path,
    header: &[String],
    contract: Option<&Contract>,
) -> Result<DataFrame, Finding> {
    let overwrite: Option<Schema> = contract.map(|c| {
        c.columns
            .iter()
            .filter(|col| header.contains(&col.name))
            .map(|col| Field::new(col.name.as_str().into(), polars_type(col.dtype)))
            .collect()
    });
    let typed = csv_options(contract, 10_000)
        .with_schema_overwrite(overwrite.map(Arc::new))
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .and_then(|r| r.finish());
    let typed = typed.and_then(|frame| name_the_index(frame, header));
    match typed {
        Ok(df) => Ok(df),
        Err(first_error) => csv_options(contract, 0)
            .try_into_reader_with_file_path(Some(path.to_path_buf()))
            .and_then(|r| r.finish())
            .and_then(|frame| name_the_index(frame, header))
            .map_err(|_| parse_error(format!("the CSV could not be parsed: {first_error}"))),
    }
}

/// The name pandas gives a first column without one (the index `to_csv` writes, or R's row
/// names), which Tollgate gives it too.
pub const UNNAMED_FIRST: &str = "Unnamed: 0";

fn name_the_index(mut frame: DataFrame, header: &[String]) -> PolarsResult<DataFrame> {
    if header.first().is_some_and(String::is_empty) && frame.width() > 1 {
        let first = frame.get_column_names()[0].clone();
        frame.rename(first.as_str(), UNNAMED_FIRST.into())?;
    }
    Ok(frame)
}

fn read_json_lines(path: &Path) -> Parsed {
    let result = File::open(path).map_err(PolarsError::from).and_then(|f| {
        JsonReader::new(f)
            .with_json_format(JsonFormat::JsonLines)
            .infer_schema_len(std::num::NonZeroUsize::new(10_000))
            .finish()
    });
    match result {
        Ok(df) => Parsed::frame(Format::JsonLines, df),
        Err(e) => Parsed::failed(
            Format::JsonLines,
            diagnose_json_lines(path)
                .unwrap_or_else(|| parse_error(format!("the JSON Lines could not be parsed: {e}"))),
        ),
    }
}

/// Finds the first line that is not a JSON object, to say where a JSON Lines file is broken.
fn diagnose_json_lines(path: &Path) -> Option<Finding> {
    use std::io::BufRead;
    let file = File::open(path).ok()?;
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.ok()?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<serde_json::Value>(&line) {
            Ok(serde_json::Value::Object(_)) => {}
            Ok(other) => {
                let kind = match other {
                    serde_json::Value::Array(_) => "an array",
                    serde_json::Value::String(_) => "a string",
                    serde_json::Value::Number(_) => "a number",
                    _ => "not an object",
                };
                return Some(
                    parse_error(format!(
                        "line {} is {kind}; each line must be a JSON object",
                        i + 1
                    ))
                    .row(i as u64 + 1),
                );
            }
            Err(e) => {
                return Some(
                    parse_error(format!("line {} is not valid JSON: {e}", i + 1)).row(i as u64 + 1),
                );
            }
        }
    }
    None
}

fn read_parquet_upload(path: &Path) -> Parsed {
    // polars' Parquet reader panics on some malformed files (an assertion on a page's length,
    // a bit width out of range: tests/fuzz.rs finds them), where it should answer an error.
    // Such a file is as unreadable as one it refuses, so the panic is caught here and becomes
    // the upload's finding; the release profile unwinds for this.
    let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read_parquet(path)));
    match read {
        Ok(Ok(df)) => Parsed::frame(Format::Parquet, df),
        Ok(Err(e)) => Parsed::failed(
            Format::Parquet,
            parse_error(format!("not a readable Parquet file: {e}")),
        ),
        Err(panic) => {
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no reason given".to_owned());
            Parsed::failed(
                Format::Parquet,
                parse_error(format!(
                    "not a readable Parquet file: its data is malformed (the reader stopped: \
                     {why})"
                )),
            )
        }
    }
}

/// Reads a Parquet file (an upload, or a stored version for drift).
pub fn read_parquet(path: &Path) -> PolarsResult<DataFrame> {
    let file = File::open(path)?;
    ParquetReader::new(file).finish()
}

/// Writes a frame as Parquet (snappy): the stored form of every accepted version.
pub fn write_parquet(
    frame: &mut DataFrame,
    dir: &Path,
) -> Result<tempfile::NamedTempFile, ValidationError> {
    let tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| ValidationError::io("creating a temporary file", dir, e))?;
    let file = tmp
        .reopen()
        .map_err(|e| ValidationError::io("opening", tmp.path(), e))?;
    ParquetWriter::new(std::io::BufWriter::new(file))
        .with_compression(ParquetCompression::Snappy)
        .finish(frame)
        .map_err(|e| ValidationError::Polars {
            context: format!("writing Parquet to {}", tmp.path().display()),
            source: e,
        })?;
    Ok(tmp)
}

/// Where temporary files go.
pub fn temp_dir() -> PathBuf {
    std::env::temp_dir()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(bytes: &[u8]) -> TextScan {
        scan_text(bytes, "upload.csv", None, None).expect("in-memory input")
    }

    #[test]
    fn a_well_formed_csv_has_its_header_and_record_count() {
        let s = scan(b"a,b\r\n1,2\r\n\"x,y\",3\r\n");
        assert!(s.findings.is_empty(), "{:?}", s.findings);
        assert_eq!(s.header, ["a", "b"]);
        assert_eq!(s.records, 2);
    }

    #[test]
    fn a_decompression_bomb_stops_at_its_allowance_and_says_so() {
        use std::io::Write as _;
        // 64 MiB of zeros in a gzip stream of about 64 KiB.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![b'0'; 1 << 20];
        for _ in 0..64 {
            gz.write_all(&zeros).unwrap();
        }
        let bomb = gz.finish().unwrap();
        let sink = tempfile::tempfile().unwrap();
        let decoder = flate2::read::MultiGzDecoder::new(&bomb[..]);

        let s = scan_text(decoder, "upload.csv", Some(&sink), Some(4 << 20)).unwrap();

        assert!(
            s.findings[0].message.contains("decompression bomb"),
            "{:?}",
            s.findings
        );
        let written = sink.metadata().unwrap().len();
        assert!(
            written <= 4 << 20,
            "the copy stops at the allowance: {written} bytes"
        );
    }

    #[test]
    fn a_header_past_the_limits_is_one_finding_not_a_full_memory() {
        let dir = tempfile::tempdir().unwrap();
        let endless = dir.path().join("endless.csv");
        std::fs::write(&endless, vec![b'a'; limits::MAX_HEADER_BYTES + (1 << 20)]).unwrap();
        let wide = dir.path().join("wide.csv");
        let names: Vec<String> = (0..=limits::MAX_COLUMNS).map(|i| format!("c{i}")).collect();
        std::fs::write(&wide, format!("{}\n", names.join(","))).unwrap();
        for (path, expected) in [
            (&endless, "the header row is longer than 16 MiB"),
            (
                &wide,
                "the header names 100001 columns, above the limit of 100000",
            ),
        ] {
            let fp = fingerprint(path).unwrap();
            let parsed = parse(path, "upload.csv", &fp, None).unwrap();
            assert!(parsed.frame.is_none());
            assert!(
                parsed.findings[0].message.contains(expected),
                "{:?}",
                parsed.findings
            );
        }
    }

    #[test]
    fn json_nesting_is_counted_per_record_whatever_a_record_leaves_open() {
        // A record that ends inside a string, 60 levels deep, then one 11 levels deep.
        let text = format!(
            "{{\"a\": {}\"open\n{{\"b\": {}1{}}}\n",
            "[".repeat(60),
            "[".repeat(10),
            "]".repeat(10)
        );
        assert_eq!(JsonDepth::default().feed(text.as_bytes()), None);
        let deep = format!("{{\"a\": {}1{}}}\n", "[".repeat(64), "]".repeat(64));
        assert_eq!(JsonDepth::default().feed(deep.as_bytes()), Some(6 + 63));
    }

    #[test]
    fn blank_lines_are_not_rows() {
        let s = scan(b"a,b\n1,2\n\n3,4\n\n");
        assert!(s.findings.is_empty(), "{:?}", s.findings);
        assert_eq!(s.records, 2);
    }

    #[test]
    fn ragged_rows_are_reported_with_their_line() {
        let s = scan(b"a,b,c\n1,2,3\n1,2\n1,2,3,4\n");
        let messages: Vec<&str> = s.findings.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "line 3 has 2 fields, the header has 3",
                "line 4 has 4 fields, the header has 3"
            ]
        );
        assert_eq!(s.findings[0].row, Some(2));
    }

    #[test]
    fn a_quoted_field_with_a_newline_keeps_later_lines_counted_right() {
        let s = scan(b"a,b\n\"multi\nline\",1\n1\n");
        assert_eq!(
            s.findings[0].message,
            "line 4 has 1 field, the header has 2"
        );
    }

    #[test]
    fn quotes_follow_csv_rules() {
        // A quote inside an unquoted field is a character (5" is five inches); "" inside a quoted
        // field is a quote; a quoted field may hold commas and newlines.
        for ok in [
            &b"a,b\n5\" screen,2\n"[..],
            b"a,b\n\"he said \"\"hi, you\"\"\",2\n",
            b"a,b\n\"x,\ny\",2\n3,4",
            b"a,b\r\n1,2\r\n\r\n3,4\r\n",
        ] {
            let s = scan(ok);
            assert!(
                s.findings.is_empty(),
                "{:?}: {:?}",
                String::from_utf8_lossy(ok),
                s.findings
            );
        }
        assert_eq!(scan(b"a,b\n\"x,\ny\",2\n3,4").records, 2);
    }

    #[test]
    fn an_unterminated_quote_names_the_line_it_opened_on() {
        let s = scan(b"a,b\n1,2\n\"x,2\n3,4\n");
        assert!(
            s.findings[0].message.contains("opened on line 3"),
            "{:?}",
            s.findings
        );
    }

    #[test]
    fn invalid_utf8_is_located_even_across_chunk_boundaries() {
        // A two-byte character split by the chunk boundary is fine; a lone continuation byte is not.
        let mut text = b"a\n".to_vec();
        text.extend(std::iter::repeat_n(b'x', CHUNK - 3));
        text.extend("é\n".as_bytes());
        text.extend(b"b\n\x80\n");
        let s = scan(&text);
        assert_eq!(s.findings.len(), 1, "{:?}", s.findings);
        assert!(
            s.findings[0].message.contains("byte 0x80 at line 4"),
            "{}",
            s.findings[0].message
        );
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_name() {
        let s = scan(b"\xef\xbb\xbfid,name\n1,a\n");
        assert_eq!(s.header, ["id", "name"]);
    }

    #[test]
    fn json_lines_are_told_from_csv_by_their_first_character() {
        let s = scan_text(&b"{\"a\": 1}\n{\"a\": 2}\n"[..], "upload.txt", None, None).unwrap();
        assert_eq!(s.format, Format::JsonLines);
        assert_eq!(s.records, 2);
    }
}

/// Rows per batch when an upload is streamed: about 100 MB of 20 numeric columns.
pub const BATCH_ROWS: usize = 500_000;

/// Why a batched read stopped: the reader failed, or the batch's consumer did.
#[derive(Debug)]
pub enum BatchError {
    Read(PolarsError),
    Stopped(ValidationError),
}

impl From<PolarsError> for BatchError {
    fn from(e: PolarsError) -> Self {
        Self::Read(e)
    }
}

fn ref_path(path: &Path) -> PlRefPath {
    PlRefPath::from(path.to_string_lossy().as_ref())
}

/// Runs a lazy scan on polars' streaming engine and hands its batches, in order, to `each` on
/// this thread. At most two batches wait between the engine and `each`, so memory is bounded by
/// the batch size, not the file.
fn stream(
    plan: LazyFrame,
    mut each: impl FnMut(DataFrame) -> Result<(), ValidationError>,
) -> Result<(), BatchError> {
    let (send, recv) = std::sync::mpsc::sync_channel::<DataFrame>(2);
    let plan = plan.sink_batches(
        PlanCallback::new(move |df| Ok(send.send(df).is_err())),
        true,
        std::num::NonZeroUsize::new(BATCH_ROWS),
    )?;
    std::thread::scope(|scope| {
        let engine = scope.spawn(move || plan.collect_with_engine(Engine::Streaming).map(drop));
        let mut stopped = None;
        for batch in recv.iter() {
            if let Err(e) = each(batch) {
                stopped = Some(e);
                break;
            }
        }
        // Closing the channel stops the engine at its next batch.
        drop(recv);
        let ran = engine.join().unwrap_or_else(|_| {
            Err(PolarsError::ComputeError(
                "the streaming reader panicked".into(),
            ))
        });
        match stopped {
            Some(e) => Err(BatchError::Stopped(e)),
            None => ran.map_err(BatchError::Read),
        }
    })
}

/// A Parquet file's schema, as an empty frame (its footer only is read).
pub fn parquet_schema(path: &Path) -> PolarsResult<DataFrame> {
    let schema =
        LazyFrame::scan_parquet(ref_path(path), ScanArgsParquet::default())?.collect_schema()?;
    Ok(DataFrame::empty_with_schema(&schema))
}

/// A CSV's first 10,000 rows, as a streamed read types them.
pub fn csv_schema(path: &Path) -> PolarsResult<DataFrame> {
    csv_options(None, 10_000)
        .with_n_rows(Some(10_000))
        .try_into_reader_with_file_path(Some(path.to_path_buf()))?
        .finish()
}

/// A Parquet file's rows, batch by batch.
pub fn parquet_batches(
    path: &Path,
    each: impl FnMut(DataFrame) -> Result<(), ValidationError>,
) -> Result<(), BatchError> {
    let plan = LazyFrame::scan_parquet(ref_path(path), ScanArgsParquet::default())?;
    stream(plan, each)
}

/// Bytes of CSV parsed at a time when an upload is streamed (about 400,000 rows of the
/// benchmark's 20 columns).
const BLOCK_BYTES: usize = 64 << 20;

/// The end of the last whole record in `block`, which starts at a record's start: just past
/// the last newline outside quotes (a doubled quote inside a field flips twice).
fn last_record_end(block: &[u8]) -> usize {
    let mut quoted = false;
    let mut end = 0;
    for i in memchr::memchr2_iter(b'"', b'\n', block) {
        if block[i] == b'"' {
            quoted = !quoted;
        } else if !quoted {
            end = i + 1;
        }
    }
    end
}

/// Reads until `buf` is full or the file ends; the bytes read.
fn read_full(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// A CSV file's rows, batch by batch, read as [`read_csv_frame`] reads them whole: the
/// contract's types and missing-value spellings. The file is read in blocks cut at record
/// boundaries and each block is parsed on its own, with the types the first one was read as,
/// so that memory holds a block and its frame, never the file (polars' own scan maps the whole
/// file into memory). `as_text` reads every column as text (when a value does not parse as its
/// type, so that typing can say which row holds it).
pub fn csv_batches(
    path: &Path,
    contract: Option<&Contract>,
    as_text: bool,
    mut each: impl FnMut(DataFrame) -> Result<(), ValidationError>,
) -> Result<(), BatchError> {
    let header = csv_header(path).map_err(|e| BatchError::Read(e.into()))?;
    let mut file = File::open(path).map_err(|e| BatchError::Read(e.into()))?;
    let overwrite: Option<Schema> = contract.filter(|_| !as_text).map(|c| {
        c.columns
            .iter()
            .filter(|col| header.contains(&col.name))
            .map(|col| Field::new(col.name.as_str().into(), polars_type(col.dtype)))
            .collect()
    });
    let mut schema: Option<SchemaRef> = None;
    let mut block: Vec<u8> = Vec::new();
    loop {
        let kept = block.len();
        block.resize(kept + BLOCK_BYTES, 0);
        let n = read_full(&mut file, &mut block[kept..]).map_err(|e| BatchError::Read(e.into()))?;
        block.truncate(kept + n);
        let end_of_file = n < BLOCK_BYTES;
        let cut = if end_of_file {
            block.len()
        } else {
            last_record_end(&block)
        };
        if cut == 0 {
            if end_of_file {
                return Ok(());
            }
            continue; // one record longer than a block: read more
        }
        let rest = block.split_off(cut);
        let parsed = match &schema {
            None => csv_options(contract, if as_text { 0 } else { 10_000 })
                .with_schema_overwrite(overwrite.clone().map(Arc::new)),
            Some(schema) => csv_options(contract, 0)
                .with_has_header(false)
                .with_schema(Some(schema.clone())),
        }
        .into_reader_with_file_handle(std::io::Cursor::new(std::mem::replace(&mut block, rest)))
        .finish()?;
        let parsed = if schema.is_none() {
            let named = name_the_index(parsed, &header)?;
            schema = Some(named.schema().clone());
            named
        } else {
            parsed
        };
        each(parsed).map_err(BatchError::Stopped)?;
        if end_of_file && block.is_empty() {
            return Ok(());
        }
    }
}

/// The format of an upload that can stream through the gate (plain CSV, Parquet); `None` for
/// what is read whole (gzip, a byte-order mark, JSON Lines).
pub fn streamable(file_name: &str, fp: &Fingerprint) -> Option<Format> {
    let lower = file_name.to_ascii_lowercase();
    if fp.head.starts_with(b"PAR1") || lower.ends_with(".parquet") {
        return Some(Format::Parquet);
    }
    let gzip = fp.head.starts_with(&[0x1f, 0x8b]);
    let bom = fp.head.starts_with(b"\xef\xbb\xbf");
    (!gzip && !lower.ends_with(".gz") && !bom && guess_text_format(&lower, &fp.head) == Format::Csv)
        .then_some(Format::Csv)
}

/// What one pass over a CSV's text found (UTF-8, control characters, record shape).
#[derive(Debug)]
pub struct CsvScan(TextScan);

impl CsvScan {
    /// Why the text cannot be a version; empty when it can.
    pub fn problems(&self) -> Vec<Finding> {
        if !self.0.findings.is_empty() {
            return self.0.findings.clone();
        }
        if self.0.records == 0 {
            return vec![Finding::error(
                "rows",
                "the file has a header but no data rows (zero rows are never accepted)",
            )];
        }
        Vec::new()
    }
}

/// Runs `read` while the CSV at `path` is scanned (UTF-8, control characters, record shape) on
/// another thread: what the scan found, and what `read` returned.
pub fn scanned<R>(
    path: &Path,
    read: impl FnOnce() -> R,
) -> Result<(Vec<Finding>, R), ValidationError> {
    let (scan, result) = std::thread::scope(|threads| {
        let scanner = threads.spawn(|| scan_csv(path));
        let result = read();
        (scanner.join(), result)
    });
    let scan = scan.map_err(|_| {
        ValidationError::io(
            "scanning",
            path,
            std::io::Error::other("the scan thread panicked"),
        )
    })??;
    Ok((scan.problems(), result))
}

/// Scans a plain CSV file's text in one pass, in constant memory.
pub fn scan_csv(path: &Path) -> Result<CsvScan, ValidationError> {
    let input = File::open(path).map_err(|e| ValidationError::io("opening the upload", path, e))?;
    match scan_text(input, "upload.csv", None, None) {
        Ok(scan) => Ok(CsvScan(scan)),
        Err(ScanError::Decode(e) | ScanError::Write(e)) => {
            Err(ValidationError::io("reading the upload", path, e))
        }
    }
}
