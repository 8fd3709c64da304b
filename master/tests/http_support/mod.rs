//! A minimal HTTP/1.0 client for the master's and agent's HTTP API tests: one request per
//! connection, the body read to EOF (so streamed answers arrive whole, however chunked).

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wasmesos_test_support::{eventually_some, scaled};

/// Generous: the machine running the tests may be busy. Scaled by `WASMESOS_TEST_PATIENCE`.
pub const HTTP_DEADLINE: Duration = Duration::from_secs(60);

/// A parsed answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {}", self.text()))
    }
}

/// `GET path` on `addr`, failing the test after [`HTTP_DEADLINE`].
pub async fn get(addr: SocketAddr, path: &str) -> Answer {
    tokio::time::timeout(scaled(HTTP_DEADLINE), fetch(addr, path))
        .await
        .unwrap_or_else(|_| panic!("GET {path} timed out"))
}

async fn fetch(addr: SocketAddr, path: &str) -> Answer {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read answer");
    parse(&raw)
}

fn parse(raw: &[u8]) -> Answer {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete header");
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    let content_type = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map(|(_, value)| value.trim().to_string())
        .unwrap_or_default();
    Answer {
        status,
        content_type,
        body: raw[end + 4..].to_vec(),
    }
}

/// Polls `GET path` until `done` accepts the JSON answer; fails after [`HTTP_DEADLINE`].
pub async fn json_until(
    addr: SocketAddr,
    path: &str,
    mut done: impl FnMut(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    let matched = eventually_some(path, HTTP_DEADLINE, async || {
        let answer = get(addr, path).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.text());
        let value = answer.json();
        if done(&value) {
            return Some(value);
        }
        last = value;
        None
    })
    .await;
    matched.unwrap_or_else(|err| panic!("{err}; last: {last:#}"))
}

/// Polls `GET path` until `done` accepts the text answer; fails after [`HTTP_DEADLINE`].
pub async fn text_until(
    addr: SocketAddr,
    path: &str,
    mut done: impl FnMut(&str) -> bool,
) -> String {
    let mut last = String::new();
    let matched = eventually_some(path, HTTP_DEADLINE, async || {
        let answer = get(addr, path).await;
        let text = answer.text();
        if answer.status == 200 && done(&text) {
            return Some(text);
        }
        last = text;
        None
    })
    .await;
    matched.unwrap_or_else(|err| panic!("{err}; last: {last}"))
}
