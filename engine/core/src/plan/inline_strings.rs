//! `=` against short strings, one 128-bit compare per row.
//!
//! Audience counts filter profiles on low-cardinality text attributes:
//! `country = 'GB'`, `loyalty_tier IN ('gold', 'platinum')`. DataFusion
//! reads those columns as `Utf8View`, where a string of at most 12 bytes
//! lives inside its 16-byte view (length, then the bytes, zero-padded) and a
//! longer string has a different length in the same view. So a value equals
//! a literal of at most 12 bytes exactly when the two views are equal, with
//! no branch and no look into the data buffers. Arrow's own comparison
//! (arrow-ord 59) relies on the same layout but decides row by row, with a
//! branch per row; on an attribute-only count that comparison was about a
//! quarter of the CPU (perf over `count "country = 'GB'"`, m scale).
//!
//! [`InlineStringPredicates`] is a physical optimizer rule that rewrites
//! `column = 'literal'`, `column <> 'literal'` and `column [NOT] IN (...)`
//! over a `Utf8View` column inside `FilterExec` predicates into
//! [`InlineStringEq`] when every literal fits in a view. It runs after
//! DataFusion's own rules, so the Parquet scan keeps the original predicate
//! for its statistics pruning. Any other comparison is left as it is.

use std::collections::HashSet;
use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use arrow::array::{Array, AsArray, BooleanArray, make_view};
use arrow::buffer::BooleanBuffer;
use arrow::datatypes::{DataType, Schema};
use arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::{Result, ScalarValue, internal_err};
use datafusion::config::ConfigOptions;
use datafusion::logical_expr::{ColumnarValue, Operator};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::{BinaryExpr, Column, InListExpr, Literal};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::filter::{FilterExec, FilterExecBuilder};

/// The longest string Arrow keeps inside its view.
const MAX_INLINE_LEN: usize = 12;

/// Rewrites short-string equality in `FilterExec` predicates into
/// [`InlineStringEq`] (see the module documentation).
#[derive(Debug, Default)]
pub(crate) struct InlineStringPredicates;

impl PhysicalOptimizerRule for InlineStringPredicates {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(filter) = node.downcast_ref::<FilterExec>() else {
                return Ok(Transformed::no(node));
            };
            let schema = filter.input().schema();
            let predicate =
                Arc::clone(filter.predicate()).transform_up(|expr| Ok(rewrite(expr, &schema)))?;
            if !predicate.transformed {
                return Ok(Transformed::no(node));
            }
            let filter = FilterExecBuilder::from(filter)
                .with_predicate(predicate.data)
                .build()?;
            Ok(Transformed::yes(Arc::new(filter) as Arc<dyn ExecutionPlan>))
        })
        .data()
    }

    fn name(&self) -> &str {
        "inline_string_predicates"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// `expr` as an [`InlineStringEq`] if it is one of the comparisons the rule
/// handles, else unchanged.
fn rewrite(expr: Arc<dyn PhysicalExpr>, schema: &Schema) -> Transformed<Arc<dyn PhysicalExpr>> {
    let found = if let Some(binary) = expr.downcast_ref::<BinaryExpr>() {
        let negated = match binary.op() {
            Operator::Eq => false,
            Operator::NotEq => true,
            _ => return Transformed::no(expr),
        };
        let (column, literal) = match (
            view_column(binary.left(), schema),
            view_column(binary.right(), schema),
        ) {
            (Some(column), None) => (column, binary.right()),
            (None, Some(column)) => (column, binary.left()),
            _ => return Transformed::no(expr),
        };
        inline_literal(literal).map(|needle| (column, vec![needle], negated))
    } else if let Some(in_list) = expr.downcast_ref::<InListExpr>() {
        view_column(in_list.expr(), schema).and_then(|column| {
            let needles = in_list
                .list()
                .iter()
                .map(inline_literal)
                .collect::<Option<Vec<_>>>()?;
            Some((column, needles, in_list.negated()))
        })
    } else {
        None
    };
    match found {
        Some((column, needles, negated)) if !needles.is_empty() => Transformed::yes(Arc::new(
            InlineStringEq::new(column, needles, negated),
        )
            as Arc<dyn PhysicalExpr>),
        _ => Transformed::no(expr),
    }
}

/// `expr` if it is a column of type `Utf8View`.
fn view_column(expr: &Arc<dyn PhysicalExpr>, schema: &Schema) -> Option<Arc<dyn PhysicalExpr>> {
    let column = expr.downcast_ref::<Column>()?;
    let field = schema.fields().get(column.index())?;
    (field.name() == column.name() && field.data_type() == &DataType::Utf8View)
        .then(|| Arc::clone(expr))
}

/// The view of a non-NULL string literal of at most 12 bytes. A NULL in the
/// list makes `NOT IN` NULL rather than true, so NULLs are not rewritten.
fn inline_literal(expr: &Arc<dyn PhysicalExpr>) -> Option<u128> {
    let text = match expr.downcast_ref::<Literal>()?.value() {
        ScalarValue::Utf8View(Some(s))
        | ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s)) => s,
        _ => return None,
    };
    (text.len() <= MAX_INLINE_LEN).then(|| make_view(text.as_bytes(), 0, 0))
}

/// `column IN (needles)` (`NOT IN` when `negated`) over a `Utf8View`
/// column, where each needle is the view of a string of at most 12 bytes.
/// NULL where the column is NULL, as SQL's `=` and `IN`.
#[derive(Debug, Clone)]
pub(crate) struct InlineStringEq {
    /// A `Utf8View` column of the input.
    column: Arc<dyn PhysicalExpr>,
    needles: Vec<u128>,
    /// The needles as a set, for lists longer than [`MAX_SCANNED_NEEDLES`].
    set: Option<Arc<HashSet<u128>>>,
    negated: bool,
}

/// Longest list compared needle by needle (a branch-free OR per row);
/// longer lists are looked up in a hash set.
const MAX_SCANNED_NEEDLES: usize = 16;

impl InlineStringEq {
    fn new(column: Arc<dyn PhysicalExpr>, needles: Vec<u128>, negated: bool) -> Self {
        let set = (needles.len() > MAX_SCANNED_NEEDLES)
            .then(|| Arc::new(needles.iter().copied().collect::<HashSet<_>>()));
        InlineStringEq {
            column,
            needles,
            set,
            negated,
        }
    }

    /// The needle strings, for display.
    fn texts(&self) -> impl Iterator<Item = String> + '_ {
        self.needles.iter().map(|view| {
            let len = *view as u32 as usize;
            let bytes = view.to_le_bytes();
            String::from_utf8_lossy(&bytes[4..4 + len]).into_owned()
        })
    }

    fn matches(&self, views: &[u128]) -> BooleanBuffer {
        if let Some(set) = &self.set {
            return BooleanBuffer::collect_bool(views.len(), |i| set.contains(&views[i]));
        }
        match self.needles.as_slice() {
            [one] => BooleanBuffer::collect_bool(views.len(), |i| views[i] == *one),
            many => BooleanBuffer::collect_bool(views.len(), |i| {
                let view = views[i];
                many.iter()
                    .fold(false, |hit, needle| hit | (view == *needle))
            }),
        }
    }

    /// `column = x`, `column != x` or `column [NOT] IN (x, y)`, each text
    /// written by `text`.
    fn write(
        &self,
        f: &mut fmt::Formatter<'_>,
        column: &dyn fmt::Display,
        text: impl Fn(String) -> String,
    ) -> fmt::Result {
        let texts = self.texts().map(text).collect::<Vec<_>>();
        match (texts.as_slice(), self.negated) {
            ([one], false) => write!(f, "{column} = {one}"),
            ([one], true) => write!(f, "{column} != {one}"),
            (list, negated) => {
                let not = if negated { "NOT " } else { "" };
                write!(f, "{column} {not}IN ({})", list.join(", "))
            }
        }
    }
}

impl PartialEq for InlineStringEq {
    fn eq(&self, other: &Self) -> bool {
        *self.column == *other.column
            && self.needles == other.needles
            && self.negated == other.negated
    }
}

impl Eq for InlineStringEq {}

impl Hash for InlineStringEq {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.column.hash(state);
        self.needles.hash(state);
        self.negated.hash(state);
    }
}

/// As DataFusion shows `=` and `IN`, marked `(inline)`.
impl fmt::Display for InlineStringEq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, &self.column, |s| s)?;
        write!(f, " (inline)")
    }
}

impl PhysicalExpr for InlineStringEq {
    fn data_type(&self, _input_schema: &Schema) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn nullable(&self, input_schema: &Schema) -> Result<bool> {
        self.column.nullable(input_schema)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let array = self.column.evaluate(batch)?.into_array(batch.num_rows())?;
        let Some(strings) = array.as_string_view_opt() else {
            return internal_err!("{self} expects Utf8View, got {}", array.data_type());
        };
        let hits = self.matches(strings.views());
        let values = if self.negated { !&hits } else { hits };
        Ok(ColumnarValue::Array(Arc::new(BooleanArray::new(
            values,
            strings.nulls().cloned(),
        ))))
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.column]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        match <[_; 1]>::try_from(children) {
            Ok([column]) => Ok(Arc::new(InlineStringEq {
                column,
                needles: self.needles.clone(),
                set: self.set.clone(),
                negated: self.negated,
            })),
            Err(children) => internal_err!("{self} has one child, got {}", children.len()),
        }
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let column = datafusion::physical_expr_common::physical_expr::fmt_sql(self.column.as_ref())
            .to_string();
        self.write(f, &column, |s| format!("'{}'", s.replace('\'', "''")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, StringViewArray};
    use arrow::datatypes::Field;
    use datafusion::physical_expr::expressions::{in_list, lit};

    fn batch(values: &[Option<&str>]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("c", DataType::Utf8View, true)]));
        let array: ArrayRef = Arc::new(StringViewArray::from(values.to_vec()));
        RecordBatch::try_new(schema, vec![array]).unwrap()
    }

    fn column() -> Arc<dyn PhysicalExpr> {
        Arc::new(Column::new("c", 0))
    }

    fn view_lit(s: &str) -> Arc<dyn PhysicalExpr> {
        lit(ScalarValue::Utf8View(Some(s.to_owned())))
    }

    /// Evaluates `expr` as DataFusion does and after the rewrite, checks the
    /// two agree, and returns whether the rewrite applied.
    fn agrees(expr: Arc<dyn PhysicalExpr>, batch: &RecordBatch) -> bool {
        let expected = expr
            .evaluate(batch)
            .unwrap()
            .into_array(batch.num_rows())
            .unwrap();
        let rewritten = Arc::clone(&expr)
            .transform_up(|e| Ok(rewrite(e, &batch.schema())))
            .unwrap();
        let actual = rewritten
            .data
            .evaluate(batch)
            .unwrap()
            .into_array(batch.num_rows())
            .unwrap();
        assert_eq!(
            expected.as_boolean(),
            actual.as_boolean(),
            "{expr} vs {}",
            rewritten.data
        );
        rewritten.transformed
    }

    fn values() -> Vec<Option<&'static str>> {
        vec![
            Some("GB"),
            None,
            Some("G"),
            Some("GBR"),
            Some(""),
            Some("gb"),
            Some("twelve bytes"),
            Some("twelve bytes!"),
            Some("twelve bytes and far more than that"),
            Some("Ünïcödé"),
            Some("GB"),
            None,
        ]
    }

    #[test]
    fn equality_matches_datafusion_on_short_long_empty_and_null_values() {
        let batch = batch(&values());
        for needle in ["GB", "", "twelve bytes", "Ünïcödé", "absent"] {
            for op in [Operator::Eq, Operator::NotEq] {
                let expr = Arc::new(BinaryExpr::new(column(), op, view_lit(needle)));
                assert!(agrees(expr, &batch), "{needle} {op} not rewritten");
                let flipped = Arc::new(BinaryExpr::new(view_lit(needle), op, column()));
                assert!(agrees(flipped, &batch));
            }
        }
    }

    #[test]
    fn in_lists_match_datafusion() {
        let batch = batch(&values());
        let schema = batch.schema();
        for negated in [false, true] {
            let list = vec![view_lit("GB"), view_lit(""), view_lit("twelve bytes")];
            let expr = in_list(column(), list, &negated, &schema).unwrap();
            assert!(agrees(expr, &batch));
        }
    }

    #[test]
    fn long_in_lists_use_the_set_and_match_datafusion() {
        let batch = batch(&values());
        let schema = batch.schema();
        let mut list: Vec<_> = (0..5_000).map(|i| view_lit(&format!("v{i}"))).collect();
        list.extend([view_lit("GB"), view_lit(""), view_lit("Ünïcödé")]);
        for negated in [false, true] {
            let expr = in_list(column(), list.clone(), &negated, &schema).unwrap();
            assert!(agrees(expr, &batch));
        }
    }

    #[test]
    fn sliced_arrays_keep_their_offsets() {
        let full = batch(&values());
        let sliced = full.slice(3, 8);
        let expr = Arc::new(BinaryExpr::new(column(), Operator::Eq, view_lit("GB")));
        assert!(agrees(expr, &sliced));
    }

    #[test]
    fn long_literals_nulls_and_other_operators_are_left_alone() {
        let batch = batch(&values());
        let schema = batch.schema();
        let long = Arc::new(BinaryExpr::new(
            column(),
            Operator::Eq,
            view_lit("twelve bytes!"),
        ));
        assert!(!agrees(long, &batch));
        let null = Arc::new(BinaryExpr::new(
            column(),
            Operator::Eq,
            lit(ScalarValue::Utf8View(None)),
        ));
        assert!(!agrees(null, &batch));
        let less = Arc::new(BinaryExpr::new(column(), Operator::Lt, view_lit("GB")));
        assert!(!agrees(less, &batch));
        let with_null = vec![view_lit("GB"), lit(ScalarValue::Utf8View(None))];
        let not_in = in_list(column(), with_null, &true, &schema).unwrap();
        assert!(!agrees(not_in, &batch));
    }
}
