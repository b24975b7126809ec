use strata_datasets::{MANIFEST_FILE, Manifest};

use crate::common::small_dataset;

#[test]
fn manifest_round_trips_through_toml_and_disk() {
    let m = Manifest::load(small_dataset()).unwrap();
    assert_eq!(m.format_version, strata_datasets::FORMAT_VERSION);
    assert!(m.as_of.is_some());
    assert_eq!(m.purchase_types, ["purchase"]);
    assert_eq!(m.channels.online, ["web", "app", "social"]);
    assert_eq!(m.channels.offline, ["pos"]);
    assert_eq!(m.roles.amount.as_deref(), Some("amount"));
    assert_eq!(Manifest::from_toml(&m.to_toml()).unwrap(), m);

    let dir = tempfile::tempdir().unwrap();
    m.save(dir.path()).unwrap();
    assert_eq!(Manifest::load(dir.path()).unwrap(), m);
    // no temp files left behind
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn bump_version_changes_the_version() {
    let mut m = Manifest::new();
    let before = m.dataset_version.clone();
    m.bump_version();
    assert_ne!(m.dataset_version, before);
}

#[test]
fn unknown_keys_survive_and_bad_versions_are_rejected() {
    let mut m = Manifest::new();
    m.extra
        .insert("engine_note".into(), toml::Value::String("kept".into()));
    let back = Manifest::from_toml(&m.to_toml()).unwrap();
    assert_eq!(
        back.extra.get("engine_note").and_then(|v| v.as_str()),
        Some("kept")
    );

    let text = m
        .to_toml()
        .replace("format_version = 2", "format_version = 99");
    assert!(
        Manifest::from_toml(&text)
            .unwrap_err()
            .contains("format_version 99")
    );

    let dir = tempfile::tempdir().unwrap();
    let err = Manifest::load(dir.path()).unwrap_err();
    assert!(err.to_string().contains(MANIFEST_FILE), "{err}");
}

#[test]
fn minimal_hand_written_manifest_gets_defaults() {
    let m = Manifest::from_toml("format_version = 1\ndataset_version = \"v1\"\n").unwrap();
    assert_eq!(m.roles.profile_id, "profile_id");
    assert_eq!(m.activity_types, ["purchase"]);
    assert_eq!(m.channels.offline, ["pos"]);
}
