//! TLS: `strata serve --tls-cert --tls-key` serves gRPC over TLS only; a
//! client that trusts the certificate gets answers (tonic and the CLI's
//! `--ca-cert`), a plaintext client and a client that does not trust it get
//! none, and health stays reachable over TLS.

use strata_proto::v1::segment_service_client::SegmentServiceClient;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};

use crate::support::*;

/// A self-signed certificate for 127.0.0.1 and localhost, written as PEM
/// files: `(dir, cert path, key path, cert PEM)`.
fn self_signed() -> (tempfile::TempDir, String, String, String) {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
        .expect("generate certificate");
    let dir = tempfile::tempdir().expect("tempdir");
    let cert_pem = cert.cert.pem();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, &cert_pem).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    (
        dir,
        cert_path.display().to_string(),
        key_path.display().to_string(),
        cert_pem,
    )
}

#[tokio::test]
async fn serves_over_tls_to_clients_that_trust_the_certificate() {
    let (_dir, cert, key, pem) = self_signed();
    let server = TestServer::start_tls(&["--tls-cert", &cert, "--tls-key", &key], &pem).await;
    let https = format!("https://{}", server.addr);

    // tonic with the certificate as its CA.
    let tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&pem));
    let channel = Channel::from_shared(https.clone())
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .expect("TLS connect");
    let n = SegmentServiceClient::new(channel)
        .count(count_req(SEG))
        .await
        .expect("count over TLS")
        .into_inner()
        .count;
    assert!(n > 0);

    // Plaintext to a TLS port: no answer.
    let plain = Channel::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .connect()
        .await;
    if let Ok(channel) = plain {
        let r = SegmentServiceClient::new(channel)
            .count(count_req(SEG))
            .await;
        assert!(r.is_err(), "plaintext request answered on a TLS port");
    }

    // A client that does not trust the certificate: refused.
    let untrusted = Channel::from_shared(https.clone())
        .unwrap()
        .tls_config(ClientTlsConfig::new())
        .unwrap()
        .connect()
        .await;
    if let Ok(channel) = untrusted {
        let r = SegmentServiceClient::new(channel)
            .count(count_req(SEG))
            .await;
        assert!(r.is_err(), "an untrusted certificate was accepted");
    }

    // The CLI's client mode with --ca-cert gives the embedded answer.
    let run = run_strata;
    let (ok, remote, err) = run(&["count", "--server", &https, "--ca-cert", &cert, SEG]);
    assert!(ok, "{err}");
    let (ok, local, err) = run(&["count", "--data", server.data.to_str().unwrap(), SEG]);
    assert!(ok, "{err}");
    assert_eq!(remote.trim(), local.trim());
    assert_eq!(remote.trim(), n.to_string());
    let (ok, _, err) = run(&["count", "--server", &https, SEG]);
    assert!(
        !ok,
        "the CLI trusted a self-signed certificate without --ca-cert"
    );
    assert!(!err.is_empty());
}
