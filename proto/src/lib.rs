//! Strata's gRPC API, package `strata.v1`: the code tonic and prost generate
//! from `proto/strata/v1/*.proto`, and the descriptor set the server offers
//! through reflection.
//!
//! Both are checked in (`src/generated/`), so building Strata compiles no
//! protobuf compiler. The test `tests/generated.rs` regenerates them with
//! protox and tonic-prost-build and fails when they differ from the
//! `.proto` files; `STRATA_BLESS_PROTO=1 cargo test --workspace --test
//! generated` rewrites them after a change.
//!
//! ```
//! use strata_proto::v1::{CountRequest, Segment, segment::Source};
//! let req = CountRequest {
//!     segment: Some(Segment { source: Some(Source::Dsl("consent_email".into())) }),
//!     ..Default::default()
//! };
//! assert!(req.as_of.is_none());
//! assert!(!strata_proto::FILE_DESCRIPTOR_SET.is_empty());
//! ```

/// `strata.v1`: messages, clients (`*_client`) and servers (`*_server`).
#[allow(
    missing_docs,
    unreachable_pub,
    unused_qualifications,
    missing_debug_implementations,
    clippy::all
)]
pub mod v1 {
    include!("generated/strata.v1.rs");
}

/// The encoded `FileDescriptorSet` of every `strata.v1` file, for
/// `tonic_reflection`.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!("generated/strata_descriptor.bin");
