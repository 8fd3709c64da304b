//! What reaches the master's HTTP handlers before any state: Mesos API bodies, RecordIO
//! streams and query strings.

use wasmesos_master::fuzzing;

/// The first byte picks the decoder; the rest is its input.
///
/// * 0: a Mesos API body with `Content-Type: application/json`;
/// * 1: the same as `application/x-protobuf`;
/// * 2: a RecordIO stream, cut into pieces by its first bytes (a count, then the lengths);
/// * 3: a query string of `/tasks` and `/files/*`, also read as an `Accept` header;
/// * 4: a Mesos API body with a `Content-Type` of its own: the text up to the first `\n`.
pub fn http_decoders(data: &[u8]) {
    let Some((selector, rest)) = data.split_first() else {
        return;
    };
    match selector % 5 {
        0 => fuzzing::mesos_body("application/json", rest),
        1 => fuzzing::mesos_body("application/x-protobuf", rest),
        2 => {
            let Some((count, rest)) = rest.split_first() else {
                return;
            };
            let (cuts, stream) = rest.split_at(usize::from(*count).min(rest.len()));
            fuzzing::recordio(cuts, stream);
        }
        3 => fuzzing::http_query(&String::from_utf8_lossy(rest)),
        _ => {
            let split = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
            let (content_type, body) = rest.split_at(split);
            let body = body.get(1..).unwrap_or_default();
            fuzzing::mesos_body(&String::from_utf8_lossy(content_type), body);
        }
    }
}
