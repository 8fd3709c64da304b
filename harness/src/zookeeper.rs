//! A real ZooKeeper server (Debian's `zookeeper` package) for HA tests: a temp data dir, a
//! free loopback port, a short tickTime so that sessions can expire within a second or two.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tempfile::TempDir;
use tokio::process::{Child, Command};
use wasmesos_detector::zk;

use crate::Error;
use wasmesos_test_support::{eventually, scaled};

/// Where Debian puts the server's jar (its manifest names the other jars it needs).
const ZOOKEEPER_JAR: &str = "/usr/share/java/zookeeper.jar";
const MAIN_CLASS: &str = "org.apache.zookeeper.server.quorum.QuorumPeerMain";

/// ZooKeeper's tick in these tests. Session timeouts must lie in 2–20 ticks (0.2–2 s here),
/// so a master's session can expire fast enough for a failover within ~3 s.
pub const TICK: Duration = Duration::from_millis(100);

/// A ZooKeeper server running as a child process; dropping it kills the server.
#[derive(Debug)]
pub struct ZooKeeper {
    port: u16,
    child: Child,
    _dir: TempDir,
}

impl ZooKeeper {
    /// Starts a standalone server and waits (up to 60 s) until it answers `ls /`.
    pub async fn start() -> Result<Self, Error> {
        let java = find_java()?;
        let dir = tempfile::Builder::new()
            .prefix("wasmesos-zookeeper-")
            .tempdir()
            .map_err(|err| Error::io("creating the ZooKeeper dir", err))?;
        let port = free_port()?;
        let config = write_config(dir.path(), port)?;
        let child = Command::new(java)
            .arg("-cp")
            .arg(ZOOKEEPER_JAR)
            .arg("-Xmx256m")
            .arg(MAIN_CLASS)
            .arg(&config)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|err| Error::io("starting ZooKeeper (java)", err))?;
        let zookeeper = Self {
            port,
            child,
            _dir: dir,
        };
        zookeeper.wait_until_ready(Duration::from_secs(60)).await?;
        Ok(zookeeper)
    }

    /// Why no server can be started on this machine (Debian's `zookeeper` or `java` is
    /// missing), for tests that skip there; `None` when one can.
    pub fn unavailable() -> Option<String> {
        find_java().err().map(|err| err.to_string())
    }

    /// `127.0.0.1:PORT`, the connect string.
    pub fn servers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `zk://127.0.0.1:PORT<path>`, a master URL for `path` (e.g. `/wasmesos`).
    pub fn url(&self, path: &str) -> String {
        format!("zk://{}{path}", self.servers())
    }

    /// A fresh client session.
    pub async fn client(&self) -> Result<zk::Client, Error> {
        wasmesos_detector::connect(&self.servers(), scaled(Duration::from_secs(10)))
            .await
            .map_err(|err| zk_error(err.to_string()))
    }

    /// The `json.info_` children under `path`, sorted (the first one leads).
    pub async fn contenders(&self, path: &str) -> Result<Vec<String>, Error> {
        let client = self.client().await?;
        let mut children = match client.list_children(path).await {
            Ok(children) => children,
            Err(zk::Error::NoNode) => Vec::new(),
            Err(err) => return Err(zk_error(format!("ls {path}: {err}"))),
        };
        children.retain(|name| wasmesos_detector::info::sequence_of(name).is_some());
        children.sort();
        Ok(children)
    }

    /// The leading master's MasterInfo under `path`, read straight from its znode.
    pub async fn leader(&self, path: &str) -> Result<Option<wasmesos_detector::MasterInfo>, Error> {
        let Some(first) = self.contenders(path).await?.into_iter().next() else {
            return Ok(None);
        };
        let client = self.client().await?;
        match client.get_data(&format!("{path}/{first}")).await {
            Ok((data, _)) => Ok(wasmesos_detector::MasterInfo::from_json(&data)),
            Err(zk::Error::NoNode) => Ok(None),
            Err(err) => Err(zk_error(format!("get {path}/{first}: {err}"))),
        }
    }

    async fn wait_until_ready(&self, deadline: Duration) -> Result<(), Error> {
        let servers = self.servers();
        eventually("ZooKeeper to answer `ls /`", deadline, async || {
            let Ok(client) =
                wasmesos_detector::connect(&servers, scaled(Duration::from_secs(2))).await
            else {
                return false;
            };
            client.list_children("/").await.is_ok()
        })
        .await?;
        Ok(())
    }

    /// Kills the server (SIGKILL) and waits for it to exit.
    pub async fn kill(&mut self) -> Result<(), Error> {
        self.child
            .kill()
            .await
            .map_err(|err| Error::io("killing ZooKeeper", err))
    }
}

fn find_java() -> Result<PathBuf, Error> {
    let missing = |what: &str| Error::Process {
        name: "zookeeper".into(),
        message: format!("{what} not found: run `apt-get install zookeeper` (CI installs it)"),
    };
    if !Path::new(ZOOKEEPER_JAR).is_file() {
        return Err(missing(ZOOKEEPER_JAR));
    }
    let exe = format!("java{}", std::env::consts::EXE_SUFFIX);
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(&exe))
            .find(|candidate| candidate.is_file())
    });
    on_path.ok_or_else(|| missing("java"))
}

/// A port the OS just handed out; ZooKeeper binds it a moment later.
fn free_port() -> Result<u16, Error> {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .map_err(|err| Error::io("finding a free port for ZooKeeper", err))?;
    listener
        .local_addr()
        .map(|addr| addr.port())
        .map_err(|err| Error::io("finding a free port for ZooKeeper", err))
}

fn write_config(dir: &Path, port: u16) -> Result<PathBuf, Error> {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).map_err(|err| Error::io("creating ZooKeeper's dataDir", err))?;
    let tick = TICK.as_millis();
    let config = format!(
        "tickTime={tick}\n\
         dataDir={}\n\
         clientPort={port}\n\
         clientPortAddress=127.0.0.1\n\
         admin.enableServer=false\n\
         maxClientCnxns=0\n\
         forceSync=no\n",
        // Java properties read `\` as an escape: give it forward slashes on every OS.
        data.display().to_string().replace('\\', "/")
    );
    let path = dir.join("zoo.cfg");
    std::fs::write(&path, config).map_err(|err| Error::io("writing zoo.cfg", err))?;
    Ok(path)
}

fn zk_error(message: String) -> Error {
    Error::Process {
        name: "zookeeper".into(),
        message,
    }
}
