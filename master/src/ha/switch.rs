//! One port, two faces: while this master stands by, every request is answered with a
//! redirect to the leader; once it leads, requests reach the real router. Connections opened
//! during standby are served by the leader's router after the switch, with no rebind.

use std::convert::Infallible;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::watch;
use tower::ServiceExt;
use wasmesos_proto::LEADER_METADATA_KEY;

/// gRPC's UNAVAILABLE status code.
const GRPC_UNAVAILABLE: &str = "14";

/// What the shared port does right now.
#[derive(Clone)]
pub(crate) enum Face {
    /// Standing by; the leader's URL when one is known.
    Standby(Option<String>),
    /// Leading: requests go to the master's router.
    Leading(Router),
}

/// A router that consults `face` for every request.
pub(crate) fn router(face: watch::Receiver<Face>) -> Router {
    Router::new().fallback(move |request: Request| {
        let face = face.borrow().clone();
        async move { dispatch(face, request).await }
    })
}

async fn dispatch(face: Face, request: Request) -> Response {
    match face {
        Face::Leading(router) => {
            let answered: Result<Response, Infallible> = router.oneshot(request).await;
            match answered {
                Ok(response) => response,
                Err(never) => match never {},
            }
        }
        Face::Standby(leader) => redirect(&request, leader.as_deref()),
    }
}

/// gRPC callers get UNAVAILABLE with the leader in `wasmesos-leader`; HTTP callers get a 307
/// to the same path at the leader; 503 / UNAVAILABLE while no leader is known.
pub(crate) fn redirect(request: &Request, leader: Option<&str>) -> Response {
    if is_grpc(request) {
        return grpc_unavailable(leader);
    }
    let Some(leader) = leader else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "this master is not leading and no leader is elected yet; retry shortly\n",
        )
            .into_response();
    };
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |path| path.as_str());
    let leader_base = leader.trim_end_matches('/');
    let location = if is_mesos_path(path) {
        // Mesos's own redirects are protocol-relative: `//host:port/path`.
        let authority = leader_base
            .split_once("://")
            .map_or(leader_base, |(_, rest)| rest);
        if request.uri().path() == "/master/redirect" {
            // As Mesos: the redirect endpoint itself sends callers to the leader's root.
            format!("//{authority}")
        } else {
            format!("//{authority}{path}")
        }
    } else {
        format!("{leader_base}{path}")
    };
    match HeaderValue::from_str(&location) {
        Ok(location) => {
            let mut response = Response::new(Body::from(format!(
                "this master is not leading; the leader is {leader}\n"
            )));
            *response.status_mut() = StatusCode::TEMPORARY_REDIRECT;
            response.headers_mut().insert(header::LOCATION, location);
            response
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the leader's address is not a valid URL\n",
        )
            .into_response(),
    }
}

/// The paths of Mesos's APIs, redirected as Mesos redirects them.
fn is_mesos_path(path: &str) -> bool {
    path.starts_with("/api/v1") || path.starts_with("/master/")
}

fn is_grpc(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/grpc"))
}

/// A trailers-only gRPC response: status and metadata in the one header block.
fn grpc_unavailable(leader: Option<&str>) -> Response {
    let message = match leader {
        Some(leader) => format!("this master is not leading; the leader is {leader}"),
        None => "this master is not leading and no leader is elected yet".to_string(),
    };
    let mut response = Response::new(Body::empty());
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    headers.insert("grpc-status", HeaderValue::from_static(GRPC_UNAVAILABLE));
    if let Ok(message) = HeaderValue::from_str(&message) {
        headers.insert("grpc-message", message);
    }
    if let Some(leader) = leader.and_then(|leader| HeaderValue::from_str(leader).ok()) {
        headers.insert(LEADER_METADATA_KEY, leader);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str, content_type: Option<&str>) -> Request {
        let mut builder = Request::builder().uri(uri);
        if let Some(content_type) = content_type {
            builder = builder.header(header::CONTENT_TYPE, content_type);
        }
        builder.body(Body::empty()).unwrap_or_default()
    }

    #[test]
    fn http_gets_a_307_to_the_same_path_at_the_leader() {
        let response = redirect(&request("/state?x=1", None), Some("http://10.0.0.2:5050"));
        assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
        assert_eq!(
            response.headers().get(header::LOCATION),
            Some(&HeaderValue::from_static("http://10.0.0.2:5050/state?x=1"))
        );
        let response = redirect(&request("/state", None), None);
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn grpc_gets_unavailable_with_the_leader_in_metadata() {
        let grpc = Some("application/grpc");
        let response = redirect(
            &request("/x.Scheduler/Subscribe", grpc),
            Some("http://m2:1"),
        );
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers();
        assert_eq!(
            headers.get("grpc-status"),
            Some(&HeaderValue::from_static("14"))
        );
        assert_eq!(
            headers.get(LEADER_METADATA_KEY),
            Some(&HeaderValue::from_static("http://m2:1"))
        );
        let response = redirect(&request("/x.Scheduler/Subscribe", grpc), None);
        assert_eq!(response.headers().get(LEADER_METADATA_KEY), None);
        assert_eq!(
            response.headers().get("grpc-status"),
            Some(&HeaderValue::from_static("14"))
        );
    }
}
