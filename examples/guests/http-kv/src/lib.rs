//! `http-kv`: a small key/value service over `wasi:http`, keeping its data as files in its
//! sandbox dir, so that it persists across the per-request instances.
//!
//! - `PUT /kv/KEY` stores the body (at most 1 MiB, else 413) and answers 201 `stored`.
//! - `GET /kv/KEY` answers 200 with the stored bytes, or 404.
//! - `DELETE /kv/KEY` removes the key and answers 204, or 404.
//!
//! `KEY` is 1 to 128 of `A-Z a-z 0-9 - _ .`, not starting with a dot (else 400). The value of
//! `KEY` lives in the file `kv/KEY`, written to `kv/.KEY.tmp` first and renamed, so a reader
//! never sees half a value. Any other path answers 404; any other method 405; a failed file
//! operation 500 with the error.

#![deny(unsafe_code)]

use std::io::ErrorKind;
use std::path::PathBuf;

use guest_http::{BodyError, read_body, respond, split_path};
use wasip2::exports::http::incoming_handler::Guest;
use wasip2::http::types::{IncomingRequest, Method, ResponseOutparam};

const MAX_VALUE_BYTES: usize = 1 << 20;
const MAX_KEY_BYTES: usize = 128;
const DIR: &str = "kv";

struct KeyValue;

impl Guest for KeyValue {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let target = request.path_with_query().unwrap_or_default();
        let (path, _) = split_path(&target);
        let Some(key) = path.strip_prefix("/kv/") else {
            return respond(out, 404, b"not found\n");
        };
        if !valid_key(key) {
            return respond(out, 400, b"bad key\n");
        }
        let file = PathBuf::from(DIR).join(key);
        match request.method() {
            Method::Put => put(&request, out, key, file),
            Method::Get => match std::fs::read(&file) {
                Ok(value) => respond(out, 200, &value),
                Err(err) if err.kind() == ErrorKind::NotFound => {
                    respond(out, 404, b"no such key\n")
                }
                Err(err) => respond(out, 500, format!("{err}\n").as_bytes()),
            },
            Method::Delete => match std::fs::remove_file(&file) {
                Ok(()) => respond(out, 204, b""),
                Err(err) if err.kind() == ErrorKind::NotFound => {
                    respond(out, 404, b"no such key\n")
                }
                Err(err) => respond(out, 500, format!("{err}\n").as_bytes()),
            },
            _ => respond(out, 405, b"only PUT, GET and DELETE\n"),
        }
    }
}

fn put(request: &IncomingRequest, out: ResponseOutparam, key: &str, file: PathBuf) {
    let value = match read_body(request, MAX_VALUE_BYTES) {
        Ok(value) => value,
        Err(BodyError::TooLarge) => return respond(out, 413, b"value over 1 MiB\n"),
        Err(BodyError::Unreadable) => return respond(out, 400, b"unreadable body\n"),
    };
    let temporary = PathBuf::from(DIR).join(format!(".{key}.tmp"));
    let stored = std::fs::create_dir_all(DIR)
        .and_then(|()| std::fs::write(&temporary, &value))
        .and_then(|()| std::fs::rename(&temporary, &file));
    match stored {
        Ok(()) => respond(out, 201, b"stored\n"),
        Err(err) => respond(out, 500, format!("{err}\n").as_bytes()),
    }
}

fn valid_key(key: &str) -> bool {
    (1..=MAX_KEY_BYTES).contains(&key.len())
        && !key.starts_with('.')
        && key
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'))
}

// wasip2's export macro writes the component's ABI glue, which is unsafe code; this crate
// writes none itself.
#[allow(unsafe_code)]
mod export {
    use super::KeyValue;
    wasip2::http::proxy::export!(KeyValue with_types_in wasip2);
}
