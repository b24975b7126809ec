//! Distinct values of a string column read from its Parquet dictionary
//! pages, without decoding a single data page.
//!
//! The type checker needs the event types present in the data. Scanning
//! `event_type` for them costs a pass over every event (about 0.35 s at m
//! scale, seconds at l) on every open. A column chunk whose data pages are
//! all dictionary-encoded holds no value outside its dictionary page, so the
//! union of the dictionary pages is a superset of the column's values, and
//! exactly its values for the writers' files (a dictionary is built from the
//! values written). [`distinct_strings`] returns that union, or `None` as
//! soon as one chunk could hold a value its dictionary does not (a chunk
//! that fell back to plain pages, or a file without page encoding
//! statistics): the caller then scans.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::Path;

use parquet::basic::{Encoding, PageType};
use parquet::column::page::Page;
use parquet::file::metadata::ColumnChunkMetaData;
use parquet::file::reader::{FileReader, SerializedFileReader};

use crate::Result;

/// The distinct non-null values of the top-level string `column` over
/// `files`, from dictionary pages only; `None` when a chunk of a file is not
/// entirely dictionary-encoded (or the column is not a top-level string).
pub(crate) fn distinct_strings<P: AsRef<Path>>(
    files: &[P],
    column: &str,
) -> Result<Option<BTreeSet<String>>> {
    let mut values = BTreeSet::new();
    for path in files {
        let reader = SerializedFileReader::new(File::open(path)?)?;
        let schema = reader.metadata().file_metadata().schema_descr();
        let Some(index) = (0..schema.num_columns()).find(|&i| {
            let c = schema.column(i);
            c.path().parts().len() == 1 && c.name() == column
        }) else {
            return Ok(None);
        };
        for rg in 0..reader.num_row_groups() {
            let row_group = reader.get_row_group(rg)?;
            let chunk = row_group.metadata().column(index);
            if chunk.num_values() == 0 {
                continue;
            }
            if !all_dictionary_encoded(chunk) {
                return Ok(None);
            }
            let mut pages = row_group.get_column_page_reader(index)?;
            match pages.get_next_page()? {
                Some(Page::DictionaryPage {
                    buf,
                    num_values,
                    encoding: Encoding::PLAIN | Encoding::PLAIN_DICTIONARY,
                    ..
                }) => {
                    if !plain_strings(&buf, num_values as usize, &mut values) {
                        return Ok(None);
                    }
                }
                _ => return Ok(None),
            }
        }
    }
    Ok(Some(values))
}

/// Whether every data page of `chunk` is dictionary-encoded, by the page
/// encoding statistics (the chunk's list of encodings cannot tell: a
/// dictionary page is itself written PLAIN).
fn all_dictionary_encoded(chunk: &ColumnChunkMetaData) -> bool {
    if chunk.dictionary_page_offset().is_none() {
        return false;
    }
    if let Some(mask) = chunk.page_encoding_stats_mask() {
        return mask.is_only(Encoding::RLE_DICTIONARY) || mask.is_only(Encoding::PLAIN_DICTIONARY);
    }
    chunk.page_encoding_stats().is_some_and(|stats| {
        stats
            .iter()
            .filter(|s| matches!(s.page_type, PageType::DATA_PAGE | PageType::DATA_PAGE_V2))
            .all(|s| {
                matches!(
                    s.encoding,
                    Encoding::RLE_DICTIONARY | Encoding::PLAIN_DICTIONARY
                )
            })
    })
}

/// Decodes `n` PLAIN byte arrays (4-byte little-endian length, then the
/// bytes) into `out`; `false` if the buffer is malformed or not UTF-8.
fn plain_strings(mut buf: &[u8], n: usize, out: &mut BTreeSet<String>) -> bool {
    for _ in 0..n {
        let Some((len, rest)) = buf.split_first_chunk::<4>() else {
            return false;
        };
        let len = u32::from_le_bytes(*len) as usize;
        let Some((value, rest)) = rest.split_at_checked(len) else {
            return false;
        };
        let Ok(value) = std::str::from_utf8(value) else {
            return false;
        };
        if !out.contains(value) {
            out.insert(value.to_string());
        }
        buf = rest;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::Arc;

    use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;

    fn write(path: &Path, kinds: &[Option<&str>], props: WriterProperties) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("profile_id", DataType::Int64, false),
            Field::new("event_type", DataType::Utf8, true),
        ]));
        let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..kinds.len() as i64));
        let kinds: ArrayRef = Arc::new(StringArray::from(kinds.to_vec()));
        let batch = RecordBatch::try_new(schema.clone(), vec![ids, kinds]).unwrap();
        let mut w = ArrowWriter::try_new(File::create(path).unwrap(), schema, Some(props)).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }

    fn small_row_groups() -> WriterProperties {
        WriterProperties::builder()
            .set_max_row_group_row_count(Some(3))
            .build()
    }

    #[test]
    fn union_of_every_row_group_and_file_without_nulls() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
        write(
            &a,
            &[
                Some("purchase"),
                None,
                Some("purchase"),
                Some("page_view"),
                None,
                None,
                Some("é"),
            ],
            small_row_groups(),
        );
        write(
            &b,
            &[Some("cart_abandoned"), Some("purchase")],
            small_row_groups(),
        );
        let got = distinct_strings(&[a, b], "event_type").unwrap().unwrap();
        let want: BTreeSet<String> = ["cart_abandoned", "page_view", "purchase", "é"]
            .map(String::from)
            .into();
        assert_eq!(got, want);
    }

    #[test]
    fn plain_pages_or_a_missing_column_give_none() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain.parquet");
        let props = WriterProperties::builder()
            .set_dictionary_enabled(false)
            .build();
        write(&plain, &[Some("purchase"), Some("refund")], props);
        assert_eq!(distinct_strings(&[&plain], "event_type").unwrap(), None);

        let dict = dir.path().join("dict.parquet");
        write(&dict, &[Some("purchase")], small_row_groups());
        assert_eq!(distinct_strings(&[&dict], "channel").unwrap(), None);
        // A chunk that outgrew its dictionary falls back to plain pages.
        let fallback = dir.path().join("fallback.parquet");
        let many: Vec<String> = (0..5000).map(|i| format!("type-{i:05}")).collect();
        let many: Vec<Option<&str>> = many.iter().map(|s| Some(s.as_str())).collect();
        let props = WriterProperties::builder()
            .set_dictionary_page_size_limit(1024)
            .set_data_page_row_count_limit(100)
            .set_write_batch_size(100)
            .build();
        write(&fallback, &many, props);
        assert_eq!(distinct_strings(&[&fallback], "event_type").unwrap(), None);
    }
}
