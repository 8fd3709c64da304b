//! The web UI on a real master: the page and its assets come off the master's port, and the
//! `/events` stream sends the state at once and ends when the master stops, so a browser
//! left open never holds up a graceful shutdown.

mod common;
mod http_support;

use std::time::Duration;

use http_support::{HTTP_DEADLINE, get};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wasmesos_test_support::scaled;

#[tokio::test]
async fn the_master_serves_the_page_and_its_scripts() {
    let master = common::start(|_| {}).await;
    let page = get(master.handle.addr, "/").await;
    assert_eq!(page.status, 200);
    assert_eq!(page.content_type, "text/html; charset=utf-8");
    assert!(
        page.text()
            .contains(r#"<script type="module" src="ui/app.js">"#)
    );
    let script = get(master.handle.addr, "/ui/app.js").await;
    assert_eq!(script.status, 200);
    assert_eq!(script.content_type, "text/javascript; charset=utf-8");
    assert!(script.text().contains("new Live("));
    // The JSON API keeps its paths next to the UI's.
    assert_eq!(get(master.handle.addr, "/health").await.status, 200);
}

/// Reads from `stream` into `seen` until it contains `needle`; false at EOF.
async fn read_until(stream: &mut TcpStream, seen: &mut String, needle: &str) -> bool {
    let mut buffer = [0u8; 8192];
    while !seen.contains(needle) {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return false,
            Ok(read) => seen.push_str(&String::from_utf8_lossy(&buffer[..read])),
        }
    }
    true
}

#[tokio::test]
async fn an_open_event_stream_gets_the_state_and_does_not_hold_up_shutdown() {
    let master = common::start(|_| {}).await;
    let addr = master.handle.addr;
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request =
        format!("GET /events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send the request");
    let mut seen = String::new();
    let first = tokio::time::timeout(
        scaled(HTTP_DEADLINE),
        read_until(&mut stream, &mut seen, "\n\n"),
    );
    assert!(first.await.expect("the first event in time"), "{seen}");
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
    assert!(seen.contains("content-type: text/event-stream"), "{seen}");
    let event = tokio::time::timeout(
        scaled(HTTP_DEADLINE),
        read_until(&mut stream, &mut seen, "\"tasks_total\""),
    );
    assert!(event.await.expect("the state in time"), "{seen}");
    assert!(seen.contains("event: state"), "{seen}");

    let stopped =
        tokio::time::timeout(scaled(Duration::from_secs(30)), master.handle.shutdown()).await;
    stopped
        .expect("shutdown finishes while a browser holds /events open")
        .expect("a clean shutdown");
    let mut rest = Vec::new();
    let ended = tokio::time::timeout(scaled(HTTP_DEADLINE), stream.read_to_end(&mut rest)).await;
    assert!(ended.is_ok(), "the stream ends with the master");
}
