//! pymesos, the strictest real Mesos client, runs a task on wasmesos unmodified. The test
//! builds its own virtualenv in a temp dir; without PyPI (or python3) it says so in one line
//! and passes.

use std::path::{Path, PathBuf};

use wasmesos_guest_artifacts::HELLO;
use wasmesos_test_support::python::{run, succeeded};

use crate::common::{cluster, upload};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/mesos_api/pymesos_hello.py"
);

/// Copies http-parser's pure-Python modules into `site_packages`: its C extension does not
/// build on current Pythons, and pymesos falls back to the pure parser.
const INSTALL_PURE_HTTP_PARSER: &str = r#"
import glob, sys, tarfile
tar = tarfile.open(glob.glob(sys.argv[1] + '/http-parser-*.tar.gz')[0])
for m in tar.getmembers():
    parts = m.name.split('/')
    if len(parts) == 3 and parts[1] == 'http_parser' and parts[2].endswith('.py'):
        m.name = 'http_parser/' + parts[2]
        tar.extract(m, sys.argv[2])
"#;

/// A virtualenv with pymesos, or `None` (having said why) when PyPI or python3 is missing.
async fn virtualenv(dir: &Path) -> Option<PathBuf> {
    let venv = dir.join("venv");
    let venv_text = venv.to_string_lossy().into_owned();
    if !succeeded(&run(Path::new("python3"), &["-m", "venv", &venv_text]).await) {
        println!("skipped: python3 -m venv is not available");
        return None;
    }
    let bin = venv.join(if cfg!(windows) { "Scripts" } else { "bin" });
    let pip = bin.join("pip");
    let python = bin.join("python");
    let installed = run(
        &pip,
        &[
            "install",
            "-q",
            "--no-deps",
            "pymesos",
            "six",
            "addict",
            "kazoo",
        ],
    )
    .await;
    if !succeeded(&installed) {
        println!("skipped: pip cannot install pymesos from PyPI");
        return None;
    }
    if !succeeded(&run(&pip, &["install", "-q", "http-parser"]).await) {
        let src = dir.join("src").to_string_lossy().into_owned();
        let downloaded = run(
            &pip,
            &[
                "download",
                "-q",
                "--no-deps",
                "--no-binary",
                ":all:",
                "http-parser",
                "-d",
                &src,
            ],
        )
        .await;
        assert!(
            succeeded(&downloaded),
            "download http-parser: {downloaded:?}"
        );
        let site = run(
            &python,
            &[
                "-c",
                "import sysconfig; print(sysconfig.get_paths()['purelib'])",
            ],
        )
        .await
        .expect("site-packages");
        let site = String::from_utf8_lossy(&site.stdout).trim().to_string();
        let copied = run(&python, &["-c", INSTALL_PURE_HTTP_PARSER, &src, &site]).await;
        assert!(
            succeeded(&copied),
            "install the pure-Python http-parser: {copied:?}"
        );
    }
    Some(python)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pymesos_scheduler_runs_a_task_to_finished() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(python) = virtualenv(dir.path()).await else {
        return;
    };
    let (cluster, authority) = cluster().await;
    let digest = upload(&cluster, HELLO).await;
    let output = run(&python, &[SCRIPT, &authority, &digest])
        .await
        .expect("the pymesos scheduler ran");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "pymesos exited {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("status pymesos-hello TASK_RUNNING"),
        "{stdout}"
    );
    assert!(
        stdout.contains("status pymesos-hello TASK_FINISHED"),
        "{stdout}"
    );
    cluster.shutdown().await.expect("shutdown");
}
