//! The resource model: syntax, units, arithmetic.
#![allow(clippy::unwrap_used)] // a test that panics on a broken expectation is the point

use wasmesos_allocator::{Error, Resources};

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
const MIB: f64 = 1024.0 * 1024.0;

fn parse(text: &str) -> Result<Resources, Error> {
    text.parse()
}

#[test]
fn parses_the_agent_syntax_with_units_and_reservations() {
    let r = parse("cpus:4;mem:8GiB;disk:20GiB;cpus(ads):2;gpus:1").unwrap();
    assert_eq!(r.get("cpus"), 6.0);
    assert_eq!(r.get_unreserved("cpus"), 4.0);
    assert_eq!(r.get_reserved("cpus", "ads"), 2.0);
    assert_eq!(r.get("mem"), 8.0 * GIB);
    assert_eq!(r.get("disk"), 20.0 * GIB);
    assert_eq!(r.get("gpus"), 1.0);
    assert_eq!(r.names(), vec!["cpus", "disk", "gpus", "mem"]);
}

#[test]
fn plain_memory_numbers_are_mebibytes_like_mesos() {
    let r = parse("mem:1024;disk:512B").unwrap();
    assert_eq!(r.get("mem"), 1024.0 * MIB);
    assert_eq!(r.get("disk"), 512.0);
}

#[test]
fn byte_units_match_the_agent_flags() {
    let r = parse("mem:2GB;disk:1.5g").unwrap();
    assert_eq!(r.get("mem"), 2e9);
    assert_eq!(r.get("disk"), 1.5 * GIB);
    assert_eq!(parse("mem:3kib").unwrap().get("mem"), 3072.0);
    assert!(parse("cpus:2GiB").is_err(), "only mem and disk take units");
}

#[test]
fn a_size_ending_in_a_wide_character_is_refused_not_a_panic() {
    // Found by the `resources` fuzz target: the unit was split one byte after the last
    // non-letter, inside a multi-byte character.
    assert!(wasmesos_allocator::parse_size("20G\u{fffd}").is_err());
    assert!(wasmesos_allocator::parse_size("1\u{e9}GiB").is_err());
    assert!(parse("mem:20G\u{fffd}").is_err());
}

#[test]
fn display_round_trips_exactly() {
    for text in [
        "cpus:0.5;cpus(eng/backend):2;mem:1536MiB;gpus:3",
        "disk:1B;mem:1KiB",
        "cpus:0.001;mem:3TiB",
    ] {
        let r = parse(text).unwrap();
        let again = parse(&r.to_string()).unwrap();
        assert_eq!(r, again, "{text} -> {r}");
    }
    assert_eq!(parse("mem:1024").unwrap().to_string(), "mem:1GiB");
    assert_eq!(
        parse(" cpus : 1.250 ; cpus(*):1 ").unwrap().to_string(),
        "cpus:2.25"
    );
}

#[test]
fn serde_uses_the_string_form() {
    let r = parse("cpus:2;mem(a):1GiB").unwrap();
    let json = serde_json::to_string(&r).unwrap();
    assert_eq!(json, "\"cpus:2;mem(a):1GiB\"");
    let back: Resources = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r);
    assert!(serde_json::from_str::<Resources>("\"cpus:-1\"").is_err());
}

#[test]
fn rejects_bad_input_with_a_reason() {
    for bad in [
        "cpus",
        "cpus:-1",
        "cpus:abc",
        "cpus:NaN",
        "cpus:inf",
        "mem:5XB",
        "mem:GiB",
        "ports:[32000-31000]",
        "ports:[31000-32000",
        "ports:[a-b]",
        "ports:[-1-5]",
        "ports:[1-99999999999999999999]",
        "ports:[31000-32000];ports:5",
        "ports:[1-2];ports(a):{x}",
        "zones:{a,b",
        "zones:{a b}",
        "cp us:1",
        ":1",
        "cpus(a b):1",
        "cpus(/a):1",
        "cpus(a/../b):1",
        "cpus(a:1",
        "cpus:1e300",
    ] {
        let err = parse(bad).expect_err(bad);
        assert!(
            matches!(err, Error::InvalidResources(_) | Error::InvalidRole { .. }),
            "{bad}: {err}"
        );
    }
}

#[test]
fn ranges_and_sets_parse_display_and_round_trip() {
    let r =
        parse("cpus:4;ports:[31000-31005, 32000-32010];zones:{b,a,b};ports(web):[80-80]").unwrap();
    assert_eq!(
        r.to_string(),
        "cpus:4;ports:[31000-31005, 32000-32010];ports(web):[80-80];zones:{a, b}"
    );
    assert_eq!(parse(&r.to_string()).unwrap(), r);
    assert_eq!(r.ranges("ports").count(), 6 + 11 + 1);
    assert_eq!(r.set("zones").iter().collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(r.get("cpus"), 4.0, "scalars ignore ranges");
    // Overlapping and adjacent ranges coalesce; a bare value is a one-value range.
    assert_eq!(
        parse("ports:[5-9,1-4,20,21]").unwrap().to_string(),
        "ports:[1-9, 20-21]"
    );
    assert!(parse("ports:[]").unwrap().is_empty());
    let json = serde_json::to_string(&r).unwrap();
    assert_eq!(serde_json::from_str::<Resources>(&json).unwrap(), r);
}

#[test]
fn ranges_arithmetic_is_exact() {
    let offer = parse("cpus:2;ports:[31000-31009]").unwrap();
    let task = parse("cpus:1;ports:[31002-31003]").unwrap();
    let rest = offer.checked_sub(&task).unwrap();
    assert_eq!(rest.to_string(), "cpus:1;ports:[31000-31001, 31004-31009]");
    assert!(rest.checked_sub(&task).is_none(), "the same ports twice");
    assert!(!offer.contains(&parse("ports:[31009-31010]").unwrap()));
    assert!(!offer.contains(&parse("ports(a):[31000-31000]").unwrap()));
    let mut back = rest.clone();
    back.add(&task);
    assert_eq!(back, offer);
    let sets = parse("zones:{a,b,c}").unwrap();
    assert_eq!(
        sets.checked_sub(&parse("zones:{b}").unwrap())
            .unwrap()
            .to_string(),
        "zones:{a, c}"
    );
    assert!(sets.checked_sub(&parse("zones:{d}").unwrap()).is_none());
}

#[test]
fn too_many_ranges_or_items_are_refused() {
    let many = |n: u64, open: &str, close: &str, item: &dyn Fn(u64) -> String| {
        let items: Vec<String> = (0..n).map(item).collect();
        format!("x:{open}{}{close}", items.join(","))
    };
    let ranges = |i: u64| format!("{}-{}", i * 3, i * 3);
    let items = |i: u64| format!("i{i}");
    assert!(parse(&many(1024, "[", "]", &ranges)).is_ok());
    let err = parse(&many(1025, "[", "]", &ranges)).unwrap_err();
    assert!(err.to_string().contains("more than 1024"), "{err}");
    assert!(parse(&many(1024, "{", "}", &items)).is_ok());
    assert!(parse(&many(1025, "{", "}", &items)).is_err());
    // Entries of one name merge; the merged entry is bounded too.
    let half = |from: u64| {
        let items: Vec<String> = (from..from + 600).map(ranges).collect();
        format!("x:[{}]", items.join(","))
    };
    assert!(parse(&format!("{};{}", half(0), half(600))).is_err());
}

#[test]
fn arithmetic_is_exact_and_respects_reservations() {
    let total = parse("cpus:4;cpus(a):2;mem:1GiB").unwrap();
    let part = parse("cpus:0.1;mem:100MiB").unwrap();
    let mut sum = Resources::new();
    for _ in 0..10 {
        sum.add(&part);
    }
    assert_eq!(sum.get("cpus"), 1.0, "ten tenths make exactly one");
    assert!(total.contains(&parse("cpus:4;cpus(a):2").unwrap()));
    assert!(
        !total.contains(&parse("cpus:5").unwrap()),
        "reserved cpus are not unreserved"
    );
    assert!(!total.contains(&parse("cpus(b):1").unwrap()));
    let rest = total
        .checked_sub(&parse("cpus:4;mem:1GiB").unwrap())
        .unwrap();
    assert_eq!(rest, parse("cpus(a):2").unwrap());
    assert!(total.checked_sub(&parse("mem:2GiB").unwrap()).is_none());
    assert_eq!(total.quantities(), parse("cpus:6;mem:1GiB").unwrap());
    assert_eq!(
        parse("cpus:1;mem:1GiB")
            .unwrap()
            .reserve_for("ads")
            .unwrap(),
        parse("cpus(ads):1;mem(ads):1GiB").unwrap()
    );
}

#[test]
fn builders_validate_like_the_parser() {
    let r = Resources::scalar("cpus", 1.5)
        .and_then(|r| r.with("mem", GIB))
        .and_then(|r| r.with_reserved("gpus", "ml", 2.0))
        .unwrap();
    assert_eq!(r.to_string(), "cpus:1.5;gpus(ml):2;mem:1GiB");
    assert!(Resources::scalar("cpus", -0.5).is_err());
    assert!(Resources::scalar("cpus", f64::NAN).is_err());
    assert!(Resources::new().with_reserved("cpus", "a//b", 1.0).is_err());
}

mod generated {
    use proptest::prelude::*;
    use wasmesos_allocator::Resources;

    fn ranges_entry() -> impl Strategy<Value = String> {
        let role = prop::sample::select(vec!["", "(a)"]);
        let spans = prop::collection::vec((0u64..200, 0u64..20), 1..6);
        (role, spans).prop_map(|(role, spans)| {
            let spans: Vec<String> = spans
                .iter()
                .map(|(begin, len)| format!("{}-{}", 31000 + begin, 31000 + begin + len))
                .collect();
            format!("ports{role}:[{}]", spans.join(","))
        })
    }

    fn any_entry() -> impl Strategy<Value = String> {
        prop_oneof![3 => entry(), 1 => ranges_entry()]
    }

    fn entry() -> impl Strategy<Value = String> {
        let name = prop::sample::select(vec!["cpus", "mem", "disk", "gpus", "ports_x"]);
        let role = prop::sample::select(vec!["", "(*)", "(a)", "(a/b)", "(ml-team)"]);
        let unit = prop::sample::select(vec!["", "B", "KiB", "MiB", "GiB", "GB", "k"]);
        (name, role, 0u32..100_000, unit).prop_map(|(name, role, amount, unit)| {
            let unit = if matches!(name, "mem" | "disk") {
                unit
            } else {
                ""
            };
            format!("{name}{role}:{}{unit}", f64::from(amount) / 8.0)
        })
    }

    proptest! {
        #[test]
        fn parsing_never_panics(text in ".{0,64}") {
            let _ = text.parse::<Resources>();
        }

        #[test]
        fn range_arithmetic_agrees_with_value_sets(
            a in prop::collection::vec(0u64..300, 0..40),
            b in prop::collection::vec(0u64..300, 0..40),
        ) {
            use std::collections::BTreeSet;
            use wasmesos_allocator::Ranges;
            let (sa, sb): (BTreeSet<u64>, BTreeSet<u64>) =
                (a.iter().copied().collect(), b.iter().copied().collect());
            let (ra, rb) = (Ranges::from_values(a), Ranges::from_values(b));
            prop_assert_eq!(ra.values().collect::<BTreeSet<_>>(), sa.clone());
            let diff: BTreeSet<u64> = sa.difference(&sb).copied().collect();
            prop_assert_eq!(ra.difference(&rb).values().collect::<BTreeSet<_>>(), diff);
            let mut union = ra.clone();
            union.add(&rb);
            let expected: BTreeSet<u64> = sa.union(&sb).copied().collect();
            prop_assert_eq!(union.values().collect::<BTreeSet<_>>(), expected);
            prop_assert_eq!(ra.contains(&rb), sb.is_subset(&sa));
            prop_assert_eq!(Ranges::from_values(union.values()), union);
        }

        #[test]
        fn display_round_trips(entries in prop::collection::vec(any_entry(), 0..8)) {
            let text = entries.join(";");
            let parsed: Resources = text.parse().unwrap();
            let again: Resources = parsed.to_string().parse().unwrap();
            prop_assert_eq!(&parsed, &again);
            let scalars = parsed.scalars();
            let mut doubled = scalars.clone();
            doubled.add(&scalars);
            prop_assert_eq!(doubled.checked_sub(&scalars), Some(scalars.clone()));
            prop_assert!(doubled.contains(&parsed.scalars()));
            // Ranges are sets of values: adding them again changes nothing.
            let mut twice = parsed.clone();
            twice.add(&parsed);
            prop_assert_eq!(twice.ranges("ports"), parsed.ranges("ports"));
            prop_assert!(parsed.checked_sub(&parsed).is_some_and(|r| r.is_empty()));
        }
    }
}

#[test]
fn huge_amounts_are_refused_even_when_split() {
    assert!(parse("disk:900TiB").is_ok());
    assert!(parse("disk:2000TiB").is_err());
    assert!(
        parse("disk:900TiB;disk:900TiB").is_err(),
        "entries of one name merge"
    );
    let mut big = parse("disk:900TiB").unwrap();
    big.add(&big.clone());
    let mut a = wasmesos_allocator::Allocator::new(Default::default()).unwrap();
    assert!(a.add_agent("x".into(), &big).is_err());
}
