//! The agent's resources: parsed from Mesos's `--resources` syntax, or detected from the host.
//!
//! Units on the wire are cores for `cpus` and bytes for `mem` and `disk`. In the text syntax
//! `mem` and `disk` take a size with a unit (`8GiB`, `512MiB`, `100B`) read as everywhere in
//! wasmesos; a bare number means MiB, as in Mesos.

use std::path::Path;

use wasmesos_proto::resource_names::{CPUS, DISK, MEM};
use wasmesos_proto::{Resource, Resources};

use crate::Error;

const KIB: f64 = 1024.0;
const MIB: f64 = KIB * 1024.0;
const GIB: f64 = MIB * 1024.0;
const TIB: f64 = GIB * 1024.0;

/// Disk offered when the free space of the work dir's filesystem cannot be read.
pub const DEFAULT_DISK_BYTES: f64 = 10.0 * GIB;

/// Parses `"cpus:4;mem:8GiB;disk:20GiB"`.
///
/// Items are `name:value` or `name(role):value`, separated by `;`. `mem` and `disk` accept
/// the units B, KiB, MiB, GiB, TiB (and K, M, G, T), which are powers of 1024, and KB, MB,
/// GB, TB, which are powers of 1000; a bare number is MiB. Other names are plain numbers. Values must be finite and not negative, and a name may
/// appear once per role.
pub fn parse_resources(text: &str) -> Result<Resources, Error> {
    let mut resources = Resources::default();
    for item in text
        .split(';')
        .map(str::trim)
        .filter(|item| !item.is_empty())
    {
        let resource = parse_item(item)?;
        let duplicate = resources
            .resources
            .iter()
            .any(|r| r.name == resource.name && r.role == resource.role);
        if duplicate {
            return Err(invalid(item, "appears more than once"));
        }
        resources.resources.push(resource);
    }
    Ok(resources)
}

/// The text [`parse_resources`] reads back to `resources`: `mem` and `disk` in the largest
/// binary unit that states them exactly (`8GiB`, `1536KiB`, `100B`), never a bare number.
pub fn format_resources(resources: &Resources) -> String {
    let items: Vec<String> = resources
        .resources
        .iter()
        .map(|resource| {
            let key = if resource.role.is_empty() {
                resource.name.clone()
            } else {
                format!("{}({})", resource.name, resource.role)
            };
            let value = if resource.name == MEM || resource.name == DISK {
                format_bytes(resource.value)
            } else {
                resource.value.to_string()
            };
            format!("{key}:{value}")
        })
        .collect();
    items.join(";")
}

fn format_bytes(bytes: f64) -> String {
    for (unit, size) in [("TiB", TIB), ("GiB", GIB), ("MiB", MIB), ("KiB", KIB)] {
        if bytes >= size && (bytes / size).fract() == 0.0 {
            return format!("{}{unit}", bytes / size);
        }
    }
    format!("{bytes}B")
}

fn parse_item(item: &str) -> Result<Resource, Error> {
    let (key, value) = item
        .split_once(':')
        .ok_or_else(|| invalid(item, "expected `name:value`"))?;
    let (name, role) = parse_key(item, key.trim())?;
    let value = value.trim();
    let amount = if name == MEM || name == DISK {
        parse_size(value).map_err(|reason| invalid(item, &reason))?
    } else {
        value
            .parse::<f64>()
            .map_err(|_| invalid(item, "the value is not a number"))?
    };
    if !amount.is_finite() || amount < 0.0 {
        return Err(invalid(
            item,
            "the value must be a finite number, not negative",
        ));
    }
    Ok(Resource {
        name: name.to_string(),
        value: amount,
        role: role.to_string(),
    })
}

/// Splits `name` or `name(role)`; the role `*` means unreserved.
fn parse_key<'a>(item: &str, key: &'a str) -> Result<(&'a str, &'a str), Error> {
    let (name, role) = match key.split_once('(') {
        Some((name, rest)) => {
            let role = rest
                .strip_suffix(')')
                .ok_or_else(|| invalid(item, "a role must be written `name(role)`"))?;
            (name, role)
        }
        None => (key, ""),
    };
    let name_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !name_ok {
        return Err(invalid(
            item,
            "the name must be letters, digits, `_` or `-`",
        ));
    }
    if role.contains(['(', ')', ';', ':']) {
        return Err(invalid(item, "the role contains a reserved character"));
    }
    Ok((name, if role == "*" { "" } else { role }))
}

/// Parses a size such as `8GiB`, `1.5G`, `100B`, `2GB` or `512` (MiB) into bytes.
pub fn parse_size(text: &str) -> Result<f64, String> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size such as 512MiB or 8GiB"))?;
    let scale = match unit.trim().to_ascii_lowercase().as_str() {
        "" => MIB,
        "b" => 1.0,
        "k" | "kib" => KIB,
        "m" | "mib" => MIB,
        "g" | "gib" => GIB,
        "t" | "tib" => TIB,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        other => {
            return Err(format!(
                "unknown size unit `{other}` (use B, KiB, MiB, GiB, TiB, or KB, MB, GB, TB)"
            ));
        }
    };
    Ok((number * scale).floor())
}

fn invalid(item: &str, reason: &str) -> Error {
    Error::InvalidResources {
        item: item.to_string(),
        reason: reason.to_string(),
    }
}

/// `given`, with `cpus`, `mem` and `disk` detected from the host where `given` lacks them.
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
    resources
}

fn push(resources: &mut Resources, name: &str, value: f64) {
    resources.resources.push(Resource {
        name: name.to_string(),
        value,
        role: String::new(),
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
            "cpus:4;mem:8GiB;disk:20GiB",
            "cpus:0.5;mem:1536KiB;disk:100B;gpus:2",
            "cpus(ads):1;mem(ads):512MiB;mem:3TiB",
            "",
        ] {
            let parsed = parse_resources(text).expect(text);
            let formatted = format_resources(&parsed);
            assert_eq!(formatted, text);
            assert_eq!(parse_resources(&formatted).ok(), Some(parsed));
        }
        let odd = parse_resources("mem:100B;disk:1.5KiB").expect("valid");
        assert_eq!(format_resources(&odd), "mem:100B;disk:1536B");
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
        assert_eq!(r.resources[3].role, "");
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
            ("cpus:1;cpus:2", "cpus:2"),
            ("cp us:1", "cp us:1"),
            ("cpus(ads:1", "cpus(ads:1"),
            (":1", ":1"),
        ] {
            match parse_resources(text) {
                Err(Error::InvalidResources { item: named, .. }) => assert_eq!(named, item),
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
        assert!(value(&r, "mem") >= 256.0 * MIB);
        assert!(value(&r, "disk") > 0.0);
        let detected = complete_resources(None, &dir);
        assert!(value(&detected, "cpus") >= 1.0);
    }

    #[test]
    fn keep_back_halves_small_totals() {
        assert_eq!(keep_back(1.0 * GIB, 2.0 * GIB, GIB), 0.5 * GIB);
        assert_eq!(keep_back(8.0 * GIB, 2.0 * GIB, GIB), 7.0 * GIB);
    }
}
