//! Compiles `strata/v1/*.proto` with protox (a Rust protobuf compiler: the
//! machines have no `protoc`) and generates the tonic/prost code from the
//! resulting descriptor set, which is also kept for server reflection.

use std::path::PathBuf;

use prost::Message;

const PROTOS: &[&str] = &[
    "strata/v1/common.proto",
    "strata/v1/segment.proto",
    "strata/v1/analytics.proto",
    "strata/v1/dataset.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for p in PROTOS {
        println!("cargo:rerun-if-changed={p}");
    }
    let fds = protox::compile(PROTOS, ["."])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("strata_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
