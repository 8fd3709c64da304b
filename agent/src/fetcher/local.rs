//! `file://` sources: only files under the operator's `fetch_allowed_dirs` (none by default),
//! judged on the canonical path (symlinks and `..` resolved) and opened read-only.

use std::path::{Path, PathBuf};

use super::{Cause, Limit, copy_capped};

/// The canonical form of `path`, if it lies under one of `allowed` (themselves canonical).
/// Refusals name the path the framework gave, never where its links lead: that is the
/// agent's own layout.
pub(super) async fn resolve(allowed: &[PathBuf], path: &Path) -> Result<PathBuf, Cause> {
    if allowed.is_empty() {
        return Err(Cause::new(
            "file:// uris are refused: this agent allows no local directory (start it with \
             --fetch-allowed-dir DIR)",
        ));
    }
    let asked = path.to_path_buf();
    let canonical = tokio::task::spawn_blocking(move || asked.canonicalize())
        .await
        .map_err(|err| Cause::new(format!("path worker: {err}")))?
        .map_err(|err| Cause::new(format!("{}: {err}", path.display())))?;
    if !allowed.iter().any(|dir| canonical.starts_with(dir)) {
        return Err(Cause::new(format!(
            "{} is outside the agent's allowed directories (--fetch-allowed-dir)",
            path.display()
        )));
    }
    Ok(canonical)
}

/// Copies the regular file at `path` (canonical, from [`resolve`]) into `file` within
/// `limit`; the bytes copied. Errors leave the path out: the fetch's message names the uri.
pub(super) async fn copy(
    path: &Path,
    file: tokio::fs::File,
    name: &str,
    limit: Limit,
) -> Result<u64, Cause> {
    let source = tokio::fs::File::open(path)
        .await
        .map_err(|err| Cause::new(format!("cannot open the file: {err}")))?;
    let metadata = source
        .metadata()
        .await
        .map_err(|err| Cause::new(format!("cannot read the file's metadata: {err}")))?;
    if !metadata.is_file() {
        return Err(Cause::new("not a regular file"));
    }
    limit.check(metadata.len())?;
    copy_capped(source, file, name, limit).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_paths_under_an_allowed_dir_resolve() {
        let root = tempfile::tempdir().expect("temp dir");
        let allowed = root.path().join("allowed");
        std::fs::create_dir(&allowed).expect("mkdir");
        std::fs::write(allowed.join("in.txt"), b"x").expect("write");
        std::fs::write(root.path().join("secret"), b"s").expect("write");
        let dirs = vec![allowed.canonicalize().expect("canonical")];
        assert!(resolve(&dirs, &allowed.join("in.txt")).await.is_ok());
        let escape = allowed.join("..").join("secret");
        let err = resolve(&dirs, &escape).await.expect_err("outside").0;
        assert!(err.contains("outside"), "{err}");
        let none = resolve(&[], &allowed.join("in.txt"))
            .await
            .expect_err("none")
            .0;
        assert!(none.contains("--fetch-allowed-dir"), "{none}");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_refused_link_names_the_path_given_not_where_it_leads() {
        let root = tempfile::tempdir().expect("temp dir");
        let allowed = root.path().join("allowed");
        let hidden = root.path().join("agent-private-layout");
        std::fs::create_dir(&allowed).expect("mkdir");
        std::fs::create_dir(&hidden).expect("mkdir");
        std::fs::write(hidden.join("secret"), b"s").expect("write");
        let link = allowed.join("link");
        std::os::unix::fs::symlink(hidden.join("secret"), &link).expect("symlink");
        let dirs = vec![allowed.canonicalize().expect("canonical")];
        let err = resolve(&dirs, &link).await.expect_err("outside").0;
        assert!(err.contains("outside"), "{err}");
        assert!(err.contains("link"), "{err}");
        assert!(!err.contains("agent-private-layout"), "{err}");
    }
}
