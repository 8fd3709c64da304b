//! Mesos's JSON for its protobuf messages, which is not proto3 JSON (stout's `jsonify` and
//! `protobuf::parse`): field names as in the `.proto` (snake_case), enums by name, bytes as
//! base64, 64-bit integers as JSON numbers, and every unset optional field that declares a
//! default written with that default (`"shell": true`). Reading, keys the message does not
//! declare are ignored, a missing `required` field is an error, and so is a value of the
//! wrong type or an unknown enum name.
//!
//! Both directions walk the vendored Mesos descriptors
//! ([`wasmesos_proto::mesos::FILE_DESCRIPTOR_SET`]) straight against protobuf wire bytes:
//! writing reads the fields of a message's encoding in the `.proto`'s order, reading encodes
//! the JSON's fields and decodes the generated message from them. No dynamic message sits in
//! between (one cost a map per message and a second encoding, on every event and call).

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use prost::encoding::{WireType, decode_varint, encode_key, encode_varint};
use prost_reflect::{Cardinality, DescriptorPool, FieldDescriptor, Kind, MessageDescriptor, Value};
use serde_json::{Number, Value as Json};

/// Nesting deeper than this is refused: Mesos messages nest a handful of levels.
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
    wasmesos_proto::mesos::v1::TaskInfo => "mesos.v1.TaskInfo",
    wasmesos_proto::mesos::v1::MachineId => "mesos.v1.MachineID",
    wasmesos_proto::mesos::v1::maintenance::Schedule => "mesos.v1.maintenance.Schedule",
    wasmesos_proto::mesos::v1::maintenance::ClusterStatus => "mesos.v1.maintenance.ClusterStatus",
}

/// `message` as Mesos writes it, as a JSON value (objects sorted by key).
pub(crate) fn to_json<M: MesosMessage>(message: &M) -> Result<Json, JsonError> {
    let text = to_json_string(message)?;
    serde_json::from_str(&text).map_err(|e| JsonError(e.to_string()))
}

/// Parses `json` as the Mesos message `M`, as Mesos would.
pub(crate) fn from_json<M: MesosMessage>(json: &Json) -> Result<M, JsonError> {
    let desc = descriptor(M::NAME)?;
    let mut wire = Vec::new();
    json_to_wire(json, &desc, 0, &mut wire)?;
    M::decode(wire.as_slice()).map_err(|e| JsonError(e.to_string()))
}

/// `message` as Mesos writes it, as text with the fields in the `.proto`'s order (`type`
/// first), as stout's `jsonify` writes them.
pub(crate) fn to_json_string<M: MesosMessage>(message: &M) -> Result<String, JsonError> {
    let desc = descriptor(M::NAME)?;
    let wire = message.encode_to_vec();
    let mut out = Vec::with_capacity(wire.len().saturating_mul(2).saturating_add(16));
    write_message(&wire, &desc, 0, &mut out)?;
    String::from_utf8(out).map_err(|e| JsonError(e.to_string()))
}

fn malformed(err: impl std::fmt::Display) -> JsonError {
    JsonError(format!("malformed protobuf: {err}"))
}

/// One occurrence of a field in a message's encoding.
#[derive(Clone, Copy)]
enum Raw<'a> {
    Varint(u64),
    Fixed64(u64),
    Fixed32(u32),
    Bytes(&'a [u8]),
}

/// The fields of one message's encoding, in wire order.
fn scan(mut bytes: &[u8]) -> Result<Vec<(u32, Raw<'_>)>, JsonError> {
    let mut fields = Vec::new();
    while !bytes.is_empty() {
        let key = decode_varint(&mut bytes).map_err(malformed)?;
        let number = u32::try_from(key >> 3).map_err(malformed)?;
        let raw = match key & 7 {
            0 => Raw::Varint(decode_varint(&mut bytes).map_err(malformed)?),
            1 => {
                let (head, rest) = bytes
                    .split_at_checked(8)
                    .ok_or_else(|| malformed("short"))?;
                bytes = rest;
                Raw::Fixed64(u64::from_le_bytes(head.try_into().map_err(malformed)?))
            }
            2 => {
                let len = decode_varint(&mut bytes).map_err(malformed)?;
                let len = usize::try_from(len).map_err(malformed)?;
                let (head, rest) = bytes
                    .split_at_checked(len)
                    .ok_or_else(|| malformed("short"))?;
                bytes = rest;
                Raw::Bytes(head)
            }
            5 => {
                let (head, rest) = bytes
                    .split_at_checked(4)
                    .ok_or_else(|| malformed("short"))?;
                bytes = rest;
                Raw::Fixed32(u32::from_le_bytes(head.try_into().map_err(malformed)?))
            }
            other => return Err(malformed(format!("wire type {other}"))),
        };
        fields.push((number, raw));
    }
    Ok(fields)
}

fn push_json<T: serde::Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), JsonError> {
    serde_json::to_writer(out, value).map_err(|e| JsonError(e.to_string()))
}

fn push_float(value: f64, out: &mut Vec<u8>) -> Result<(), JsonError> {
    match Number::from_f64(value) {
        Some(number) => push_json(&number, out),
        None => {
            out.extend_from_slice(b"null");
            Ok(())
        }
    }
}

/// Writes the message encoded in `wire`: the fields set, unset optional ones with a declared
/// default, and unset required scalars with theirs (prost leaves a map's value out when it
/// is the default message, `Scalar { value: 0 }` among them), in the `.proto`'s order.
fn write_message(
    wire: &[u8],
    desc: &MessageDescriptor,
    depth: usize,
    out: &mut Vec<u8>,
) -> Result<(), JsonError> {
    if depth > MAX_DEPTH {
        return Err(JsonError(format!("nested deeper than {MAX_DEPTH} levels")));
    }
    let raw = scan(wire)?;
    out.push(b'{');
    let mut first = true;
    for field in desc.fields() {
        let number = field.number();
        let mut occurrences = raw.iter().filter(|(n, _)| *n == number).map(|(_, r)| *r);
        let kind = field.kind();
        let mut name = |out: &mut Vec<u8>| {
            if !first {
                out.push(b',');
            }
            first = false;
            // Field names are identifiers: nothing to escape.
            out.push(b'"');
            out.extend_from_slice(field.name().as_bytes());
            out.extend_from_slice(b"\":");
        };
        if field.is_map() {
            let entries: Vec<Raw<'_>> = occurrences.collect();
            if entries.is_empty() {
                continue;
            }
            name(out);
            write_map(&entries, &kind, depth, out)?;
        } else if field.is_list() {
            let Some(head) = occurrences.next() else {
                continue;
            };
            name(out);
            out.push(b'[');
            let mut item_first = true;
            for item in std::iter::once(head).chain(occurrences) {
                write_items(item, &kind, depth, &mut item_first, out)?;
            }
            out.push(b']');
        } else if let Some(last) = occurrences.next_back() {
            name(out);
            write_value(last, &kind, depth, out)?;
        } else if (has_declared_default(&field) || is_required_scalar(&field))
            && !is_deprecated(&field)
        {
            name(out);
            write_default(&Value::default_value_for_field(&field), &kind, out)?;
        }
    }
    out.push(b'}');
    Ok(())
}

/// One occurrence of a repeated field: one item, or a packed run of scalars.
fn write_items(
    raw: Raw<'_>,
    kind: &Kind,
    depth: usize,
    first: &mut bool,
    out: &mut Vec<u8>,
) -> Result<(), JsonError> {
    let mut item = |raw: Raw<'_>, out: &mut Vec<u8>| {
        if !*first {
            out.push(b',');
        }
        *first = false;
        write_value(raw, kind, depth, out)
    };
    let Raw::Bytes(mut packed) = raw else {
        return item(raw, out);
    };
    let wire = match kind {
        Kind::String | Kind::Bytes | Kind::Message(_) => return item(raw, out),
        Kind::Double | Kind::Fixed64 | Kind::Sfixed64 => WireType::SixtyFourBit,
        Kind::Float | Kind::Fixed32 | Kind::Sfixed32 => WireType::ThirtyTwoBit,
        _ => WireType::Varint,
    };
    while !packed.is_empty() {
        let one = match wire {
            WireType::SixtyFourBit => {
                let (head, rest) = packed
                    .split_at_checked(8)
                    .ok_or_else(|| malformed("short"))?;
                packed = rest;
                Raw::Fixed64(u64::from_le_bytes(head.try_into().map_err(malformed)?))
            }
            WireType::ThirtyTwoBit => {
                let (head, rest) = packed
                    .split_at_checked(4)
                    .ok_or_else(|| malformed("short"))?;
                packed = rest;
                Raw::Fixed32(u32::from_le_bytes(head.try_into().map_err(malformed)?))
            }
            _ => Raw::Varint(decode_varint(&mut packed).map_err(malformed)?),
        };
        item(one, out)?;
    }
    Ok(())
}

/// A map field's entries, sorted by key so that the same message always reads the same; the
/// last entry of a key wins, as in protobuf.
fn write_map(
    entries: &[Raw<'_>],
    kind: &Kind,
    depth: usize,
    out: &mut Vec<u8>,
) -> Result<(), JsonError> {
    let Kind::Message(entry) = kind else {
        return Err(malformed("a map whose entries are not messages"));
    };
    let (key_kind, value_kind) = (
        entry.map_entry_key_field().kind(),
        entry.map_entry_value_field().kind(),
    );
    let mut pairs: Vec<(String, Option<Raw<'_>>)> = Vec::with_capacity(entries.len());
    for raw in entries {
        let Raw::Bytes(bytes) = raw else {
            return Err(malformed("a map entry not length-delimited"));
        };
        let fields = scan(bytes)?;
        let key = fields.iter().rev().find(|(n, _)| *n == 1).map(|(_, r)| *r);
        let value = fields.iter().rev().find(|(n, _)| *n == 2).map(|(_, r)| *r);
        let mut text = Vec::new();
        match key {
            Some(key) => write_value(key, &key_kind, depth, &mut text)?,
            None => write_default(&Value::default_value(&key_kind), &key_kind, &mut text)?,
        }
        // Keys are written as JSON strings: a string key is one already, a number is quoted.
        let key: String = match serde_json::from_slice::<Json>(&text) {
            Ok(Json::String(s)) => s,
            Ok(other) => other.to_string(),
            Err(e) => return Err(JsonError(e.to_string())),
        };
        pairs.push((key, value));
    }
    pairs.reverse();
    pairs.sort_by(|a, b| a.0.cmp(&b.0)); // stable: the last entry of a key comes first
    pairs.dedup_by(|later, earlier| later.0 == earlier.0);
    out.push(b'{');
    for (i, (key, value)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_json(&key, out)?;
        out.push(b':');
        match value {
            Some(value) => write_value(value, &value_kind, depth, out)?,
            // The default message: its required scalars are written, as Mesos reads them.
            None => match &value_kind {
                Kind::Message(desc) => write_message(&[], desc, depth.saturating_add(1), out)?,
                _ => write_default(&Value::default_value(&value_kind), &value_kind, out)?,
            },
        }
    }
    out.push(b'}');
    Ok(())
}

#[allow(
    clippy::cast_possible_truncation,
    reason = "protobuf's own narrowing: a 32-bit field travels in a 64-bit varint"
)]
fn write_value(
    raw: Raw<'_>,
    kind: &Kind,
    depth: usize,
    out: &mut Vec<u8>,
) -> Result<(), JsonError> {
    let wrong = || malformed(format!("a {kind:?} field with an unexpected wire type"));
    match (kind, raw) {
        (Kind::Bool, Raw::Varint(v)) => push_json(&(v != 0), out),
        (Kind::Int32, Raw::Varint(v)) => push_json(&(v as i32), out),
        (Kind::Int64, Raw::Varint(v)) => push_json(&v.cast_signed(), out),
        (Kind::Uint32, Raw::Varint(v)) => push_json(&(v as u32), out),
        (Kind::Uint64, Raw::Varint(v)) => push_json(&v, out),
        (Kind::Sint32, Raw::Varint(v)) => push_json(&zigzag((v as u32).into()), out),
        (Kind::Sint64, Raw::Varint(v)) => push_json(&zigzag(v), out),
        (Kind::Fixed32, Raw::Fixed32(v)) => push_json(&v, out),
        (Kind::Sfixed32, Raw::Fixed32(v)) => push_json(&v.cast_signed(), out),
        (Kind::Fixed64, Raw::Fixed64(v)) => push_json(&v, out),
        (Kind::Sfixed64, Raw::Fixed64(v)) => push_json(&v.cast_signed(), out),
        (Kind::Float, Raw::Fixed32(v)) => push_float(f64::from(f32::from_bits(v)), out),
        (Kind::Double, Raw::Fixed64(v)) => push_float(f64::from_bits(v), out),
        (Kind::String, Raw::Bytes(b)) => push_json(std::str::from_utf8(b).map_err(malformed)?, out),
        (Kind::Bytes, Raw::Bytes(b)) => push_json(&BASE64.encode(b), out),
        (Kind::Enum(e), Raw::Varint(v)) => {
            let number = v as i32;
            match e.get_value(number) {
                Some(value) => push_json(value.name(), out),
                None => push_json(&number, out),
            }
        }
        (Kind::Message(m), Raw::Bytes(b)) => write_message(b, m, depth.saturating_add(1), out),
        _ => Err(wrong()),
    }
}

/// A signed integer zigzag-encoded, as `sint32` and `sint64` go on the wire.
fn zigzag_encode(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)).cast_unsigned()
}

/// A zigzag-encoded signed integer.
fn zigzag(v: u64) -> i64 {
    (v >> 1).cast_signed() ^ (v & 1).cast_signed().wrapping_neg()
}

/// The default an unset field reads as (the declared one, or the type's).
fn write_default(value: &Value, kind: &Kind, out: &mut Vec<u8>) -> Result<(), JsonError> {
    match value {
        Value::Bool(b) => push_json(b, out),
        Value::I32(n) => push_json(n, out),
        Value::I64(n) => push_json(n, out),
        Value::U32(n) => push_json(n, out),
        Value::U64(n) => push_json(n, out),
        Value::F32(n) => push_float(f64::from(*n), out),
        Value::F64(n) => push_float(*n, out),
        Value::String(s) => push_json(s, out),
        Value::Bytes(b) => push_json(&BASE64.encode(b), out),
        Value::EnumNumber(n) => match kind {
            Kind::Enum(e) => match e.get_value(*n) {
                Some(value) => push_json(value.name(), out),
                None => push_json(n, out),
            },
            _ => push_json(n, out),
        },
        Value::Message(_) | Value::List(_) | Value::Map(_) => {
            out.extend_from_slice(b"{}");
            Ok(())
        }
    }
}

fn has_declared_default(field: &FieldDescriptor) -> bool {
    field.field_descriptor_proto().default_value.is_some()
}

fn is_required_scalar(field: &FieldDescriptor) -> bool {
    field.cardinality() == Cardinality::Required && !matches!(field.kind(), Kind::Message(_))
}

fn is_deprecated(field: &FieldDescriptor) -> bool {
    field
        .field_descriptor_proto()
        .options
        .as_ref()
        .and_then(|o| o.deprecated)
        .unwrap_or(false)
}

/// Encodes the JSON object `json` as message `desc`'s protobuf fields, checking it as
/// Mesos's parser does.
fn json_to_wire(
    json: &Json,
    desc: &MessageDescriptor,
    depth: usize,
    out: &mut Vec<u8>,
) -> Result<(), JsonError> {
    if depth > MAX_DEPTH {
        return Err(JsonError(format!("nested deeper than {MAX_DEPTH} levels")));
    }
    let Json::Object(object) = json else {
        return Err(JsonError(format!(
            "Expecting a JSON object for {}",
            desc.name()
        )));
    };
    for field in desc.fields() {
        if field.cardinality() == Cardinality::Required && !object.contains_key(field.name()) {
            return Err(JsonError(format!(
                "Missing required field '{}' in {}",
                field.name(),
                desc.full_name()
            )));
        }
    }
    // The object's keys, not the message's fields: a call sets a few of many fields.
    for (key, value) in object {
        let Some(field) = desc.get_field_by_name(key) else {
            continue; // keys the message does not declare are ignored, as Mesos does
        };
        if value.is_null() {
            continue;
        }
        let kind = field.kind();
        if field.is_map() {
            map_to_wire(value, &field, &kind, depth, out)?;
        } else if field.is_list() {
            let Json::Array(items) = value else {
                return Err(JsonError(format!(
                    "Not expecting a JSON {} for repeated field '{}'",
                    json_kind(value),
                    field.name()
                )));
            };
            for item in items {
                value_to_wire(item, &field, field.number(), &kind, depth, out)?;
            }
        } else {
            value_to_wire(value, &field, field.number(), &kind, depth, out)?;
        }
    }
    Ok(())
}

fn map_to_wire(
    json: &Json,
    field: &FieldDescriptor,
    kind: &Kind,
    depth: usize,
    out: &mut Vec<u8>,
) -> Result<(), JsonError> {
    let Json::Object(object) = json else {
        return Err(JsonError(format!(
            "Expecting a JSON object for map field '{}'",
            field.name()
        )));
    };
    let Kind::Message(entry) = kind else {
        return Err(JsonError(format!("'{}' is not a map", field.name())));
    };
    let key_field = entry.map_entry_key_field();
    let value_field = entry.map_entry_value_field();
    let value_kind = value_field.kind();
    for (key, value) in object {
        if !matches!(key_field.kind(), Kind::String) {
            return Err(JsonError(format!(
                "map field '{}' with non-string keys is not supported",
                field.name()
            )));
        }
        let mut pair = Vec::new();
        bytes_to_wire(1, key.as_bytes(), &mut pair);
        value_to_wire(value, &value_field, 2, &value_kind, depth, &mut pair)?;
        bytes_to_wire(field.number(), &pair, out);
    }
    Ok(())
}

fn bytes_to_wire(number: u32, bytes: &[u8], out: &mut Vec<u8>) {
    encode_key(number, WireType::LengthDelimited, out);
    encode_varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

fn varint_to_wire(number: u32, value: u64, out: &mut Vec<u8>) {
    encode_key(number, WireType::Varint, out);
    encode_varint(value, out);
}

fn fixed32_to_wire(number: u32, value: u32, out: &mut Vec<u8>) {
    encode_key(number, WireType::ThirtyTwoBit, out);
    out.extend_from_slice(&value.to_le_bytes());
}

fn fixed64_to_wire(number: u32, value: u64, out: &mut Vec<u8>) {
    encode_key(number, WireType::SixtyFourBit, out);
    out.extend_from_slice(&value.to_le_bytes());
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

/// Encodes one JSON value of `field` (of `kind`) as protobuf field `number`.
fn value_to_wire(
    json: &Json,
    field: &FieldDescriptor,
    number: u32,
    kind: &Kind,
    depth: usize,
    out: &mut Vec<u8>,
) -> Result<(), JsonError> {
    let wrong = || {
        JsonError(format!(
            "Not expecting a JSON {} for field '{}'",
            json_kind(json),
            field.name()
        ))
    };
    let int = |json: &Json| integer(json).ok_or_else(wrong);
    match kind {
        Kind::Bool => varint_to_wire(number, u64::from(json.as_bool().ok_or_else(wrong)?), out),
        Kind::Int32 => {
            let n = i32::try_from(int(json)?).map_err(|_| wrong())?;
            varint_to_wire(number, i64::from(n).cast_unsigned(), out);
        }
        Kind::Sint32 => {
            let n = i32::try_from(int(json)?).map_err(|_| wrong())?;
            varint_to_wire(number, zigzag_encode(i64::from(n)), out);
        }
        Kind::Sfixed32 => {
            let n = i32::try_from(int(json)?).map_err(|_| wrong())?;
            fixed32_to_wire(number, n.cast_unsigned(), out);
        }
        Kind::Int64 => {
            let n = i64::try_from(int(json)?).map_err(|_| wrong())?;
            varint_to_wire(number, n.cast_unsigned(), out);
        }
        Kind::Sint64 => {
            let n = i64::try_from(int(json)?).map_err(|_| wrong())?;
            varint_to_wire(number, zigzag_encode(n), out);
        }
        Kind::Sfixed64 => {
            let n = i64::try_from(int(json)?).map_err(|_| wrong())?;
            fixed64_to_wire(number, n.cast_unsigned(), out);
        }
        Kind::Uint32 => {
            let n = u32::try_from(int(json)?).map_err(|_| wrong())?;
            varint_to_wire(number, u64::from(n), out);
        }
        Kind::Fixed32 => {
            let n = u32::try_from(int(json)?).map_err(|_| wrong())?;
            fixed32_to_wire(number, n, out);
        }
        Kind::Uint64 => {
            let n = u64::try_from(int(json)?).map_err(|_| wrong())?;
            varint_to_wire(number, n, out);
        }
        Kind::Fixed64 => {
            let n = u64::try_from(int(json)?).map_err(|_| wrong())?;
            fixed64_to_wire(number, n, out);
        }
        Kind::Double => fixed64_to_wire(number, float(json).ok_or_else(wrong)?.to_bits(), out),
        #[allow(
            clippy::cast_possible_truncation,
            reason = "a float field holds a double as Mesos's parser does: rounded"
        )]
        Kind::Float => {
            let value = float(json).ok_or_else(wrong)? as f32;
            fixed32_to_wire(number, value.to_bits(), out);
        }
        Kind::String => bytes_to_wire(number, json.as_str().ok_or_else(wrong)?.as_bytes(), out),
        Kind::Bytes => {
            let text = json.as_str().ok_or_else(wrong)?;
            let bytes = BASE64.decode(text).map_err(|e| {
                JsonError(format!(
                    "Failed to base64 decode field '{}': {e}",
                    field.name()
                ))
            })?;
            bytes_to_wire(number, &bytes, out);
        }
        Kind::Enum(e) => {
            let name = json.as_str().ok_or_else(wrong)?;
            let value = e.get_value_by_name(name).ok_or_else(|| {
                JsonError(format!(
                    "Failed to find enum for '{name}' in field '{}'",
                    field.name()
                ))
            })?;
            varint_to_wire(number, i64::from(value.number()).cast_unsigned(), out);
        }
        Kind::Message(m) => {
            let mut nested = Vec::new();
            json_to_wire(json, m, depth.saturating_add(1), &mut nested)?;
            bytes_to_wire(number, &nested, out);
        }
    }
    Ok(())
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
    fn maps_negative_numbers_and_nested_lists_survive_a_round_trip() {
        use wasmesos_proto::mesos::v1::{
            AgentId, CommandInfo, Labels, Resource, TaskId, TaskInfo, Value as MesosValue,
            check_status_info, value,
        };
        let scalar = |value| value::Scalar { value };
        let task = TaskInfo {
            name: "t \"quoted\" \u{e9}".into(),
            task_id: TaskId { value: "t1".into() },
            agent_id: AgentId { value: "a1".into() },
            resources: vec![Resource {
                name: "ports".into(),
                r#type: MesosValue::default().r#type,
                ranges: Some(value::Ranges {
                    range: vec![
                        value::Range {
                            begin: 31000,
                            end: 31001,
                        },
                        value::Range {
                            begin: u64::MAX - 1,
                            end: u64::MAX,
                        },
                    ],
                }),
                ..Default::default()
            }],
            command: Some(CommandInfo {
                arguments: vec!["a".into(), "b".into()],
                ..Default::default()
            }),
            labels: Some(Labels::default()),
            limits: [
                ("cpus".to_string(), scalar(1.5)),
                ("mem".to_string(), scalar(0.25)),
            ]
            .into_iter()
            .collect(),
            data: Some(vec![0, 255, 7]),
            ..Default::default()
        };
        let text = to_json_string(&task).expect("json");
        let json: Json = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(json["limits"]["mem"]["value"], 0.25);
        assert_eq!(json["resources"][0]["ranges"]["range"][1]["end"], u64::MAX);
        assert_eq!(
            json["command"]["shell"], true,
            "the declared default is written"
        );
        assert_eq!(json["data"], "AP8H");
        let back: TaskInfo = from_json(&json).expect("round trip");
        assert_eq!(back.limits, task.limits);
        assert_eq!(back.resources, task.resources);
        assert_eq!(back.name, task.name);
        assert_eq!(back.data, task.data);
        assert_eq!(back.command.expect("command").arguments, ["a", "b"]);
        // A negative int32 travels as a ten-byte varint and reads back negative.
        let check = check_status_info::Command {
            exit_code: Some(-3),
        };
        let status = wasmesos_proto::mesos::v1::CheckStatusInfo {
            command: Some(check),
            ..Default::default()
        };
        let mut wire = Vec::new();
        let desc = descriptor("mesos.v1.CheckStatusInfo").expect("descriptor");
        let mut out = Vec::new();
        prost::Message::encode(&status, &mut wire).expect("encode");
        write_message(&wire, &desc, 0, &mut out).expect("write");
        let json: Json = serde_json::from_slice(&out).expect("valid");
        assert_eq!(json["command"]["exit_code"], -3);
    }

    #[test]
    fn a_map_value_that_is_the_default_message_reads_back() {
        // Found by the `http_decoders` fuzz target: prost leaves a map's value out when it
        // is the default message, and `"cpus":{}` lacks Scalar's required `value`.
        let json = serde_json::json!({"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [
            {"role": "eng", "guarantees": {"cpus": {"value": 0}}}]}});
        let call: wasmesos_proto::mesos::v1::master::Call = from_json(&json).expect("a call");
        let text = to_json_string(&call).expect("written");
        assert!(text.contains(r#""cpus":{"value":0.0}"#), "{text}");
        let again: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        let back: wasmesos_proto::mesos::v1::master::Call = from_json(&again).expect("reads back");
        assert_eq!(back, call);
    }

    #[test]
    fn malformed_wire_bytes_are_an_error_not_a_panic() {
        let desc = descriptor("mesos.v1.TaskStatus").expect("descriptor");
        for wire in [
            &[0x0a, 0x05, b'a'][..],
            &[0x0b][..],
            &[0x09, 1, 2][..],
            &[0xff; 11][..],
        ] {
            let mut out = Vec::new();
            assert!(write_message(wire, &desc, 0, &mut out).is_err(), "{wire:?}");
        }
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
