//! `http-hello`: a `wasi:http/incoming-handler` service, one instance per request.
//!
//! - `GET /` answers 200 `hello from wasmesos`.
//! - `GET /sleep?ms=N` sleeps `N` ms in a host call (`wasi:clocks`), then answers 200
//!   `slept N ms`: a slow request, for graceful shutdown and per-request timeouts.
//! - `GET /spin?ms=N` computes for `N` ms without sleeping (forever without `ms`), then answers
//!   200 `spun N ms`: for CPU shares and fuel.
//! - `GET /alloc?mb=N` allocates and touches `N` MiB, then answers 200 `allocated N MiB`: for
//!   the memory limit. A refused allocation aborts the guest (a trap).
//! - `GET /print?text=T` writes `T` and a newline to stdout, then answers 200 `printed`.
//! - `GET /env` answers 200 with the instance's environment, one `KEY=VALUE` line each,
//!   sorted: what the agent told the service (`PORT0`, `HOST`, ...).
//! - `GET /fetch?to=IP:PORT` sends `GET http://IP:PORT/` through `wasi:http/outgoing-handler`
//!   and answers 200 `fetched: BODY`, or 502 `refused: ERROR` when the host refuses or the
//!   request fails: for the network policy.
//!
//! A malformed number answers 400; any other path 404; any other method 405.

#![deny(unsafe_code)]

use std::hint::black_box;
use std::io::Read;
use std::time::{Duration, Instant};

use guest_http::{query_number, respond, split_path};
use wasip2::exports::http::incoming_handler::Guest;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    Fields, IncomingRequest, Method, OutgoingRequest, ResponseOutparam, Scheme,
};

struct Hello;

impl Guest for Hello {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        if !matches!(request.method(), Method::Get) {
            return respond(out, 405, b"only GET\n");
        }
        let target = request.path_with_query().unwrap_or_default();
        let (path, query) = split_path(&target);
        let number = |name| query_number(query, name);
        match (path, number("ms"), number("mb")) {
            ("/", _, _) => respond(out, 200, b"hello from wasmesos\n"),
            ("/sleep", Some(Ok(ms)), _) => {
                std::thread::sleep(Duration::from_millis(ms));
                respond(out, 200, format!("slept {ms} ms\n").as_bytes());
            }
            ("/spin", None, _) => spin(None),
            ("/spin", Some(Ok(ms)), _) => {
                spin(Some(Duration::from_millis(ms)));
                respond(out, 200, format!("spun {ms} ms\n").as_bytes());
            }
            ("/alloc", _, Some(Ok(mb))) => {
                black_box(allocate(mb));
                respond(out, 200, format!("allocated {mb} MiB\n").as_bytes());
            }
            ("/print", _, _) => {
                let text = query.strip_prefix("text=").unwrap_or(query);
                println!("{text}");
                respond(out, 200, b"printed\n");
            }
            ("/env", _, _) => {
                let mut vars: Vec<String> = std::env::vars()
                    .map(|(key, value)| format!("{key}={value}\n"))
                    .collect();
                vars.sort();
                respond(out, 200, vars.concat().as_bytes());
            }
            ("/fetch", _, _) => match fetch(query.strip_prefix("to=").unwrap_or(query)) {
                Ok(body) => respond(out, 200, format!("fetched: {body}").as_bytes()),
                Err(err) => respond(out, 502, format!("refused: {err}\n").as_bytes()),
            },
            ("/sleep" | "/spin" | "/alloc", _, _) => respond(out, 400, b"bad number\n"),
            _ => respond(out, 404, b"not found\n"),
        }
    }
}

/// The body of `GET http://{authority}/`, or why there is none.
fn fetch(authority: &str) -> Result<String, String> {
    let request = OutgoingRequest::new(Fields::new());
    let set = request
        .set_scheme(Some(&Scheme::Http))
        .and_then(|()| request.set_authority(Some(authority)))
        .and_then(|()| request.set_path_with_query(Some("/")));
    set.map_err(|()| format!("bad authority {authority:?}"))?;
    let future = outgoing_handler::handle(request, None).map_err(|err| format!("{err:?}"))?;
    let response = loop {
        match future.get() {
            Some(Ok(response)) => break response.map_err(|err| format!("{err:?}"))?,
            Some(Err(())) => return Err("the response was taken twice".into()),
            None => future.subscribe().block(),
        }
    };
    let body = response.consume().map_err(|()| "no body".to_owned())?;
    let mut text = String::new();
    {
        let mut stream = body.stream().map_err(|()| "no body stream".to_owned())?;
        stream
            .read_to_string(&mut text)
            .map_err(|err| err.to_string())?;
    }
    Ok(text)
}

/// Pure computation for `how_long` (forever with `None`), checking the clock now and then.
fn spin(how_long: Option<Duration>) {
    let start = Instant::now();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    loop {
        for _ in 0..10_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
        }
        black_box(state);
        if how_long.is_some_and(|limit| start.elapsed() >= limit) {
            return;
        }
    }
}

/// `mb` MiB in 1 MiB blocks, every 4 KiB page written so that the memory is really used.
fn allocate(mb: u64) -> Vec<Vec<u8>> {
    (0..mb)
        .map(|_| {
            let mut block = vec![0u8; 1 << 20];
            for page in block.chunks_mut(4096) {
                page[0] = black_box(0xa5);
            }
            block
        })
        .collect()
}

// wasip2's export macro writes the component's ABI glue, which is unsafe code; this crate
// writes none itself.
#[allow(unsafe_code)]
mod export {
    use super::Hello;
    wasip2::http::proxy::export!(Hello with_types_in wasip2);
}
