//! Mesos's JSON for its protobuf messages, which is not proto3 JSON (stout's `jsonify` and
//! `protobuf::parse`): field names as in the `.proto` (snake_case), enums by name, bytes as
//! base64, 64-bit integers as JSON numbers, and every unset optional field that declares a
//! default written with that default (`"shell": true`). Reading, keys the message does not
//! declare are ignored, a missing `required` field is an error, and so is a value of the
//! wrong type or an unknown enum name.
//!
//! Both directions go through [`prost_reflect::DynamicMessage`] over the vendored Mesos
//! descriptors ([`wasmesos_proto::mesos::FILE_DESCRIPTOR_SET`]).

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use prost_reflect::{
    Cardinality, DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor,
    ReflectMessage, Value,
};
use serde_json::{Map, Number, Value as Json};

/// Nesting deeper than this is refused on input: Mesos messages nest a handful of levels.
const MAX_DEPTH: usize = 32;

/// Why a JSON body is not the message it should be.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct JsonError(pub(crate) String);

fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        // The descriptor set is built from the vendored files by build.rs; a set that does
        // not decode is a build defect, and an empty pool then makes every decode fail.
        DescriptorPool::decode(wasmesos_proto::mesos::FILE_DESCRIPTOR_SET).unwrap_or_default()
    })
}

/// The descriptor of the Mesos message named `full_name` (`mesos.v1.scheduler.Call`).
fn descriptor(full_name: &str) -> Result<MessageDescriptor, JsonError> {
    pool()
        .get_message_by_name(full_name)
        .ok_or_else(|| JsonError(format!("unknown message type {full_name}")))
}

/// A generated Mesos message and its full protobuf name, which reflection looks up.
pub(crate) trait MesosMessage: prost::Message + Default {
    /// `mesos.v1.scheduler.Call`, ...
    const NAME: &'static str;
}

macro_rules! mesos_messages {
    ($($ty:path => $name:literal),* $(,)?) => {
        $(impl MesosMessage for $ty { const NAME: &'static str = $name; })*
    };
}

mesos_messages! {
    wasmesos_proto::mesos::v1::scheduler::Call => "mesos.v1.scheduler.Call",
    wasmesos_proto::mesos::v1::scheduler::Event => "mesos.v1.scheduler.Event",
    wasmesos_proto::mesos::v1::master::Call => "mesos.v1.master.Call",
    wasmesos_proto::mesos::v1::master::Response => "mesos.v1.master.Response",
    wasmesos_proto::mesos::v1::master::Event => "mesos.v1.master.Event",
    wasmesos_proto::mesos::v1::CommandInfo => "mesos.v1.CommandInfo",
    wasmesos_proto::mesos::v1::MasterInfo => "mesos.v1.MasterInfo",
    wasmesos_proto::mesos::v1::TaskStatus => "mesos.v1.TaskStatus",
    wasmesos_proto::mesos::v1::Resource => "mesos.v1.Resource",
}

/// `message` as Mesos writes it.
pub(crate) fn to_json<M: MesosMessage>(message: &M) -> Result<Json, JsonError> {
    let desc = descriptor(M::NAME)?;
    let dynamic = DynamicMessage::decode(desc, message.encode_to_vec().as_slice())
        .map_err(|e| JsonError(e.to_string()))?;
    Ok(message_to_json(&dynamic))
}

/// Parses `json` as the Mesos message `M`, as Mesos would.
pub(crate) fn from_json<M: MesosMessage>(json: &Json) -> Result<M, JsonError> {
    let desc = descriptor(M::NAME)?;
    let dynamic = json_to_message(json, &desc, 0)?;
    dynamic
        .transcode_to::<M>()
        .map_err(|e| JsonError(e.to_string()))
}

/// `message` as Mesos writes it, as text with the fields in the `.proto`'s order (`type`
/// first), as stout's `jsonify` writes them; [`to_json`]'s map sorts them by name.
pub(crate) fn to_json_string<M: MesosMessage>(message: &M) -> Result<String, JsonError> {
    let desc = descriptor(M::NAME)?;
    let dynamic = DynamicMessage::decode(desc, message.encode_to_vec().as_slice())
        .map_err(|e| JsonError(e.to_string()))?;
    let mut out = String::new();
    write_message(&dynamic, &mut out);
    Ok(out)
}

/// The fields Mesos writes: those set, and unset optional ones with a declared default.
fn written_fields(message: &DynamicMessage) -> Vec<FieldDescriptor> {
    message
        .descriptor()
        .fields()
        .filter(|field| {
            let set = message.has_field(field);
            if field.is_list() || field.is_map() {
                set
            } else {
                set || (has_declared_default(field) && !is_deprecated(field))
            }
        })
        .collect()
}

fn write_message(message: &DynamicMessage, out: &mut String) {
    out.push('{');
    for (i, field) in written_fields(message).into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&Json::String(field.name().to_string()).to_string());
        out.push(':');
        write_value(&message.get_field(&field), &field.kind(), out);
    }
    out.push('}');
}

fn write_value(value: &Value, kind: &Kind, out: &mut String) {
    match value {
        Value::Message(m) => write_message(m, out),
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, kind, out);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            let value_kind = match kind {
                Kind::Message(entry) => entry.map_entry_value_field().kind(),
                other => other.clone(),
            };
            // Sorted by key, so that the same message always reads the same.
            let mut sorted: Vec<(String, &Value)> = entries
                .iter()
                .map(|(k, v)| (map_key_string(k), v))
                .collect();
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            out.push('{');
            for (i, (key, item)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Json::String(key).to_string());
                out.push(':');
                write_value(item, &value_kind, out);
            }
            out.push('}');
        }
        leaf => out.push_str(&value_to_json(leaf, kind).to_string()),
    }
}

fn message_to_json(message: &DynamicMessage) -> Json {
    let mut object = Map::new();
    for field in written_fields(message) {
        let value = message.get_field(&field);
        object.insert(
            field.name().to_string(),
            value_to_json(&value, &field.kind()),
        );
    }
    Json::Object(object)
}

fn has_declared_default(field: &FieldDescriptor) -> bool {
    field.field_descriptor_proto().default_value.is_some()
}

fn is_deprecated(field: &FieldDescriptor) -> bool {
    field
        .field_descriptor_proto()
        .options
        .as_ref()
        .and_then(|o| o.deprecated)
        .unwrap_or(false)
}

fn value_to_json(value: &Value, kind: &Kind) -> Json {
    match value {
        Value::Bool(b) => Json::Bool(*b),
        Value::I32(n) => Json::from(*n),
        Value::I64(n) => Json::from(*n),
        Value::U32(n) => Json::from(*n),
        Value::U64(n) => Json::from(*n),
        Value::F32(n) => Number::from_f64(f64::from(*n)).map_or(Json::Null, Json::Number),
        Value::F64(n) => Number::from_f64(*n).map_or(Json::Null, Json::Number),
        Value::String(s) => Json::String(s.clone()),
        Value::Bytes(b) => Json::String(BASE64.encode(b)),
        Value::EnumNumber(n) => match kind {
            Kind::Enum(e) => e
                .get_value(*n)
                .map_or_else(|| Json::from(*n), |v| Json::String(v.name().to_string())),
            _ => Json::from(*n),
        },
        Value::Message(m) => message_to_json(m),
        Value::List(items) => Json::Array(items.iter().map(|v| value_to_json(v, kind)).collect()),
        Value::Map(entries) => {
            let value_kind = match kind {
                Kind::Message(entry) => entry.map_entry_value_field().kind(),
                other => other.clone(),
            };
            Json::Object(
                entries
                    .iter()
                    .map(|(k, v)| (map_key_string(k), value_to_json(v, &value_kind)))
                    .collect(),
            )
        }
    }
}

fn map_key_string(key: &MapKey) -> String {
    match key {
        MapKey::Bool(b) => b.to_string(),
        MapKey::I32(n) => n.to_string(),
        MapKey::I64(n) => n.to_string(),
        MapKey::U32(n) => n.to_string(),
        MapKey::U64(n) => n.to_string(),
        MapKey::String(s) => s.clone(),
    }
}

fn json_to_message(
    json: &Json,
    desc: &MessageDescriptor,
    depth: usize,
) -> Result<DynamicMessage, JsonError> {
    if depth > MAX_DEPTH {
        return Err(JsonError(format!("nested deeper than {MAX_DEPTH} levels")));
    }
    let Json::Object(object) = json else {
        return Err(JsonError(format!(
            "Expecting a JSON object for {}",
            desc.name()
        )));
    };
    let mut message = DynamicMessage::new(desc.clone());
    for field in desc.fields() {
        let Some(value) = object.get(field.name()) else {
            if field.cardinality() == Cardinality::Required {
                return Err(JsonError(format!(
                    "Missing required field '{}' in {}",
                    field.name(),
                    desc.full_name()
                )));
            }
            continue;
        };
        if value.is_null() {
            continue;
        }
        let parsed = if field.is_map() {
            json_to_map(value, &field, depth)?
        } else if field.is_list() {
            let Json::Array(items) = value else {
                return Err(JsonError(format!(
                    "Not expecting a JSON {} for repeated field '{}'",
                    json_kind(value),
                    field.name()
                )));
            };
            let items = items
                .iter()
                .map(|item| json_to_value(item, &field, &field.kind(), depth))
                .collect::<Result<Vec<_>, _>>()?;
            Value::List(items)
        } else {
            json_to_value(value, &field, &field.kind(), depth)?
        };
        message.set_field(&field, parsed);
    }
    Ok(message)
}

fn json_to_map(json: &Json, field: &FieldDescriptor, depth: usize) -> Result<Value, JsonError> {
    let Json::Object(object) = json else {
        return Err(JsonError(format!(
            "Expecting a JSON object for map field '{}'",
            field.name()
        )));
    };
    let Kind::Message(entry) = field.kind() else {
        return Err(JsonError(format!("'{}' is not a map", field.name())));
    };
    let key_field = entry.map_entry_key_field();
    let value_field = entry.map_entry_value_field();
    let mut map = std::collections::HashMap::new();
    for (key, value) in object {
        let key = match key_field.kind() {
            Kind::String => MapKey::String(key.clone()),
            _ => {
                return Err(JsonError(format!(
                    "map field '{}' with non-string keys is not supported",
                    field.name()
                )));
            }
        };
        let value = json_to_value(value, &value_field, &value_field.kind(), depth)?;
        map.insert(key, value);
    }
    Ok(Value::Map(map))
}

fn json_kind(json: &Json) -> &'static str {
    match json {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

fn json_to_value(
    json: &Json,
    field: &FieldDescriptor,
    kind: &Kind,
    depth: usize,
) -> Result<Value, JsonError> {
    let wrong = || {
        JsonError(format!(
            "Not expecting a JSON {} for field '{}'",
            json_kind(json),
            field.name()
        ))
    };
    let value = match kind {
        Kind::Bool => Value::Bool(json.as_bool().ok_or_else(wrong)?),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(
            integer(json)
                .and_then(|n| i32::try_from(n).ok())
                .ok_or_else(wrong)?,
        ),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(
            integer(json)
                .and_then(|n| i64::try_from(n).ok())
                .ok_or_else(wrong)?,
        ),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(
            integer(json)
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(wrong)?,
        ),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(
            integer(json)
                .and_then(|n| u64::try_from(n).ok())
                .ok_or_else(wrong)?,
        ),
        Kind::Double => Value::F64(float(json).ok_or_else(wrong)?),
        #[allow(
            clippy::cast_possible_truncation,
            reason = "a float field holds a double as Mesos's parser does: rounded"
        )]
        Kind::Float => Value::F32(float(json).ok_or_else(wrong)? as f32),
        Kind::String => Value::String(json.as_str().ok_or_else(wrong)?.to_string()),
        Kind::Bytes => {
            let text = json.as_str().ok_or_else(wrong)?;
            let bytes = BASE64.decode(text).map_err(|e| {
                JsonError(format!(
                    "Failed to base64 decode field '{}': {e}",
                    field.name()
                ))
            })?;
            Value::Bytes(bytes.into())
        }
        Kind::Enum(e) => {
            let name = json.as_str().ok_or_else(wrong)?;
            let value = e.get_value_by_name(name).ok_or_else(|| {
                JsonError(format!(
                    "Failed to find enum for '{name}' in field '{}'",
                    field.name()
                ))
            })?;
            Value::EnumNumber(value.number())
        }
        Kind::Message(m) => Value::Message(json_to_message(json, m, depth.saturating_add(1))?),
    };
    Ok(value)
}

/// An integer from a JSON number, or from a string of one (Mesos accepts both).
fn integer(json: &Json) -> Option<i128> {
    match json {
        Json::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from)),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn float(json: &Json) -> Option<f64> {
    match json {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmesos_proto::mesos::v1::scheduler::{Call, Event, call, event};
    use wasmesos_proto::mesos::v1::{CommandInfo, FrameworkId, FrameworkInfo};

    #[test]
    fn writes_snake_case_enum_names_and_declared_defaults() {
        let event = Event {
            r#type: Some(event::Type::Subscribed as i32),
            subscribed: Some(event::Subscribed {
                framework_id: FrameworkId { value: "f1".into() },
                heartbeat_interval_seconds: Some(15.0),
                ..Default::default()
            }),
            ..Default::default()
        };
        let json = to_json(&event).expect("json");
        assert_eq!(json["type"], "SUBSCRIBED");
        assert_eq!(json["subscribed"]["framework_id"]["value"], "f1");
        assert_eq!(json["subscribed"]["heartbeat_interval_seconds"], 15.0);
        let command = to_json(&CommandInfo::default()).expect("json");
        assert_eq!(command["shell"], true, "the declared default is written");
    }

    #[test]
    fn text_keeps_the_proto_field_order_as_mesos_writes_it() {
        use wasmesos_proto::mesos::v1::master::{Response, response};
        let health = Response {
            r#type: Some(response::Type::GetHealth as i32),
            get_health: Some(response::GetHealth { healthy: true }),
            ..Default::default()
        };
        assert_eq!(
            to_json_string(&health).expect("json"),
            r#"{"type":"GET_HEALTH","get_health":{"healthy":true}}"#
        );
        let event = Event {
            r#type: Some(event::Type::Heartbeat as i32),
            ..Default::default()
        };
        assert_eq!(
            to_json_string(&event).expect("json"),
            r#"{"type":"HEARTBEAT"}"#
        );
        // The same value as the map form.
        let command = CommandInfo {
            value: Some("a \"b\"".into()),
            ..Default::default()
        };
        let text: serde_json::Value =
            serde_json::from_str(&to_json_string(&command).expect("json")).expect("valid");
        assert_eq!(text, to_json(&command).expect("json"));
    }

    #[test]
    fn reads_a_subscribe_call_ignoring_unknown_keys() {
        let json = serde_json::json!({
            "type": "SUBSCRIBE",
            "subscribe": {"framework_info": {"user": "u", "name": "n", "roles": ["a"],
                "failover_timeout": 60, "capabilities": [{"type": "MULTI_ROLE"}]}},
            "surprise": 1
        });
        let call: Call = from_json(&json).expect("a call");
        assert_eq!(call.r#type, Some(call::Type::Subscribe as i32));
        let info: FrameworkInfo = call.subscribe.expect("subscribe").framework_info;
        assert_eq!(info.name, "n");
        assert_eq!(info.failover_timeout, Some(60.0));
        assert_eq!(info.roles, vec!["a".to_string()]);
    }

    #[test]
    fn refuses_missing_required_fields_bad_enums_and_wrong_types() {
        let missing = serde_json::json!({"type": "SUBSCRIBE", "subscribe": {}});
        let err = from_json::<Call>(&missing).expect_err("framework_info is required");
        assert!(err.0.contains("framework_info"), "{err}");
        let bad_enum = serde_json::json!({"type": "DANCE"});
        assert!(from_json::<Call>(&bad_enum).is_err());
        let wrong = serde_json::json!({"type": 7});
        assert!(from_json::<Call>(&wrong).is_err());
    }

    #[test]
    fn bytes_are_base64_and_64_bit_integers_numbers() {
        let call = Call {
            r#type: Some(call::Type::Message as i32),
            message: Some(call::Message {
                data: b"hi".to_vec(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let json = to_json(&call).expect("json");
        assert_eq!(json["message"]["data"], "aGk=");
        let back: Call = from_json(&json).expect("round trip");
        assert_eq!(back.message.expect("message").data, b"hi");
    }
}
