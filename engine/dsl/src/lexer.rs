//! Source text → tokens. Lexing never fails as a whole: a mistake becomes a
//! diagnostic plus, where the intent is clear, the token that was meant (so
//! the parser can go on and report more), otherwise a [`Tok::Error`].

use crate::ast::{CmpOp, Comment, Duration, Span, TimeUnit, TimeValue};
use crate::error::Diagnostic;
use crate::time;

/// Words with a meaning of their own. Keywords are case-insensitive; as a
/// name they must be backquoted (the formatter does so).
pub(crate) const KEYWORDS: &[&str] = &[
    "and", "or", "not", "in", "segment", "between", "contains", "starts", "with", "is", "null",
    "within", "next", "since", "where", "true", "false", "today", "now", "any",
];

/// Function and built-in names (also reserved as plain names).
pub(crate) const FUNCTIONS: &[&str] = &[
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "first",
    "last",
    "performed",
    "anniversary",
    "rfm",
    "channel_mix",
    "lifecycle",
];

/// Whether `name` can be written without backquotes.
pub(crate) fn is_plain_ident(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !is_reserved(name)
}

pub(crate) fn is_reserved(word: &str) -> bool {
    KEYWORDS
        .iter()
        .chain(FUNCTIONS)
        .any(|k| k.eq_ignore_ascii_case(word))
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// A bare word: a keyword, function or name (text is the span's source).
    Word,
    /// `` `odd name` `` (never a keyword).
    QuotedIdent(String),
    /// `'text'`.
    Str(String),
    Int(i64),
    Float(f64),
    /// `30d`, or `-30d` (negative).
    Duration {
        duration: Duration,
        negative: bool,
    },
    /// `2024-05-01`, `2024-05-01T10:30:00Z`.
    Time(TimeValue),
    LParen,
    RParen,
    Comma,
    Dot,
    Cmp(CmpOp),
    /// A keyword written as an operator (`&&`, `||`, `!`); already reported,
    /// then read as the keyword (lower case) so parsing can go on.
    Kw(&'static str),
    /// Something that could not be lexed; already reported.
    Error,
    Eof,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) span: Span,
}

pub(crate) struct Lexed {
    pub(crate) tokens: Vec<Token>,
    pub(crate) comments: Vec<Comment>,
    pub(crate) diags: Vec<Diagnostic>,
}

pub(crate) fn lex(src: &str) -> Lexed {
    let mut lx = Lexer {
        src,
        bytes: src.as_bytes(),
        pos: 0,
        out: Lexed {
            tokens: Vec::new(),
            comments: Vec::new(),
            diags: Vec::new(),
        },
    };
    lx.run();
    lx.out
}

struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    out: Lexed,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}
fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> u8 {
        self.bytes.get(self.pos + ahead).copied().unwrap_or(0)
    }

    fn push(&mut self, tok: Tok, start: usize) {
        self.out.tokens.push(Token {
            tok,
            span: Span::new(start, self.pos),
        });
    }

    fn error(&mut self, d: Diagnostic) {
        self.out.diags.push(d);
    }

    fn run(&mut self) {
        while self.pos < self.bytes.len() {
            let start = self.pos;
            let b = self.bytes[self.pos];
            match b {
                b' ' | b'\t' | b'\r' | b'\n' | b'\x0c' => self.pos += 1,
                b'#' => self.comment(),
                b'(' => self.single(Tok::LParen),
                b')' => self.single(Tok::RParen),
                b',' => self.single(Tok::Comma),
                b'.' if self.peek(1).is_ascii_digit() => {
                    self.pos += 1;
                    self.eat_digits();
                    let text = &self.src[start..self.pos];
                    self.error(
                        Diagnostic::new(
                            Span::new(start, self.pos),
                            "a number must start with a digit",
                        )
                        .did_you_mean(&format!("0{text}")),
                    );
                    self.push(Tok::Error, start);
                }
                b'.' => self.single(Tok::Dot),
                b'=' if self.peek(1) == b'=' => {
                    self.pos += 2;
                    self.error(
                        Diagnostic::new(Span::new(start, self.pos), "`==` is not an operator")
                            .did_you_mean("="),
                    );
                    self.push(Tok::Cmp(CmpOp::Eq), start);
                }
                b'=' => self.single(Tok::Cmp(CmpOp::Eq)),
                b'!' if self.peek(1) == b'=' => {
                    self.pos += 2;
                    self.push(Tok::Cmp(CmpOp::NotEq), start);
                }
                b'<' if self.peek(1) == b'>' => {
                    self.pos += 2;
                    self.error(
                        Diagnostic::new(Span::new(start, self.pos), "`<>` is not an operator")
                            .did_you_mean("!="),
                    );
                    self.push(Tok::Cmp(CmpOp::NotEq), start);
                }
                b'<' | b'>' => {
                    self.pos += 1;
                    let eq = self.peek(0) == b'=';
                    if eq {
                        self.pos += 1;
                    }
                    let op = match (b, eq) {
                        (b'<', false) => CmpOp::Lt,
                        (b'<', true) => CmpOp::LtEq,
                        (_, false) => CmpOp::Gt,
                        (_, true) => CmpOp::GtEq,
                    };
                    self.push(Tok::Cmp(op), start);
                }
                b'!' => self.operator_word(1, "`!` is not an operator", "NOT"),
                b'&' if self.peek(1) == b'&' => {
                    self.operator_word(2, "`&&` is not an operator", "AND")
                }
                b'|' if self.peek(1) == b'|' => {
                    self.operator_word(2, "`||` is not an operator", "OR")
                }
                b'\'' => self.string(b'\'', "string"),
                b'"' => self.string(b'"', "string"),
                b'`' => self.string(b'`', "name"),
                b'-' if self.peek(1).is_ascii_digit() => {
                    self.pos += 1;
                    self.number(start, true);
                }
                b'0'..=b'9' => self.number(start, false),
                _ if is_ident_start(b) => {
                    while is_ident_char(self.peek(0)) {
                        self.pos += 1;
                    }
                    if self.peek(0) == b'-' && is_ident_start(self.peek(1)) {
                        self.hyphenated(start);
                    } else if !self.peek(0).is_ascii() {
                        self.bad_word(start);
                    } else {
                        self.push(Tok::Word, start);
                    }
                }
                _ if !b.is_ascii() => self.bad_word(start),
                _ => {
                    self.pos += 1;
                    let c = b as char;
                    let mut d = Diagnostic::new(
                        Span::new(start, self.pos),
                        format!("unexpected character `{}`", c.escape_default()),
                    );
                    if c == '-' {
                        d = d.with_suggestion(
                            "a minus sign only starts a negative number or a time before as_of, e.g. -30d",
                        );
                    } else if c == ';' {
                        d = d.with_suggestion("remove the `;`: a segment is one condition");
                    } else if c == '*' {
                        d = d.with_suggestion(
                            "count(any) counts events of every type, count(purchase) one type",
                        );
                    }
                    self.error(d);
                    self.push(Tok::Error, start);
                }
            }
        }
        self.out.tokens.push(Token {
            tok: Tok::Eof,
            span: Span::new(self.src.len(), self.src.len()),
        });
    }

    fn single(&mut self, tok: Tok) {
        let start = self.pos;
        self.pos += 1;
        self.push(tok, start);
    }

    /// `!`, `&&`, `||`: report, then continue as if the keyword was written.
    fn operator_word(&mut self, len: usize, message: &str, keyword: &str) {
        let start = self.pos;
        self.pos += len;
        self.error(Diagnostic::new(Span::new(start, self.pos), message).did_you_mean(keyword));
        let kw = match keyword {
            "AND" => "and",
            "OR" => "or",
            _ => "not",
        };
        self.push(Tok::Kw(kw), start);
    }

    /// A run of characters that cannot start anything (e.g. `café` or `€`).
    fn bad_word(&mut self, start: usize) {
        while self.pos < self.bytes.len() {
            let c = self.src[self.pos..].chars().next().unwrap_or(' ');
            if c.is_ascii() && !is_ident_char(c as u8) {
                break;
            }
            self.pos += c.len_utf8();
        }
        let text = &self.src[start..self.pos];
        let first_bad = text.chars().find(|c| !c.is_ascii()).unwrap_or('?');
        self.error(
            Diagnostic::new(
                Span::new(start, self.pos),
                format!("unexpected character `{first_bad}` in `{text}`"),
            )
            .with_suggestion(format!(
                "names with other characters are written in backquotes: `{}`",
                text.replace('`', "``")
            )),
        );
        self.push(Tok::Error, start);
    }

    fn comment(&mut self) {
        let start = self.pos;
        let end = self.src[start..]
            .find('\n')
            .map_or(self.src.len(), |i| start + i);
        let mut text_end = end;
        if text_end > start + 1 && self.bytes[text_end - 1] == b'\r' {
            text_end -= 1;
        }
        self.out.comments.push(Comment {
            text: self.src[start + 1..text_end].to_string(),
            span: Span::new(start, text_end),
        });
        self.pos = end;
    }

    /// `'...'` / `"..."` (an error, but lexed as a string) / `` `...` ``,
    /// with the quote doubled to escape it.
    fn string(&mut self, quote: u8, what: &str) {
        let start = self.pos;
        self.pos += 1;
        let mut text = String::new();
        loop {
            let Some(i) = self.src[self.pos..].find(quote as char) else {
                self.pos = self.src.len();
                let q = quote as char;
                let d = Diagnostic::new(
                    Span::new(start, start + 1),
                    format!("unterminated {what}: this {q} is never closed"),
                )
                .with_expected(format!("a closing {q}"))
                .with_suggestion(format!(
                    "add a {q} at the end of the {what}; write {q}{q} for a {q} inside it"
                ));
                self.error(d);
                self.push(Tok::Error, start);
                return;
            };
            text.push_str(&self.src[self.pos..self.pos + i]);
            self.pos += i + 1;
            if self.peek(0) == quote {
                text.push(quote as char);
                self.pos += 1;
            } else {
                break;
            }
        }
        let span = Span::new(start, self.pos);
        match quote {
            b'\'' => self.push(Tok::Str(text), start),
            b'"' => {
                let fixed = format!("'{}'", text.replace('\'', "''"));
                self.error(
                    Diagnostic::new(span, "strings are written in single quotes")
                        .did_you_mean(&fixed),
                );
                self.push(Tok::Str(text), start);
            }
            _ => {
                if text.is_empty() {
                    self.error(Diagnostic::new(span, "empty name ``").with_expected("a name"));
                    self.push(Tok::Error, start);
                } else {
                    self.push(Tok::QuotedIdent(text), start);
                }
            }
        }
    }

    fn eat_digits(&mut self) -> usize {
        let s = self.pos;
        while self.peek(0).is_ascii_digit() {
            self.pos += 1;
        }
        self.pos - s
    }

    /// Numbers, durations, dates and timestamps. `start` is at the `-` of a
    /// negative number (already consumed) or at the first digit.
    /// `add-to-cart`: a word with hyphens, which only a backquoted name
    /// may hold. One error for the whole word.
    fn hyphenated(&mut self, start: usize) {
        while is_ident_char(self.peek(0)) || self.peek(0) == b'-' {
            self.pos += 1;
        }
        let word = &self.src[start..self.pos];
        let d = Diagnostic::new(
            Span::new(start, self.pos),
            format!("`{word}` is not a plain name: `-` is not allowed in one"),
        )
        .with_suggestion(format!(
            "write it in backquotes, `{word}`, or with `_` if that is its name: {}",
            word.replace('-', "_")
        ))
        .with_replacement(format!("`{word}`"));
        self.error(d);
        self.push(Tok::Error, start);
    }

    /// `01/12/2025`: a date written with slashes. One error for the whole
    /// text, with the year-month-day spelling of each possible reading.
    fn slash_date(&mut self, start: usize) {
        while self.peek(0).is_ascii_digit() || self.peek(0) == b'/' {
            self.pos += 1;
        }
        let text = &self.src[start..self.pos];
        let parts: Vec<u32> = text.split('/').filter_map(|p| p.parse().ok()).collect();
        let mut d = Diagnostic::new(
            Span::new(start, self.pos),
            format!("`{text}` is not a date: dates are written year-month-day"),
        )
        .with_expected("a date like 2025-01-12");
        if let [a, b, year] = parts[..] {
            let iso = |month: u32, day: u32| format!("{year:04}-{month:02}-{day:02}");
            let readings: Vec<String> = [(a, b, "month/day"), (b, a, "day/month")]
                .into_iter()
                .filter(|&(m, day, _)| (1..=12).contains(&m) && (1..=31).contains(&day))
                .map(|(m, day, how)| format!("{} (read as {how})", iso(m, day)))
                .collect();
            d = match readings.as_slice() {
                [] => d,
                [one] => d.with_suggestion(format!("write {one}")),
                [first, second] if first != second => {
                    d.with_suggestion(format!("write {first} or {second}"))
                }
                [same, _] => d.with_suggestion(format!("write {same}")),
                _ => d,
            };
        }
        self.error(d);
        self.push(Tok::Error, start);
    }

    fn number(&mut self, start: usize, negative: bool) {
        let digits_start = self.pos;
        let n_int = self.eat_digits();
        // A date: 2024-05-01 (only for non-negative numbers).
        if !negative && self.peek(0) == b'-' && self.peek(1).is_ascii_digit() {
            return self.datetime(start, n_int);
        }
        if !negative && self.peek(0) == b'/' && self.peek(1).is_ascii_digit() {
            return self.slash_date(start);
        }
        let mut is_float = false;
        if self.peek(0) == b'.' && self.peek(1).is_ascii_digit() {
            self.pos += 1;
            self.eat_digits();
            is_float = true;
        } else if self.peek(0) == b'.' && is_ident_start(self.peek(1)) {
            // `5.x`: a number followed by `.name`; let the parser complain.
        } else if self.peek(0) == b'.' {
            self.pos += 1;
            self.error(
                Diagnostic::new(Span::new(start, self.pos), "expected digits after `.`")
                    .did_you_mean(&format!("{}.0", &self.src[start..self.pos - 1])),
            );
            self.push(Tok::Error, start);
            return;
        }
        if matches!(self.peek(0), b'e' | b'E') {
            let sign = usize::from(matches!(self.peek(1), b'+' | b'-'));
            if self.peek(1 + sign).is_ascii_digit() {
                self.pos += 1 + sign;
                self.eat_digits();
                is_float = true;
            }
        }
        let num_end = self.pos;
        // A unit or other suffix glued to the number.
        if is_ident_start(self.peek(0)) {
            while is_ident_char(self.peek(0)) {
                self.pos += 1;
            }
            let suffix = &self.src[num_end..self.pos];
            let unit = TimeUnit::from_suffix_str(suffix);
            let span = Span::new(start, self.pos);
            match unit {
                Some(unit) if !is_float => {
                    match self.src[digits_start..num_end].parse::<u32>() {
                        Ok(amount) => self.push(
                            Tok::Duration {
                                duration: Duration { amount, unit },
                                negative,
                            },
                            start,
                        ),
                        Err(_) => {
                            self.error(
                                Diagnostic::new(span, "duration is too large").with_expected(
                                    format!("at most {}{}", u32::MAX, unit.suffix()),
                                ),
                            );
                            self.push(Tok::Error, start);
                        }
                    }
                }
                Some(_) => {
                    self.error(
                        Diagnostic::new(span, "a duration is a whole number of a unit")
                            .with_suggestion("use a smaller unit, e.g. 36h instead of 1.5d"),
                    );
                    self.push(Tok::Error, start);
                }
                None => {
                    let lower = suffix.to_ascii_lowercase();
                    let unit_guess = match lower.as_str() {
                        "h" | "hr" | "hrs" | "hour" | "hours" => Some('h'),
                        "d" | "day" | "days" => Some('d'),
                        "w" | "wk" | "wks" | "week" | "weeks" => Some('w'),
                        "m" | "mo" | "mon" | "month" | "months" => Some('m'),
                        "y" | "yr" | "yrs" | "year" | "years" => Some('y'),
                        _ => None,
                    };
                    let mut d = Diagnostic::new(
                        Span::new(num_end, self.pos),
                        format!("unknown unit `{suffix}`"),
                    )
                    .with_expected(
                        "a unit: h (hours), d (days), w (weeks), m (months) or y (years)",
                    );
                    if let (Some(u), false) = (unit_guess, is_float) {
                        let fixed = format!("{}{u}", &self.src[start..num_end]);
                        d.span = span;
                        d = d.did_you_mean(&fixed);
                    }
                    self.error(d);
                    self.push(Tok::Error, start);
                }
            }
            return;
        }
        let text = &self.src[start..num_end];
        let span = Span::new(start, num_end);
        if is_float {
            match text.parse::<f64>() {
                Ok(f) if f.is_finite() => self.push(Tok::Float(f), start),
                _ => {
                    self.error(Diagnostic::new(span, "number is too large").with_expected(
                        "a number between -1.7976931348623157e308 and 1.7976931348623157e308",
                    ));
                    self.push(Tok::Error, start);
                }
            }
        } else {
            match text.parse::<i64>() {
                Ok(i) => self.push(Tok::Int(i), start),
                Err(_) => {
                    self.error(
                        Diagnostic::new(span, "integer is too large")
                            .with_expected(format!(
                                "an integer between {} and {}",
                                i64::MIN,
                                i64::MAX
                            ))
                            .with_suggestion(
                                "write a decimal point to make it a floating-point number",
                            ),
                    );
                    self.push(Tok::Error, start);
                }
            }
        }
    }

    /// `YYYY-MM-DD[THH:MM[:SS[.ffffff]](Z|±HH:MM)]`; `self.pos` is after YYYY.
    fn datetime(&mut self, start: usize, year_digits: usize) {
        let mut parts = vec![(start, year_digits)];
        while self.peek(0) == b'-' && self.peek(1).is_ascii_digit() && parts.len() < 3 {
            self.pos += 1;
            let s = self.pos;
            parts.push((s, self.eat_digits()));
        }
        let has_time = self.peek(0) == b'T' && self.peek(1).is_ascii_digit();
        if has_time {
            self.pos += 1;
            while self.peek(0).is_ascii_digit()
                || matches!(self.peek(0), b':' | b'.' | b'Z' | b'+')
                || (self.peek(0) == b'-' && self.peek(1).is_ascii_digit())
            {
                self.pos += 1;
            }
        }
        // Anything glued on (e.g. `2024-05-01x`) belongs to this token.
        while is_ident_char(self.peek(0)) {
            self.pos += 1;
        }
        let span = Span::new(start, self.pos);
        let text = &self.src[start..self.pos];
        match parse_datetime(text) {
            Ok(tv) => self.push(Tok::Time(tv), start),
            Err((msg, hint)) => {
                let mut d = Diagnostic::new(span, format!("invalid date `{text}`: {msg}"))
                    .with_expected("a date YYYY-MM-DD or a timestamp YYYY-MM-DDTHH:MM:SSZ");
                if let Some(h) = hint {
                    d = d.did_you_mean(&h);
                }
                self.error(d);
                self.push(Tok::Error, start);
            }
        }
    }
}

type DateErr = (String, Option<String>);

fn two(s: &str) -> Option<u32> {
    (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// Parses a date or timestamp literal; on error, a message and maybe a
/// corrected literal.
fn parse_datetime(text: &str) -> Result<TimeValue, DateErr> {
    let (date, rest) = match text.find('T') {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    let fields: Vec<&str> = date.split('-').collect();
    let [y, m, d] = fields.as_slice() else {
        return Err(("dates are written YYYY-MM-DD".into(), None));
    };
    let num = |s: &str| -> Option<u32> {
        (!s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (Some(yn), Some(mn), Some(dn)) = (num(y), num(m), num(d)) else {
        return Err(("dates are written YYYY-MM-DD".into(), None));
    };
    if y.len() != 4 || m.len() > 2 || d.len() > 2 || m.len() < 2 || d.len() < 2 {
        let hint = (y.len() == 4 && time::date_error(yn as i32, mn, dn).is_none())
            .then(|| format!("{yn:04}-{mn:02}-{dn:02}"));
        return Err(("dates are written YYYY-MM-DD".into(), hint));
    }
    let year = yn as i32;
    if let Some(e) = time::date_error(year, mn, dn) {
        return Err((e, None));
    }
    let Some(rest) = rest else {
        return Ok(TimeValue::Date {
            year,
            month: mn,
            day: dn,
        });
    };
    // Time of day and zone.
    let (clock, offset) = if let Some(c) = rest.strip_suffix('Z') {
        (c, Some(0i64))
    } else if let Some(i) = rest.rfind(['+', '-']) {
        let (c, z) = rest.split_at(i);
        let sign = if z.starts_with('-') { -1 } else { 1 };
        let zz = &z[1..];
        let off = zz
            .split_once(':')
            .and_then(|(h, m)| Some((two(h)?, two(m)?)))
            .filter(|(h, m)| *h <= 23 && *m <= 59)
            .map(|(h, m)| sign * i64::from(h * 3600 + m * 60));
        match off {
            Some(o) => (c, Some(o)),
            None => return Err((format!("bad time zone offset `{z}`"), None)),
        }
    } else {
        (rest, None)
    };
    let bad_clock = || {
        (
            "times are written HH:MM:SS, e.g. 10:30:00".to_string(),
            None,
        )
    };
    let mut hms = clock.splitn(3, ':');
    let h = hms.next().and_then(two).ok_or_else(bad_clock)?;
    let mi = hms.next().and_then(two).ok_or_else(bad_clock)?;
    let (s, micros) = match hms.next() {
        None => (0, 0),
        Some(sec) => {
            let (whole, frac) = match sec.split_once('.') {
                Some((w, f)) => (w, Some(f)),
                None => (sec, None),
            };
            let s = two(whole).ok_or_else(bad_clock)?;
            let micros = match frac {
                None => 0,
                Some(f)
                    if !f.is_empty() && f.len() <= 6 && f.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    let mut v: i64 = f.parse().map_err(|_| bad_clock())?;
                    for _ in f.len()..6 {
                        v *= 10;
                    }
                    v
                }
                Some(_) => {
                    return Err((
                        "fractional seconds have 1 to 6 digits (microseconds)".into(),
                        None,
                    ));
                }
            };
            (s, micros)
        }
    };
    if h > 23 || mi > 59 || s > 59 {
        return Err((format!("{clock} is not a time of day"), None));
    }
    let Some(offset) = offset else {
        return Err((
            "a timestamp needs a time zone: Z for UTC or an offset like +02:00".into(),
            Some(format!("{text}Z")),
        ));
    };
    let micros = time::micros_from_parts(
        year,
        mn,
        dn,
        i64::from(h * 3600 + mi * 60 + s),
        micros,
        offset,
    );
    let (lo, hi) = time::micros_range();
    if !(lo..=hi).contains(&micros) {
        return Err((
            "the instant is out of range (years 1..=9999 UTC)".into(),
            None,
        ));
    }
    Ok(TimeValue::Timestamp { micros })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        let l = lex(src);
        assert!(l.diags.is_empty(), "{:?}", l.diags);
        l.tokens.into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn numbers_and_durations() {
        assert_eq!(
            toks("-5 2.5 -2.5 1e3 30d -6m"),
            vec![
                Tok::Int(-5),
                Tok::Float(2.5),
                Tok::Float(-2.5),
                Tok::Float(1000.0),
                Tok::Duration {
                    duration: Duration::new(30, TimeUnit::Days),
                    negative: false
                },
                Tok::Duration {
                    duration: Duration::new(6, TimeUnit::Months),
                    negative: true
                },
                Tok::Eof
            ]
        );
    }

    #[test]
    fn dates() {
        assert_eq!(
            toks("2024-05-01 2024-05-01T10:30:00Z 2024-05-01T12:30:00+02:00"),
            vec![
                Tok::Time(TimeValue::Date {
                    year: 2024,
                    month: 5,
                    day: 1
                }),
                Tok::Time(TimeValue::Timestamp {
                    micros: 1_714_559_400_000_000
                }),
                Tok::Time(TimeValue::Timestamp {
                    micros: 1_714_559_400_000_000
                }),
                Tok::Eof
            ]
        );
        assert_eq!(lex("2024-13-01").diags.len(), 1);
        assert_eq!(lex("2024-05-01T10:30:00").diags.len(), 1);
    }

    #[test]
    fn strings_and_names() {
        assert_eq!(
            toks("'it''s' `odd ``name`` `"),
            vec![
                Tok::Str("it's".into()),
                Tok::QuotedIdent("odd `name` ".into()),
                Tok::Eof
            ]
        );
    }
}
