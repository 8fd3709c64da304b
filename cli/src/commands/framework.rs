//! What `wasmesos marathon` and `wasmesos chronos` share: a framework process with an HTTP
//! API on `--listen`, its state under `--work-dir` (by default one per port under the OS
//! temp dir) or in ZooKeeper with `--zk`, and a `listening on` line for scripts and tests.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use tokio::net::TcpListener;

/// Where and against which master a framework process runs.
pub struct Process<'a> {
    /// `marathon`, `chronos`: in messages and the default work dir.
    pub kind: &'static str,
    pub master: &'a str,
    pub listen: SocketAddr,
    pub work_dir: Option<&'a Path>,
    /// `--zk`: the state is there, not in the work dir.
    pub zk: Option<&'a str>,
}

/// Runs `serve(listener, work dir)` (which stops on [`shutdown_signal`](crate::signals::shutdown_signal))
/// to its end; exit 1 with the error on failure.
pub fn main<F, Fut, E>(process: Process<'_>, serve: F) -> ExitCode
where
    F: FnOnce(TcpListener, PathBuf) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::error::Error + Send + Sync + 'static,
{
    match run(&process, serve) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("wasmesos {}: {err:#}", process.kind);
            ExitCode::FAILURE
        }
    }
}

fn run<F, Fut, E>(process: &Process<'_>, serve: F) -> anyhow::Result<()>
where
    F: FnOnce(TcpListener, PathBuf) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::error::Error + Send + Sync + 'static,
{
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let listener = TcpListener::bind(process.listen)
            .await
            .with_context(|| format!("cannot listen on {}", process.listen))?;
        let local = listener.local_addr()?;
        let work_dir = process.work_dir.map_or_else(
            || default_work_dir(process.kind, local.port()),
            Path::to_path_buf,
        );
        let state = match process.zk {
            Some(zk) => format!("state in {zk}"),
            None => format!("work dir {}", work_dir.display()),
        };
        println!(
            "wasmesos {} listening on http://{local} (master {}, {state})",
            process.kind, process.master
        );
        serve(listener, work_dir).await?;
        eprintln!("wasmesos {}: shutting down", process.kind);
        Ok(())
    })
}

/// `wasmesos-FRAMEWORK-PORT` under the temp dir (`wasmesos-marathon-8080`), as the
/// master's; a fresh one on port 0.
pub fn default_work_dir(framework: &str, port: u16) -> PathBuf {
    let name = match port {
        0 => format!("wasmesos-{framework}-{}", std::process::id()),
        port => format!("wasmesos-{framework}-{port}"),
    };
    std::env::temp_dir().join(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_work_dir_follows_the_port() {
        assert_eq!(
            default_work_dir("marathon", 8080),
            std::env::temp_dir().join("wasmesos-marathon-8080")
        );
    }
}
