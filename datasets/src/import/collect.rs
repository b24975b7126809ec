//! Turning input rows into columns: role values parsed and checked, ids
//! interned, everything else kept as properties.

use std::collections::HashMap;
use std::path::PathBuf;

use arrow::array::StringBuilder;
use arrow::datatypes::DataType;

use super::props::PropColumn;
use super::values::{cents, parse_decimal, parse_int};
use super::{ColumnSource, parse_timestamp, parse_with_format};
use crate::error::{BadRow, Error, Result};

/// Canonical event column names (written with these names when mapped).
pub(super) const CANONICAL: [&str; 12] = [
    "profile_id",
    "event_time",
    "event_type",
    "channel",
    "amount",
    "currency",
    "order_id",
    "product_id",
    "category",
    "quantity",
    "payment_method",
    "campaign_id",
];

/// Strings → dense u32 codes in order of first appearance.
#[derive(Debug, Default)]
pub(super) struct Interner {
    map: HashMap<Box<str>, u32>,
    pub(super) values: Vec<Box<str>>,
}

impl Interner {
    #[inline]
    pub(super) fn intern(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.map.get(s) {
            return i;
        }
        let i = self.values.len() as u32;
        self.values.push(s.into());
        self.map.insert(s.into(), i);
        i
    }
}

/// Column names for each role after defaults are applied.
#[derive(Debug, Clone, Default)]
pub(super) struct Mapping {
    pub(super) profile_id: String,
    pub(super) time: String,
    pub(super) event_type: ColumnSource,
    pub(super) amount: Option<String>,
    pub(super) amount_times: Option<String>,
    pub(super) channel: Option<ColumnSource>,
    pub(super) currency: Option<ColumnSource>,
    /// order_id, product_id, category, payment_method, campaign_id
    pub(super) texts: [Option<String>; 5],
    pub(super) quantity: Option<String>,
    pub(super) drop: Vec<String>,
}

impl Default for ColumnSource {
    fn default() -> Self {
        ColumnSource::Column("event_type".into())
    }
}

pub(super) const TEXT_ROLES: [&str; 5] = [
    "order_id",
    "product_id",
    "category",
    "payment_method",
    "campaign_id",
];

impl Mapping {
    /// Columns whose values go to a role and are not kept as properties.
    fn consumes(&self, name: &str) -> bool {
        let col =
            |c: &Option<ColumnSource>| matches!(c, Some(ColumnSource::Column(n)) if n == name);
        name == self.profile_id
            || name == self.time
            || matches!(&self.event_type, ColumnSource::Column(n) if n == name)
            || (self.amount.as_deref() == Some(name) && self.amount_times.is_none())
            || col(&self.channel)
            || col(&self.currency)
            || self.texts.iter().any(|t| t.as_deref() == Some(name))
            || self.quantity.as_deref() == Some(name)
    }

    /// The canonical columns this mapping writes.
    pub(super) fn written(&self) -> Vec<&'static str> {
        let mut w = vec!["profile_id", "event_time", "event_type"];
        if self.channel.is_some() {
            w.push("channel");
        }
        if self.amount.is_some() {
            w.push("amount");
        }
        if self.currency.is_some() {
            w.push("currency");
        }
        for (i, t) in self.texts.iter().enumerate() {
            if t.is_some() {
                w.push(TEXT_ROLES[i]);
            }
        }
        if self.quantity.is_some() {
            w.push("quantity");
        }
        w
    }
}

/// Earliest and latest event years an import accepts (the engine answers
/// queries for as_of in the same years).
pub(super) const MIN_YEAR: i32 = 1900;
pub(super) const MAX_YEAR: i32 = 9999;
const TIME_RANGE: &str = "time outside the years 1900 to 9999";

/// Whether `t` (µs since the epoch) falls in the years
/// [`MIN_YEAR`]..=[`MAX_YEAR`], UTC.
pub(super) fn in_time_range(t: i64) -> bool {
    use chrono::Datelike;
    chrono::DateTime::from_timestamp_micros(t)
        .is_some_and(|d| (MIN_YEAR..=MAX_YEAR).contains(&d.year()))
}

/// Parses the time column.
#[derive(Debug)]
pub(super) struct TimeParser {
    pub(super) format: Option<String>,
}

impl TimeParser {
    #[inline]
    pub(super) fn parse(&self, s: &str) -> Option<i64> {
        match &self.format {
            Some(f) => parse_with_format(s, f),
            None => parse_timestamp(s),
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Roles {
    profile_id: Option<usize>,
    time: Option<usize>,
    event_type: Option<usize>,
    amount: Option<usize>,
    amount_times: Option<usize>,
    channel: Option<usize>,
    currency: Option<usize>,
    texts: [Option<usize>; 5],
    quantity: Option<usize>,
}

/// Skipped-row bookkeeping shared by the event and profile collectors.
#[derive(Debug, Default)]
pub(super) struct Skips {
    pub(super) skip_bad_rows: bool,
    pub(super) skip_missing_ids: bool,
    pub(super) bad_rows: u64,
    pub(super) missing_ids: u64,
    pub(super) examples: Vec<BadRow>,
}

impl Skips {
    /// `Ok(())` when the row may be skipped, the error otherwise.
    fn bad(&mut self, row: BadRow, missing_id: bool) -> Result<()> {
        let skip = if missing_id {
            self.skip_missing_ids || self.skip_bad_rows
        } else {
            self.skip_bad_rows
        };
        if !skip {
            return Err(row.into());
        }
        if missing_id && self.skip_missing_ids {
            self.missing_ids += 1;
        } else {
            self.bad_rows += 1;
            if self.examples.len() < 5 {
                self.examples.push(row);
            }
        }
        Ok(())
    }
}

/// Collects event rows.
#[derive(Debug)]
pub(super) struct EventCollector {
    pub(super) mapping: Mapping,
    time_parser: TimeParser,
    refund_if_negative: bool,
    roles: Roles,
    pub(super) file: PathBuf,
    pub(super) columns: Vec<String>,
    pub(super) keys: Interner,
    pub(super) key: Vec<u32>,
    pub(super) time: Vec<i64>,
    pub(super) event_type: Vec<u32>,
    pub(super) event_types: Interner,
    pub(super) channel: Vec<u32>,
    pub(super) channels: Interner,
    pub(super) currency: Vec<u32>,
    pub(super) currencies: Interner,
    pub(super) amount: Vec<Option<i128>>,
    pub(super) quantity: Vec<Option<i64>>,
    pub(super) texts: [StringBuilder; 5],
    pub(super) props: Vec<PropColumn>,
    pub(super) rows_read: u64,
    pub(super) skips: Skips,
    text_props: bool,
    const_event_type: Option<u32>,
    const_channel: Option<u32>,
    const_currency: Option<u32>,
}

pub(super) const NONE: u32 = u32::MAX;

impl EventCollector {
    pub(super) fn new(
        mapping: Mapping,
        time_parser: TimeParser,
        refund_if_negative: bool,
        skips: Skips,
    ) -> Self {
        let mut c = EventCollector {
            mapping,
            time_parser,
            refund_if_negative,
            roles: Roles::default(),
            file: PathBuf::new(),
            columns: Vec::new(),
            keys: Interner::default(),
            key: Vec::new(),
            time: Vec::new(),
            event_type: Vec::new(),
            event_types: Interner::default(),
            channel: Vec::new(),
            channels: Interner::default(),
            currency: Vec::new(),
            currencies: Interner::default(),
            amount: Vec::new(),
            quantity: Vec::new(),
            texts: std::array::from_fn(|_| StringBuilder::new()),
            props: Vec::new(),
            rows_read: 0,
            skips,
            text_props: true,
            const_event_type: None,
            const_channel: None,
            const_currency: None,
        };
        if let ColumnSource::Const(v) = &c.mapping.event_type {
            c.const_event_type = Some(c.event_types.intern(v));
        }
        if let Some(ColumnSource::Const(v)) = &c.mapping.channel {
            c.const_channel = Some(c.channels.intern(&v.trim().to_lowercase()));
        }
        if let Some(ColumnSource::Const(v)) = &c.mapping.currency {
            c.const_currency = Some(c.currencies.intern(v.trim()));
        }
        c
    }

    pub(super) fn accepted(&self) -> usize {
        self.key.len()
    }

    /// Starts a new input file; `columns` are its column names (for JSON
    /// lines, more may come with [`add_column`](Self::add_column)).
    /// `arrow_types` is set for Parquet inputs (properties keep their type).
    pub(super) fn start_file(
        &mut self,
        file: PathBuf,
        columns: &[String],
        arrow_types: Option<&[DataType]>,
    ) -> Result<()> {
        let first = self.columns.is_empty() && self.props.is_empty();
        if !first && columns != self.columns.as_slice() && arrow_types.is_none() {
            return Err(Error::InvalidArgument(format!(
                "{}: columns differ from the first input file ({} vs {})",
                file.display(),
                columns.join(","),
                self.columns.join(",")
            )));
        }
        self.file = file;
        self.text_props = arrow_types.is_none();
        if first {
            self.roles = Roles::default();
            for (i, name) in columns.iter().enumerate() {
                self.add_column(name, i, arrow_types.map(|t| t[i].clone()));
            }
        }
        Ok(())
    }

    /// Registers input column `name` at `index`.
    pub(super) fn add_column(&mut self, name: &str, index: usize, arrow_type: Option<DataType>) {
        if index >= self.columns.len() {
            self.columns.resize(index + 1, String::new());
        }
        self.columns[index] = name.to_string();
        let m = &self.mapping;
        let is = |o: &Option<String>| o.as_deref() == Some(name);
        let col =
            |c: &Option<ColumnSource>| matches!(c, Some(ColumnSource::Column(n)) if n == name);
        let r = &mut self.roles;
        if m.profile_id == name {
            r.profile_id = Some(index);
        }
        if m.time == name {
            r.time = Some(index);
        }
        if matches!(&m.event_type, ColumnSource::Column(n) if n == name) {
            r.event_type = Some(index);
        }
        if is(&m.amount) {
            r.amount = Some(index);
        }
        if is(&m.amount_times) {
            r.amount_times = Some(index);
        }
        if col(&m.channel) {
            r.channel = Some(index);
        }
        if col(&m.currency) {
            r.currency = Some(index);
        }
        for (i, t) in m.texts.iter().enumerate() {
            if is(t) {
                r.texts[i] = Some(index);
            }
        }
        if is(&m.quantity) {
            r.quantity = Some(index);
        }
        if m.consumes(name) || m.drop.iter().any(|d| d == name) {
            return;
        }
        let written = m.written();
        let mut out = name.to_string();
        while written.contains(&out.as_str()) || self.props.iter().any(|p| p.name == out) {
            out = format!("src_{out}");
        }
        let nulls = self.accepted();
        self.props.push(match arrow_type {
            Some(t) => PropColumn::arrow(name, out, index, t),
            None => PropColumn::text(name, out, index, nulls),
        });
    }

    /// Checks that the role columns exist (CSV / Parquet, where the header
    /// is known up front).
    pub(super) fn check_columns(&self) -> Result<()> {
        let m = &self.mapping;
        let mut missing = Vec::new();
        let mut need = |flag: &str, name: Option<&str>, idx: Option<usize>| {
            if let Some(n) = name
                && idx.is_none()
            {
                missing.push(format!("{flag} {n:?}"));
            }
        };
        let r = self.roles;
        need("--profile-id", Some(&m.profile_id), r.profile_id);
        need("--time", Some(&m.time), r.time);
        let colname = |c: &Option<ColumnSource>| match c {
            Some(ColumnSource::Column(n)) => Some(n.clone()),
            _ => None,
        };
        need(
            "--event-type",
            colname(&Some(m.event_type.clone())).as_deref(),
            r.event_type,
        );
        need("--amount", m.amount.as_deref(), r.amount);
        need("--amount-times", m.amount_times.as_deref(), r.amount_times);
        need("--channel", colname(&m.channel).as_deref(), r.channel);
        need("--currency", colname(&m.currency).as_deref(), r.currency);
        for (i, t) in m.texts.iter().enumerate() {
            need(
                &format!("--{}", TEXT_ROLES[i].replace('_', "-")),
                t.as_deref(),
                r.texts[i],
            );
        }
        need("--quantity", m.quantity.as_deref(), r.quantity);
        if missing.is_empty() {
            return Ok(());
        }
        let mut msg = format!(
            "{}: no column {}; the columns are: {}",
            self.file.display(),
            missing.join(", no column "),
            self.columns.join(", ")
        );
        if m.event_type == ColumnSource::Column("event_type".into()) && r.event_type.is_none() {
            msg.push_str(
                " (pass --event-type COL, or --event-type-const purchase for a transactions file)",
            );
        }
        Err(Error::InvalidArgument(msg))
    }

    fn bad(
        &mut self,
        line: u64,
        role: Option<usize>,
        value: Option<&str>,
        message: &str,
    ) -> Result<bool> {
        let column = role.map_or_else(|| "?".to_string(), |i| self.columns[i].clone());
        let row = BadRow {
            file: self.file.clone(),
            line,
            column,
            value: value.unwrap_or("").to_string(),
            message: message.to_string(),
        };
        self.skips.bad(row, message == MISSING_ID).map(|()| false)
    }

    /// Reports a row that could not even be split into fields.
    pub(super) fn malformed(&mut self, line: u64, message: String, value: String) -> Result<()> {
        self.rows_read += 1;
        let row = BadRow {
            file: self.file.clone(),
            line,
            column: "-".into(),
            value,
            message,
        };
        self.skips.bad(row, false)
    }

    /// Adds one row; `cell(i)` gives input column i (None = missing/null).
    /// Returns whether the row was kept.
    pub(super) fn row<'c>(
        &mut self,
        line: u64,
        cell: impl Fn(usize) -> Option<&'c str>,
    ) -> Result<bool> {
        self.rows_read += 1;
        let r = self.roles;
        let get = |idx: Option<usize>| idx.and_then(&cell).map(str::trim).filter(|s| !s.is_empty());

        let Some(id) = get(r.profile_id) else {
            return self.bad(line, r.profile_id, None, MISSING_ID);
        };
        let tv = get(r.time);
        let parsed = tv.and_then(|s| self.time_parser.parse(s));
        let Some(t) = parsed.filter(|&t| in_time_range(t)) else {
            let msg = if tv.is_none() {
                "missing time"
            } else if parsed.is_some() {
                TIME_RANGE
            } else if self.time_parser.format.is_some() {
                "time does not match --time-format"
            } else {
                "unrecognized time (give --time-format)"
            };
            return self.bad(line, r.time, tv, msg);
        };
        let etype = match self.const_event_type {
            Some(c) => Ok(c),
            None => match get(r.event_type) {
                Some(v) => Err(v),
                None => return self.bad(line, r.event_type, None, "missing event type"),
            },
        };
        let mut amount = None;
        if r.amount.is_some()
            && let Some(v) = get(r.amount)
        {
            let Some(a) = parse_decimal(v) else {
                return self.bad(line, r.amount, Some(v), "not a number");
            };
            let times = match r.amount_times.map(|i| (i, get(Some(i)))) {
                None => None,
                Some((_, None)) => Some(None),
                Some((i, Some(q))) => match parse_decimal(q) {
                    Some(q) => Some(Some(q)),
                    None => return self.bad(line, Some(i), Some(q), "not a number"),
                },
            };
            amount = match times {
                None => cents(a, None),
                Some(None) => None,
                Some(Some(q)) => cents(a, Some(q)),
            };
            if amount.is_none() && times != Some(None) {
                return self.bad(
                    line,
                    r.amount,
                    Some(v),
                    "amount out of range for Decimal(18,2)",
                );
            }
        }
        let mut quantity = None;
        if let Some(v) = get(r.quantity) {
            match parse_int(v) {
                Some(q) => quantity = Some(q),
                None => return self.bad(line, r.quantity, Some(v), "not an integer"),
            }
        }

        // The row is good: append.
        self.key.push(self.keys.intern(id));
        self.time.push(t);
        let refund = self.refund_if_negative && amount.is_some_and(|a| a < 0);
        self.event_type.push(if refund {
            self.event_types.intern("refund")
        } else {
            match etype {
                Ok(c) => c,
                Err(v) => self.event_types.intern(v),
            }
        });
        if self.mapping.channel.is_some() {
            let c = match self.const_channel {
                Some(c) => c,
                None => match get(r.channel) {
                    Some(v) if v.bytes().any(|b| b.is_ascii_uppercase()) => {
                        self.channels.intern(&v.to_ascii_lowercase())
                    }
                    Some(v) => self.channels.intern(v),
                    None => NONE,
                },
            };
            self.channel.push(c);
        }
        if self.mapping.currency.is_some() {
            let c = match self.const_currency {
                Some(c) => c,
                None => get(r.currency).map_or(NONE, |v| self.currencies.intern(v)),
            };
            self.currency.push(c);
        }
        if self.mapping.amount.is_some() {
            self.amount.push(amount);
        }
        if self.mapping.quantity.is_some() {
            self.quantity.push(quantity);
        }
        for (i, idx) in r.texts.iter().enumerate() {
            if idx.is_some() {
                self.texts[i].append_option(get(*idx));
            }
        }
        if self.text_props {
            for p in &mut self.props {
                p.push_text(cell(p.input_index));
            }
        }
        Ok(true)
    }
}

pub(super) const MISSING_ID: &str = "missing profile id";

/// Collects profile rows (the optional --profiles file).
#[derive(Debug)]
pub(super) struct ProfileCollector {
    pub(super) id_column: String,
    id_index: Option<usize>,
    pub(super) file: PathBuf,
    pub(super) columns: Vec<String>,
    /// Key code (in the shared interner) of each accepted row.
    pub(super) key: Vec<u32>,
    /// Row of each key code, for duplicate detection.
    seen: HashMap<u32, u64>,
    pub(super) props: Vec<PropColumn>,
    text_props: bool,
    pub(super) skips: Skips,
}

impl ProfileCollector {
    pub(super) fn new(id_column: String, skips: Skips) -> Self {
        ProfileCollector {
            id_column,
            id_index: None,
            file: PathBuf::new(),
            columns: Vec::new(),
            key: Vec::new(),
            seen: HashMap::new(),
            props: Vec::new(),
            text_props: true,
            skips,
        }
    }

    pub(super) fn start_file(
        &mut self,
        file: PathBuf,
        columns: &[String],
        arrow_types: Option<&[DataType]>,
    ) {
        self.file = file;
        self.text_props = arrow_types.is_none();
        for (i, name) in columns.iter().enumerate() {
            self.add_column(name, i, arrow_types.map(|t| t[i].clone()));
        }
    }

    pub(super) fn add_column(&mut self, name: &str, index: usize, arrow_type: Option<DataType>) {
        if index >= self.columns.len() {
            self.columns.resize(index + 1, String::new());
        }
        self.columns[index] = name.to_string();
        if name == self.id_column {
            self.id_index = Some(index);
            return;
        }
        let mut out = name.to_string();
        while out == "profile_id"
            || out == "external_id"
            || self.props.iter().any(|p| p.name == out)
        {
            out = format!("src_{out}");
        }
        let nulls = self.key.len();
        self.props.push(match arrow_type {
            Some(t) => PropColumn::arrow(name, out, index, t),
            None => PropColumn::text(name, out, index, nulls),
        });
    }

    pub(super) fn check_columns(&self) -> Result<()> {
        if self.id_index.is_none() {
            return Err(Error::InvalidArgument(format!(
                "{}: no column --profiles-id {:?}; the columns are: {}",
                self.file.display(),
                self.id_column,
                self.columns.join(", ")
            )));
        }
        Ok(())
    }

    pub(super) fn malformed(&mut self, line: u64, message: String, value: String) -> Result<()> {
        let row = BadRow {
            file: self.file.clone(),
            line,
            column: "-".into(),
            value,
            message,
        };
        self.skips.bad(row, false)
    }

    pub(super) fn row<'c>(
        &mut self,
        keys: &mut Interner,
        line: u64,
        cell: impl Fn(usize) -> Option<&'c str>,
    ) -> Result<bool> {
        let id = self
            .id_index
            .and_then(&cell)
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let column = self.id_column.clone();
        let Some(id) = id else {
            let row = BadRow {
                file: self.file.clone(),
                line,
                column,
                value: String::new(),
                message: MISSING_ID.into(),
            };
            return self.skips.bad(row, true).map(|()| false);
        };
        let k = keys.intern(id);
        if let Some(first) = self.seen.insert(k, line) {
            let row = BadRow {
                file: self.file.clone(),
                line,
                column,
                value: id.to_string(),
                message: format!("duplicate profile id (first on line {first})"),
            };
            self.seen.insert(k, first);
            return self.skips.bad(row, false).map(|()| false);
        }
        self.key.push(k);
        if self.text_props {
            for p in &mut self.props {
                p.push_text(cell(p.input_index));
            }
        }
        Ok(true)
    }
}
