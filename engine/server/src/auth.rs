//! Bearer-token authentication, as a tonic interceptor.

use std::sync::Arc;

use tonic::{Request, Status};

/// Checks `authorization: Bearer <token>` when a token is configured.
#[derive(Debug, Clone)]
pub(crate) struct Auth {
    token: Option<Arc<str>>,
}

impl Auth {
    pub(crate) fn new(token: Option<&str>) -> Self {
        Auth {
            token: token.filter(|t| !t.is_empty()).map(Arc::from),
        }
    }
}

impl tonic::service::Interceptor for Auth {
    fn call(&mut self, req: Request<()>) -> Result<Request<()>, Status> {
        let Some(expected) = &self.token else {
            return Ok(req);
        };
        let given = req
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            });
        match given {
            None => Err(Status::unauthenticated(
                "this server needs a token: send `authorization: Bearer <token>`",
            )),
            Some(t) if constant_time_eq(t.trim().as_bytes(), expected.as_bytes()) => Ok(req),
            Some(_) => Err(Status::unauthenticated(
                "the token is not valid for this server",
            )),
        }
    }
}

/// Compares without an early exit, so timing does not reveal the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
