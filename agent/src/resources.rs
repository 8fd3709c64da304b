//! The agent's resources: parsed from Mesos's `--resources` syntax, or detected from the host.
//!
//! The syntax is the one of `wasmesos_allocator::Resources` (the one parser in wasmesos):
//! scalars (`cpus:4`, `mem:8GiB`), ranges (`ports:[31000-32000]`) and sets (`zones:{a,b}`).
//! Units on the wire are cores for `cpus` and bytes for `mem` and `disk`; in the text, a
//! bare `mem` or `disk` number means MiB, as in Mesos.

use std::path::Path;

use wasmesos_allocator::Resources as Model;
use wasmesos_proto::resource_names::{CPUS, DISK, MEM, PORTS};
use wasmesos_proto::resources::{Amounts, resources_from_proto, resources_to_proto};
use wasmesos_proto::{Resource, Resources, ValueRange, ValueType};

use crate::Error;

const KIB: f64 = 1024.0;
const MIB: f64 = KIB * 1024.0;
const GIB: f64 = MIB * 1024.0;

/// Disk offered when the free space of the work dir's filesystem cannot be read.
pub const DEFAULT_DISK_BYTES: f64 = 10.0 * GIB;

/// Ports offered when `--resources` names none: 31000-32000, as Mesos's agents offer.
pub const DEFAULT_PORTS: (u64, u64) = (31000, 32000);

pub use wasmesos_allocator::parse_size;

/// Parses `"cpus:4;mem:8GiB;disk:20GiB;ports:[31000-32000]"`.
///
/// Items are `name:value` or `name(role):value`, separated by `;`. `mem` and `disk` accept
/// the units B, KiB, MiB, GiB, TiB (and K, M, G, T), which are powers of 1024, and KB, MB,
/// GB, TB, which are powers of 1000; a bare number is MiB. Other scalars are plain numbers;
/// ranges are `[begin-end,...]` and sets `{a,b}`. Values must be finite and not negative;
/// items of the same name and role add up.
pub fn parse_resources(text: &str) -> Result<Resources, Error> {
    let model: Model = text.parse().map_err(Error::InvalidResources)?;
    if let Some(item) = model.iter().find(|item| item.is_revocable()) {
        return Err(Error::InvalidResources(
            wasmesos_allocator::Error::InvalidResources(format!(
                "{item}: an agent's resources are not revocable; --oversubscribe offers \
                 the CPU its tasks leave unused as revocable"
            )),
        ));
    }
    Ok(resources_to_proto(&model))
}

/// The text [`parse_resources`] reads back to `resources`: `mem` and `disk` in the largest
/// binary unit that states them exactly (`8GiB`, `1536KiB`, `100B`), never a bare number.
pub fn format_resources(resources: &Resources) -> String {
    match resources_from_proto(Some(resources), Amounts::NonNegative) {
        Ok(model) => model.to_string(),
        Err(err) => format!("<{err}>"),
    }
}

/// `given`, with `cpus`, `mem` and `disk` detected from the host where `given` lacks them,
/// and `ports` [`DEFAULT_PORTS`] unless given.
///
/// Detection follows Mesos: all available cores; memory minus 1 GiB kept for the host (half
/// of it below 2 GiB); disk from the free space of the filesystem holding `work_dir`, minus
/// 5 GiB kept free (half of it below 10 GiB), or [`DEFAULT_DISK_BYTES`] when unknown.
pub fn complete_resources(given: Option<Resources>, work_dir: &Path) -> Resources {
    let mut resources = given.unwrap_or_default();
    let has =
        |resources: &Resources, name: &str| resources.resources.iter().any(|r| r.name == name);
    if !has(&resources, CPUS) {
        push(&mut resources, CPUS, detect_cpus());
    }
    if !has(&resources, MEM) {
        push(&mut resources, MEM, detect_mem());
    }
    if !has(&resources, DISK) {
        push(&mut resources, DISK, detect_disk(work_dir));
    }
    if !has(&resources, PORTS) {
        let (begin, end) = DEFAULT_PORTS;
        resources.resources.push(Resource {
            name: PORTS.to_string(),
            r#type: ValueType::Ranges as i32,
            ranges: vec![ValueRange { begin, end }],
            ..Resource::default()
        });
    }
    resources
}

fn push(resources: &mut Resources, name: &str, value: f64) {
    resources.resources.push(Resource {
        name: name.to_string(),
        value,
        ..Resource::default()
    });
}

fn detect_cpus() -> f64 {
    std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64)
}

fn detect_mem() -> f64 {
    let total = match sysinfo::System::new() {
        Ok(mut system) => {
            system.refresh_memory();
            system.total_memory() as f64
        }
        Err(_) => 0.0,
    };
    keep_back(total, 2.0 * GIB, GIB).max(256.0 * MIB)
}

fn detect_disk(work_dir: &Path) -> f64 {
    match free_space(work_dir) {
        Some(free) => keep_back(free as f64, 10.0 * GIB, 5.0 * GIB),
        None => DEFAULT_DISK_BYTES,
    }
}

/// `total - reserve` when `total >= threshold`, otherwise half of `total`.
fn keep_back(total: f64, threshold: f64, reserve: f64) -> f64 {
    if total >= threshold {
        total - reserve
    } else {
        total / 2.0
    }
}

/// Free bytes on the filesystem whose mount point is the longest prefix of `path`.
fn free_space(path: &Path) -> Option<u64> {
    let path = std::fs::canonicalize(path).ok()?;
    let disks = sysinfo::Disks::new_with_refreshed_list().ok()?;
    disks
        .iter()
        .filter(|disk| path.starts_with(disk.mount_point()))
        .max_by_key(|disk| disk.mount_point().as_os_str().len())
        .map(sysinfo::Disk::available_space)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatted_resources_read_back() {
        for text in [
            "cpus:4;disk:20GiB;mem:8GiB",
            "cpus:0.5;disk:100B;gpus:2;mem:1536KiB",
            "cpus(ads):1;mem:3TiB;mem(ads):512MiB",
            "cpus:4;ports:[31000-31005, 32000-32010];ports(web):[80-80];zones:{a, b}",
            "",
        ] {
            let parsed = parse_resources(text).expect(text);
            let formatted = format_resources(&parsed);
            assert_eq!(formatted, text);
            assert_eq!(parse_resources(&formatted).ok(), Some(parsed));
        }
        let odd = parse_resources("mem:100B;disk:1.5KiB").expect("valid");
        assert_eq!(format_resources(&odd), "disk:1536B;mem:100B");
    }

    fn value(resources: &Resources, name: &str) -> f64 {
        resources.scalar(name)
    }

    #[test]
    fn parses_the_mesos_syntax_with_units() {
        let r = &parse_resources("cpus:4;mem:8GiB;disk:20GiB").expect("valid resources");
        assert_eq!(value(r, "cpus"), 4.0);
        assert_eq!(value(r, "mem"), 8.0 * GIB);
        assert_eq!(value(r, "disk"), 20.0 * GIB);
    }

    #[test]
    fn bare_sizes_are_mib_and_roles_and_custom_scalars_parse() {
        let r = parse_resources(" cpus(ads):0.5 ; mem:512; gpus:2; disk(*):100B ;")
            .expect("valid resources");
        assert_eq!(r.resources.len(), 4);
        let decimal = parse_resources("mem:2GB;disk:1.5G").expect("valid resources");
        assert_eq!(value(&decimal, "mem"), 2e9);
        assert_eq!(value(&decimal, "disk"), 1.5 * GIB);
        assert_eq!(r.resources[0].role, "ads");
        assert_eq!(value(&r, "mem"), 512.0 * MIB);
        assert_eq!(value(&r, "gpus"), 2.0);
        assert_eq!(r.resources[1].role, "");
        assert_eq!(value(&r, "disk"), 100.0);
    }

    #[test]
    fn malformed_items_are_named_in_the_error() {
        for (text, item) in [
            ("cpus", "cpus"),
            ("cpus:four", "cpus:four"),
            ("mem:8XB", "mem:8XB"),
            ("cpus:-1", "cpus:-1"),
            ("cpus:NaN", "cpus:NaN"),
            ("cpus:inf", "cpus:inf"),
            ("ports:[2-1]", "ports:[2-1]"),
            ("ports:[1-2];ports:3", "ports"),
            ("cp us:1", "cp us:1"),
            ("cpus(ads:1", "cpus(ads:1"),
            ("cpus{REV}:1", "not revocable"),
            (":1", ":1"),
        ] {
            match parse_resources(text) {
                Err(err @ Error::InvalidResources(_)) => {
                    assert!(err.to_string().contains(item), "{err} names {item}")
                }
                other => panic!("{text}: expected an error naming `{item}`, got {other:?}"),
            }
        }
    }

    #[test]
    fn missing_resources_are_detected_and_given_ones_kept() {
        let dir = std::env::temp_dir();
        let given = parse_resources("cpus:3").expect("valid resources");
        let r = complete_resources(Some(given), &dir);
        assert_eq!(value(&r, "cpus"), 3.0);
        assert_eq!(r.ranges("ports").to_string(), "[31000-32000]");
        assert!(value(&r, "mem") >= 256.0 * MIB);
        assert!(value(&r, "disk") > 0.0);
        let detected = complete_resources(None, &dir);
        assert!(value(&detected, "cpus") >= 1.0);
        let given = parse_resources("ports:[8000-8001]").expect("valid resources");
        let kept = complete_resources(Some(given), &dir);
        assert_eq!(
            kept.ranges("ports").count(),
            2,
            "given ports replace the default"
        );
    }

    #[test]
    fn keep_back_halves_small_totals() {
        assert_eq!(keep_back(1.0 * GIB, 2.0 * GIB, GIB), 0.5 * GIB);
        assert_eq!(keep_back(8.0 * GIB, 2.0 * GIB, GIB), 7.0 * GIB);
    }
}
