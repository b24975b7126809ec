//! The user's own columns, kept as event or profile properties.

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, StringBuilder, new_null_array};
use arrow::compute::{concat, filter};
use arrow::datatypes::{DataType, Field};

use super::values::infer;
use crate::error::Result;

/// One property column: text cells (CSV, JSON; typed at the end) or Arrow
/// arrays (Parquet; typed already).
#[derive(Debug)]
pub(super) enum PropValues {
    Text(StringBuilder),
    Arrow {
        data_type: DataType,
        chunks: Vec<ArrayRef>,
    },
}

#[derive(Debug)]
pub(super) struct PropColumn {
    /// Name in the input.
    pub(super) source: String,
    /// Name in the output (renamed when it clashes with a canonical name).
    pub(super) name: String,
    /// Index of the column in the input.
    pub(super) input_index: usize,
    pub(super) values: PropValues,
}

impl PropColumn {
    pub(super) fn text(source: &str, name: String, input_index: usize, nulls: usize) -> Self {
        let mut b = StringBuilder::new();
        for _ in 0..nulls {
            b.append_null();
        }
        PropColumn {
            source: source.to_string(),
            name,
            input_index,
            values: PropValues::Text(b),
        }
    }

    pub(super) fn arrow(
        source: &str,
        name: String,
        input_index: usize,
        data_type: DataType,
    ) -> Self {
        PropColumn {
            source: source.to_string(),
            name,
            input_index,
            values: PropValues::Arrow {
                data_type,
                chunks: Vec::new(),
            },
        }
    }

    /// Appends a text cell (empty = NULL).
    #[inline]
    pub(super) fn push_text(&mut self, v: Option<&str>) {
        if let PropValues::Text(b) = &mut self.values {
            match v {
                Some(s) if !s.is_empty() => b.append_value(s),
                _ => b.append_null(),
            }
        }
    }

    /// Appends the rows of `array` selected by `keep`.
    pub(super) fn push_arrow(&mut self, array: &ArrayRef, keep: &BooleanArray) -> Result<()> {
        if let PropValues::Arrow { chunks, .. } = &mut self.values {
            chunks.push(if keep.true_count() == keep.len() {
                array.clone()
            } else {
                filter(array, keep)?
            });
        }
        Ok(())
    }

    /// The column as read (text as text), as [`finish`](Self::finish)
    /// would type it, and whether it was text.
    pub(super) fn finish_raw(self) -> Result<(ArrayRef, ArrayRef, bool)> {
        match self.values {
            PropValues::Text(mut b) => {
                let raw: ArrayRef = std::sync::Arc::new(b.finish());
                let inferred = infer(raw.as_string::<i32>());
                Ok((raw, inferred, true))
            }
            arrow => {
                let (_, array) = PropColumn {
                    values: arrow,
                    ..self
                }
                .finish()?;
                Ok((array.clone(), array, false))
            }
        }
    }

    /// The finished column (text columns get their inferred type).
    pub(super) fn finish(self) -> Result<(Field, ArrayRef)> {
        let array = match self.values {
            PropValues::Text(mut b) => infer(&b.finish()),
            PropValues::Arrow { data_type, chunks } => {
                if chunks.is_empty() {
                    new_null_array(&data_type, 0)
                } else {
                    let refs: Vec<&dyn Array> = chunks.iter().map(|c| c.as_ref()).collect();
                    concat(&refs)?
                }
            }
        };
        Ok((
            Field::new(self.name, array.data_type().clone(), true),
            array,
        ))
    }
}
