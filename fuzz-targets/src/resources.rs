//! Resources as strangers write them: the text syntax (`--resources`, `cpus(ads):2;mem:1GiB`),
//! sizes, wire `Resources` from agents and schedulers, and Mesos's JSON.

use prost::Message;
use wasmesos_allocator::{Resources, parse_size};
use wasmesos_master::fuzzing;
use wasmesos_proto::resources::{Amounts, resources_from_proto, resources_to_proto};
use wasmesos_proto::v1 as proto;

/// The first byte picks the reader; the rest is its input.
///
/// * 0: resource text (two of them, split at the first `\n`, are also added and compared);
/// * 1: a size (`512`, `1.5GiB`);
/// * 2: wire `Resources` (protobuf);
/// * 3: a JSON array of Mesos `Resource`s.
pub fn resources(data: &[u8]) {
    let Some((selector, rest)) = data.split_first() else {
        return;
    };
    match selector % 4 {
        0 => text(&String::from_utf8_lossy(rest)),
        1 => drop(parse_size(&String::from_utf8_lossy(rest))),
        2 => {
            if let Ok(wire) = proto::Resources::decode(rest) {
                wire_resources(&wire);
            }
        }
        _ => {
            if let Some(wire) = fuzzing::mesos_resources(rest) {
                wire_resources(&wire);
            }
        }
    }
}

fn text(text: &str) {
    let (first, second) = text.split_once('\n').unwrap_or((text, ""));
    let (Ok(a), Ok(b)) = (parsed(first), parsed(second)) else {
        return;
    };
    let mut sum = a.clone();
    sum.add(&b);
    assert!(
        sum.contains(&a) && sum.contains(&b),
        "{sum} holds {a} and {b}"
    );
    assert!(sum.checked_sub(&b).is_some(), "{sum} minus {b}");
}

/// `text` parsed, checked to read back from its own display and from the wire.
fn parsed(text: &str) -> Result<Resources, ()> {
    let model: Resources = text.parse().map_err(drop)?;
    let shown = model.to_string();
    match shown.parse::<Resources>() {
        Ok(again) => assert_eq!(again, model, "{text:?} shown as {shown:?}"),
        Err(err) => panic!("{text:?} shown as {shown:?}, which does not parse: {err}"),
    }
    let wire = resources_to_proto(&model);
    match resources_from_proto(Some(&wire), Amounts::NonNegative) {
        Ok(again) => assert_eq!(again, model, "{text:?} through the wire"),
        Err(err) => panic!("{text:?} on the wire does not read back: {err}"),
    }
    Ok(model)
}

fn wire_resources(wire: &proto::Resources) {
    for amounts in [Amounts::Positive, Amounts::NonNegative] {
        if let Ok(model) = resources_from_proto(Some(wire), amounts) {
            let again = resources_to_proto(&model);
            match resources_from_proto(Some(&again), Amounts::NonNegative) {
                Ok(back) => assert_eq!(back, model, "wire resources written back"),
                Err(err) => panic!("{model} written to the wire does not read back: {err}"),
            }
            let _ = model.reserved().quantities();
        }
    }
}
