//! Finds the exact source text of AST parts that carry no span of their own
//! (values, windows, built-in parameters) by re-lexing the enclosing node's
//! text. Without the source (ASTs from JSON or programs) the enclosing span
//! is used as is.

use crate::ast::Span;
use crate::lexer::{self, Tok, Token};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Locator<'a> {
    src: Option<&'a str>,
}

impl<'a> Locator<'a> {
    pub(crate) fn new(src: Option<&'a str>) -> Self {
        Locator { src }
    }

    /// The tokens of `region`, with spans relative to the whole source.
    fn tokens(&self, region: Span) -> Option<(&'a str, Vec<Token>)> {
        let src = self.src?;
        let r = region.range();
        if r.is_empty()
            || r.end > src.len()
            || !src.is_char_boundary(r.start)
            || !src.is_char_boundary(r.end)
        {
            return None;
        }
        let mut toks = lexer::lex(&src[r.clone()]).tokens;
        toks.pop(); // Eof
        for t in &mut toks {
            t.span = Span::new(
                t.span.start as usize + r.start,
                t.span.end as usize + r.start,
            );
        }
        Some((src, toks))
    }

    /// The `index`-th value literal in `region` (the text after a
    /// condition's left-hand side), or `fallback`.
    pub(crate) fn value(&self, region: Span, index: usize, fallback: Span) -> Span {
        self.values(region).get(index).copied().unwrap_or(fallback)
    }

    /// The spans of the value literals in `region`, in order: one lexing
    /// for all values of a list (a lexing per value would make a long
    /// IN list quadratic).
    pub(crate) fn values(&self, region: Span) -> Vec<Span> {
        let Some((src, toks)) = self.tokens(region) else {
            return Vec::new();
        };
        toks.iter()
            .filter(|t| match &t.tok {
                Tok::Int(_) | Tok::Float(_) | Tok::Str(_) | Tok::Time(_) | Tok::Duration { .. } => {
                    true
                }
                Tok::Word => matches!(
                    src[t.span.range()].to_ascii_lowercase().as_str(),
                    "true" | "false" | "today" | "now"
                ),
                _ => false,
            })
            .map(|t| t.span)
            .collect()
    }

    /// The window of an event filter (`WITHIN 30d`, ...), or `fallback`.
    pub(crate) fn window(&self, filter: Span, fallback: Span) -> Span {
        let Some((src, toks)) = self.tokens(filter) else {
            return fallback;
        };
        let mut depth = 0i32;
        let mut found = None;
        for t in &toks {
            match t.tok {
                Tok::LParen => depth += 1,
                Tok::RParen => depth -= 1,
                Tok::Word if depth == 0 => {
                    let w = src[t.span.range()].to_ascii_lowercase();
                    if matches!(w.as_str(), "within" | "since" | "between" | "before") {
                        found = Some(t.span);
                    }
                }
                _ => {}
            }
        }
        match (found, toks.last()) {
            (Some(s), Some(last)) => s.to(last.span),
            _ => fallback,
        }
    }

    /// `name = value` inside a built-in's parameters, or `fallback`.
    pub(crate) fn param(&self, builtin: Span, name: &str, fallback: Span) -> Span {
        let Some((src, toks)) = self.tokens(builtin) else {
            return fallback;
        };
        toks.iter()
            .position(|t| t.tok == Tok::Word && src[t.span.range()].eq_ignore_ascii_case(name))
            .map_or(fallback, |i| {
                let end = toks.get(i + 2).unwrap_or(&toks[i]);
                toks[i].span.to(end.span)
            })
    }

    /// The `WITHIN NEXT n` part of an anniversary, or `fallback`.
    pub(crate) fn last_token(&self, region: Span, fallback: Span) -> Span {
        self.tokens(region)
            .and_then(|(_, toks)| toks.last().map(|t| t.span))
            .unwrap_or(fallback)
    }
}
