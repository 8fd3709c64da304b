//! Directories whose contents wasmesos trusts: the compile cache holds native code that is
//! loaded and run (`Component::deserialize_file`), and an agent's work dir holds its
//! checkpoint and every sandbox. A directory another local user created (say, at the
//! predictable default path under the OS temp dir) or may write to could plant a `.cwasm`
//! there, so it is refused with a message saying why, never used.
//!
//! A new directory is created owner-only (mode 0700 on Unix). An existing one must be a
//! real directory (not a symbolic link) and, on Unix, belong to the process's effective user
//! and be writable by no one else. On Windows the default paths are under the per-user
//! temp dir, which other users cannot write; only the link and type checks apply there.

use std::io;
use std::path::Path;

use crate::Error;

/// Creates `dir` owner-only if it is missing, and checks that nobody else controls it.
pub fn ensure_private_dir(dir: &Path) -> Result<(), Error> {
    let refuse = |why: &str| {
        Error::UnsafeDirectory(format!(
            "{}: {why}; use a directory of this user's that others cannot write to \
             (mode 0700), or fix this one's owner and mode",
            dir.display()
        ))
    };
    match create_owner_only(dir) {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
        Err(err) => {
            return Err(Error::UnsafeDirectory(format!(
                "cannot create {}: {err}",
                dir.display()
            )));
        }
    }
    let meta = std::fs::symlink_metadata(dir).map_err(|err| {
        Error::UnsafeDirectory(format!("cannot inspect {}: {err}", dir.display()))
    })?;
    if meta.file_type().is_symlink() {
        return Err(refuse("it is a symbolic link"));
    }
    if !meta.is_dir() {
        return Err(refuse("it is not a directory"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let me = rustix::process::geteuid().as_raw();
        if meta.uid() != me {
            return Err(refuse(&format!(
                "it belongs to uid {}, not to this process's uid {me}",
                meta.uid()
            )));
        }
        let mode = meta.mode() & 0o7777;
        if mode & 0o022 != 0 {
            return Err(refuse(&format!("others may write to it (mode {mode:o})")));
        }
    }
    Ok(())
}

fn create_owner_only(dir: &Path) -> io::Result<()> {
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().mode(0o700).create(dir)
    }
    #[cfg(not(unix))]
    {
        std::fs::DirBuilder::new().create(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_directory_is_created_for_its_owner_only() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join("a").join("cache");
        ensure_private_dir(&dir).expect("created");
        assert!(dir.is_dir());
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let mode = std::fs::metadata(&dir).expect("meta").mode() & 0o777;
            assert_eq!(mode, 0o700);
        }
        ensure_private_dir(&dir).expect("an existing private dir is fine");
    }

    #[test]
    fn a_file_in_its_place_is_refused() {
        let root = tempfile::tempdir().expect("tempdir");
        let file = root.path().join("cache");
        std::fs::write(&file, b"x").expect("write");
        let err = ensure_private_dir(&file).expect_err("a file");
        assert!(err.to_string().contains("not a directory"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_directory_others_may_write_or_a_link_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().expect("tempdir");
        let open = root.path().join("open");
        std::fs::create_dir(&open).expect("mkdir");
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        let err = ensure_private_dir(&open).expect_err("world-writable");
        assert!(
            err.to_string()
                .contains("others may write to it (mode 777)"),
            "{err}"
        );
        let link = root.path().join("link");
        let private = root.path().join("private");
        ensure_private_dir(&private).expect("private");
        std::os::unix::fs::symlink(&private, &link).expect("symlink");
        let err = ensure_private_dir(&link).expect_err("a link");
        assert!(err.to_string().contains("symbolic link"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_directory_of_another_user_is_refused() {
        // Needs the right to give a directory away, which only root has.
        if rustix::process::geteuid().as_raw() != 0 {
            return;
        }
        let root = tempfile::tempdir().expect("tempdir");
        let theirs = root.path().join("theirs");
        std::fs::create_dir(&theirs).expect("mkdir");
        std::os::unix::fs::chown(&theirs, Some(65534), None).expect("chown");
        let err = ensure_private_dir(&theirs).expect_err("another user's");
        assert!(err.to_string().contains("belongs to uid 65534"), "{err}");
    }
}
