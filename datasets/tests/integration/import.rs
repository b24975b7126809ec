use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, AsArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{
    DataType, Decimal128Type, Field, Int64Type, Schema, TimestampMicrosecondType,
};
use strata_datasets::{
    ColumnSource, Error, GenConfig, ImportConfig, Manifest, Role, generate, import,
    parse_timestamp, write_parquet_file, writer_properties,
};

use crate::common::{all_events, all_profiles, snapshot};

const EVENTS_CSV: &str = "\
customer,ts,kind,total,note
00042,2024-05-01,purchase,19.99,\"first order, gift wrapped\"
alice@example.com,12/1/2010 8:26,purchase,5,plain
00042,2024-05-01T10:00:00+02:00,page_view,,\"said \"\"hi\"\"\"
U4af3c1b2,2024-05-02 08:26:00,purchase,1.5,
";

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// The mapping of [`EVENTS_CSV`]'s columns (also used by the append tests).
pub(crate) fn csv_config(file: PathBuf) -> ImportConfig {
    ImportConfig {
        profile_id: "customer".into(),
        time: "ts".into(),
        roles: BTreeMap::from([
            (Role::EventType, ColumnSource::Column("kind".into())),
            (Role::Amount, ColumnSource::Column("total".into())),
        ]),
        ..ImportConfig::new(vec![file])
    }
}

fn micros(s: &str) -> i64 {
    parse_timestamp(s).unwrap()
}

#[test]
fn csv_with_quotes_string_ids_and_both_time_styles() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write(tmp.path(), "events.csv", EVENTS_CSV);
    let out = tmp.path().join("ds");
    let s = import(&csv_config(file), &out).unwrap();
    assert_eq!((s.events, s.profiles, s.skipped_rows), (4, 3, 0));

    // ids: dense, in sorted external-id order
    let p = all_profiles(&out);
    let ext = p.column(1).as_string::<i32>();
    assert_eq!(
        ext.iter().flatten().collect::<Vec<_>>(),
        ["00042", "U4af3c1b2", "alice@example.com"]
    );

    let e = all_events(&out);
    assert_eq!(
        e.schema()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect::<Vec<_>>(),
        ["profile_id", "event_time", "event_type", "amount", "note"]
    );
    let pid = e.column(0).as_primitive::<Int64Type>();
    let t = e.column(1).as_primitive::<TimestampMicrosecondType>();
    let kind = e.column(2).as_string::<i32>();
    let amount = e.column(3).as_primitive::<Decimal128Type>();
    let note = e.column(4).as_string::<i32>();
    // partitions come in month order: 2010-12 first
    assert_eq!(
        (pid.value(0), t.value(0)),
        (3, micros("2010-12-01 08:26:00"))
    );
    assert_eq!(amount.value(0), 500);
    // 2024-05: profile 1 (00042) twice, sorted by time, then profile 2
    assert_eq!(pid.values()[1..], [1, 1, 2]);
    assert_eq!(t.value(1), micros("2024-05-01T00:00:00Z"));
    assert_eq!(t.value(2), micros("2024-05-01T08:00:00Z"));
    assert_eq!(kind.value(2), "page_view");
    assert!(amount.is_null(2));
    assert_eq!(amount.value(1), 1999);
    assert_eq!(note.value(1), "first order, gift wrapped");
    assert_eq!(note.value(2), "said \"hi\"");
    assert!(note.is_null(3));

    let m = Manifest::load(&out).unwrap();
    assert_eq!(m.as_of, None);
    assert_eq!(m.roles.amount.as_deref(), Some("amount"));
    assert_eq!(m.roles.channel, None);
    assert_eq!(m.import.unwrap().columns["event_type"], "kind");
}

#[test]
fn a_bad_row_names_file_line_column_value_and_leaves_the_target_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ds");
    generate(
        &GenConfig {
            profiles: 30,
            ..GenConfig::default()
        },
        &out,
    )
    .unwrap();
    let before = snapshot(&out);

    let text = format!("{EVENTS_CSV}bob,2024-13-45 10:00,purchase,3,\n");
    let file = write(tmp.path(), "broken.csv", &text);
    let err = import(&csv_config(file.clone()), &out).unwrap_err();
    let Error::BadRow(row) = &err else {
        panic!("{err}")
    };
    assert_eq!(
        (
            row.file.as_path(),
            row.line,
            row.column.as_str(),
            row.value.as_str()
        ),
        (file.as_path(), 6, "ts", "2024-13-45 10:00")
    );
    let msg = err.to_string();
    assert!(
        msg.contains("broken.csv:6") && msg.contains("`ts`") && msg.contains("2024-13-45 10:00"),
        "{msg}"
    );

    assert_eq!(snapshot(&out), before, "target changed");
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        2,
        "temp dir left behind"
    );

    // a bad amount names its column too
    let text = format!("{EVENTS_CSV}bob,2024-01-01,purchase,12,5x,\n");
    let file = write(tmp.path(), "broken2.csv", &text.replace("12,5x,", "12.5x,"));
    let Error::BadRow(row) = import(&csv_config(file), &out).unwrap_err() else {
        panic!()
    };
    assert_eq!(
        (row.column.as_str(), row.value.as_str()),
        ("total", "12.5x")
    );
    assert_eq!(snapshot(&out), before);
}

#[test]
fn skip_bad_rows_counts_what_it_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let text = format!(
        "{EVENTS_CSV}bob,yesterday,purchase,3,\ncarol,2024-01-01,purchase,abc,\ndave,2024-01-02,purchase,1,too,many\n,2024-01-01,purchase,1,\n"
    );
    let file = write(tmp.path(), "e.csv", &text);
    let out = tmp.path().join("ds");
    let err = import(
        &ImportConfig {
            skip_bad_rows: false,
            ..csv_config(file.clone())
        },
        &out,
    )
    .unwrap_err();
    assert!(err.to_string().contains("yesterday"));
    let s = import(
        &ImportConfig {
            skip_bad_rows: true,
            ..csv_config(file)
        },
        &out,
    )
    .unwrap();
    assert_eq!((s.events, s.skipped_rows, s.input_rows), (4, 4, 8));
    assert_eq!(s.bad_row_examples[0].line, 6);
    assert_eq!(s.bad_row_examples[1].column, "total");
    assert!(s.bad_row_examples[2].message.contains("expected 5 fields"));
    assert!(s.bad_row_examples[3].message.contains("missing profile id"));
}

#[test]
fn times_outside_the_years_1900_to_9999_are_bad_rows() {
    let tmp = tempfile::tempdir().unwrap();
    // Epoch numbers far in the past and future, and a date before 1900.
    let text = format!(
        "{EVENTS_CSV}erin,-9000000000000000,purchase,1,\nfrank,9000000000000000000,purchase,1,\ngus,1899-12-31,purchase,1,\n"
    );
    let file = write(tmp.path(), "e.csv", &text);
    let out = tmp.path().join("ds");
    let err = import(&csv_config(file.clone()), &out)
        .unwrap_err()
        .to_string();
    assert!(err.contains("outside the years 1900 to 9999"), "{err}");
    let s = import(
        &ImportConfig {
            skip_bad_rows: true,
            ..csv_config(file)
        },
        &out,
    )
    .unwrap();
    assert_eq!(s.skipped_rows, 3);
    assert!(
        s.bad_row_examples
            .iter()
            .all(|b| b.message.contains("outside the years") && b.column == "ts")
    );
}

#[test]
fn json_lines_input() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write(
        tmp.path(),
        "e.jsonl",
        r#"{"user": "u1", "at": "2024-02-01T12:00:00Z", "event_type": "purchase", "amount": 12.5, "channel": "Web"}
{"user": "u2", "at": 1706788800, "event_type": "app_open", "channel": "app", "device": "ios"}

{"user": "u1", "at": "2024-02-03", "event_type": "purchase", "amount": "3", "vip": true}
"#,
    );
    let out = tmp.path().join("ds");
    let cfg = ImportConfig {
        profile_id: "user".into(),
        time: "at".into(),
        ..ImportConfig::new(vec![file])
    };
    let s = import(&cfg, &out).unwrap();
    assert_eq!((s.events, s.profiles), (3, 2));
    let e = all_events(&out);
    let schema = e.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(
        names,
        [
            "profile_id",
            "event_time",
            "event_type",
            "channel",
            "amount",
            "device",
            "vip"
        ]
    );
    assert_eq!(
        e.column(3).as_string::<i32>().value(0),
        "web",
        "channels are lower-cased"
    );
    assert_eq!(e.column(4).as_primitive::<Decimal128Type>().value(0), 1250);
    assert_eq!(e.column(6).data_type(), &DataType::Boolean);
    let t = e.column(1).as_primitive::<TimestampMicrosecondType>();
    // rows: u1 02-01, u1 02-03, u2 (epoch seconds 1706788800 = 02-01 12:00)
    assert_eq!(t.value(1), micros("2024-02-03"));
    assert_eq!(t.value(2), micros("2024-02-01T12:00:00Z"), "epoch seconds");
}

#[test]
fn parquet_input_keeps_property_types() {
    let tmp = tempfile::tempdir().unwrap();
    let schema = Arc::new(Schema::new(vec![
        Field::new("cid", DataType::Int64, false),
        Field::new("when", DataType::Utf8, false),
        Field::new("price", DataType::Float64, true),
        Field::new("score", DataType::Int64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from(vec![7, 3, 7])),
            Arc::new(StringArray::from(vec![
                "2024-01-05 10:00:00",
                "2024-01-04",
                "2024-02-01 00:00:00",
            ])),
            Arc::new(Float64Array::from(vec![Some(9.99), None, Some(1.0)])),
            Arc::new(Int64Array::from(vec![Some(1), Some(2), None])),
        ],
    )
    .unwrap();
    let file = tmp.path().join("in.parquet");
    write_parquet_file(&file, schema, writer_properties(), &[batch]).unwrap();
    let out = tmp.path().join("ds");
    let cfg = ImportConfig {
        profile_id: "cid".into(),
        time: "when".into(),
        roles: BTreeMap::from([
            (Role::EventType, ColumnSource::Const("purchase".into())),
            (Role::Amount, ColumnSource::Column("price".into())),
        ]),
        ..ImportConfig::new(vec![file])
    };
    let s = import(&cfg, &out).unwrap();
    assert_eq!((s.events, s.profiles), (3, 2));
    let e = all_events(&out);
    let pid = e.column(0).as_primitive::<Int64Type>();
    assert_eq!(
        pid.values().to_vec(),
        vec![1, 2, 2],
        "3 -> 1, 7 -> 2 (numeric id order)"
    );
    assert_eq!(e.schema().field(4).name(), "score");
    assert_eq!(e.column(4).data_type(), &DataType::Int64);
    assert_eq!(e.column(3).as_primitive::<Decimal128Type>().value(1), 999);
    assert_eq!(
        all_profiles(&out).column(1).as_string::<i32>().value(1),
        "7"
    );
}

#[test]
fn profiles_file_is_joined_by_external_id() {
    let tmp = tempfile::tempdir().unwrap();
    let events = write(
        tmp.path(),
        "e.csv",
        "profile_id,event_time,event_type\nA,2024-01-01,purchase\nB,2024-01-02,purchase\n",
    );
    let profiles = write(
        tmp.path(),
        "p.csv",
        "id,country,joined\nC,JP,2023-05-01\nA,US,2022-01-01\n",
    );
    let out = tmp.path().join("ds");
    let cfg = ImportConfig {
        profiles: Some(profiles),
        profiles_id: "id".into(),
        ..ImportConfig::new(vec![events])
    };
    let s = import(&cfg, &out).unwrap();
    assert_eq!(s.profiles, 3);
    let p = all_profiles(&out);
    assert_eq!(
        p.column(1)
            .as_string::<i32>()
            .iter()
            .flatten()
            .collect::<Vec<_>>(),
        ["A", "B", "C"]
    );
    let country = p.column(2).as_string::<i32>();
    assert_eq!(
        country.iter().collect::<Vec<_>>(),
        [Some("US"), None, Some("JP")]
    );
    assert_eq!(p.column(3).data_type(), &DataType::Date32);
}

#[test]
fn online_retail_file_imports_with_the_documented_flags() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/online_retail.csv");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("retail");
    // The documented flags (`strata import --help`; the CLI's tests check
    // that they give this configuration).
    let config = ImportConfig {
        profile_id: "CustomerID".into(),
        time: "InvoiceDate".into(),
        roles: BTreeMap::from([
            (Role::EventType, ColumnSource::Const("purchase".into())),
            (Role::Amount, ColumnSource::Column("UnitPrice".into())),
            (Role::Quantity, ColumnSource::Column("Quantity".into())),
            (Role::OrderId, ColumnSource::Column("InvoiceNo".into())),
            (Role::ProductId, ColumnSource::Column("StockCode".into())),
            (Role::Channel, ColumnSource::Const("web".into())),
            (Role::Currency, ColumnSource::Const("GBP".into())),
        ]),
        amount_times: Some("Quantity".into()),
        refund_if_negative: true,
        skip_missing_ids: true,
        profile_columns: vec![("Country".into(), "country".into())],
        ..ImportConfig::new(vec![fixture])
    };
    let s = import(&config, &out).unwrap();
    assert_eq!(
        (s.input_rows, s.events, s.skipped_rows, s.profiles),
        (30, 27, 3, 9)
    );

    let e = all_events(&out);
    let col = |name: &str| e.column(e.schema().index_of(name).unwrap()).clone();
    let order = col("order_id");
    let order = order.as_string::<i32>();
    let kind = col("event_type");
    let kind = kind.as_string::<i32>();
    let amount = col("amount");
    let amount = amount.as_primitive::<Decimal128Type>();
    let i = (0..e.num_rows())
        .find(|&i| order.value(i) == "C536379")
        .unwrap();
    assert_eq!((kind.value(i), amount.value(i)), ("refund", -2750));
    let i = (0..e.num_rows())
        .find(|&i| col("product_id").as_string::<i32>().value(i) == "85123A")
        .unwrap();
    assert_eq!(amount.value(i), 1530, "6 x 2.55");
    assert_eq!(
        col("event_time")
            .as_primitive::<TimestampMicrosecondType>()
            .value(i),
        micros("2010-12-01T08:26:00Z")
    );
    assert_eq!(
        col("Description").as_string::<i32>().value(i),
        "WHITE HANGING HEART T-LIGHT HOLDER"
    );
    assert_eq!(col("UnitPrice").data_type(), &DataType::Float64);
    assert_eq!(e.schema().field(0).name(), "profile_id");

    let p = all_profiles(&out);
    let ext = p.column(1).as_string::<i32>();
    assert_eq!(ext.value(0), "12346");
    let country = p.column(2).as_string::<i32>();
    assert_eq!(country.value(1), "Iceland");
}

#[test]
fn time_formats() {
    assert_eq!(
        micros("2010-12-01 08:26:00"),
        micros("2010-12-01T08:26:00Z")
    );
    assert_eq!(micros("12/1/2010 8:26"), micros("2010-12-01T08:26:00Z"));
    assert_eq!(micros("12/1/2010 8:26 PM"), micros("2010-12-01T20:26:00Z"));
    assert_eq!(micros("2024-05-01 09:00:00+0900"), micros("2024-05-01"));
    assert_eq!(
        micros("2024-05-01T00:00:00.250Z"),
        micros("2024-05-01") + 250_000
    );
    assert_eq!(micros("1714521600000"), micros("2024-05-01"));
    assert_eq!(parse_timestamp("2024-02-30"), None);
    assert_eq!(parse_timestamp("soon"), None);

    // --time-format for day-first dates
    let tmp = tempfile::tempdir().unwrap();
    let file = write(
        tmp.path(),
        "e.csv",
        "profile_id,event_time,event_type\n1,13/01/2024 10:00,purchase\n",
    );
    let out = tmp.path().join("ds");
    let cfg = ImportConfig::new(vec![file.clone()]);
    assert!(matches!(import(&cfg, &out), Err(Error::BadRow(_))));
    let cfg = ImportConfig {
        time_format: Some("%d/%m/%Y %H:%M".into()),
        ..ImportConfig::new(vec![file])
    };
    import(&cfg, &out).unwrap();
    let e = all_events(&out);
    assert_eq!(
        e.column(1)
            .as_primitive::<TimestampMicrosecondType>()
            .value(0),
        micros("2024-01-13T10:00:00Z")
    );
}

#[test]
fn missing_role_columns_are_reported_with_the_available_columns() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write(tmp.path(), "e.csv", "cust,when\n1,2024-01-01\n");
    let err = import(
        &ImportConfig {
            profile_id: "cust".into(),
            time: "when".into(),
            ..ImportConfig::new(vec![file])
        },
        &tmp.path().join("ds"),
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("--event-type-const") && msg.contains("cust, when"),
        "{msg}"
    );
}

/// `profile_id` (min, max) over the row groups of a Parquet file, from the
/// footer statistics.
fn profile_id_range(path: &Path) -> (i64, i64) {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::file::statistics::Statistics;
    let reader = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let (mut min, mut max) = (i64::MAX, i64::MIN);
    for rg in reader.metadata().row_groups() {
        let Some(Statistics::Int64(s)) = rg.column(0).statistics() else {
            panic!("{}: no profile_id statistics", path.display())
        };
        min = min.min(*s.min_opt().unwrap());
        max = max.max(*s.max_opt().unwrap());
    }
    (min, max)
}

#[test]
fn months_are_split_into_files_at_profile_boundaries() {
    const LIMIT: usize = 100;
    // March: 150 profiles with 1 to 13 events each, and profile 40 with 250
    // (more than a file holds); April: profiles 1 to 20 with one event each.
    let march = |p: usize| if p == 40 { 250 } else { p * 7 % 13 + 1 };
    let mut lines = Vec::new();
    for p in 1..=150 {
        for k in 0..march(p) {
            lines.push(format!(
                "{p},2024-03-{:02} {:02}:{:02}:00,purchase",
                1 + k % 28,
                k % 24,
                k % 60
            ));
        }
    }
    for p in 1..=20 {
        lines.push(format!("{p},2024-04-02 10:00:00,purchase"));
    }
    lines.reverse(); // input order does not matter
    let tmp = tempfile::tempdir().unwrap();
    let file = write(
        tmp.path(),
        "e.csv",
        &format!("profile_id,event_time,event_type\n{}\n", lines.join("\n")),
    );
    let out = tmp.path().join("ds");
    let config = ImportConfig {
        rows_per_file: LIMIT,
        ..ImportConfig::new(vec![file])
    };
    let s = import(&config, &out).unwrap();
    assert_eq!(s.events, lines.len() as u64);

    // The documented rule: a file ends at the first profile boundary at or
    // after LIMIT rows (or at the end of the month).
    let mut expected_sizes = Vec::new();
    let mut rows = 0;
    for p in 1..=150 {
        rows += march(p);
        if rows >= LIMIT {
            expected_sizes.push(rows);
            rows = 0;
        }
    }
    if rows > 0 {
        expected_sizes.push(rows);
    }

    let files = crate::common::event_files(&out);
    let month = |name: &str| -> Vec<PathBuf> {
        files
            .iter()
            .filter(|(m, _)| m == name)
            .map(|(_, f)| f.clone())
            .collect()
    };
    let (march_files, april_files) = (month("event_month=2024-03"), month("event_month=2024-04"));
    assert_eq!(files.len(), march_files.len() + april_files.len());
    assert!(march_files.len() > 1, "{march_files:?}");
    assert_eq!(april_files.len(), 1, "a month under the limit is one file");

    let mut sizes = Vec::new();
    let mut events_of = std::collections::HashMap::new();
    let mut previous_max = 0;
    for (i, f) in march_files.iter().enumerate() {
        assert!(
            f.ends_with(format!("part-{i:05}.parquet")),
            "{}",
            f.display()
        );
        let batch = crate::common::read_file(f);
        let pid = batch
            .column(0)
            .as_primitive::<Int64Type>()
            .values()
            .to_vec();
        assert!(pid.is_sorted(), "{}", f.display());
        // Footer statistics agree with the contents, and files cover
        // disjoint, increasing profile ranges: no profile is in two files.
        let (min, max) = profile_id_range(f);
        assert_eq!((min, max), (pid[0], *pid.last().unwrap()));
        assert!(
            min > previous_max,
            "{}: {min} <= {previous_max}",
            f.display()
        );
        previous_max = max;
        for &p in &pid {
            *events_of.entry(p).or_insert(0) += 1;
        }
        // The limit: only the file's last profile goes beyond it, and only
        // the month's last file is cut short of it.
        let last = pid.iter().filter(|&&p| p == max).count();
        assert!(
            pid.len() - last < LIMIT,
            "{}: {} rows",
            f.display(),
            pid.len()
        );
        if i + 1 < march_files.len() {
            assert!(pid.len() >= LIMIT, "{}: {} rows", f.display(), pid.len());
        }
        sizes.push(pid.len());
    }
    assert_eq!(sizes, expected_sizes);
    assert!(
        sizes.iter().any(|&n| n > LIMIT),
        "profile 40 overflows its file: {sizes:?}"
    );
    assert_eq!(events_of.len(), 150);
    assert!((1..=150).all(|p| events_of[&(p as i64)] == march(p)));

    let april = crate::common::read_file(&april_files[0]);
    assert_eq!(april.num_rows(), 20);
    assert_eq!(profile_id_range(&april_files[0]), (1, 20));

    // Profiles are split at exactly the limit.
    let profile_files =
        strata_datasets::parquet_files(&strata_datasets::profiles_dir(&out)).unwrap();
    let ranges: Vec<(i64, i64)> = profile_files.iter().map(|f| profile_id_range(f)).collect();
    assert_eq!(ranges, [(1, 100), (101, 150)]);

    // A limit of 0 is refused before anything is written.
    let err = import(
        &ImportConfig {
            rows_per_file: 0,
            ..config.clone()
        },
        &out,
    )
    .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    assert_eq!(crate::common::event_files(&out).len(), files.len());
}

#[test]
fn a_constant_for_a_role_without_one_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write(tmp.path(), "e.csv", EVENTS_CSV);
    let err = import(
        &ImportConfig {
            roles: BTreeMap::from([(Role::OrderId, ColumnSource::Const("x".into()))]),
            ..csv_config(file)
        },
        &tmp.path().join("ds"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("order_id cannot be a constant") && err.contains("channel, currency"),
        "{err}"
    );
}

#[test]
fn a_role_column_first_seen_in_a_later_json_line_is_null_before_it() {
    // (This used to panic in the writer: the role's column was shorter than
    // the others.)
    let tmp = tempfile::tempdir().unwrap();
    let file = write(
        tmp.path(),
        "e.jsonl",
        r#"{"user": "u1", "at": "2024-02-01", "event_type": "purchase"}
{"user": "u1", "at": "2024-02-02", "event_type": "purchase", "order": "o2"}
"#,
    );
    let out = tmp.path().join("ds");
    let cfg = ImportConfig {
        profile_id: "user".into(),
        time: "at".into(),
        roles: BTreeMap::from([(Role::OrderId, ColumnSource::Column("order".into()))]),
        ..ImportConfig::new(vec![file])
    };
    assert_eq!(import(&cfg, &out).unwrap().events, 2);
    let e = all_events(&out);
    let order = e
        .column(e.schema().index_of("order_id").unwrap())
        .as_string::<i32>();
    assert_eq!(order.iter().collect::<Vec<_>>(), [None, Some("o2")]);
}
