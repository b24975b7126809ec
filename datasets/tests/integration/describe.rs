use strata_datasets::describe;

use crate::common::{all_events, small_dataset};

#[test]
fn describe_reads_counts_and_time_range_from_footers() {
    let dir = small_dataset();
    let d = describe(dir).unwrap();
    assert_eq!(d.profiles.rows, 2_000);
    assert_eq!(d.events.rows as usize, all_events(dir).num_rows());
    assert!(
        d.events.partitions.len() >= 35,
        "{} partitions",
        d.events.partitions.len()
    );
    let (lo, hi) = d.events.time_range.unwrap();
    let as_of = d.manifest.as_of.unwrap();
    assert!(hi < as_of && lo >= as_of - chrono::Duration::days(3 * 366));
    assert_eq!(d.events.schema.as_ref().unwrap().fields().len(), 12);
    let text = d.to_string();
    assert!(text.contains("event_month=2025-12"), "{text}");
    assert!(text.contains("profiles  2000 rows"), "{text}");
}
