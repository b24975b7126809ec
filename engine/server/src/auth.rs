//! Bearer-token authentication and authorization by role, as a tower layer
//! around every route (it sees the request's `:path`, which a tonic
//! interceptor does not).
//!
//! Two tokens: the admin token (`--token`) may call everything; the read
//! token (`--read-token`) may call the methods of [`READ_METHODS`] and gets
//! PERMISSION_DENIED on the rest, so a write RPC added later needs the
//! admin token until it is listed there. No token or a wrong one:
//! UNAUTHENTICATED. Health and reflection ([`OPEN_SERVICES`]) stay open.
//! With no token configured, nothing is checked.
//!
//! Tokens are compared as SHA-256 digests, in constant time, against both
//! configured tokens every time: neither the token nor its length shows in
//! the timing.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::{Either, Ready, ready};
use http::{HeaderMap, Request, Response};
use ring::digest::{SHA256, digest};
use tonic::Status;

use crate::AuthConfig;
use crate::error::Error;

/// The methods a read token may call, by full gRPC path. Every other
/// method of the Strata services needs the admin token.
pub(crate) const READ_METHODS: &[&str] = &[
    "/strata.v1.SegmentService/Validate",
    "/strata.v1.SegmentService/Explain",
    "/strata.v1.SegmentService/Count",
    "/strata.v1.SegmentService/Members",
    "/strata.v1.SegmentService/GetSegment",
    "/strata.v1.SegmentService/ListSegments",
    "/strata.v1.AnalyticsService/Rfm",
    "/strata.v1.AnalyticsService/ChannelMix",
    "/strata.v1.AnalyticsService/Lifecycle",
    "/strata.v1.AnalyticsService/Retention",
    "/strata.v1.DatasetService/Describe",
];

/// Services anyone may call, with or without a token: probes and tools.
pub(crate) const OPEN_SERVICES: &[&str] = &[
    tonic_health::pb::health_server::SERVICE_NAME,
    tonic_reflection::pb::v1::server_reflection_server::SERVICE_NAME,
    tonic_reflection::pb::v1alpha::server_reflection_server::SERVICE_NAME,
];

type Digest = [u8; 32];

/// The configured tokens, as digests.
#[derive(Debug)]
pub(crate) struct Auth {
    admin: Option<Digest>,
    read: Option<Digest>,
}

/// What a valid token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Admin,
    Read,
}

impl Auth {
    pub(crate) fn new(config: &AuthConfig) -> Self {
        Auth {
            admin: config.admin().map(sha256),
            read: config.read().map(sha256),
        }
    }

    /// Whether a request to `path` with these headers may go on; the
    /// status to answer otherwise.
    pub(crate) fn check(&self, path: &str, headers: &HeaderMap) -> Result<(), Error> {
        if (self.admin.is_none() && self.read.is_none()) || is_open(path) {
            return Ok(());
        }
        let is_read = READ_METHODS.contains(&path);
        if !is_read && self.admin.is_none() {
            return Err(Error::PermissionDenied(format!(
                "{path} needs the admin token, and this server has none (only --read-token \
                 is set): it serves reads only"
            )));
        }
        let token = bearer(headers).ok_or_else(|| {
            Error::Unauthenticated(
                "this server needs a token: send `authorization: Bearer <token>`".into(),
            )
        })?;
        match self.role_of(token) {
            None => Err(Error::Unauthenticated(
                "the token is not valid for this server".into(),
            )),
            Some(Role::Read) if !is_read => Err(Error::PermissionDenied(format!(
                "{path} needs the admin token; this token may only read"
            ))),
            Some(_) => Ok(()),
        }
    }

    /// The role of `token`: compared with both tokens, always.
    fn role_of(&self, token: &str) -> Option<Role> {
        let given = sha256(token);
        let admin = matches_digest(self.admin.as_ref(), &given);
        let read = matches_digest(self.read.as_ref(), &given);
        match (admin, read) {
            (true, _) => Some(Role::Admin),
            (false, true) => Some(Role::Read),
            (false, false) => None,
        }
    }
}

/// `authorization: Bearer <token>` (or `bearer`), trimmed.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?;
    Some(token.trim())
}

/// Health and reflection: `/<service>/<method>` with an open service.
fn is_open(path: &str) -> bool {
    path.strip_prefix('/')
        .and_then(|p| p.split_once('/'))
        .is_some_and(|(service, _)| OPEN_SERVICES.contains(&service))
}

fn sha256(token: &str) -> Digest {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, token.as_bytes()).as_ref());
    out
}

/// Constant-time comparison of two digests (no early exit).
fn matches_digest(expected: Option<&Digest>, given: &Digest) -> bool {
    let Some(expected) = expected else {
        return false;
    };
    expected
        .iter()
        .zip(given)
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// Wraps every route in [`AuthService`].
#[derive(Debug, Clone)]
pub(crate) struct AuthLayer {
    auth: Arc<Auth>,
}

impl AuthLayer {
    pub(crate) fn new(config: &AuthConfig) -> Self {
        AuthLayer {
            auth: Arc::new(Auth::new(config)),
        }
    }
}

impl<S> tower_layer::Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> AuthService<S> {
        AuthService {
            inner,
            auth: self.auth.clone(),
        }
    }
}

/// Answers a request [`Auth::check`] refuses with its gRPC status; passes
/// the others on.
#[derive(Debug, Clone)]
pub(crate) struct AuthService<S> {
    inner: S,
    auth: Arc<Auth>,
}

impl<S, B, ResBody> tower_service::Service<Request<B>> for AuthService<S>
where
    S: tower_service::Service<Request<B>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Either<Ready<Result<Response<ResBody>, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        match self.auth.check(req.uri().path(), req.headers()) {
            Ok(()) => Either::Right(self.inner.call(req)),
            Err(e) => Either::Left(ready(Ok(Status::from(e).into_http()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use prost::Message;
    use tonic::Code;

    use super::*;

    /// The methods that change the dataset: the admin token only.
    const WRITE_METHODS: &[&str] = &[
        "/strata.v1.SegmentService/SaveSegment",
        "/strata.v1.SegmentService/DeleteSegment",
        "/strata.v1.SegmentService/Materialize",
        "/strata.v1.IngestService/AppendEvents",
        "/strata.v1.IngestService/UpsertProfiles",
        "/strata.v1.IngestService/ForgetProfiles",
        "/strata.v1.IngestService/Optimize",
    ];

    fn config(admin: Option<&str>, read: Option<&str>) -> AuthConfig {
        AuthConfig {
            token: admin.map(String::from),
            read_token: read.map(String::from),
        }
    }

    fn headers(token: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(t) = token {
            h.insert(
                http::header::AUTHORIZATION,
                format!("Bearer {t}").parse().unwrap(),
            );
        }
        h
    }

    fn code(auth: &Auth, path: &str, token: Option<&str>) -> Code {
        match auth.check(path, &headers(token)) {
            Ok(()) => Code::Ok,
            Err(e) => e.status_code(),
        }
    }

    const COUNT: &str = "/strata.v1.SegmentService/Count";
    const SAVE: &str = "/strata.v1.SegmentService/SaveSegment";

    #[test]
    fn every_method_of_the_api_is_classified() {
        let set = prost_types::FileDescriptorSet::decode(strata_proto::FILE_DESCRIPTOR_SET)
            .expect("descriptor set");
        let methods: BTreeSet<String> = set
            .file
            .iter()
            .flat_map(|f| {
                f.service.iter().flat_map(move |s| {
                    s.method
                        .iter()
                        .map(move |m| format!("/{}.{}/{}", f.package(), s.name(), m.name()))
                })
            })
            .collect();
        let classified: BTreeSet<String> = READ_METHODS
            .iter()
            .chain(WRITE_METHODS)
            .map(|m| m.to_string())
            .collect();
        assert_eq!(
            methods, classified,
            "a method was added or renamed: list it in READ_METHODS if a read token may call it"
        );
    }

    #[test]
    fn admin_calls_everything_read_calls_reads() {
        let auth = Auth::new(&config(Some("adm"), Some("rd")));
        for m in READ_METHODS {
            assert_eq!(code(&auth, m, Some("adm")), Code::Ok, "{m}");
            assert_eq!(code(&auth, m, Some("rd")), Code::Ok, "{m}");
        }
        for m in WRITE_METHODS {
            assert_eq!(code(&auth, m, Some("adm")), Code::Ok, "{m}");
            assert_eq!(code(&auth, m, Some("rd")), Code::PermissionDenied, "{m}");
        }
        // Unknown methods are not reads.
        let future = "/strata.v1.SegmentService/DropEverything";
        assert_eq!(code(&auth, future, Some("rd")), Code::PermissionDenied);
        assert_eq!(code(&auth, future, Some("adm")), Code::Ok);
    }

    #[test]
    fn missing_or_wrong_tokens_are_unauthenticated() {
        let auth = Auth::new(&config(Some("adm"), Some("rd")));
        for path in [COUNT, SAVE] {
            assert_eq!(code(&auth, path, None), Code::Unauthenticated);
            assert_eq!(code(&auth, path, Some("nope")), Code::Unauthenticated);
            assert_eq!(code(&auth, path, Some("ad")), Code::Unauthenticated);
            assert_eq!(code(&auth, path, Some("admadm")), Code::Unauthenticated);
            assert_eq!(code(&auth, path, Some("")), Code::Unauthenticated);
        }
        let mut raw = HeaderMap::new();
        raw.insert(http::header::AUTHORIZATION, "adm".parse().unwrap());
        let err = Status::from(auth.check(COUNT, &raw).unwrap_err());
        assert_eq!(err.code(), Code::Unauthenticated);
        assert!(err.message().contains("Bearer"), "{}", err.message());
    }

    #[test]
    fn health_and_reflection_stay_open() {
        let auth = Auth::new(&config(Some("adm"), Some("rd")));
        for path in [
            "/grpc.health.v1.Health/Check",
            "/grpc.health.v1.Health/Watch",
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        ] {
            assert_eq!(code(&auth, path, None), Code::Ok, "{path}");
        }
        // Only whole service names open a path.
        assert_eq!(
            code(&auth, "/grpc.health.v1.HealthX/Check", None),
            Code::Unauthenticated
        );
        assert_eq!(
            code(&auth, "grpc.health.v1.Health", None),
            Code::Unauthenticated
        );
    }

    #[test]
    fn read_token_alone_refuses_writes_to_everyone() {
        let auth = Auth::new(&config(None, Some("rd")));
        assert_eq!(code(&auth, COUNT, Some("rd")), Code::Ok);
        assert_eq!(code(&auth, COUNT, None), Code::Unauthenticated);
        for token in [Some("rd"), Some("other"), None] {
            assert_eq!(code(&auth, SAVE, token), Code::PermissionDenied);
        }
    }

    #[test]
    fn no_token_configured_checks_nothing() {
        for auth in [
            Auth::new(&config(None, None)),
            Auth::new(&config(Some(""), Some(""))),
        ] {
            assert_eq!(code(&auth, SAVE, None), Code::Ok);
            assert_eq!(code(&auth, COUNT, Some("anything")), Code::Ok);
        }
    }

    #[test]
    fn admin_token_alone_is_full_access() {
        let auth = Auth::new(&config(Some("adm"), None));
        assert_eq!(code(&auth, SAVE, Some("adm")), Code::Ok);
        assert_eq!(code(&auth, COUNT, Some("adm")), Code::Ok);
        assert_eq!(code(&auth, COUNT, None), Code::Unauthenticated);
    }

    /// An inner service that answers 200 and counts its calls.
    #[derive(Clone, Default)]
    struct Ok200(Arc<std::sync::atomic::AtomicUsize>);

    impl tower_service::Service<Request<()>> for Ok200 {
        type Response = Response<String>;
        type Error = std::convert::Infallible;
        type Future = Ready<Result<Response<String>, std::convert::Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: Request<()>) -> Self::Future {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            ready(Ok(Response::new("ok".into())))
        }
    }

    #[tokio::test]
    async fn the_layer_answers_refusals_as_grpc_statuses() {
        use tower_layer::Layer;
        use tower_service::Service;
        let inner = Ok200::default();
        let calls = inner.0.clone();
        let mut svc = AuthLayer::new(&config(Some("adm"), Some("rd"))).layer(inner);
        let req = |path: &str, token: &str| {
            Request::builder()
                .uri(path)
                .header("authorization", format!("Bearer {token}"))
                .body(())
                .unwrap()
        };
        let denied = svc.call(req(SAVE, "rd")).await.unwrap();
        assert_eq!(denied.headers()["grpc-status"], "7"); // PERMISSION_DENIED
        assert!(denied.body().is_empty());
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 0);
        let passed = svc.call(req(COUNT, "rd")).await.unwrap();
        assert_eq!(passed.body(), "ok");
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
        let unauth = svc.call(req(COUNT, "x")).await.unwrap();
        assert_eq!(unauth.headers()["grpc-status"], "16"); // UNAUTHENTICATED
    }
}
