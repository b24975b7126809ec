//! Readers for CSV, JSON lines and Parquet, feeding rows to a [`Sink`].

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use arrow::array::{Array, BooleanArray, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::InputFormat;
use super::collect::{EventCollector, Interner, ProfileCollector};
use super::props::PropColumn;
use crate::error::{Error, Result};

/// Where rows go: the event or the profile collector.
pub(super) trait Sink {
    fn start_file(
        &mut self,
        file: &Path,
        columns: &[String],
        arrow_types: Option<&[DataType]>,
    ) -> Result<()>;
    fn add_column(&mut self, name: &str, index: usize);
    fn columns(&self) -> &[String];
    fn check_columns(&self) -> Result<()>;
    fn row<'c, F: Fn(usize) -> Option<&'c str>>(&mut self, line: u64, cell: F) -> Result<bool>;
    fn malformed(&mut self, line: u64, message: String, value: String) -> Result<()>;
    fn props_mut(&mut self) -> &mut Vec<PropColumn>;
}

impl Sink for EventCollector {
    fn start_file(
        &mut self,
        file: &Path,
        columns: &[String],
        arrow_types: Option<&[DataType]>,
    ) -> Result<()> {
        EventCollector::start_file(self, file.to_path_buf(), columns, arrow_types)
    }
    fn add_column(&mut self, name: &str, index: usize) {
        EventCollector::add_column(self, name, index, None);
    }
    fn columns(&self) -> &[String] {
        &self.columns
    }
    fn check_columns(&self) -> Result<()> {
        EventCollector::check_columns(self)
    }
    fn row<'c, F: Fn(usize) -> Option<&'c str>>(&mut self, line: u64, cell: F) -> Result<bool> {
        EventCollector::row(self, line, cell)
    }
    fn malformed(&mut self, line: u64, message: String, value: String) -> Result<()> {
        EventCollector::malformed(self, line, message, value)
    }
    fn props_mut(&mut self) -> &mut Vec<PropColumn> {
        &mut self.props
    }
}

/// The profile collector with the id interner it shares with the events.
pub(super) struct ProfileSink<'a> {
    pub(super) profiles: &'a mut ProfileCollector,
    pub(super) keys: &'a mut Interner,
}

impl Sink for ProfileSink<'_> {
    fn start_file(
        &mut self,
        file: &Path,
        columns: &[String],
        arrow_types: Option<&[DataType]>,
    ) -> Result<()> {
        if self.profiles.columns.is_empty() {
            self.profiles
                .start_file(file.to_path_buf(), columns, arrow_types);
        }
        Ok(())
    }
    fn add_column(&mut self, name: &str, index: usize) {
        self.profiles.add_column(name, index, None);
    }
    fn columns(&self) -> &[String] {
        &self.profiles.columns
    }
    fn check_columns(&self) -> Result<()> {
        self.profiles.check_columns()
    }
    fn row<'c, F: Fn(usize) -> Option<&'c str>>(&mut self, line: u64, cell: F) -> Result<bool> {
        self.profiles.row(self.keys, line, cell)
    }
    fn malformed(&mut self, line: u64, message: String, value: String) -> Result<()> {
        self.profiles.malformed(line, message, value)
    }
    fn props_mut(&mut self) -> &mut Vec<PropColumn> {
        &mut self.profiles.props
    }
}

/// The format of `path`: `format` if given, else from the extension.
pub(super) fn detect_format(path: &Path, format: Option<InputFormat>) -> Result<InputFormat> {
    if let Some(f) = format {
        return Ok(f);
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "csv" | "tsv" | "txt" => Ok(InputFormat::Csv),
        "json" | "jsonl" | "ndjson" => Ok(InputFormat::Jsonl),
        "parquet" | "pq" => Ok(InputFormat::Parquet),
        _ => Err(Error::InvalidArgument(format!(
            "{}: cannot tell the format from the extension; pass --format csv|jsonl|parquet",
            path.display()
        ))),
    }
}

fn delimiter_for(path: &Path, delimiter: Option<u8>) -> u8 {
    delimiter.unwrap_or_else(|| {
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("tsv"))
        {
            b'\t'
        } else {
            b','
        }
    })
}

/// Text from bytes: UTF-8, or Latin-1 when not valid UTF-8 (common in
/// spreadsheet exports).
fn decode(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(bytes.iter().map(|&b| b as char).collect()),
    }
}

fn dedupe(names: Vec<String>) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    names
        .into_iter()
        .enumerate()
        .map(|(i, n)| {
            let n = if n.is_empty() {
                format!("column_{}", i + 1)
            } else {
                n
            };
            let count = seen.entry(n.clone()).or_insert(0);
            *count += 1;
            if *count == 1 {
                n
            } else {
                format!("{n}_{count}")
            }
        })
        .collect()
}

fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(|e| Error::io(path, e))
}

fn csv_reader(path: &Path, delimiter: Option<u8>) -> Result<csv::Reader<BufReader<File>>> {
    Ok(csv::ReaderBuilder::new()
        .delimiter(delimiter_for(path, delimiter))
        .has_headers(true)
        .flexible(true)
        .from_reader(BufReader::with_capacity(1 << 20, open(path)?)))
}

fn csv_error(path: &Path, e: csv::Error) -> Error {
    Error::InvalidArgument(format!("{}: {e}", path.display()))
}

/// Column names of an input file (the first line for JSON lines).
pub(super) fn peek_columns(
    path: &Path,
    format: InputFormat,
    delimiter: Option<u8>,
) -> Result<Vec<String>> {
    match format {
        InputFormat::Csv => {
            let mut rdr = csv_reader(path, delimiter)?;
            let headers = rdr.byte_headers().map_err(|e| csv_error(path, e))?;
            Ok(dedupe(
                headers
                    .iter()
                    .map(|h| decode(h).trim().to_string())
                    .collect(),
            ))
        }
        InputFormat::Jsonl => {
            let reader = BufReader::new(open(path)?);
            for line in reader.lines() {
                let line = line.map_err(|e| Error::io(path, e))?;
                if line.trim().is_empty() {
                    continue;
                }
                return Ok(
                    serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&line)
                        .map(|m| m.keys().cloned().collect())
                        .unwrap_or_default(),
                );
            }
            Ok(Vec::new())
        }
        InputFormat::Parquet => {
            let builder = ParquetRecordBatchReaderBuilder::try_new(open(path)?)
                .map_err(|e| Error::parquet(path, e))?;
            Ok(builder
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect())
        }
    }
}

/// Reads one file into `sink`.
pub(super) fn read_file<S: Sink>(
    path: &Path,
    format: InputFormat,
    delimiter: Option<u8>,
    sink: &mut S,
) -> Result<()> {
    match format {
        InputFormat::Csv => read_csv(path, delimiter, sink),
        InputFormat::Jsonl => read_jsonl(path, sink),
        InputFormat::Parquet => read_parquet(path, sink),
    }
}

fn read_csv<S: Sink>(path: &Path, delimiter: Option<u8>, sink: &mut S) -> Result<()> {
    let mut rdr = csv_reader(path, delimiter)?;
    let headers = rdr.byte_headers().map_err(|e| csv_error(path, e))?;
    let mut names: Vec<String> = headers
        .iter()
        .map(|h| decode(h).trim().to_string())
        .collect();
    if let Some(first) = names.first_mut()
        && let Some(stripped) = first.strip_prefix('\u{feff}')
    {
        *first = stripped.to_string();
    }
    let names = dedupe(names);
    sink.start_file(path, &names, None)?;
    sink.check_columns()?;
    let mut rec = csv::ByteRecord::new();
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    return Err(csv_error(path, e));
                }
                sink.malformed(line, e.to_string(), String::new())?;
                continue;
            }
        }
        let line = rec.position().map_or(0, |p| p.line());
        if rec.len() != names.len() {
            if rec.len() == 1 && rec.get(0).is_some_and(|f| f.is_empty()) {
                continue; // blank line
            }
            let raw: Vec<Cow<'_, str>> = rec.iter().map(decode).collect();
            sink.malformed(
                line,
                format!("expected {} fields, found {}", names.len(), rec.len()),
                raw.join(","),
            )?;
            continue;
        }
        match std::str::from_utf8(rec.as_slice()) {
            Ok(all) => {
                sink.row(line, |i| rec.range(i).map(|r| &all[r]))?;
            }
            Err(_) => {
                let fields: Vec<Cow<'_, str>> = rec.iter().map(decode).collect();
                sink.row(line, |i| fields.get(i).map(|f| f.as_ref()))?;
            }
        }
    }
    Ok(())
}

fn json_text(v: &serde_json::Value) -> Option<Cow<'_, str>> {
    use serde_json::Value;
    match v {
        Value::Null => None,
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        other => Some(Cow::Owned(other.to_string())),
    }
}

fn read_jsonl<S: Sink>(path: &Path, sink: &mut S) -> Result<()> {
    let mut names: Vec<String> = sink.columns().to_vec();
    let known = names.clone();
    sink.start_file(path, &known, None)?;
    let mut index: HashMap<String, usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.clone(), i))
        .collect();
    let reader = BufReader::with_capacity(1 << 20, open(path)?);
    let mut saw_row = false;
    for (n, line) in reader.lines().enumerate() {
        let line_no = n as u64 + 1;
        let line = line.map_err(|e| Error::io(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let obj: serde_json::Map<String, serde_json::Value> = match serde_json::from_str(&line) {
            Ok(o) => o,
            Err(e) => {
                let mut raw = line.clone();
                raw.truncate(200);
                sink.malformed(line_no, format!("not a JSON object: {e}"), raw)?;
                continue;
            }
        };
        let mut cells: Vec<Option<Cow<'_, str>>> = vec![None; names.len()];
        for (k, v) in &obj {
            let i = match index.get(k) {
                Some(&i) => i,
                None => {
                    let i = names.len();
                    names.push(k.clone());
                    index.insert(k.clone(), i);
                    sink.add_column(k, i);
                    cells.push(None);
                    i
                }
            };
            cells[i] = json_text(v);
        }
        if !saw_row {
            saw_row = true;
        }
        sink.row(line_no, |i| cells.get(i).and_then(|c| c.as_deref()))?;
    }
    if saw_row {
        sink.check_columns()?;
    }
    Ok(())
}

fn read_parquet<S: Sink>(path: &Path, sink: &mut S) -> Result<()> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(open(path)?)
        .map_err(|e| Error::parquet(path, e))?;
    let schema = builder.schema().clone();
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let types: Vec<DataType> = schema
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    sink.start_file(path, &names, Some(&types))?;
    sink.check_columns()?;
    let prop_columns: Vec<usize> = sink.props_mut().iter().map(|p| p.input_index).collect();
    let reader = builder
        .with_batch_size(8192)
        .build()
        .map_err(|e| Error::parquet(path, e))?;
    let mut row_base = 0u64;
    for batch in reader {
        let batch = batch.map_err(Error::Arrow)?;
        let strings: Vec<Option<StringArray>> = (0..batch.num_columns())
            .map(|i| {
                if prop_columns.contains(&i) {
                    return Ok(None);
                }
                let a = cast(batch.column(i), &DataType::Utf8)?;
                Ok(Some(
                    a.as_any()
                        .downcast_ref::<StringArray>()
                        .expect("utf8")
                        .clone(),
                ))
            })
            .collect::<Result<_>>()?;
        let mut keep = Vec::with_capacity(batch.num_rows());
        for r in 0..batch.num_rows() {
            let kept = sink.row(row_base + r as u64 + 1, |i| {
                strings
                    .get(i)?
                    .as_ref()
                    .and_then(|a| a.is_valid(r).then(|| a.value(r)))
            })?;
            keep.push(kept);
        }
        let keep = BooleanArray::from(keep);
        for p in sink.props_mut() {
            let col = batch.column(p.input_index).clone();
            p.push_arrow(&col, &keep)?;
        }
        row_base += batch.num_rows() as u64;
    }
    Ok(())
}
