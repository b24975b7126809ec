//! A generic client with nothing but server reflection (no .proto, no
//! generated code) lists the services and calls one — what grpcurl,
//! `buf curl` and Postman do.

use futures::StreamExt;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

use crate::support::*;

async fn reflect(
    client: &mut ServerReflectionClient<tonic::transport::Channel>,
    req: MessageRequest,
) -> MessageResponse {
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(req),
    };
    let mut responses = client
        .server_reflection_info(futures::stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    responses
        .next()
        .await
        .unwrap()
        .unwrap()
        .message_response
        .unwrap()
}

/// Passes encoded protobuf bytes through unchanged.
#[derive(Debug, Default, Clone)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }
    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        bytes::BufMut::put_slice(dst, &item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        let n = bytes::Buf::remaining(src);
        Ok(Some(bytes::Buf::copy_to_bytes(src, n).to_vec()))
    }
}

#[tokio::test]
async fn reflection_only_client_lists_and_calls() {
    let server = TestServer::start(&[]).await;
    let channel = server.channel().await;
    let mut refl = ServerReflectionClient::new(channel.clone());

    let MessageResponse::ListServicesResponse(list) =
        reflect(&mut refl, MessageRequest::ListServices(String::new())).await
    else {
        panic!("not a service list")
    };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    for want in [
        "strata.v1.SegmentService",
        "strata.v1.DatasetService",
        "strata.v1.AnalyticsService",
        "grpc.health.v1.Health",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }

    let MessageResponse::FileDescriptorResponse(files) = reflect(
        &mut refl,
        MessageRequest::FileContainingSymbol("strata.v1.SegmentService".into()),
    )
    .await
    else {
        panic!("no file descriptors")
    };
    // Fetch the imports the way grpcurl does: file by file name.
    let mut protos: Vec<prost_types::FileDescriptorProto> = files
        .file_descriptor_proto
        .iter()
        .map(|b| prost_types::FileDescriptorProto::decode(b.as_slice()).unwrap())
        .collect();
    loop {
        let have: Vec<String> = protos.iter().map(|p| p.name().to_string()).collect();
        let missing: Vec<String> = protos
            .iter()
            .flat_map(|p| p.dependency.clone())
            .filter(|d| !have.contains(d))
            .collect();
        let Some(name) = missing.first() else { break };
        let MessageResponse::FileDescriptorResponse(more) =
            reflect(&mut refl, MessageRequest::FileByFilename(name.clone())).await
        else {
            panic!("server cannot describe {name}")
        };
        for b in &more.file_descriptor_proto {
            let p = prost_types::FileDescriptorProto::decode(b.as_slice()).unwrap();
            if !protos.iter().any(|q| q.name() == p.name()) {
                protos.push(p);
            }
        }
    }
    let set = prost_types::FileDescriptorSet { file: protos };
    let pool = DescriptorPool::from_file_descriptor_set(set).unwrap();
    let service = pool
        .get_service_by_name("strata.v1.SegmentService")
        .unwrap();
    let count = service.methods().find(|m| m.name() == "Count").unwrap();
    let input_doc = count.input().get_field_by_name("segment").unwrap();
    assert_eq!(
        input_doc.kind().as_message().unwrap().full_name(),
        "strata.v1.Segment"
    );

    // Call Count with a request built from JSON, as grpcurl -d '{…}' does.
    let mut request = DynamicMessage::new(count.input());
    let mut segment = DynamicMessage::new(input_doc.kind().as_message().unwrap().clone());
    segment.set_field_by_name("dsl", prost_reflect::Value::String(SEG.into()));
    request.set_field_by_name("segment", prost_reflect::Value::Message(segment));
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let path = "/strata.v1.SegmentService/Count".parse().unwrap();
    let reply = grpc
        .unary(tonic::Request::new(request.encode_to_vec()), path, RawCodec)
        .await
        .unwrap()
        .into_inner();
    let reply = DynamicMessage::decode(count.output(), reply.as_slice()).unwrap();
    let n = reply.get_field_by_name("count").unwrap().as_u64().unwrap();
    let total = reply
        .get_field_by_name("total_profiles")
        .unwrap()
        .as_u64()
        .unwrap();
    assert!(n > 0 && total == PROFILES, "{reply:?}");
}
