//! Bodies of the Mesos HTTP APIs: `application/json` (Mesos's JSON, [`super::json`]) or
//! `application/x-protobuf`, chosen by `Content-Type` for requests and by `Accept` for
//! answers, with Mesos's status codes and messages when neither fits.

use axum::http::{HeaderMap, StatusCode, header};
use bytes::Bytes;

use super::json::{self, MesosMessage};

pub(crate) const APPLICATION_JSON: &str = "application/json";
pub(crate) const APPLICATION_PROTOBUF: &str = "application/x-protobuf";

/// A body format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Json,
    Protobuf,
}

impl Format {
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Format::Json => APPLICATION_JSON,
            Format::Protobuf => APPLICATION_PROTOBUF,
        }
    }
}

/// A refusal: a status and Mesos's plain-text message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

impl Refusal {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl axum::response::IntoResponse for Refusal {
    fn into_response(self) -> axum::response::Response {
        (
            self.status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            self.message,
        )
            .into_response()
    }
}

/// The media type without parameters, lower-cased.
fn media_type(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Decodes a request body of message `M` as its `Content-Type` says. `name` is the message's
/// Mesos name for error messages (`Call`).
pub(crate) fn decode<M: MesosMessage>(
    headers: &HeaderMap,
    body: &Bytes,
    name: &str,
) -> Result<(M, Format), Refusal> {
    let Some(content_type) = headers.get(header::CONTENT_TYPE) else {
        return Err(Refusal::bad_request(
            "Expecting 'Content-Type' to be present",
        ));
    };
    let content_type = media_type(content_type.to_str().unwrap_or_default());
    match content_type.as_str() {
        APPLICATION_PROTOBUF => M::decode(body.as_ref())
            .map(|m| (m, Format::Protobuf))
            .map_err(|_| {
                Refusal::bad_request(format!("Failed to parse body into {name} protobuf"))
            }),
        APPLICATION_JSON => {
            let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
                Refusal::bad_request(format!("Failed to parse body into JSON: {e}"))
            })?;
            json::from_json(&value)
                .map(|m| (m, Format::Json))
                .map_err(|e| {
                    Refusal::bad_request(format!(
                        "Failed to convert JSON into {name} protobuf: {e}"
                    ))
                })
        }
        _ => Err(Refusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Expecting 'Content-Type' of {APPLICATION_JSON} or {APPLICATION_PROTOBUF}"),
        )),
    }
}

/// The answer format `Accept` asks for: JSON when it allows it (or says nothing), else
/// protobuf, else 406.
pub(crate) fn accept(headers: &HeaderMap) -> Result<Format, Refusal> {
    let values: Vec<String> = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(media_type)
        .collect();
    if values.is_empty() {
        return Ok(Format::Json);
    }
    let allows = |wanted: &str| {
        values
            .iter()
            .any(|v| v == wanted || v == "*/*" || v == "application/*")
    };
    if allows(APPLICATION_JSON) {
        Ok(Format::Json)
    } else if allows(APPLICATION_PROTOBUF) {
        Ok(Format::Protobuf)
    } else {
        Err(Refusal::new(
            StatusCode::NOT_ACCEPTABLE,
            format!("Expecting 'Accept' to allow '{APPLICATION_PROTOBUF}' or '{APPLICATION_JSON}'"),
        ))
    }
}

/// `message` in `format`, compact.
pub(crate) fn encode<M: MesosMessage>(message: &M, format: Format) -> Vec<u8> {
    match format {
        Format::Protobuf => message.encode_to_vec(),
        Format::Json => match json::to_json_string(message) {
            Ok(text) => text.into_bytes(),
            Err(err) => {
                tracing::error!(%err, "cannot write a Mesos message as JSON");
                b"{}".to_vec()
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use wasmesos_proto::mesos::v1::scheduler::Call;

    fn headers(pairs: &[(header::HeaderName, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(name.clone(), HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn content_type_chooses_the_decoder_with_mesos_messages() {
        let body = Bytes::from_static(br#"{"type":"TEARDOWN","framework_id":{"value":"f"}}"#);
        let (call, format) = decode::<Call>(
            &headers(&[(header::CONTENT_TYPE, "application/json")]),
            &body,
            "Call",
        )
        .expect("json");
        assert_eq!(format, Format::Json);
        assert_eq!(call.framework_id.map(|f| f.value), Some("f".into()));
        let missing = decode::<Call>(&HeaderMap::new(), &body, "Call").expect_err("no type");
        assert_eq!(missing.message, "Expecting 'Content-Type' to be present");
        let odd = decode::<Call>(
            &headers(&[(header::CONTENT_TYPE, "text/plain")]),
            &body,
            "Call",
        )
        .expect_err("text");
        assert_eq!(odd.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let garbage = decode::<Call>(
            &headers(&[(header::CONTENT_TYPE, "application/json")]),
            &Bytes::from_static(b"{"),
            "Call",
        )
        .expect_err("garbage");
        assert!(
            garbage
                .message
                .starts_with("Failed to parse body into JSON")
        );
    }

    #[test]
    fn accept_prefers_json_then_protobuf() {
        assert_eq!(accept(&HeaderMap::new()), Ok(Format::Json));
        assert_eq!(
            accept(&headers(&[(header::ACCEPT, "application/x-protobuf")])),
            Ok(Format::Protobuf)
        );
        assert_eq!(
            accept(&headers(&[(header::ACCEPT, "text/html")])).map_err(|r| r.status),
            Err(StatusCode::NOT_ACCEPTABLE)
        );
    }
}
