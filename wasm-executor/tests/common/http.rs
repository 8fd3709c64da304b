//! A small HTTP/1.1 client for the service tests: one connection per request.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

use wasmesos_wasm_executor::{Program, RunningService, ServiceConfig, TaskSpec};

/// A listener on a free loopback port.
pub async fn listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").await.expect("binds")
}

/// Serves `program` with `spec` and `config` on a fresh loopback listener.
pub async fn serve(program: &Program, spec: TaskSpec, config: ServiceConfig) -> RunningService {
    super::executor()
        .serve(program, spec, listener().await, config)
        .expect("the service starts")
}

/// Sends one request on a connection of its own; the status and the body as text.
pub async fn send(
    addr: SocketAddr,
    method: Method,
    path: &str,
    body: &[u8],
) -> Result<(StatusCode, String), String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|err| format!("connect: {err}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|err| format!("handshake: {err}"))?;
    tokio::spawn(connection);
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string())
        .body(Full::new(Bytes::copy_from_slice(body)))
        .map_err(|err| format!("request: {err}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|err| format!("send: {err}"))?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|err| format!("body: {err}"))?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// `GET path`.
pub async fn get(addr: SocketAddr, path: &str) -> Result<(StatusCode, String), String> {
    send(addr, Method::GET, path, b"").await
}
