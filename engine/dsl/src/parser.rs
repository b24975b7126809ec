//! Tokens → AST: a recursive-descent parser with error recovery at AND / OR
//! boundaries and closing parentheses, so one run reports several mistakes.
//! It never panics and never recurses deeper than [`MAX_PARSE_DEPTH`].

use crate::ast::{
    AggFunc, Aggregate, Builtin, BuiltinFunc, BuiltinParams, CmpOp, Duration, EventFilter,
    EventSel, Expr, ExprKind, Ident, Operand, Segment, Span, TextTest, TimePart, TimeUnit,
    TimeValue, Value, Window,
};
use crate::error::Diagnostic;
use crate::format;
use crate::lexer::{self, FUNCTIONS, Tok, Token};
use crate::suggest;

/// Parentheses, NOTs and WHEREs nested deeper than this are rejected while
/// parsing (the stack guard). The AST limit, [`crate::MAX_DEPTH`], is lower
/// and checked afterwards.
pub(crate) const MAX_PARSE_DEPTH: usize = 2 * crate::MAX_DEPTH;
/// At most this many diagnostics are reported for one segment.
pub(crate) const MAX_DIAGNOSTICS: usize = 50;

const VALUE_EXPECTED: &str =
    "a value: a number, 'text', true, false, or a time such as 2024-05-01, -30d, today or now";
const TIME_EXPECTED: &str =
    "a time: a date (2024-05-01), a timestamp (2024-05-01T10:30:00Z), -30d, today or now";
const DURATION_EXPECTED: &str = "a duration: a whole number with a unit h, d, w, m or y, e.g. 30d";
const CONDITION_EXPECTED: &str = "a condition, e.g. country = 'US'";
const RFM_MEMBERS: &[&str] = &[
    "r",
    "f",
    "m",
    "segment",
    "recency_days",
    "frequency",
    "monetary",
];

/// Lexes and parses `src` (syntax only; see [`crate::validate`]).
pub(crate) fn parse_syntax(src: &str) -> Result<Segment, Vec<Diagnostic>> {
    if src.len() > crate::MAX_SOURCE_LEN {
        let end = crate::MAX_SOURCE_LEN.min(u32::MAX as usize);
        return Err(vec![Diagnostic::new(
            Span::new(0, 0),
            format!(
                "the segment is too long ({} bytes; the limit is {end})",
                src.len()
            ),
        )]);
    }
    let lexed = lexer::lex(src);
    let mut p = Parser {
        src,
        toks: lexed.tokens,
        pos: 0,
        prev_end: 0,
        diags: lexed.diags,
        depth: 0,
        aborted: false,
        quiet_at: None,
    };
    let expr = p.segment();
    let mut diags = p.diags;
    if diags.is_empty() {
        Ok(Segment {
            expr,
            comments: lexed.comments,
        })
    } else {
        diags.sort_by_key(|d| d.span.start);
        diags.truncate(MAX_DIAGNOSTICS);
        Err(diags)
    }
}

/// An error was recorded (or deliberately not, see `quiet_at`).
#[derive(Debug)]
struct Reported;
type PResult<T> = Result<T, Reported>;

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    pos: usize,
    /// End of the last consumed token.
    prev_end: usize,
    diags: Vec<Diagnostic>,
    depth: usize,
    /// Set when parsing must stop (nesting too deep).
    aborted: bool,
    /// After recovering at an `AND`/`OR`, an error at this token index is a
    /// consequence of the first one and is not reported.
    quiet_at: Option<usize>,
}

fn placeholder(span: Span) -> Expr {
    Expr {
        kind: ExprKind::Truthy {
            lhs: Operand::Field {
                name: Ident {
                    name: String::new(),
                    span,
                },
            },
        },
        span,
    }
}

impl<'a> Parser<'a> {
    // ---- token helpers -------------------------------------------------

    fn tok(&self) -> &Token {
        &self.toks[self.pos.min(self.toks.len() - 1)]
    }

    fn peek(&self, n: usize) -> &Token {
        &self.toks[(self.pos + n).min(self.toks.len() - 1)]
    }

    fn span(&self) -> Span {
        self.tok().span
    }

    fn text(&self, t: &Token) -> &'a str {
        &self.src[t.span.range()]
    }

    fn at(&self, tok: &Tok) -> bool {
        &self.tok().tok == tok
    }

    fn at_eof(&self) -> bool {
        matches!(self.tok().tok, Tok::Eof)
    }

    fn bump(&mut self) -> Token {
        let t = self.tok().clone();
        if !matches!(t.tok, Tok::Eof) {
            self.pos += 1;
            self.prev_end = t.span.end as usize;
        }
        t
    }

    fn word_is(&self, t: &Token, kw: &str) -> bool {
        match &t.tok {
            Tok::Word => self.text(t).eq_ignore_ascii_case(kw),
            Tok::Kw(k) => *k == kw,
            _ => false,
        }
    }

    fn is_kw(&self, kw: &str) -> bool {
        self.word_is(self.tok(), kw)
    }

    fn eat_kw(&mut self, kw: &str) -> Option<Span> {
        self.is_kw(kw).then(|| self.bump().span)
    }

    fn eat(&mut self, tok: &Tok) -> Option<Span> {
        self.at(tok).then(|| self.bump().span)
    }

    /// The current word, lower-cased, if the current token is a bare word.
    fn word(&self) -> Option<String> {
        matches!(self.tok().tok, Tok::Word).then(|| self.text(self.tok()).to_ascii_lowercase())
    }

    /// How a token is called in messages.
    fn describe(&self, t: &Token) -> String {
        let text = self.text(t);
        match &t.tok {
            Tok::Word if lexer::KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(text)) => {
                format!("keyword `{}`", text.to_ascii_uppercase())
            }
            Tok::Word | Tok::QuotedIdent(_) => format!("`{text}`"),
            Tok::Str(_) => format!("the string {text}"),
            Tok::Int(_) | Tok::Float(_) => format!("the number {text}"),
            Tok::Duration { .. } => format!("the duration {text}"),
            Tok::Time(_) => format!("the time {text}"),
            Tok::Eof => "the end of the segment".to_string(),
            _ => format!("`{text}`"),
        }
    }

    // ---- diagnostics ---------------------------------------------------

    fn err(&mut self, d: Diagnostic) -> Reported {
        let quiet = self.quiet_at == Some(self.pos);
        let dup = self
            .diags
            .last()
            .is_some_and(|l| l.span.start == d.span.start);
        if !quiet && !dup && self.diags.len() < MAX_DIAGNOSTICS {
            self.diags.push(d);
        }
        Reported
    }

    /// "expected X, found Y" at the current token (nothing if the token is
    /// a lexing error, which was reported already).
    fn unexpected(&mut self, what: &str, expected: &str) -> Reported {
        if matches!(self.tok().tok, Tok::Error) {
            return Reported;
        }
        let t = self.tok().clone();
        let d = Diagnostic::new(
            t.span,
            format!("expected {what}, found {}", self.describe(&t)),
        )
        .with_expected(expected);
        self.err(d)
    }

    fn enter(&mut self, at: Span) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_PARSE_DEPTH {
            self.aborted = true;
            self.quiet_at = None;
            let d = Diagnostic::new(
                at,
                format!(
                    "the segment is nested too deeply (more than {MAX_PARSE_DEPTH} levels of parentheses, NOT and WHERE)"
                ),
            )
            .with_suggestion("flatten the condition: fewer nested groups and NOTs");
            self.err(d);
            return Err(Reported);
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Skips to the next `AND` / `OR` / `)` / end outside any parentheses
    /// opened while skipping.
    fn sync(&mut self) {
        let mut depth = 0usize;
        loop {
            match &self.tok().tok {
                Tok::Eof => return,
                Tok::LParen => depth += 1,
                Tok::RParen if depth == 0 => return,
                Tok::RParen => depth -= 1,
                _ if depth == 0 && (self.is_kw("and") || self.is_kw("or")) => {
                    self.quiet_at = Some(self.pos + 1);
                    return;
                }
                _ => {}
            }
            self.bump();
        }
    }

    /// Skips past the `)` that closes the current group (or to the end).
    fn skip_past_close(&mut self) {
        let mut depth = 0usize;
        loop {
            match &self.tok().tok {
                Tok::Eof => return,
                Tok::LParen => depth += 1,
                Tok::RParen if depth == 0 => {
                    self.bump();
                    return;
                }
                Tok::RParen => depth -= 1,
                _ => {}
            }
            self.bump();
        }
    }

    /// The `)` of `count(...)` or `performed(...)`: what else may follow
    /// the event is named, with a fix for the usual mistakes (a comma, a
    /// misspelt window keyword, words like `in last 30 days`).
    fn close_call(&mut self, open: Span, expected: &str) -> PResult<Span> {
        let t = self.tok().clone();
        let d = Diagnostic::new(
            t.span,
            format!(
                "expected `)`, WHERE or a window after the event, found {}",
                self.describe(&t)
            ),
        )
        .with_related(open, "in this call")
        .with_expected(expected);
        let d = match &t.tok {
            Tok::Comma => d.with_suggestion(
                "nothing separates the event, WHERE and the window: remove the `,`",
            ),
            Tok::Word | Tok::Kw(_) => {
                let word = self.text(&t).to_ascii_lowercase();
                let keywords = ["WHERE", "WITHIN", "SINCE", "BETWEEN", "BEFORE"];
                match suggest::best(&word, keywords) {
                    Some(k) => d.did_you_mean(&k),
                    None => match self.spelled_out_window() {
                        Some(fix) => d.with_suggestion(fix),
                        None => return self.close(open, expected),
                    },
                }
            }
            _ => return self.close(open, expected),
        };
        self.err(d);
        self.skip_past_close();
        Err(Reported)
    }

    /// For words like `in last 30 days` at the current token: how to write
    /// the window (`WITHIN 30d` when a number and a unit follow).
    fn spelled_out_window(&self) -> Option<String> {
        let word = self.text(self.tok()).to_ascii_lowercase();
        if ![
            "in", "last", "during", "over", "for", "from", "after", "past",
        ]
        .contains(&word.as_str())
        {
            return None;
        }
        let ahead: Vec<&Token> = (1..=3).map(|i| self.peek(i)).collect();
        let within = ahead.windows(2).find_map(|w| match (&w[0].tok, &w[1].tok) {
            (Tok::Int(n), Tok::Word) if *n > 0 => {
                unit_word(self.text(w[1])).map(|u| format!("WITHIN {n}{u}"))
            }
            _ => None,
        });
        Some(match within {
            Some(w) => format!("write the window as {w}"),
            None => "a window is WITHIN 30d (the last 30 days), SINCE 2024-01-01, \
                     BETWEEN 2024-01-01 AND 2024-02-01 or BEFORE 2024-01-01"
                .to_string(),
        })
    }

    /// Expects the `)` matching the `(` at `open`.
    fn close(&mut self, open: Span, expected: &str) -> PResult<Span> {
        if let Some(s) = self.eat(&Tok::RParen) {
            return Ok(s);
        }
        if matches!(self.tok().tok, Tok::Error) {
            self.skip_past_close();
            return Err(Reported);
        }
        let d = if self.at_eof() {
            Diagnostic::new(Span::new(self.prev_end, self.prev_end), "missing `)`")
                .with_related(open, "this `(` is never closed")
                .with_expected(expected)
        } else {
            let t = self.tok().clone();
            Diagnostic::new(t.span, format!("expected `)`, found {}", self.describe(&t)))
                .with_related(open, "to close this `(`")
                .with_expected(expected)
        };
        self.err(d);
        self.skip_past_close();
        Err(Reported)
    }

    fn expect_kw(&mut self, kw: &str, expected: &str) -> PResult<Span> {
        if let Some(s) = self.eat_kw(kw) {
            return Ok(s);
        }
        Err(self.unexpected(&format!("`{}`", kw.to_ascii_uppercase()), expected))
    }

    // ---- grammar -------------------------------------------------------

    fn segment(&mut self) -> Expr {
        if self.at_eof() {
            let d = Diagnostic::new(self.span(), "the segment is empty")
                .with_expected(CONDITION_EXPECTED);
            self.err(d);
            return placeholder(self.span());
        }
        let expr = match self.expr() {
            Ok(e) => e,
            Err(_) => return placeholder(self.span()),
        };
        // Trailing tokens: report, then look for more mistakes after the
        // next AND / OR.
        while !self.at_eof() && !self.aborted {
            let t = self.tok().clone();
            match &t.tok {
                Tok::RParen => {
                    let d = Diagnostic::new(t.span, "unmatched `)`")
                        .with_suggestion("remove it, or add the `(` it should close");
                    self.err(d);
                }
                Tok::Error => {}
                _ if self.window_outside(&expr).is_some() => {
                    let d = self.window_outside(&expr).expect("checked");
                    self.err(d);
                }
                _ => {
                    let d = Diagnostic::new(
                        t.span,
                        format!(
                            "expected AND, OR or the end of the segment, found {}",
                            self.describe(&t)
                        ),
                    )
                    .with_expected("AND, OR or the end of the segment");
                    let keyword = matches!(t.tok, Tok::Word)
                        .then(|| suggest::best(self.text(&t), ["AND", "OR"]))
                        .flatten();
                    let d = match keyword {
                        Some(k) => d.did_you_mean(&k),
                        None => d.with_suggestion("join conditions with AND or OR"),
                    };
                    self.err(d);
                }
            }
            self.bump();
            self.sync();
            if self.eat_kw("and").is_some() || self.eat_kw("or").is_some() {
                let _ = self.expr();
            } else if self.at(&Tok::RParen) {
                continue;
            }
        }
        expr
    }

    /// `count(purchase) > 3 WITHIN 30d`: a window after the condition
    /// instead of inside the call; the fix moves it in.
    fn window_outside(&self, expr: &Expr) -> Option<Diagnostic> {
        let t = self.tok();
        let tokens = match self.word()?.as_str() {
            "within" | "since" | "before" => 2,
            "between" => 4,
            _ => return None,
        };
        // The call that ends last before the window.
        let call_end = expr
            .walk()
            .filter_map(|(e, _)| match (&e.kind, e.lhs()) {
                (ExprKind::Performed { .. }, _) => Some(e.span.end),
                (_, Some(Operand::Aggregate(a))) => Some(a.span.end),
                _ => None,
            })
            .filter(|end| *end <= t.span.start)
            .max()? as usize;
        let window_end = self.peek(tokens - 1).span.end as usize;
        let window = &self.src[t.span.start as usize..window_end];
        let start = expr.span.start as usize;
        let fixed = format!(
            "{} {window}{}",
            &self.src[start..call_end - 1],
            self.src[call_end - 1..t.span.start as usize].trim_end()
        );
        let d = Diagnostic::new(
            Span::new(t.span.start as usize, window_end),
            "a window goes inside the parentheses, after the event",
        )
        .with_suggestion(format!("write {fixed}"))
        .with_related(Span::new(call_end - 1, call_end), "before this `)`");
        Some(d)
    }

    fn expr(&mut self) -> PResult<Expr> {
        let first = self.and_chain()?;
        if !self.is_kw("or") {
            return Ok(first);
        }
        let mut args = vec![first];
        while self.eat_kw("or").is_some() {
            if let Some(d) = self.value_after_or(args.last()) {
                return Err(self.err(d));
            }
            args.push(self.and_chain()?);
        }
        Ok(chain(args, |args| ExprKind::Or { args }))
    }

    /// `category = 'shoes' OR 'bags'`: a bare value after OR, where the
    /// condition before it compares a field for equality; the fix is IN.
    fn value_after_or(&self, prev: Option<&Expr>) -> Option<Diagnostic> {
        let t = self.tok();
        if !matches!(
            t.tok,
            Tok::Str(_) | Tok::Int(_) | Tok::Float(_) | Tok::Time(_)
        ) {
            return None;
        }
        let prev = prev?;
        let ExprKind::Compare {
            lhs: Operand::Field { name },
            cmp: CmpOp::Eq,
            value,
        } = &prev.kind
        else {
            return None;
        };
        let fixed = format!(
            "{} IN ({}, {})",
            format::ident(&name.name),
            format::value(value),
            self.text(t)
        );
        let d = Diagnostic::new(
            prev.span.to(t.span),
            format!("OR joins conditions, but {} is a value", self.text(t)),
        )
        .with_suggestion(format!("to match either value, write {fixed}"))
        .with_replacement(fixed);
        Some(d)
    }

    fn and_chain(&mut self) -> PResult<Expr> {
        let first = self.unary_recovering()?;
        if !self.is_kw("and") {
            return Ok(first);
        }
        let mut args = vec![first];
        while self.eat_kw("and").is_some() {
            args.push(self.unary_recovering()?);
        }
        Ok(chain(args, |args| ExprKind::And { args }))
    }

    fn unary_recovering(&mut self) -> PResult<Expr> {
        let start = self.span();
        match self.unary() {
            Ok(e) => Ok(e),
            Err(r) if self.aborted => Err(r),
            Err(_) => {
                self.sync();
                Ok(placeholder(start))
            }
        }
    }

    fn unary(&mut self) -> PResult<Expr> {
        if let Some(not) = self.eat_kw("not") {
            self.enter(not)?;
            let arg = self.unary();
            self.leave();
            let arg = arg?;
            let span = not.to(arg.span);
            return Ok(Expr {
                kind: ExprKind::Not { arg: Box::new(arg) },
                span,
            });
        }
        self.primary()
    }

    fn primary(&mut self) -> PResult<Expr> {
        if let Some(open) = self.eat(&Tok::LParen) {
            self.enter(open)?;
            let inner = self.expr();
            self.leave();
            let inner = inner?;
            self.close(open, "`)`, AND or OR")?;
            return Ok(inner);
        }
        match self.word().as_deref() {
            Some("in") => return self.in_segment(),
            Some("performed") if self.peek(1).tok == Tok::LParen => return self.performed(),
            Some("anniversary") if self.peek(1).tok == Tok::LParen => return self.anniversary(),
            _ => {}
        }
        let lhs = self.operand()?;
        self.tail(lhs)
    }

    fn in_segment(&mut self) -> PResult<Expr> {
        let in_span = self.bump().span;
        if self.eat_kw("segment").is_none() {
            if self.at(&Tok::LParen) {
                let d = Diagnostic::new(in_span, "IN needs a field before it")
                    .with_expected("a field, e.g. country IN ('US', 'CA'), or IN SEGMENT name");
                return Err(self.err(d));
            }
            return Err(self.unexpected(
                "`SEGMENT` after IN",
                "IN SEGMENT followed by a saved segment's name",
            ));
        }
        let name = self.name("a segment name", true)?;
        let span = in_span.to(name.span);
        Ok(Expr {
            kind: ExprKind::InSegment { name },
            span,
        })
    }

    /// A name: a bare (non-reserved) word, a backquoted name, or (when
    /// `allow_string`) a single-quoted string.
    fn name(&mut self, what: &str, allow_string: bool) -> PResult<Ident> {
        let t = self.tok().clone();
        let name = match &t.tok {
            Tok::Word if !lexer::is_reserved(self.text(&t)) => self.text(&t).to_string(),
            Tok::Word => {
                let text = self.text(&t);
                let d = Diagnostic::new(
                    t.span,
                    format!("expected {what}, found {}", self.describe(&t)),
                )
                .with_suggestion(format!(
                    "a name that is also a keyword is written in backquotes: `{text}`"
                ))
                .with_replacement(format!("`{text}`"));
                return Err(self.err(d));
            }
            Tok::QuotedIdent(s) => s.clone(),
            Tok::Str(s) if allow_string => s.clone(),
            _ => return Err(self.unexpected(what, what)),
        };
        self.bump();
        Ok(Ident { name, span: t.span })
    }

    /// Runs `f` inside a call's parentheses; on error skips past the
    /// call's `)` so the error does not cascade.
    fn in_call<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        let r = f(self);
        if r.is_err() && !self.aborted {
            self.skip_past_close();
        }
        r
    }

    fn performed(&mut self) -> PResult<Expr> {
        let kw = self.bump().span;
        let open = self.bump().span;
        let (filter, _) = self.in_call(|p| p.event_filter(false))?;
        let close = self.close_call(
            open,
            "`)`, WHERE or a window (WITHIN, SINCE, BETWEEN, BEFORE)",
        )?;
        Ok(Expr {
            kind: ExprKind::Performed { filter },
            span: kw.to(close),
        })
    }

    fn anniversary(&mut self) -> PResult<Expr> {
        let kw = self.bump().span;
        let open = self.bump().span;
        let field = self.in_call(|p| p.name("a date field", false))?;
        self.close(open, "`)`")?;
        let expected =
            "WITHIN NEXT and a number of days, e.g. anniversary(birth_date) WITHIN NEXT 7d";
        self.expect_kw("within", expected)?;
        if self.eat_kw("next").is_none() {
            if matches!(self.tok().tok, Tok::Duration { .. } | Tok::Int(_)) {
                let d = Diagnostic::new(self.span(), "expected `NEXT` after WITHIN")
                    .with_expected(expected)
                    .with_suggestion("anniversaries look ahead: WITHIN NEXT 7d");
                return Err(self.err(d));
            }
            return Err(self.unexpected("`NEXT`", expected));
        }
        let t = self.tok().clone();
        let days = match &t.tok {
            Tok::Duration {
                duration,
                negative: false,
            } => match duration.unit {
                TimeUnit::Days => Some(duration.amount),
                TimeUnit::Weeks => duration.amount.checked_mul(7),
                _ => {
                    let d = Diagnostic::new(
                        t.span,
                        "an anniversary window is counted in days or weeks",
                    )
                    .with_expected("a number of days (7d) or weeks (2w)");
                    return Err(self.err(d));
                }
            },
            _ => return Err(self.duration_error(expected)),
        };
        let Some(days) = days else {
            let d = Diagnostic::new(t.span, "the anniversary window is too long")
                .with_expected("at most 366 days");
            return Err(self.err(d));
        };
        self.bump();
        Ok(Expr {
            kind: ExprKind::Anniversary { field, days },
            span: kw.to(t.span),
        })
    }

    fn operand(&mut self) -> PResult<Operand> {
        let t = self.tok().clone();
        match &t.tok {
            Tok::Word => {}
            Tok::QuotedIdent(name) => {
                self.bump();
                return Ok(Operand::Field {
                    name: Ident {
                        name: name.clone(),
                        span: t.span,
                    },
                });
            }
            Tok::Str(_) | Tok::Int(_) | Tok::Float(_) | Tok::Time(_) | Tok::Duration { .. } => {
                let d = Diagnostic::new(
                    t.span,
                    format!("expected a condition, found {}", self.describe(&t)),
                )
                .with_expected(CONDITION_EXPECTED)
                .with_suggestion(
                    "a condition starts with a field or a function; the value goes on the right",
                );
                return Err(self.err(d));
            }
            _ => return Err(self.unexpected("a condition", CONDITION_EXPECTED)),
        }
        let text = self.text(&t);
        let lower = text.to_ascii_lowercase();
        let next_is_paren = self.peek(1).tok == Tok::LParen;
        if let Some(func) = AggFunc::from_name(text) {
            if next_is_paren {
                return self.aggregate(func).map(Operand::Aggregate);
            }
            let d = Diagnostic::new(t.span, format!("expected `(` after `{lower}`"))
                .with_expected(format!("{lower}(event ...)"))
                .with_suggestion(format!(
                    "write e.g. {lower}({}); a field named {text} is written `{text}`",
                    if func.needs_property() {
                        "purchase.amount WITHIN 30d"
                    } else {
                        "purchase WITHIN 30d"
                    }
                ));
            return Err(self.err(d));
        }
        // `month(...)` and the other parts are functions only before `(`:
        // a field may be named `month`.
        if let Some(part) = TimePart::from_name(text)
            && next_is_paren
        {
            return self.time_part(part);
        }
        match lower.as_str() {
            "rfm" => return self.rfm().map(Operand::Builtin),
            "channel_mix" => return self.builtin(BuiltinFunc::ChannelMix).map(Operand::Builtin),
            "lifecycle" => return self.builtin(BuiltinFunc::Lifecycle).map(Operand::Builtin),
            "performed" | "anniversary" => {
                let d = Diagnostic::new(t.span, format!("expected `(` after `{lower}`"))
                    .with_expected(if lower == "performed" {
                        "performed(event ...)"
                    } else {
                        "anniversary(field) WITHIN NEXT 7d"
                    });
                return Err(self.err(d));
            }
            _ => {}
        }
        if lexer::is_reserved(text) {
            let d = Diagnostic::new(
                t.span,
                format!("expected a condition, found {}", self.describe(&t)),
            )
            .with_expected(CONDITION_EXPECTED);
            let d = match lower.as_str() {
                "and" | "or" => d.with_suggestion(format!(
                    "a condition is missing before `{}`",
                    lower.to_ascii_uppercase()
                )),
                "true" | "false" | "null" | "today" | "now" => d,
                _ => d
                    .with_suggestion(format!(
                        "a field whose name is a keyword is written in backquotes: `{text}`"
                    ))
                    .with_replacement(format!("`{text}`")),
            };
            return Err(self.err(d));
        }
        if next_is_paren {
            let mut d = Diagnostic::new(t.span, format!("unknown function `{text}`"))
                .with_expected("count, sum, avg, min, max, first, last, performed, anniversary, rfm, channel_mix or lifecycle");
            if let Some(s) = suggest::best(text, FUNCTIONS.iter().copied()) {
                d = d.did_you_mean(&s);
            }
            return Err(self.err(d));
        }
        if self.peek(1).tok == Tok::Dot {
            let member = self.peek(2).clone();
            let full_end = if matches!(member.tok, Tok::Word) {
                member.span
            } else {
                self.peek(1).span
            };
            let span = t.span.to(full_end);
            let full = &self.src[span.range()];
            let mut d = Diagnostic::new(span, format!("unknown name `{full}`"));
            if suggest::distance(text, "rfm") <= 1 {
                let m = self.text(&member).to_ascii_lowercase();
                let m = if RFM_MEMBERS.contains(&m.as_str()) {
                    m
                } else {
                    suggest::best(&m, RFM_MEMBERS.iter().copied())
                        .unwrap_or_else(|| "segment".into())
                };
                d = d.did_you_mean(&format!("rfm.{m}"));
            } else {
                d = d.with_suggestion(format!(
                    "event properties are used inside aggregates, e.g. sum({full} WITHIN 30d) >= 100"
                ));
            }
            return Err(self.err(d));
        }
        self.bump();
        Ok(Operand::Field {
            name: Ident {
                name: text.to_string(),
                span: t.span,
            },
        })
    }

    /// `month(birth_date)`: the part's name, `(`, a field, `)`.
    fn time_part(&mut self, part: TimePart) -> PResult<Operand> {
        let kw = self.bump().span;
        let open = self.bump().span;
        let field = self.in_call(|p| p.name("a date or timestamp field", false))?;
        let close = self.close(open, "`)`")?;
        Ok(Operand::TimePart {
            part,
            field,
            span: kw.to(close),
        })
    }

    fn aggregate(&mut self, func: AggFunc) -> PResult<Aggregate> {
        let kw = self.bump().span;
        let open = self.bump().span;
        // `distinct` is a keyword only before `event.property`: an event
        // type may be named so.
        let func = match func {
            AggFunc::Count
                if self.is_kw("distinct")
                    && matches!(
                        self.peek(1).tok,
                        Tok::Word | Tok::QuotedIdent(_) | Tok::Str(_)
                    )
                    && self.peek(2).tok == Tok::Dot =>
            {
                self.bump();
                AggFunc::CountDistinct
            }
            f => f,
        };
        let (filter, property) = self.in_call(|p| p.event_filter(true))?;
        if let EventSel::Type { name } = &filter.event
            && func == AggFunc::Count
            && name.name.eq_ignore_ascii_case("distinct")
            && matches!(
                self.tok().tok,
                Tok::Word | Tok::QuotedIdent(_) | Tok::Str(_)
            )
        {
            let event = self.text(self.tok()).to_string();
            let d = Diagnostic::new(
                name.span.to(self.span()),
                "count(distinct ...) counts the values of a property",
            )
            .with_expected("count(distinct event.property ...)")
            .with_suggestion(format!("e.g. count(distinct {event}.category ...)"));
            self.err(d);
            self.skip_past_close();
            return Err(Reported);
        }
        let close = self.close_call(
            open,
            "`)`, WHERE or a window (WITHIN, SINCE, BETWEEN, BEFORE)",
        )?;
        Ok(Aggregate {
            func,
            property,
            filter,
            span: kw.to(close),
        })
    }

    /// `event [.property] [WHERE expr] [window]`, up to (not including) `)`.
    fn event_filter(&mut self, allow_property: bool) -> PResult<(EventFilter, Option<Ident>)> {
        let t = self.tok().clone();
        let start = t.span;
        let event = if self.word_is(&t, "any") {
            self.bump();
            EventSel::Any
        } else if t.tok == Tok::RParen {
            let d = Diagnostic::new(t.span, "expected an event type, found `)`")
                .with_expected("an event type (e.g. purchase) or any");
            return Err(self.err(d));
        } else {
            EventSel::Type {
                name: self.name("an event type (or any)", true)?,
            }
        };
        let mut property = None;
        if let Some(dot) = self.eat(&Tok::Dot) {
            let p = self.name("a property name", false)?;
            if allow_property {
                property = Some(p);
            } else {
                let d = Diagnostic::new(dot.to(p.span), "performed(...) takes no property")
                    .with_suggestion(format!(
                        "filter on it with WHERE, e.g. performed(event WHERE {} >= 100)",
                        p.name
                    ));
                self.err(d);
            }
        }
        let predicate = self.where_clause()?;
        let window = self.window()?;
        if let Some(w) = self.eat_kw("where") {
            let d = Diagnostic::new(w, "WHERE must come before the time window")
                .with_suggestion("write count(event WHERE ... WITHIN 30d)");
            self.err(d);
            self.enter(w)?;
            let _ = self.expr();
            self.leave();
        }
        let span = start.to(Span::new(self.prev_end, self.prev_end));
        Ok((
            EventFilter {
                event,
                predicate,
                window,
                span,
            },
            property,
        ))
    }

    fn where_clause(&mut self) -> PResult<Option<Box<Expr>>> {
        let Some(w) = self.eat_kw("where") else {
            return Ok(None);
        };
        self.enter(w)?;
        let pred = self.expr();
        self.leave();
        Ok(Some(Box::new(pred?)))
    }

    fn window(&mut self) -> PResult<Option<Window>> {
        if self.eat_kw("within").is_some() {
            let duration = self.duration()?;
            return Ok(Some(Window::Within { duration }));
        }
        if self.eat_kw("since").is_some() {
            let from = self.time()?;
            return Ok(Some(Window::Since { from }));
        }
        if self.eat_kw("between").is_some() {
            let from = self.time()?;
            self.expect_kw("and", "BETWEEN <time> AND <time>")?;
            let to = self.time()?;
            return Ok(Some(Window::Between { from, to }));
        }
        // Not reserved: only a window may stand here.
        if self.eat_kw("before").is_some() {
            let to = self.time()?;
            return Ok(Some(Window::Before { to }));
        }
        Ok(None)
    }

    fn duration(&mut self) -> PResult<Duration> {
        if let Tok::Duration {
            duration,
            negative: false,
        } = self.tok().tok
        {
            self.bump();
            return Ok(duration);
        }
        Err(self.duration_error(DURATION_EXPECTED))
    }

    /// The current token should have been a (positive) duration.
    fn duration_error(&mut self, expected: &str) -> Reported {
        let t = self.tok().clone();
        match &t.tok {
            Tok::Int(n) => {
                let next = self.peek(1).clone();
                let unit = matches!(next.tok, Tok::Word)
                    .then(|| unit_word(self.text(&next)))
                    .flatten();
                let (span, fixed) = match unit {
                    Some(u) => (t.span.to(next.span), format!("{n}{u}")),
                    None => (t.span, format!("{n}d")),
                };
                let d = Diagnostic::new(span, format!("`{}` has no unit", &self.src[span.range()]))
                    .with_expected(expected)
                    .did_you_mean(&fixed);
                self.err(d)
            }
            Tok::Duration {
                duration,
                negative: true,
            } => {
                let d = Diagnostic::new(t.span, "a window length is positive")
                    .with_expected(expected)
                    .did_you_mean(&format!("{}{}", duration.amount, duration.unit.suffix()));
                self.err(d)
            }
            _ => self.unexpected("a duration", expected),
        }
    }

    fn time(&mut self) -> PResult<TimeValue> {
        let t = self.tok().clone();
        let tv = match &t.tok {
            Tok::Time(tv) => *tv,
            Tok::Duration {
                duration,
                negative: true,
            } => TimeValue::Ago {
                duration: *duration,
            },
            Tok::Word if self.word_is(&t, "today") => TimeValue::Today,
            Tok::Word if self.word_is(&t, "now") => TimeValue::Now,
            Tok::Duration {
                duration,
                negative: false,
            } => {
                let d = Diagnostic::new(
                    t.span,
                    format!(
                        "`{}` is a length of time, not a point in time",
                        self.text(&t)
                    ),
                )
                .with_expected(TIME_EXPECTED)
                .did_you_mean(&format!(
                    "-{}{}",
                    duration.amount,
                    duration.unit.suffix()
                ));
                return Err(self.err(d));
            }
            Tok::Str(s) => {
                let mut d = Diagnostic::new(
                    t.span,
                    format!("expected a time, found the string {}", self.text(&t)),
                )
                .with_expected(TIME_EXPECTED);
                if unquoted_time(s).is_some() {
                    d = d
                        .with_suggestion(format!("write times without quotes: {s}"))
                        .with_replacement(s.clone());
                }
                return Err(self.err(d));
            }
            _ => return Err(self.unexpected("a time", TIME_EXPECTED)),
        };
        self.bump();
        Ok(tv)
    }

    fn rfm(&mut self) -> PResult<Builtin> {
        let kw = self.bump().span;
        let params = if self.at(&Tok::LParen) {
            self.params("rfm", &["bins", "lookback"])?
        } else {
            BuiltinParams::default()
        };
        let members = "one of rfm.r, rfm.f, rfm.m, rfm.segment, rfm.recency_days, rfm.frequency, rfm.monetary";
        if self.eat(&Tok::Dot).is_none() {
            let d = Diagnostic::new(
                kw.to(Span::new(self.prev_end, self.prev_end)),
                "`rfm` needs a score: rfm.r, rfm.segment, ...",
            )
            .with_expected(members);
            return Err(self.err(d));
        }
        let t = self.tok().clone();
        let member = match &t.tok {
            Tok::Word => self.text(&t).to_ascii_lowercase(),
            _ => return Err(self.unexpected("an RFM score after `rfm.`", members)),
        };
        let func = match member.as_str() {
            "r" => BuiltinFunc::RfmR,
            "f" => BuiltinFunc::RfmF,
            "m" => BuiltinFunc::RfmM,
            "segment" => BuiltinFunc::RfmSegment,
            "recency_days" => BuiltinFunc::RfmRecencyDays,
            "frequency" => BuiltinFunc::RfmFrequency,
            "monetary" => BuiltinFunc::RfmMonetary,
            _ => {
                let mut d =
                    Diagnostic::new(t.span, format!("unknown RFM score `rfm.{}`", self.text(&t)))
                        .with_expected(members);
                if let Some(s) = suggest::best(&member, RFM_MEMBERS.iter().copied()) {
                    d = d
                        .with_suggestion(format!("did you mean `rfm.{s}`?"))
                        .with_replacement(s);
                }
                return Err(self.err(d));
            }
        };
        self.bump();
        Ok(Builtin {
            func,
            params,
            span: kw.to(t.span),
        })
    }

    fn builtin(&mut self, func: BuiltinFunc) -> PResult<Builtin> {
        let kw = self.bump().span;
        let params = if self.at(&Tok::LParen) {
            self.params(func.name(), &["window"])?
        } else {
            BuiltinParams::default()
        };
        Ok(Builtin {
            func,
            params,
            span: kw.to(Span::new(self.prev_end, self.prev_end)),
        })
    }

    /// `( name = value, ... )` of a built-in.
    fn params(&mut self, owner: &str, allowed: &[&str]) -> PResult<BuiltinParams> {
        let open = self.bump().span;
        let mut params = BuiltinParams::default();
        let expected = allowed
            .iter()
            .map(|p| {
                if *p == "bins" {
                    "bins = <number>".to_string()
                } else {
                    format!("{p} = <duration>")
                }
            })
            .collect::<Vec<_>>()
            .join(" or ");
        if self.eat(&Tok::RParen).is_some() {
            return Ok(params);
        }
        loop {
            let t = self.tok().clone();
            if !matches!(t.tok, Tok::Word) {
                let e = self.unexpected("a parameter name", &expected);
                self.skip_past_close();
                return Err(e);
            }
            let name = self.text(&t).to_ascii_lowercase();
            self.bump();
            let known = allowed.contains(&name.as_str());
            if !known {
                let mut d = Diagnostic::new(
                    t.span,
                    format!("`{owner}` has no parameter `{}`", self.text(&t)),
                )
                .with_expected(expected.clone());
                if let Some(s) = suggest::best(&name, allowed.iter().copied()) {
                    d = d.did_you_mean(&s);
                }
                self.err(d);
            }
            if self.eat(&Tok::Cmp(CmpOp::Eq)).is_none() {
                let e = self.unexpected(&format!("`=` after `{name}`"), &expected);
                self.skip_past_close();
                return Err(e);
            }
            let v = self.tok().clone();
            match (name.as_str(), &v.tok) {
                ("bins", Tok::Int(n)) => match u32::try_from(*n) {
                    Ok(n) => set_param(self, &mut params.bins, n, &t, &name),
                    Err(_) => {
                        let d = Diagnostic::new(v.span, "bins must be a positive number")
                            .with_expected("bins = <number>, e.g. bins = 5");
                        self.err(d);
                    }
                },
                ("bins", _) => {
                    self.unexpected("a number of bins", "bins = <number>, e.g. bins = 5");
                }
                (
                    "lookback" | "window",
                    Tok::Duration {
                        duration,
                        negative: false,
                    },
                ) => {
                    let slot = if name == "lookback" {
                        &mut params.lookback
                    } else {
                        &mut params.window
                    };
                    set_param(self, slot, *duration, &t, &name);
                }
                ("lookback" | "window", _) => {
                    self.duration_error(&format!("{name} = <duration>, e.g. {name} = 365d"));
                }
                _ => {}
            }
            if !matches!(v.tok, Tok::Comma | Tok::RParen | Tok::Eof) {
                self.bump();
            }
            if self.eat(&Tok::Comma).is_some() {
                continue;
            }
            self.close(open, "`,` or `)`")?;
            return Ok(params);
        }
    }

    fn tail(&mut self, lhs: Operand) -> PResult<Expr> {
        let start = operand_span(&lhs);
        let t = self.tok().clone();
        let kind = match &t.tok {
            Tok::Cmp(cmp) => {
                self.bump();
                let value = self.value()?;
                ExprKind::Compare {
                    lhs,
                    cmp: *cmp,
                    value,
                }
            }
            Tok::Str(_) | Tok::Int(_) | Tok::Float(_) | Tok::Time(_) | Tok::Duration { .. } => {
                let d = Diagnostic::new(
                    t.span,
                    format!("expected an operator before {}", self.describe(&t)),
                )
                .with_expected(
                    "=, !=, <, <=, >, >=, IN, BETWEEN, CONTAINS, STARTS WITH, ENDS WITH or IS NULL",
                )
                .with_suggestion(format!(
                    "did you mean {} = {}?",
                    &self.src[start.range()],
                    self.text(&t)
                ));
                return Err(self.err(d));
            }
            _ if self.is_kw("not") => {
                let next = self.peek(1).clone();
                if self.word_is(&next, "in") {
                    self.bump();
                    self.bump();
                    let list = self.list()?;
                    ExprKind::InList {
                        lhs,
                        list,
                        negated: true,
                    }
                } else if self.word_is(&next, "between") {
                    self.bump();
                    self.bump();
                    let (low, high) = self.between_values()?;
                    ExprKind::Between {
                        lhs,
                        low,
                        high,
                        negated: true,
                    }
                } else {
                    let d = Diagnostic::new(t.span, "expected IN or BETWEEN after NOT")
                        .with_expected("NOT IN (...) or NOT BETWEEN ... AND ...")
                        .with_suggestion(
                            "to negate a condition, put NOT before it; to add one, write AND NOT",
                        );
                    return Err(self.err(d));
                }
            }
            _ if self.is_kw("in") => {
                self.bump();
                if self.is_kw("segment") {
                    let d = Diagnostic::new(
                        t.span.to(self.span()),
                        "IN SEGMENT takes no field before it",
                    )
                    .with_suggestion("write AND IN SEGMENT name");
                    return Err(self.err(d));
                }
                let list = self.list()?;
                ExprKind::InList {
                    lhs,
                    list,
                    negated: false,
                }
            }
            _ if self.is_kw("between") => {
                self.bump();
                let (low, high) = self.between_values()?;
                ExprKind::Between {
                    lhs,
                    low,
                    high,
                    negated: false,
                }
            }
            _ if self.is_kw("contains") => {
                self.bump();
                self.text_test(TextTest::Contains, lhs)?
            }
            _ if self.is_kw("starts") => {
                self.bump();
                self.expect_kw("with", "STARTS WITH 'text'")?;
                self.text_test(TextTest::StartsWith, lhs)?
            }
            // `ends` is a keyword only here, before `with`: a field may be
            // named `ends`.
            _ if self.is_kw("ends") && self.word_is(self.peek(1), "with") => {
                self.bump();
                self.bump();
                self.text_test(TextTest::EndsWith, lhs)?
            }
            _ if self.is_kw("is") => {
                self.bump();
                let negated = self.eat_kw("not").is_some();
                if self.eat_kw("null").is_none() {
                    let mut d = Diagnostic::new(
                        self.span(),
                        format!(
                            "expected `NULL`, found {}",
                            self.describe(&self.tok().clone())
                        ),
                    )
                    .with_expected("IS NULL or IS NOT NULL");
                    if !matches!(self.tok().tok, Tok::Eof | Tok::Error) {
                        d = d.with_suggestion(format!(
                            "compare values with =, e.g. {} = {}",
                            &self.src[start.range()],
                            self.text(&self.tok().clone())
                        ));
                    }
                    return Err(self.err(d));
                }
                ExprKind::IsNull { lhs, negated }
            }
            _ if self.is_kw("like") || self.is_kw("ilike") => {
                return Err(self.like(start));
            }
            _ => ExprKind::Truthy { lhs },
        };
        Ok(Expr {
            kind,
            span: start.to(Span::new(self.prev_end, self.prev_end)),
        })
    }

    /// The value of a text test and an optional `IGNORING CASE` after it
    /// (words that are keywords only there, not reserved).
    fn text_test(&mut self, test: TextTest, lhs: Operand) -> PResult<ExprKind> {
        let value = self.value()?;
        let ignore_case = self.is_kw("ignoring") && self.word_is(self.peek(1), "case");
        if ignore_case {
            self.bump();
            self.bump();
        }
        Ok(test.expr(lhs, value, ignore_case))
    }

    /// `email LIKE '%@gmail.com'`: no LIKE; the pattern's text test instead.
    fn like(&mut self, lhs: Span) -> Reported {
        let t = self.tok().clone();
        let ignore_case = self.word_is(&t, "ilike");
        let mut d = Diagnostic::new(
            t.span,
            format!("there is no {}", self.text(&t).to_ascii_uppercase()),
        )
        .with_expected("CONTAINS, STARTS WITH or ENDS WITH (and IGNORING CASE)");
        if let Tok::Str(pattern) = &self.peek(1).tok
            && let Some((test, part)) = like_pattern(pattern)
        {
            let case = if ignore_case { " IGNORING CASE" } else { "" };
            let fixed = format!(
                "{} {} {}{case}",
                &self.src[lhs.range()],
                test.keyword(),
                format::string(part)
            );
            d = Diagnostic::new(lhs.to(self.peek(1).span), d.message.clone())
                .with_expected(d.expected.clone().unwrap_or_default())
                .with_suggestion(format!("write {fixed}"))
                .with_replacement(fixed);
        } else {
            d = d.with_suggestion(
                "`%` and `_` are not wildcards here: name the start, the end or a part of the text",
            );
        }
        self.err(d)
    }

    fn between_values(&mut self) -> PResult<(Value, Value)> {
        let low = self.value()?;
        self.expect_kw("and", "BETWEEN <low> AND <high>")?;
        let high = self.value()?;
        Ok((low, high))
    }

    fn list(&mut self) -> PResult<Vec<Value>> {
        let Some(open) = self.eat(&Tok::LParen) else {
            let d = Diagnostic::new(
                self.span(),
                format!(
                    "expected `(` after IN, found {}",
                    self.describe(&self.tok().clone())
                ),
            )
            .with_expected("a list in parentheses, e.g. IN ('US', 'CA')");
            return Err(self.err(d));
        };
        if self.at(&Tok::RParen) {
            let d = Diagnostic::new(open.to(self.span()), "the list is empty")
                .with_expected("at least one value, e.g. IN ('US')");
            self.bump();
            return Err(self.err(d));
        }
        let mut list = Vec::new();
        loop {
            match self.value() {
                Ok(v) => list.push(v),
                Err(r) => {
                    self.skip_past_close();
                    return Err(r);
                }
            }
            if self.eat(&Tok::Comma).is_some() {
                continue;
            }
            self.close(open, "`,` or `)`")?;
            return Ok(list);
        }
    }

    fn value(&mut self) -> PResult<Value> {
        let t = self.tok().clone();
        let v = match &t.tok {
            Tok::Int(i) => Value::Int(*i),
            Tok::Float(f) => Value::Float(*f),
            Tok::Str(s) => Value::String(s.clone()),
            Tok::Time(tv) => Value::Time(*tv),
            Tok::Duration {
                duration,
                negative: true,
            } => Value::Time(TimeValue::Ago {
                duration: *duration,
            }),
            Tok::Duration {
                duration,
                negative: false,
            } => {
                let d = Diagnostic::new(
                    t.span,
                    format!("`{}` is a length of time, not a value", self.text(&t)),
                )
                .with_expected(VALUE_EXPECTED)
                .with_suggestion(format!(
                    "for the time {} before as_of write -{}{}",
                    self.text(&t),
                    duration.amount,
                    duration.unit.suffix()
                ))
                .with_replacement(format!(
                    "-{}{}",
                    duration.amount,
                    duration.unit.suffix()
                ));
                return Err(self.err(d));
            }
            Tok::Word => {
                let text = self.text(&t);
                match text.to_ascii_lowercase().as_str() {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    "today" => Value::Time(TimeValue::Today),
                    "now" => Value::Time(TimeValue::Now),
                    "null" => {
                        let d = Diagnostic::new(t.span, "nothing is equal to NULL")
                            .with_expected(VALUE_EXPECTED)
                            .with_suggestion(
                                "test for a missing value with IS NULL or IS NOT NULL",
                            );
                        return Err(self.err(d));
                    }
                    _ if lexer::is_reserved(text) => {
                        return Err(self.unexpected("a value", VALUE_EXPECTED));
                    }
                    _ => {
                        let quoted = format!("'{text}'");
                        let d = Diagnostic::new(t.span, format!("expected a value, found `{text}`"))
                            .with_expected(VALUE_EXPECTED)
                            .with_suggestion(format!(
                                "text is written in single quotes: {quoted} (comparing two fields is not supported)"
                            ))
                            .with_replacement(quoted);
                        return Err(self.err(d));
                    }
                }
            }
            _ => return Err(self.unexpected("a value", VALUE_EXPECTED)),
        };
        self.bump();
        Ok(v)
    }
}

fn set_param<T>(p: &mut Parser<'_>, slot: &mut Option<T>, v: T, name_tok: &Token, name: &str) {
    if slot.is_some() {
        let d = Diagnostic::new(name_tok.span, format!("`{name}` is given twice"));
        p.err(d);
    } else {
        *slot = Some(v);
    }
}

/// `days`, `weeks`, ... written after a number with a space.
fn unit_word(w: &str) -> Option<char> {
    match w.to_ascii_lowercase().as_str() {
        "h" | "hour" | "hours" => Some('h'),
        "d" | "day" | "days" => Some('d'),
        "w" | "week" | "weeks" => Some('w'),
        "m" | "month" | "months" => Some('m'),
        "y" | "year" | "years" => Some('y'),
        _ => None,
    }
}

/// Whether a string's contents would be a valid time literal unquoted.
pub(crate) fn unquoted_time(s: &str) -> Option<TimeValue> {
    let l = lexer::lex(s);
    match (l.diags.is_empty(), l.tokens.as_slice()) {
        (
            true,
            [
                Token {
                    tok: Tok::Time(tv), ..
                },
                Token { tok: Tok::Eof, .. },
            ],
        ) => Some(*tv),
        _ => None,
    }
}

pub(crate) fn operand_span(op: &Operand) -> Span {
    match op {
        Operand::Field { name } => name.span,
        Operand::TimePart { span, .. } => *span,
        Operand::Aggregate(a) => a.span,
        Operand::Builtin(b) => b.span,
    }
}

fn chain(args: Vec<Expr>, make: impl FnOnce(Vec<Expr>) -> ExprKind) -> Expr {
    let span = args[0].span.to(args[args.len() - 1].span);
    Expr {
        kind: make(args),
        span,
    }
}

/// The text test a LIKE pattern means, when it is one: `'x%'` starts with
/// x, `'%x'` ends with it, `'%x%'` contains it (x without other wildcards).
fn like_pattern(pattern: &str) -> Option<(TextTest, &str)> {
    let (starts, rest) = match pattern.strip_prefix('%') {
        Some(rest) => (false, rest),
        None => (true, pattern),
    };
    let (ends, part) = match rest.strip_suffix('%') {
        Some(part) => (false, part),
        None => (true, rest),
    };
    if part.is_empty() || part.contains(['%', '_']) {
        return None;
    }
    match (starts, ends) {
        (true, false) => Some((TextTest::StartsWith, part)),
        (false, true) => Some((TextTest::EndsWith, part)),
        (false, false) => Some((TextTest::Contains, part)),
        // No wildcard at all: an equality.
        (true, true) => None,
    }
}
