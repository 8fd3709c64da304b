//! Decides whether uploaded bytes are a component that agents can run: a valid component
//! (not a core module, not garbage) whose imports agents provide.

use wasmparser::{ComponentTypeRef, Parser, Payload, Validator};

use crate::Error;

/// The interface agents provide to executors beyond WASI.
pub const HOST_INTERFACE: &str = "wasmesos:executor/host@0.1.0";

/// The executor world's shared types (`task-info`, `resources`), which executors import
/// next to the host interface.
pub const TYPES_INTERFACE: &str = "wasmesos:executor/types@0.1.0";

/// Checks that `bytes` are a valid component whose top-level imports are all
/// `wasi:*@0.2.*`, [`HOST_INTERFACE`], [`TYPES_INTERFACE`], or plain type imports (the
/// world's `use types.{task-info}` becomes a type import named `task-info`).
pub fn validate_component(bytes: &[u8]) -> Result<(), Error> {
    if !Parser::is_component(bytes) {
        let why = if Parser::is_core_wasm(bytes) {
            "this is a core module; build for wasm32-wasip2 or wrap it with `wasm-tools component new`"
        } else {
            "the bytes do not start with the component header (\\0asm, layer 1)"
        };
        return Err(Error::NotAComponent(why.into()));
    }
    Validator::new()
        .validate_all(bytes)
        .map_err(|err| Error::InvalidComponent(err.to_string()))?;
    let unsupported: Vec<String> = top_level_imports(bytes)?
        .into_iter()
        .filter(|name| !is_supported_import(name))
        .collect();
    if unsupported.is_empty() {
        Ok(())
    } else {
        Err(Error::UnsupportedImports(unsupported))
    }
}

/// Whether agents provide an import of this name.
pub fn is_supported_import(name: &str) -> bool {
    if name == HOST_INTERFACE || name == TYPES_INTERFACE {
        return true;
    }
    let Some(rest) = name.strip_prefix("wasi:") else {
        return false;
    };
    match rest.split_once('@') {
        Some((path, version)) => !path.is_empty() && version.starts_with("0.2."),
        None => false,
    }
}

/// The names of what the outermost component imports, types aside: a type import gives no
/// capability. Nested modules and components import from their parent, so only depth 0
/// counts.
fn top_level_imports(bytes: &[u8]) -> Result<Vec<String>, Error> {
    let mut names = Vec::new();
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|err| Error::InvalidComponent(err.to_string()))?;
        match payload {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => {
                depth = depth.saturating_add(1);
            }
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(reader) if depth == 0 => {
                for import in reader {
                    let import = import.map_err(|err| Error::InvalidComponent(err.to_string()))?;
                    if !matches!(import.ty, ComponentTypeRef::Type(_)) {
                        names.push(import.name.name.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn component(wat: &str) -> Vec<u8> {
        wat::parse_str(wat).unwrap_or_else(|err| panic!("test WAT does not parse: {err}"))
    }

    #[test]
    fn supported_import_names() {
        assert!(is_supported_import("wasi:cli/environment@0.2.0"));
        assert!(is_supported_import("wasi:io/streams@0.2.6"));
        assert!(is_supported_import(HOST_INTERFACE));
        assert!(is_supported_import(TYPES_INTERFACE));
        assert!(!is_supported_import("wasmesos:executor/other@0.1.0"));
        assert!(!is_supported_import("wasi:cli/environment@0.3.0"));
        assert!(!is_supported_import("wasi:cli/environment"));
        assert!(!is_supported_import("wasmesos:executor/host@0.2.0"));
        assert!(!is_supported_import("acme:missing/thing@1.0.0"));
        assert!(!is_supported_import("env"));
    }

    #[test]
    fn garbage_and_core_modules_are_not_components() {
        assert!(matches!(
            validate_component(b"not wasm at all"),
            Err(Error::NotAComponent(_))
        ));
        let core = component("(module (func (export \"f\")))");
        let err = validate_component(&core).err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("core module")), "{core:?}");
    }

    #[test]
    fn a_truncated_component_is_invalid() {
        let good = component("(component (core module (func (export \"f\"))))");
        let cut = &good[..good.len() - 3];
        assert!(matches!(
            validate_component(cut),
            Err(Error::InvalidComponent(_))
        ));
    }

    #[test]
    fn imports_are_checked_at_the_top_level_only() {
        let ok = component(
            r#"(component
                 (import "wasi:cli/stdout@0.2.0" (instance))
                 (import "wasmesos:executor/host@0.1.0" (instance))
                 (import "task-info" (type (sub resource)))
                 (component (import "anything" (func))))"#,
        );
        assert!(validate_component(&ok).is_ok());
        let bad = component(
            r#"(component
                 (import "wasi:cli/stdout@0.2.0" (instance))
                 (import "acme:missing/thing@1.0.0" (instance))
                 (import "launch-missiles" (func)))"#,
        );
        match validate_component(&bad) {
            Err(Error::UnsupportedImports(names)) => {
                assert_eq!(names, vec!["acme:missing/thing@1.0.0", "launch-missiles"]);
            }
            other => panic!("expected unsupported imports, got {other:?}"),
        }
    }
}
