use std::collections::{HashMap, HashSet};
use std::fs::File;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Decimal128Type, Int64Type, TimestampMicrosecondType};
use parquet::file::reader::{FileReader, SerializedFileReader};
use strata_datasets::{
    GenConfig, Manifest, events_schema, generate, parquet_files, profiles_dir, profiles_schema,
};

use crate::common::{
    all_events, all_profiles, event_files, read_file, small_config, small_dataset, snapshot,
};

#[test]
fn same_seed_gives_byte_identical_files_for_any_thread_count() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    generate(
        &GenConfig {
            threads: 1,
            ..small_config()
        },
        &a,
    )
    .unwrap();
    generate(
        &GenConfig {
            threads: 2,
            ..small_config()
        },
        &b,
    )
    .unwrap();
    let (sa, sb) = (snapshot(&a), snapshot(&b));
    assert!(sa.len() > 30);
    assert_eq!(sa.keys().collect::<Vec<_>>(), sb.keys().collect::<Vec<_>>());
    // The logs hold commit times; what they list must be the same.
    let logs = [strata_datasets::DELTA_LOG, strata_datasets::DATASET_LOG];
    for (path, bytes) in &sa {
        if !path
            .components()
            .any(|c| logs.contains(&&*c.as_os_str().to_string_lossy()))
        {
            assert!(bytes == &sb[path], "{} differs", path.display());
        }
    }
    for table in ["profiles", "events"] {
        let live = |root: &std::path::Path| {
            let s = strata_datasets::block_on(strata_datasets::snapshot(&root.join(table), None))
                .unwrap()
                .unwrap();
            s.files
                .into_iter()
                .map(|f| (f.path, f.size, f.partition_values, f.stats))
                .collect::<Vec<_>>()
        };
        assert_eq!(live(&a), live(&b), "{table}");
    }
    // and a different seed gives different data
    let c = tmp.path().join("c");
    generate(
        &GenConfig {
            seed: 8,
            ..small_config()
        },
        &c,
    )
    .unwrap();
    assert_ne!(
        snapshot(&c).get(&std::path::PathBuf::from("profiles/part-00000.parquet")),
        sa.get(&std::path::PathBuf::from("profiles/part-00000.parquet"))
    );
}

#[test]
fn schemas_are_exactly_the_documented_ones() {
    let dir = small_dataset();
    for (_, f) in event_files(dir) {
        let batch = read_file(&f);
        assert_eq!(
            batch.schema().fields(),
            events_schema().fields(),
            "{}",
            f.display()
        );
    }
    assert_eq!(
        all_profiles(dir).schema().fields(),
        profiles_schema().fields()
    );
}

#[test]
fn files_are_sorted_and_cover_disjoint_profile_ranges() {
    let dir = small_dataset();
    let as_of = Manifest::load(dir)
        .unwrap()
        .as_of
        .unwrap()
        .timestamp_micros();
    let mut last_partition = String::new();
    let mut prev_max = i64::MIN;
    for (partition, f) in event_files(dir) {
        if partition != last_partition {
            last_partition = partition.clone();
            prev_max = i64::MIN;
        }
        let batch = read_file(&f);
        let pid = batch.column(0).as_primitive::<Int64Type>();
        let t = batch.column(1).as_primitive::<TimestampMicrosecondType>();
        assert!(
            pid.value(0) > prev_max,
            "{} overlaps the previous file",
            f.display()
        );
        for i in 1..batch.num_rows() {
            let (a, b) = (
                (pid.value(i - 1), t.value(i - 1)),
                (pid.value(i), t.value(i)),
            );
            assert!(
                a <= b,
                "{}: row {i} out of order: {a:?} > {b:?}",
                f.display()
            );
        }
        prev_max = pid.value(batch.num_rows() - 1);
        for i in 0..batch.num_rows() {
            let ts = chrono::DateTime::from_timestamp_micros(t.value(i)).unwrap();
            assert_eq!(strata_datasets::partition_for(ts), partition);
            assert!(t.value(i) < as_of);
        }
        // sorting_columns metadata is set in every row group
        let reader = SerializedFileReader::new(File::open(&f).unwrap()).unwrap();
        for rg in reader.metadata().row_groups() {
            let sc = rg.sorting_columns().expect("sorting columns");
            assert_eq!(sc.iter().map(|c| c.column_idx).collect::<Vec<_>>(), [0, 1]);
        }
    }
    // profiles: dense 1..=N in order
    let mut expected = 1;
    for f in parquet_files(&profiles_dir(dir)).unwrap() {
        let batch = read_file(&f);
        let pid = batch.column(0).as_primitive::<Int64Type>();
        for v in pid.values() {
            assert_eq!(*v, expected);
            expected += 1;
        }
    }
    assert_eq!(expected, 2_001);
}

#[test]
fn data_behaves_like_a_store() {
    let dir = small_dataset();
    let events = all_events(dir);
    let pid = events.column(0).as_primitive::<Int64Type>();
    let etype = events.column(2).as_string::<i32>();
    let channel = events.column(3).as_string::<i32>();
    let amount = events.column(4).as_primitive::<Decimal128Type>();

    // ~50 events per profile, ~10 % of profiles without any
    let n = events.num_rows() as f64 / 2_000.0;
    assert!((35.0..70.0).contains(&n), "{n} events per profile");
    let active: HashSet<i64> = pid.values().iter().copied().collect();
    let silent = 2_000 - active.len();
    assert!(
        (100..350).contains(&silent),
        "{silent} profiles without events"
    );

    // heavy-tailed revenue: top 20 % of buyers bring more than half
    let mut revenue: HashMap<i64, i128> = HashMap::new();
    let mut classes: HashMap<i64, (bool, bool)> = HashMap::new();
    let mut types = HashSet::new();
    for i in 0..events.num_rows() {
        types.insert(etype.value(i));
        if etype.value(i) == "purchase" {
            assert!(amount.is_valid(i));
            *revenue.entry(pid.value(i)).or_default() += amount.value(i);
            let c = classes.entry(pid.value(i)).or_default();
            match channel.value(i) {
                "pos" => c.1 = true,
                _ => c.0 = true,
            }
        }
    }
    let mut r: Vec<i128> = revenue.values().copied().collect();
    r.sort_unstable_by(|a, b| b.cmp(a));
    let top = r[..r.len() / 5].iter().sum::<i128>() as f64 / r.iter().sum::<i128>() as f64;
    assert!(top > 0.5, "top 20% share {top}");

    let online = classes.values().filter(|c| c.0 && !c.1).count();
    let offline = classes.values().filter(|c| !c.0 && c.1).count();
    let omni = classes.values().filter(|c| c.0 && c.1).count();
    assert!(
        online > 50 && offline > 50 && omni > 50,
        "{online} {offline} {omni}"
    );

    for t in strata_datasets::EVENT_TYPES {
        assert!(types.contains(t), "no {t} events");
    }

    // zero-party answers and NULLs exist
    let profiles = all_profiles(dir);
    let col = |name: &str| {
        profiles
            .column(profiles.schema().index_of(name).unwrap())
            .clone()
    };
    let intent = col("purchase_intent");
    assert!(intent.null_count() > 1_000 && intent.null_count() < 1_800);
    assert!(col("loyalty_tier").null_count() > 0 && col("email").null_count() > 0);
    assert_eq!(col("external_id").null_count(), 0);
}

#[test]
fn refuses_to_replace_a_directory_that_is_not_a_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("precious.txt"), "keep me").unwrap();
    let err = generate(
        &GenConfig {
            profiles: 10,
            ..GenConfig::default()
        },
        tmp.path(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("refusing"), "{err}");
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("precious.txt")).unwrap(),
        "keep me"
    );
}

#[test]
fn regenerating_replaces_the_dataset_and_keeps_saved_segments() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("d");
    generate(
        &GenConfig {
            profiles: 50,
            ..GenConfig::default()
        },
        &out,
    )
    .unwrap();
    std::fs::create_dir_all(out.join("segments")).unwrap();
    std::fs::write(out.join("segments/vip.seg"), "rfm.segment = 'champions'").unwrap();
    std::fs::create_dir_all(out.join("features")).unwrap();
    std::fs::write(out.join("features/stale.parquet"), "x").unwrap();
    generate(
        &GenConfig {
            profiles: 60,
            ..GenConfig::default()
        },
        &out,
    )
    .unwrap();
    assert_eq!(all_profiles(&out).num_rows(), 60);
    assert!(out.join("segments/vip.seg").is_file());
    assert!(!out.join("features").exists());
    // nothing left next to it
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
}
