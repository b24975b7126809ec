//! Turning input rows into columns: role values parsed and checked, ids
//! interned, everything else kept as properties.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{ArrayRef, Decimal128Array, Int64Array, StringArray, StringBuilder};
use arrow::datatypes::{DataType, Field};

use super::props::PropColumn;
use super::roles::{Role, RoleKind, RoleSpec, roles_in_flag_order};
use super::values::{cents, parse_decimal, parse_int};
use super::{ColumnSource, parse_timestamp, parse_with_format};
use crate::error::{BadRow, Error, Result};
use crate::schema::{AMOUNT_PRECISION, AMOUNT_SCALE, amount_type};

/// Strings → dense u32 codes in order of first appearance.
#[derive(Debug, Default)]
pub(super) struct Interner {
    map: HashMap<Box<str>, u32, foldhash::fast::RandomState>,
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

/// Where each role's values come from, after defaults are applied.
#[derive(Debug, Clone)]
pub(super) struct Mapping {
    pub(super) profile_id: String,
    pub(super) time: String,
    /// The mapped roles, in table order ([`ROLES`](super::ROLES)).
    pub(super) roles: Vec<(&'static RoleSpec, ColumnSource)>,
    pub(super) amount_times: Option<String>,
    pub(super) drop: Vec<String>,
}

impl Mapping {
    /// The source of `role`, if it is mapped.
    pub(super) fn source(&self, role: Role) -> Option<&ColumnSource> {
        self.roles
            .iter()
            .find(|(s, _)| s.role == role)
            .map(|(_, src)| src)
    }

    /// Columns whose values go to a role and are not kept as properties.
    /// The amount column stays a property when it is multiplied by
    /// `amount_times` (`UnitPrice` of `UnitPrice * Quantity`).
    fn consumes(&self, name: &str) -> bool {
        name == self.profile_id
            || name == self.time
            || self.roles.iter().any(|(spec, src)| {
                matches!(src, ColumnSource::Column(n) if n == name)
                    && !(spec.role == Role::Amount && self.amount_times.is_some())
            })
    }

    /// The canonical columns this mapping writes, in order.
    pub(super) fn written(&self) -> Vec<&'static str> {
        let mut w = vec!["profile_id", "event_time"];
        w.extend(self.roles.iter().map(|(spec, _)| spec.name));
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

/// The values of one mapped role, as collected.
#[derive(Debug)]
pub(super) enum RoleValues {
    /// Codes into `dict` ([`NONE`] = null); `constant` is the code of a
    /// constant source.
    Label {
        codes: Vec<u32>,
        dict: Interner,
        constant: Option<u32>,
        lowercase: bool,
    },
    Text(StringBuilder),
    Amount(Vec<Option<i128>>),
    Int64(Vec<Option<i64>>),
}

/// One mapped role: where its values come from and the values so far.
#[derive(Debug)]
pub(super) struct RoleColumn {
    pub(super) spec: &'static RoleSpec,
    source: ColumnSource,
    /// Input column of a [`ColumnSource::Column`], once seen.
    index: Option<usize>,
    values: RoleValues,
}

impl RoleColumn {
    fn new(spec: &'static RoleSpec, source: ColumnSource) -> Self {
        let values = match spec.kind {
            RoleKind::Label { lowercase } => {
                let mut dict = Interner::default();
                let constant = match &source {
                    ColumnSource::Const(v) => Some(dict.intern(&constant_value(spec, v))),
                    ColumnSource::Column(_) => None,
                };
                RoleValues::Label {
                    codes: Vec::new(),
                    dict,
                    constant,
                    lowercase,
                }
            }
            RoleKind::Text => RoleValues::Text(StringBuilder::new()),
            RoleKind::Amount => RoleValues::Amount(Vec::new()),
            RoleKind::Int64 => RoleValues::Int64(Vec::new()),
        };
        RoleColumn {
            spec,
            source,
            index: None,
            values,
        }
    }

    /// The written column: the canonical name, nullable unless required.
    pub(super) fn finish(&mut self) -> Result<(Field, ArrayRef)> {
        let (data_type, array): (DataType, ArrayRef) = match &mut self.values {
            RoleValues::Label { codes, dict, .. } => {
                (DataType::Utf8, strings_from_codes(codes, dict))
            }
            RoleValues::Text(b) => (DataType::Utf8, Arc::new(b.finish())),
            RoleValues::Amount(v) => (
                amount_type(),
                Arc::new(
                    Decimal128Array::from(std::mem::take(v))
                        .with_precision_and_scale(AMOUNT_PRECISION, AMOUNT_SCALE)?,
                ),
            ),
            RoleValues::Int64(v) => (
                DataType::Int64,
                Arc::new(Int64Array::from(std::mem::take(v))),
            ),
        };
        Ok((
            Field::new(self.spec.name, data_type, !self.spec.required),
            array,
        ))
    }
}

/// The value a constant source gives every row: trimmed, and lower-cased
/// for lower-case labels; the event type's is taken as given (as it always
/// was).
fn constant_value(spec: &RoleSpec, v: &str) -> String {
    match spec.kind {
        RoleKind::Label { lowercase: true } => v.trim().to_lowercase(),
        _ if spec.role == Role::EventType => v.to_string(),
        _ => v.trim().to_string(),
    }
}

/// Strings of interned codes ([`NONE`] = null).
pub(super) fn strings_from_codes(codes: &[u32], values: &Interner) -> ArrayRef {
    Arc::new(
        codes
            .iter()
            .map(|&c| (c != NONE).then(|| &*values.values[c as usize]))
            .collect::<StringArray>(),
    )
}

/// Why a row is bad: the input column, the value, what is wrong.
type Reject<'c> = (Option<usize>, Option<&'c str>, Cow<'static, str>);

/// Collects event rows.
#[derive(Debug)]
pub(super) struct EventCollector {
    pub(super) mapping: Mapping,
    time_parser: TimeParser,
    refund_if_negative: bool,
    /// Input columns of the profile id, the time and `amount_times`.
    profile_id_index: Option<usize>,
    time_index: Option<usize>,
    amount_times_index: Option<usize>,
    /// The mapped roles, in table order (the order they are written in).
    pub(super) roles: Vec<RoleColumn>,
    /// Position of the amount in `roles`, if mapped.
    amount_slot: Option<usize>,
    /// The current row's parsed numbers, by position in `roles`.
    numbers: Vec<Option<i128>>,
    pub(super) file: PathBuf,
    pub(super) columns: Vec<String>,
    pub(super) keys: Interner,
    pub(super) key: Vec<u32>,
    pub(super) time: Vec<i64>,
    pub(super) props: Vec<PropColumn>,
    pub(super) rows_read: u64,
    pub(super) skips: Skips,
    text_props: bool,
}

pub(super) const NONE: u32 = u32::MAX;

impl EventCollector {
    pub(super) fn new(
        mapping: Mapping,
        time_parser: TimeParser,
        refund_if_negative: bool,
        skips: Skips,
    ) -> Self {
        let roles: Vec<RoleColumn> = mapping
            .roles
            .iter()
            .map(|(spec, source)| RoleColumn::new(spec, source.clone()))
            .collect();
        EventCollector {
            mapping,
            time_parser,
            refund_if_negative,
            profile_id_index: None,
            time_index: None,
            amount_times_index: None,
            amount_slot: roles.iter().position(|r| r.spec.role == Role::Amount),
            numbers: vec![None; roles.len()],
            roles,
            file: PathBuf::new(),
            columns: Vec::new(),
            keys: Interner::default(),
            key: Vec::new(),
            time: Vec::new(),
            props: Vec::new(),
            rows_read: 0,
            skips,
            text_props: true,
        }
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
            self.profile_id_index = None;
            self.time_index = None;
            self.amount_times_index = None;
            for r in &mut self.roles {
                r.index = None;
            }
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
        if m.profile_id == name {
            self.profile_id_index = Some(index);
        }
        if m.time == name {
            self.time_index = Some(index);
        }
        if m.amount_times.as_deref() == Some(name) {
            self.amount_times_index = Some(index);
        }
        for r in &mut self.roles {
            if matches!(&r.source, ColumnSource::Column(n) if n == name) {
                r.index = Some(index);
            }
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
                missing.push(format!("--{flag} {n:?}"));
            }
        };
        need("profile-id", Some(&m.profile_id), self.profile_id_index);
        need("time", Some(&m.time), self.time_index);
        for spec in roles_in_flag_order() {
            if let Some(r) = self.roles.iter().find(|r| r.spec.role == spec.role)
                && let ColumnSource::Column(n) = &r.source
            {
                need(&spec.flag(), Some(n), r.index);
            }
            if spec.role == Role::Amount {
                need(
                    "amount-times",
                    m.amount_times.as_deref(),
                    self.amount_times_index,
                );
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let mut msg = format!(
            "{}: no column {}; the columns are: {}",
            self.file.display(),
            missing.join(", no column "),
            self.columns.join(", ")
        );
        let default_event_type = ColumnSource::Column(Role::EventType.name().into());
        if self.roles.iter().any(|r| {
            r.spec.role == Role::EventType && r.source == default_event_type && r.index.is_none()
        }) {
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

    /// Checks a role's value in the current row; numbers are returned
    /// parsed (cents for amounts).
    fn parse_role<'c>(
        &self,
        r: &RoleColumn,
        get: &impl Fn(Option<usize>) -> Option<&'c str>,
    ) -> Result<Option<i128>, Reject<'c>> {
        let v = get(r.index);
        match r.spec.kind {
            RoleKind::Label { .. } | RoleKind::Text => {
                if r.spec.required && v.is_none() && matches!(r.source, ColumnSource::Column(_)) {
                    let what = format!("missing {}", r.spec.name.replace('_', " "));
                    return Err((r.index, None, what.into()));
                }
                Ok(None)
            }
            RoleKind::Int64 => match v {
                None => Ok(None),
                Some(v) => parse_int(v)
                    .map(|q| Some(q.into()))
                    .ok_or_else(|| (r.index, Some(v), "not an integer".into())),
            },
            RoleKind::Amount => {
                let Some(v) = v else { return Ok(None) };
                let Some(a) = parse_decimal(v) else {
                    return Err((r.index, Some(v), "not a number".into()));
                };
                // Only the amount role is multiplied by `amount_times`.
                let times_index = self
                    .amount_times_index
                    .filter(|_| r.spec.role == Role::Amount);
                let times = match times_index.map(|i| (i, get(Some(i)))) {
                    None => None,
                    // No factor: no amount.
                    Some((_, None)) => return Ok(None),
                    Some((i, Some(q))) => match parse_decimal(q) {
                        Some(q) => Some(q),
                        None => return Err((Some(i), Some(q), "not a number".into())),
                    },
                };
                cents(a, times).map(Some).ok_or_else(|| {
                    (
                        r.index,
                        Some(v),
                        "amount out of range for Decimal(18,2)".into(),
                    )
                })
            }
        }
    }

    /// Adds one row; `cell(i)` gives input column i (None = missing/null).
    /// Returns whether the row was kept.
    pub(super) fn row<'c>(
        &mut self,
        line: u64,
        cell: impl Fn(usize) -> Option<&'c str>,
    ) -> Result<bool> {
        self.rows_read += 1;
        let get = |idx: Option<usize>| idx.and_then(&cell).map(str::trim).filter(|s| !s.is_empty());

        let Some(id) = get(self.profile_id_index) else {
            return self.bad(line, self.profile_id_index, None, MISSING_ID);
        };
        let tv = get(self.time_index);
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
            return self.bad(line, self.time_index, tv, msg);
        };
        // Every role is checked before anything is appended.
        for slot in 0..self.roles.len() {
            match self.parse_role(&self.roles[slot], &get) {
                Ok(n) => self.numbers[slot] = n,
                Err((index, value, message)) => return self.bad(line, index, value, &message),
            }
        }

        // The row is good: append.
        self.key.push(self.keys.intern(id));
        self.time.push(t);
        let refund = self.refund_if_negative
            && self
                .amount_slot
                .is_some_and(|s| self.numbers[s].is_some_and(|a| a < 0));
        for (slot, r) in self.roles.iter_mut().enumerate() {
            let v = get(r.index);
            match &mut r.values {
                RoleValues::Label {
                    codes,
                    dict,
                    constant,
                    lowercase,
                } => codes.push(if refund && r.spec.role == Role::EventType {
                    dict.intern("refund")
                } else if let Some(c) = *constant {
                    c
                } else {
                    match v {
                        Some(v) if *lowercase && v.bytes().any(|b| b.is_ascii_uppercase()) => {
                            dict.intern(&v.to_ascii_lowercase())
                        }
                        Some(v) => dict.intern(v),
                        None => NONE,
                    }
                }),
                RoleValues::Text(b) => b.append_option(v),
                RoleValues::Amount(a) => a.push(self.numbers[slot]),
                RoleValues::Int64(q) => q.push(self.numbers[slot].map(|n| n as i64)),
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
