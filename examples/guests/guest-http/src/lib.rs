//! What the example `wasi:http` guests share: answering a request with a status and a body,
//! reading a request's body up to a limit, and reading a number from its query string.
//!
//! A library crate, not a guest: `http-hello` and `http-kv` export the handler.

#![forbid(unsafe_code)]

use std::io::{Read, Write};

use wasip2::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

/// Answers with `status` and `body` as `text/plain`. A failure half-way cannot be reported
/// to the client any more; the host then sees an incomplete body.
pub fn respond(out: ResponseOutparam, status: u16, body: &[u8]) {
    let headers = Fields::new();
    // Both names and values are constants this crate knows to be valid.
    let _ = headers.append("content-type", b"text/plain; charset=utf-8");
    let _ = headers.append("content-length", body.len().to_string().as_bytes());
    let response = OutgoingResponse::new(headers);
    let _ = response.set_status_code(status);
    let Ok(outgoing) = response.body() else {
        return;
    };
    ResponseOutparam::set(out, Ok(response));
    write_body(outgoing, body);
}

fn write_body(outgoing: OutgoingBody, body: &[u8]) {
    {
        let Ok(mut stream) = outgoing.write() else {
            return;
        };
        if stream
            .write_all(body)
            .and_then(|()| Write::flush(&mut stream))
            .is_err()
        {
            return;
        }
        // The stream is a child of the body: it must be gone before the body is finished.
    }
    let _ = OutgoingBody::finish(outgoing, None);
}

/// Why a request's body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// It is longer than the limit.
    TooLarge,
    /// The host failed to hand it over.
    Unreadable,
}

/// The request's whole body, refusing one longer than `limit` bytes.
pub fn read_body(request: &IncomingRequest, limit: usize) -> Result<Vec<u8>, BodyError> {
    let incoming = request.consume().map_err(|()| BodyError::Unreadable)?;
    let mut bytes = Vec::new();
    {
        let stream = incoming.stream().map_err(|()| BodyError::Unreadable)?;
        // One byte over the limit is enough to know it is too long.
        let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
        stream
            .take(cap)
            .read_to_end(&mut bytes)
            .map_err(|_| BodyError::Unreadable)?;
    }
    if bytes.len() > limit {
        return Err(BodyError::TooLarge);
    }
    Ok(bytes)
}

/// Splits `/path?query` into its path and query (empty when there is none).
pub fn split_path(path_with_query: &str) -> (&str, &str) {
    path_with_query
        .split_once('?')
        .unwrap_or((path_with_query, ""))
}

/// The value of `name=` in a query string, as a number. `None` if it is missing; `Err` if it
/// is not a number.
pub fn query_number(query: &str, name: &str) -> Option<Result<u64, std::num::ParseIntError>> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.parse())
}
