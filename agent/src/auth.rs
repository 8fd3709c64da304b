//! Who may call the agent: with `--http-credentials`, every request on the agent's port but
//! `/health` must carry a valid `authorization: Basic …` header (HTTP Basic, or the same
//! header as gRPC metadata): the agent's state holds every task's env and args, and its
//! files every task's output. The master presents its `--agent-credential` when it reads a
//! sandbox for an operator. Secrets are compared in constant time (`Credentials::verify`).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use wasmesos_detector::Credentials;

/// The middleware: refuses a request without a valid credential, unless nobody must
/// authenticate (`None`) or it asks for `/health`.
pub(crate) async fn authenticate(
    State(credentials): State<Option<Arc<Credentials>>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(credentials) = credentials else {
        return next.run(request).await;
    };
    if request.uri().path() == "/health" {
        return next.run(request).await;
    }
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    let why = match credentials.authenticate(header) {
        Ok(Some(_)) => return next.run(request).await,
        Ok(None) => "this agent requires authentication",
        Err(why) => why,
    };
    let grpc = request
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
    if grpc {
        return tonic::Status::unauthenticated(why).into_http::<axum::body::Body>();
    }
    let mut response = (StatusCode::UNAUTHORIZED, why).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"wasmesos-agent\""),
    );
    response
}
