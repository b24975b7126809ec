//! The profile-id chunks of the events table, read from its log.
//!
//! Writers cut profiles into chunks of consecutive ids and write each
//! month's events one file (or more) per chunk, so that the files of
//! different chunks hold disjoint id ranges: the engine's id-range plan
//! groups files by those ranges. An append or an optimize keeps to the
//! same chunks: its files of a month are cut at the table's chunk
//! boundaries ([`cuts`]), so a new file never straddles two chunks.
//!
//! The chunks are found once, when a dataset's first version is recorded,
//! and every later version carries them (`DatasetVersion::chunks`): from
//! the months laid out as chunks, months of two or more files with
//! disjoint id ranges (a month that appends made overlap, or a month of
//! one file, says nothing about the chunks). Their files' ranges are
//! merged into non-overlapping clusters, and each cluster after the first
//! starts a chunk. Found again later, the small files of new profiles an
//! append adds past the last chunk would each look like a chunk.

use std::collections::BTreeMap;

use crate::layout::EVENT_MONTH;
use crate::table::{TableFile, TableSnapshot};

/// The `profile_id` bounds the log records for `file` (`None` when it
/// records none, as for a file without rows).
pub(crate) fn id_range(file: &TableFile) -> Option<(i64, i64)> {
    let stats = file.stats.as_ref()?;
    let lo = stats.min_values.get("profile_id")?.as_i64()?;
    let hi = stats.max_values.get("profile_id")?.as_i64()?;
    Some((lo, hi))
}

/// The rows the log records for `file`.
pub(crate) fn rows(file: &TableFile) -> u64 {
    file.stats.as_ref().map_or(0, |s| s.num_records)
}

/// The event month of `file` (its `event_month` partition value).
pub(crate) fn month_of(file: &TableFile) -> &str {
    file.partition_values
        .get(EVENT_MONTH)
        .and_then(|v| v.as_deref())
        .unwrap_or("")
}

/// The table's files by month.
pub(crate) fn by_month(table: &TableSnapshot) -> BTreeMap<&str, Vec<&TableFile>> {
    let mut months: BTreeMap<&str, Vec<&TableFile>> = BTreeMap::new();
    for file in &table.files {
        months.entry(month_of(file)).or_default().push(file);
    }
    months
}

/// The first profile id of each chunk after the first, ascending; empty
/// when no month is laid out as chunks.
pub(crate) fn cuts(events: &TableSnapshot) -> Vec<i64> {
    let mut ranges: Vec<(i64, i64)> = by_month(events)
        .into_values()
        .filter_map(|files| disjoint_ranges(&files).filter(|r| r.len() >= 2))
        .flatten()
        .collect();
    ranges.sort_unstable();
    let mut clusters: Vec<(i64, i64)> = Vec::new();
    for (lo, hi) in ranges {
        match clusters.last_mut() {
            Some(last) if lo <= last.1 => last.1 = last.1.max(hi),
            _ => clusters.push((lo, hi)),
        }
    }
    clusters.iter().skip(1).map(|&(lo, _)| lo).collect()
}

/// The id ranges of `files` in ascending order when every file has one
/// and no two overlap.
pub(crate) fn disjoint_ranges(files: &[&TableFile]) -> Option<Vec<(i64, i64)>> {
    let mut ranges = files
        .iter()
        .map(|f| id_range(f))
        .collect::<Option<Vec<_>>>()?;
    ranges.sort_unstable();
    ranges.windows(2).all(|w| w[0].1 < w[1].0).then_some(ranges)
}

/// The chunk (0-based) of profile id `id`.
pub(crate) fn chunk_of(cuts: &[i64], id: i64) -> usize {
    cuts.partition_point(|&c| c <= id)
}

/// Whether a month's `files` are laid out as an optimize writes them:
/// disjoint, none straddling a chunk boundary, and no more files per
/// chunk than files of `rows_per_file` rows need.
pub(crate) fn laid_out(files: &[&TableFile], cuts: &[i64], rows_per_file: usize) -> bool {
    let Some(ranges) = disjoint_ranges(files) else {
        return false;
    };
    if ranges
        .iter()
        .any(|&(lo, hi)| chunk_of(cuts, lo) != chunk_of(cuts, hi))
    {
        return false;
    }
    let mut per_chunk: BTreeMap<usize, (u64, u64)> = BTreeMap::new();
    for file in files {
        let (lo, _) = id_range(file).unwrap_or_default();
        let entry = per_chunk.entry(chunk_of(cuts, lo)).or_default();
        entry.0 += 1;
        entry.1 += rows(file);
    }
    per_chunk
        .values()
        .all(|&(files, rows)| files <= rows.div_ceil(rows_per_file as u64).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::FileStatistics;

    fn file(month: &str, lo: i64, hi: i64, rows: u64) -> TableFile {
        TableFile {
            path: format!("{EVENT_MONTH}={month}/f-{lo}-{hi}.parquet"),
            size: 100,
            partition_values: BTreeMap::from([(EVENT_MONTH.to_string(), Some(month.into()))]),
            stats: Some(FileStatistics {
                num_records: rows,
                min_values: BTreeMap::from([("profile_id".into(), lo.into())]),
                max_values: BTreeMap::from([("profile_id".into(), hi.into())]),
                null_count: BTreeMap::new(),
            }),
        }
    }

    fn table(files: Vec<TableFile>) -> TableSnapshot {
        TableSnapshot {
            version: 0,
            partition_columns: vec![EVENT_MONTH.into()],
            file_schema: std::sync::Arc::new(arrow::datatypes::Schema::empty()),
            files,
        }
    }

    #[test]
    fn chunks_come_from_months_of_disjoint_files_only() {
        let t = table(vec![
            file("2024-01", 1, 90, 10),
            file("2024-01", 101, 190, 10),
            file("2024-01", 201, 300, 10),
            file("2024-02", 5, 100, 10),
            file("2024-02", 120, 200, 10),
            // Overlapping (an append's file over the others): ignored.
            file("2024-03", 1, 300, 10),
            file("2024-03", 1, 100, 10),
            // One file: ignored.
            file("2024-04", 1, 300, 10),
        ]);
        assert_eq!(cuts(&t), vec![101, 201]);
        assert_eq!(chunk_of(&[101, 201], 100), 0);
        assert_eq!(chunk_of(&[101, 201], 101), 1);
        assert_eq!(chunk_of(&[101, 201], 900), 2);
    }

    #[test]
    fn a_month_is_laid_out_when_disjoint_within_chunks_and_not_too_many() {
        let cuts = [101];
        let ok = [file("m", 1, 50, 10), file("m", 101, 150, 10)];
        assert!(laid_out(&ok.iter().collect::<Vec<_>>(), &cuts, 100));
        let straddles = [file("m", 1, 150, 20)];
        assert!(!laid_out(&straddles.iter().collect::<Vec<_>>(), &cuts, 100));
        let overlaps = [file("m", 1, 50, 10), file("m", 40, 60, 10)];
        assert!(!laid_out(&overlaps.iter().collect::<Vec<_>>(), &cuts, 100));
        let small = [file("m", 1, 50, 10), file("m", 51, 60, 10)];
        assert!(!laid_out(&small.iter().collect::<Vec<_>>(), &cuts, 100));
        assert!(laid_out(&small.iter().collect::<Vec<_>>(), &cuts, 10));
    }
}
