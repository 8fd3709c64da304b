//! Naming every import a component needs that the host does not provide.
//!
//! wasmtime's type check stops at the first unsatisfied import. To name them all, this module
//! repeats the check on a scratch copy of the linker, and after each failure defines the
//! offending import there as traps, until the check passes or stops pointing at an import.

use wasmtime::component::types::{ComponentInstance, ComponentItem};
use wasmtime::component::{Component, Linker, LinkerInstance, ResourceType};

use crate::store::TaskState;

/// Import names `linker` cannot satisfy for `component`, in the order wasmtime reports them.
pub(crate) fn unsupported_imports(
    linker: &Linker<TaskState>,
    component: &Component,
) -> Vec<String> {
    let engine = linker.engine().clone();
    let ty = component.component_type();
    let mut scratch = linker.clone();
    scratch.allow_shadowing(true);
    let mut missing: Vec<String> = Vec::new();
    for _ in 0..=ty.imports(&engine).len() {
        let Err(err) = scratch.instantiate_pre(component) else {
            break;
        };
        let Some(name) = import_named_in(&format!("{err}")) else {
            break;
        };
        if missing.contains(&name) {
            break;
        }
        let Some(item) = ty.get_import(&engine, &name) else {
            break;
        };
        let stubbed = stub(&mut scratch.root(), &name, &item.ty, &engine);
        missing.push(name);
        if stubbed.is_err() {
            break;
        }
    }
    missing
}

/// The import named by wasmtime's "component imports {kind} `{name}`, but a matching
/// implementation was not found in the linker".
fn import_named_in(message: &str) -> Option<String> {
    let rest = message.strip_prefix("component imports ")?;
    let start = rest.find('`')? + 1;
    let len = rest[start..].find('`')?;
    rest.get(start..start + len).map(str::to_owned)
}

/// Defines `name` as functions that trap and resources that do nothing.
fn stub(
    linker: &mut LinkerInstance<'_, TaskState>,
    name: &str,
    item: &ComponentItem,
    engine: &wasmtime::Engine,
) -> wasmtime::Result<()> {
    match item {
        ComponentItem::ComponentFunc(_) => {
            let name_owned = name.to_owned();
            linker.func_new(name, move |_, _, _, _| {
                wasmtime::bail!("`{name_owned}` is not provided by this host")
            })
        }
        ComponentItem::ComponentInstance(instance) => stub_instance(linker, name, instance, engine),
        ComponentItem::Resource(_) => {
            linker.resource(name, ResourceType::host::<Unsupported>(), |_, _| Ok(()))
        }
        _ => Ok(()),
    }
}

fn stub_instance(
    linker: &mut LinkerInstance<'_, TaskState>,
    name: &str,
    instance: &ComponentInstance,
    engine: &wasmtime::Engine,
) -> wasmtime::Result<()> {
    let mut nested = linker.instance(name)?;
    for (export, item) in instance.exports(engine) {
        stub(&mut nested, export, &item.ty, engine)?;
    }
    Ok(())
}

/// The host type standing in for resources of interfaces the host lacks.
struct Unsupported;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_import_name_out_of_wasmtime_s_message() {
        let message = "component imports instance `foo:bar/baz@1.0.0`, but a matching \
                       implementation was not found in the linker";
        assert_eq!(
            import_named_in(message).as_deref(),
            Some("foo:bar/baz@1.0.0")
        );
        assert_eq!(import_named_in("something else"), None);
    }
}
