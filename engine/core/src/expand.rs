//! Saved segments inlined into the segment that uses them (`IN SEGMENT
//! name`), once per query.
//!
//! The saved texts come from one catalog (read once), and each saved
//! segment is parsed and checked once, however often it is referenced.
//! Cycles are found by following names. The size of the whole expansion
//! (depth, conditions, listed values: [`strata_dsl::Size`]) is computed
//! from the per-segment sizes before anything is inlined, so an expansion
//! bomb (a segment that uses another a thousand times, which uses a third a
//! thousand times, ...) is refused at once with the limit it exceeds named,
//! without building the expression it describes.

use std::collections::HashMap;
use std::rc::Rc;

use strata_dsl::ast::{Expr, ExprKind, Segment};
use strata_dsl::{Catalog, Size};

use crate::{Error, Result};

/// Deepest chain of `IN SEGMENT` references followed before giving up.
const MAX_SEGMENT_CHAIN: usize = 32;

/// Inlines saved segments, remembering every saved segment it has resolved.
pub(crate) struct Expander<'a> {
    catalog: &'a dyn Catalog,
    resolved: HashMap<String, Rc<Saved>>,
}

/// A saved segment, checked, with the size of its own expansion.
struct Saved {
    segment: Segment,
    size: Size,
}

impl<'a> Expander<'a> {
    pub(crate) fn new(catalog: &'a dyn Catalog) -> Self {
        Expander {
            catalog,
            resolved: HashMap::new(),
        }
    }

    /// `expr` with every `IN SEGMENT` replaced by the saved definition.
    pub(crate) fn expand(&mut self, expr: &Expr) -> Result<Expr> {
        let size = self.size(expr, &mut Vec::new())?;
        if let Some(over) = size.over_limit() {
            return Err(Error::InvalidArgument(format!(
                "with its saved segments inlined, {over}"
            )));
        }
        Ok(self.inline(expr))
    }

    /// The size of `expr` with its saved segments inlined (`path`: the
    /// saved segments being resolved, outermost first).
    fn size(&mut self, expr: &Expr, path: &mut Vec<String>) -> Result<Size> {
        let shape = strata_dsl::shape(expr);
        let mut size = shape.size;
        for r in &shape.refs {
            let saved = self.resolve(&r.name, path)?;
            size = size.with_inlined(saved.size, r.depth);
        }
        Ok(size)
    }

    /// Saved segment `name`, parsed and checked once per expansion.
    fn resolve(&mut self, name: &str, path: &mut Vec<String>) -> Result<Rc<Saved>> {
        if let Some(saved) = self.resolved.get(name) {
            return Ok(saved.clone());
        }
        if path.iter().any(|p| p == name) || path.len() >= MAX_SEGMENT_CHAIN {
            let mut path = path.clone();
            path.push(name.to_string());
            return Err(Error::SegmentCycle { path });
        }
        let text = self
            .catalog
            .segment(name)
            .ok_or_else(|| Error::SegmentNotFound {
                name: name.to_string(),
            })?;
        let segment =
            strata_dsl::parse_and_check(&text, self.catalog).map_err(|err| match err {
                strata_dsl::Error::Dsl(d) => Error::InvalidArgument(format!(
                    "saved segment '{name}' no longer checks:\n{}",
                    d.render_in(&text, Some(&crate::segments::file_name(name)))
                )),
                other => Error::Dsl(other),
            })?;
        path.push(name.to_string());
        let size = self.size(&segment.expr, path);
        path.pop();
        let saved = Rc::new(Saved {
            segment,
            size: size?,
        });
        self.resolved.insert(name.to_string(), saved.clone());
        Ok(saved)
    }

    /// `expr` with its (already resolved, within the limits) references
    /// replaced, inlined definitions included (the walk does not recurse).
    fn inline(&self, e: &Expr) -> Expr {
        let inlined = e.clone().transform_down(|mut e| {
            while let ExprKind::InSegment { name } = &e.kind
                && let Some(saved) = self.resolved.get(&name.name)
            {
                e = saved.segment.expr.clone();
            }
            Ok::<_, std::convert::Infallible>(e)
        });
        match inlined {
            Ok(e) => e,
            Err(never) => match never {},
        }
    }
}

/// Checks that saving `text` as segment `name` leaves it, and every saved
/// segment that uses it, free of cycles and within the size limits.
pub(crate) fn check_save(catalog: &dyn Catalog, name: &str, text: &str) -> Result<()> {
    let overlay = Overlay {
        base: catalog,
        name,
        text,
    };
    let mut expander = Expander::new(&overlay);
    for user in users_of(&overlay, name) {
        let saved = expander.resolve(&user, &mut Vec::new())?;
        if let Some(over) = saved.size.over_limit() {
            let whose = if user == name {
                String::new()
            } else {
                format!(" segment '{user}', which uses it:")
            };
            return Err(Error::InvalidArgument(format!(
                "saving '{name}' would make{whose} with its saved segments inlined, {over}"
            )));
        }
    }
    Ok(())
}

/// Checks that no other saved segment refers to `name`, so deleting it
/// breaks none.
pub(crate) fn check_delete(catalog: &dyn Catalog, name: &str) -> Result<()> {
    let users: Vec<String> = users_of(catalog, name)
        .into_iter()
        .filter(|u| u != name)
        .collect();
    if users.is_empty() {
        Ok(())
    } else {
        Err(Error::SegmentInUse {
            name: name.to_string(),
            users,
        })
    }
}

/// `name` and every saved segment that refers to it, directly or not.
fn users_of(catalog: &dyn Catalog, name: &str) -> Vec<String> {
    let mut used_by: HashMap<String, Vec<String>> = HashMap::new();
    for seg in catalog.segments() {
        let Some(parsed) = catalog
            .segment(&seg)
            .and_then(|t| strata_dsl::parse(&t).ok())
        else {
            continue;
        };
        for r in strata_dsl::shape(&parsed.expr).refs {
            used_by.entry(r.name).or_default().push(seg.clone());
        }
    }
    let mut out = vec![name.to_string()];
    let mut i = 0;
    while i < out.len() {
        for user in used_by.get(&out[i]).into_iter().flatten() {
            if !out.contains(user) {
                out.push(user.clone());
            }
        }
        i += 1;
    }
    out
}

/// A catalog with one saved segment replaced (or added).
struct Overlay<'a> {
    base: &'a dyn Catalog,
    name: &'a str,
    text: &'a str,
}

impl Catalog for Overlay<'_> {
    fn profile_field(&self, name: &str) -> Option<strata_dsl::FieldType> {
        self.base.profile_field(name)
    }
    fn profile_fields(&self) -> Vec<String> {
        self.base.profile_fields()
    }
    fn event_property(&self, name: &str) -> Option<strata_dsl::FieldType> {
        self.base.event_property(name)
    }
    fn event_properties(&self) -> Vec<String> {
        self.base.event_properties()
    }
    fn event_types(&self) -> Vec<String> {
        self.base.event_types()
    }
    fn segment(&self, name: &str) -> Option<String> {
        if name == self.name {
            Some(self.text.to_string())
        } else {
            self.base.segment(name)
        }
    }
    fn segments(&self) -> Vec<String> {
        let mut all = self.base.segments();
        if !all.iter().any(|n| n == self.name) {
            all.push(self.name.to_string());
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_dsl::StaticCatalog;

    fn catalog(saved: &[(&str, String)]) -> StaticCatalog {
        let mut c = StaticCatalog::demo();
        for (name, text) in saved {
            c.segments.insert(name.to_string(), text.clone());
        }
        c
    }

    fn expand(c: &StaticCatalog, text: &str) -> Result<Expr> {
        let seg = strata_dsl::parse_and_check(text, c)?;
        Expander::new(c).expand(&seg.expr)
    }

    #[test]
    fn inlines_each_reference() {
        let c = catalog(&[("gb", "country = 'GB'".into())]);
        let e = expand(&c, "IN SEGMENT gb OR NOT IN SEGMENT gb").unwrap();
        let text = strata_dsl::format(&Segment {
            expr: e,
            comments: vec![],
        });
        assert_eq!(text, "country = 'GB' OR NOT country = 'GB'");
    }

    #[test]
    fn expansion_bomb_is_refused_with_the_limit_named() {
        // s0 uses s1 40 times, s1 uses s2 40 times, ...: 40^5 conditions.
        let refs = |next: &str| vec![format!("IN SEGMENT {next}"); 40].join(" OR ");
        let mut saved: Vec<(&str, String)> = vec![
            ("s0", refs("s1")),
            ("s1", refs("s2")),
            ("s2", refs("s3")),
            ("s3", refs("s4")),
        ];
        saved.push(("s4", "country = 'GB'".into()));
        let c = catalog(&saved);
        let err = expand(&c, "IN SEGMENT s0").unwrap_err().to_string();
        assert!(err.contains("2560000 conditions"), "{err}");
        assert!(err.contains("at most 1000"), "{err}");
    }

    #[test]
    fn depth_counts_across_saved_segments() {
        let deep = format!("{}consent_email", "NOT ".repeat(40));
        let c = catalog(&[("deep", deep.clone())]);
        let err = expand(&c, &format!("{}IN SEGMENT deep", "NOT ".repeat(30)))
            .unwrap_err()
            .to_string();
        assert!(err.contains("nested too deeply"), "{err}");
        assert!(expand(&c, "NOT IN SEGMENT deep").is_ok());
    }

    #[test]
    fn saving_checks_the_segments_that_use_it() {
        let c = catalog(&[
            ("base", "country = 'GB'".into()),
            ("user", vec!["IN SEGMENT base"; 40].join(" OR ")),
        ]);
        assert!(check_save(&c, "base", "consent_email").is_ok());
        let wide = vec!["consent_email"; 30].join(" OR ");
        let err = check_save(&c, "base", &wide).unwrap_err().to_string();
        assert!(err.contains("segment 'user', which uses it"), "{err}");
        assert!(err.contains("1200 conditions"), "{err}");
        let err = check_save(&c, "base", "IN SEGMENT user").unwrap_err();
        assert!(err.to_string().contains("refers to itself"), "{err}");
    }

    #[test]
    fn cycles_are_named() {
        let c = catalog(&[
            ("a", "IN SEGMENT b OR country = 'GB'".into()),
            ("b", "IN SEGMENT a".into()),
        ]);
        let err = Expander::new(&c)
            .expand(&strata_dsl::parse("IN SEGMENT a").unwrap().expr)
            .unwrap_err();
        // The checker of `a` sees the cycle first; either way it is named.
        let text = err.to_string();
        assert!(
            text.contains("refers to itself") || matches!(err, Error::SegmentCycle { .. }),
            "{text}"
        );
    }
}
