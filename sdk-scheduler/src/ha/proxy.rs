//! One port, two faces: the leader answers with the framework's own router; a follower
//! proxies every request to the leader, as Marathon's and Chronos's followers do, marking it
//! with a `Via`-style header so that a request that comes back is refused rather than loop.
//! Routes every process answers itself (a leader endpoint) come first on both.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::http::{StatusCode, Uri, Version};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tower::ServiceExt;

use super::Leadership;

/// How long a follower waits to connect to the leader.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What the port does right now.
#[derive(Clone)]
pub(crate) enum Face {
    /// Following (or elected and still loading): requests go to the leader.
    Following,
    /// Leading: requests go to the framework's router.
    Leading(Router),
}

/// `local`'s routes, then every other request by `face`: to the framework's router, or
/// proxied to the leader with `via` naming this process.
pub(crate) fn router(
    local: Router,
    face: watch::Receiver<Face>,
    leadership: Leadership,
    via: HeaderName,
) -> Router {
    local.fallback(move |request: Request| {
        let face = face.borrow().clone();
        let leadership = leadership.clone();
        let via = via.clone();
        async move { dispatch(face, &leadership, &via, request).await }
    })
}

async fn dispatch(
    face: Face,
    leadership: &Leadership,
    via: &HeaderName,
    request: Request,
) -> Response {
    match face {
        Face::Leading(router) => router
            .oneshot(request)
            .await
            .unwrap_or_else(|never: Infallible| match never {}),
        Face::Following => match leadership.leader() {
            Some(leader) if leader != leadership.me() => {
                forward(&leader, leadership.me(), via, request).await
            }
            // None leads, or this process was just elected and is still loading its state.
            _ => message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Could not determine the current leader",
            ),
        },
    }
}

/// A JSON `{"message": …}` answer, as Marathon's errors.
fn message(status: StatusCode, text: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "message": text }))).into_response()
}

/// Headers that belong to one connection, not to the request (RFC 9110 §7.6.1).
const HOP_BY_HOP: [HeaderName; 6] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Sends `request` to `leader` (`host:port`) and streams its answer back (event streams
/// included).
pub(crate) async fn forward(
    leader: &str,
    me: &str,
    via: &HeaderName,
    request: Request,
) -> Response {
    let mark = format!("1.1 {me}");
    if request
        .headers()
        .get_all(via)
        .iter()
        .any(|value| value.to_str().is_ok_and(|v| v.contains(&mark)))
    {
        tracing::error!(%leader, "refusing a request that was proxied here before");
        return message(StatusCode::BAD_GATEWAY, "Detected proxying loop.");
    }
    let connected = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(leader)).await;
    let stream = match connected {
        Ok(Ok(stream)) => stream,
        Ok(Err(err)) => {
            tracing::debug!(%leader, %err, "cannot reach the leader");
            return message(StatusCode::BAD_GATEWAY, "Connection to leader refused.");
        }
        Err(_elapsed) => {
            return message(
                StatusCode::GATEWAY_TIMEOUT,
                "Connection to leader timed out.",
            );
        }
    };
    let handshake = hyper::client::conn::http1::handshake::<_, Body>(TokioIo::new(stream)).await;
    let (mut sender, connection) = match handshake {
        Ok(pair) => pair,
        Err(err) => return failed(leader, &err),
    };
    tokio::spawn(async move {
        if let Err(err) = connection.await {
            tracing::debug!(%err, "proxied connection ended");
        }
    });
    let outgoing = match outgoing(request, leader, via, &mark) {
        Some(outgoing) => outgoing,
        None => return message(StatusCode::BAD_REQUEST, "bad request target"),
    };
    tracing::debug!(uri = %outgoing.uri(), %leader, "proxying to the leader");
    match sender.send_request(outgoing).await {
        Ok(response) => {
            let mut response = response.map(Body::new);
            strip_hop_by_hop(response.headers_mut());
            if let Ok(mark) = HeaderValue::from_str(&mark) {
                response.headers_mut().append(via.clone(), mark);
            }
            response
        }
        Err(err) => failed(leader, &err),
    }
}

/// `request` as the leader should get it: origin-form target, the leader as `Host`, no
/// hop-by-hop headers, this process in `via`.
fn outgoing(request: Request, leader: &str, via: &HeaderName, mark: &str) -> Option<Request> {
    let (mut parts, body) = request.into_parts();
    let target = parts
        .uri
        .path_and_query()
        .map_or("/", |target| target.as_str());
    parts.uri = target.parse::<Uri>().ok()?;
    parts.version = Version::HTTP_11;
    strip_hop_by_hop(&mut parts.headers);
    parts
        .headers
        .insert(header::HOST, HeaderValue::from_str(leader).ok()?);
    parts
        .headers
        .append(via.clone(), HeaderValue::from_str(mark).ok()?);
    Some(Request::from_parts(parts, body))
}

fn strip_hop_by_hop(headers: &mut axum::http::HeaderMap) {
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
}

fn failed(leader: &str, err: &hyper::Error) -> Response {
    tracing::warn!(%leader, %err, "proxying to the leader failed");
    message(
        StatusCode::BAD_GATEWAY,
        "Failed to successfully establish a connection to the leader.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proxied_request_has_an_origin_form_target_and_names_the_proxy() {
        let via = HeaderName::from_static("x-marathon-via");
        let request = Request::builder()
            .uri("http://follower:1/v2/apps?embed=apps.tasks")
            .header(header::CONNECTION, "close")
            .header(header::HOST, "follower:1")
            .body(Body::empty())
            .unwrap_or_default();
        let sent = outgoing(request, "10.0.0.2:8080", &via, "1.1 follower:1").unwrap_or_default();
        assert_eq!(sent.uri(), "/v2/apps?embed=apps.tasks");
        assert_eq!(sent.headers()[header::HOST], "10.0.0.2:8080");
        assert_eq!(sent.headers()[&via], "1.1 follower:1");
        assert!(sent.headers().get(header::CONNECTION).is_none());
    }
}
