//! Strata's gRPC API, package `strata.v1`: the code tonic and prost generate
//! from `proto/strata/v1/*.proto`, and the descriptor set the server offers
//! through reflection.
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
    include!(concat!(env!("OUT_DIR"), "/strata.v1.rs"));
}

/// The encoded `FileDescriptorSet` of every `strata.v1` file, for
/// `tonic_reflection`.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/strata_descriptor.bin"));
