//! The checked-in generated code (`src/generated/`) is what protox and
//! tonic-prost-build make of `strata/v1/*.proto` today.
//!
//! `STRATA_BLESS_PROTO=1 cargo test --workspace --test generated` rewrites
//! it after a change of the `.proto` files.

use std::path::Path;

use prost::Message;

const PROTOS: &[&str] = &[
    "strata/v1/common.proto",
    "strata/v1/segment.proto",
    "strata/v1/analytics.proto",
    "strata/v1/dataset.proto",
    "strata/v1/ingest.proto",
];

const CODE: &str = "strata.v1.rs";
const DESCRIPTORS: &str = "strata_descriptor.bin";

#[test]
fn checked_in_code_matches_the_proto_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fds = protox::compile(PROTOS, [root]).expect("compiling the .proto files");
    let out = tempfile::tempdir().unwrap();
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .out_dir(out.path())
        .compile_fds(fds.clone())
        .expect("generating code");
    let fresh = [
        (CODE, std::fs::read(out.path().join(CODE)).unwrap()),
        (DESCRIPTORS, fds.encode_to_vec()),
    ];
    let checked_in = root.join("src/generated");
    let bless = std::env::var_os("STRATA_BLESS_PROTO").is_some();
    for (name, bytes) in fresh {
        let path = checked_in.join(name);
        if bless {
            std::fs::write(&path, &bytes).unwrap();
        } else {
            assert!(
                std::fs::read(&path).unwrap() == bytes,
                "{} is stale: run STRATA_BLESS_PROTO=1 cargo test --workspace --test generated",
                path.display()
            );
        }
    }
}
