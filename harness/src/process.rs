//! A master and agents as separate OS processes of the `wasmesos` binary, on loopback port 0.
//!
//! Each process prints `... listening on http://HOST:PORT ...` on stdout once bound; that line
//! tells us its port. Agents also print `... registered as ID`. Their remaining output is
//! drained in the background (and forwarded to tracing) so that a full pipe never blocks them.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use crate::Error;
use crate::NetNs;
use crate::cluster::cluster_state;
use wasmesos_test_support::{eventually, scaled};

/// The `wasmesos` binary: `WASMESOS_BIN` if set, else `wasmesos` next to the running test
/// executable's target dir (`target/<profile>/wasmesos`). Tests in the cli crate should pass
/// `env!("CARGO_BIN_EXE_wasmesos")` instead.
pub fn wasmesos_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("WASMESOS_BIN") {
        return Some(PathBuf::from(path));
    }
    let exe = std::env::current_exe().ok()?;
    // target/<profile>/deps/test-binary → target/<profile>/wasmesos
    let profile_dir = exe.parent()?.parent()?;
    let candidate = profile_dir.join(format!("wasmesos{}", std::env::consts::EXE_SUFFIX));
    candidate.is_file().then_some(candidate)
}

/// One child process and what it told us on startup.
#[derive(Debug)]
pub struct ChildProcess {
    pub name: String,
    pub url: String,
    /// The agent id (agents only).
    pub agent_id: Option<String>,
    child: Child,
}

impl ChildProcess {
    /// The OS process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Waits for the process to exit by itself, up to `deadline` (scaled by patience).
    pub async fn wait_exit(
        &mut self,
        deadline: Duration,
    ) -> Result<std::process::ExitStatus, Error> {
        let deadline = scaled(deadline);
        match tokio::time::timeout(deadline, self.child.wait()).await {
            Ok(status) => {
                status.map_err(|err| Error::io(format!("waiting for {}", self.name), err))
            }
            Err(_elapsed) => Err(Error::Timeout {
                what: format!("{} to exit", self.name),
                after: deadline,
            }),
        }
    }

    /// Kills the process without warning (SIGKILL on Unix, TerminateProcess on Windows) and
    /// reaps it: a crash, as far as the rest of the cluster can tell.
    pub async fn kill(&mut self) -> Result<(), Error> {
        self.child
            .kill()
            .await
            .map_err(|err| Error::io(format!("killing {}", self.name), err))
    }
}

/// A master and agents running as child processes; dropping it kills them all.
#[derive(Debug)]
pub struct ProcessCluster {
    pub master: ChildProcess,
    pub agents: Vec<ChildProcess>,
    binary: PathBuf,
    agent_args: Vec<String>,
    dir: TempDir,
    timeout: Duration,
}

impl ProcessCluster {
    /// Starts `wasmesos master` and `agents` × `wasmesos agent --resources RESOURCES`, with
    /// `master_args` and `agent_args` appended to their flags, and waits until all agents are
    /// active.
    pub async fn start(
        binary: &Path,
        agents: usize,
        resources: &str,
        master_args: &[&str],
        agent_args: &[&str],
    ) -> Result<ProcessCluster, Error> {
        Self::start_listening_on(
            binary,
            "127.0.0.1:0",
            agents,
            resources,
            master_args,
            agent_args,
        )
        .await
    }

    /// [`ProcessCluster::start`] with the master listening on `listen` (e.g. `0.0.0.0:0`,
    /// for agents in network namespaces to reach it on their link's host address).
    pub async fn start_listening_on(
        binary: &Path,
        listen: &str,
        agents: usize,
        resources: &str,
        master_args: &[&str],
        agent_args: &[&str],
    ) -> Result<ProcessCluster, Error> {
        let dir = tempfile::Builder::new()
            .prefix("wasmesos-processes-")
            .tempdir()
            .map_err(|err| Error::io("creating the cluster dir", err))?;
        let timeout = Duration::from_secs(60);
        let work_dir = dir.path().join("master");
        let mut args = vec!["master", "--listen", listen, "--work-dir"];
        let work_dir_text = work_dir.to_string_lossy().into_owned();
        args.push(&work_dir_text);
        args.extend_from_slice(master_args);
        let master = spawn_and_read_url(binary, "master", &args, timeout, false).await?;
        let mut cluster = ProcessCluster {
            master,
            agents: Vec::new(),
            binary: binary.to_path_buf(),
            agent_args: agent_args.iter().map(|arg| arg.to_string()).collect(),
            dir,
            timeout,
        };
        for _ in 0..agents {
            cluster.add_agent(resources).await?;
        }
        cluster.wait_for_active_agents(agents).await?;
        Ok(cluster)
    }

    pub fn master_url(&self) -> String {
        self.master.url.clone()
    }

    /// Kills the master with SIGKILL and starts it again on the same port and work dir, with
    /// `master_args` appended (the ones given at start are not repeated).
    pub async fn restart_master(&mut self, master_args: &[&str]) -> Result<(), Error> {
        self.master.kill().await?;
        let listen = self
            .master
            .url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let work_dir = self.dir.path().join("master");
        let work_dir_text = work_dir.to_string_lossy().into_owned();
        let mut args = vec!["master", "--listen", &listen, "--work-dir", &work_dir_text];
        args.extend_from_slice(master_args);
        self.master =
            spawn_and_read_url(&self.binary, "master", &args, self.timeout, false).await?;
        Ok(())
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Starts one more agent process and waits for its registration; returns its index.
    pub async fn add_agent(&mut self, resources: &str) -> Result<usize, Error> {
        let index = self.agents.len();
        let agent = self.spawn_agent(index, "127.0.0.1:0", resources).await?;
        self.agents.push(agent);
        Ok(index)
    }

    /// Starts one more agent process inside `netns` (listening on its address there, and
    /// reaching the master on the link's host address) and waits for its registration;
    /// returns its index. The master must listen on an address the link reaches.
    pub async fn add_agent_in(&mut self, netns: &NetNs, resources: &str) -> Result<usize, Error> {
        let index = self.agents.len();
        let port = self
            .master
            .url
            .rsplit(':')
            .next()
            .map(|port| port.trim_end_matches('/').to_string())
            .unwrap_or_default();
        let master_url = format!("http://{}:{port}", netns.host_addr);
        let listen = format!("{}:0", netns.ns_addr);
        let place = Placement {
            prefix: netns.exec_prefix(),
            master_url,
        };
        let agent = self
            .spawn_agent_at(index, &listen, resources, Some(place))
            .await?;
        self.agents.push(agent);
        Ok(index)
    }

    /// Starts agent `index` again (after [`ChildProcess::kill`]) on the same work dir, so
    /// with its checkpoint, and the same port, as an operator restarting it would; waits for
    /// its registration.
    pub async fn restart_agent(&mut self, index: usize, resources: &str) -> Result<(), Error> {
        let old = self.agents.get(index).ok_or_else(|| Error::Process {
            name: format!("agent-{index}"),
            message: "no such agent".into(),
        })?;
        let listen = old.url.trim_start_matches("http://").to_string();
        let agent = self.spawn_agent(index, &listen, resources).await?;
        self.agents[index] = agent;
        Ok(())
    }

    /// Starts `wasmesos agent` number `index` (its work dir is `agent-<index>`).
    async fn spawn_agent(
        &self,
        index: usize,
        listen: &str,
        resources: &str,
    ) -> Result<ChildProcess, Error> {
        self.spawn_agent_at(index, listen, resources, None).await
    }

    /// [`ProcessCluster::spawn_agent`], on the host or as `place` says.
    async fn spawn_agent_at(
        &self,
        index: usize,
        listen: &str,
        resources: &str,
        place: Option<Placement>,
    ) -> Result<ChildProcess, Error> {
        let work_dir = self.dir.path().join(format!("agent-{index}"));
        let work_dir = work_dir.to_string_lossy().into_owned();
        let master_url = place
            .as_ref()
            .map_or_else(|| self.master_url(), |place| place.master_url.clone());
        let binary = self.binary.to_string_lossy().into_owned();
        let prefix = place.map(|place| place.prefix).unwrap_or_default();
        let mut args: Vec<&str> = prefix.iter().map(String::as_str).collect();
        if !args.is_empty() {
            args.push(&binary);
        }
        args.extend([
            "agent",
            "--master",
            &master_url,
            "--listen",
            listen,
            "--work-dir",
            &work_dir,
            "--resources",
            resources,
        ]);
        args.extend(self.agent_args.iter().map(String::as_str));
        let name = format!("agent-{index}");
        // With a prefix (`ip netns exec NAME`), its first word is the program to start.
        let (program, args) = match args.split_first() {
            Some((first, rest)) if !prefix.is_empty() => (PathBuf::from(first), rest.to_vec()),
            _ => (self.binary.clone(), args),
        };
        spawn_and_read_url(&program, &name, &args, self.timeout, true).await
    }

    /// Waits until the master lists exactly `count` active agents.
    pub async fn wait_for_active_agents(&self, count: usize) -> Result<(), Error> {
        let url = self.master_url();
        eventually(
            &format!("{count} active agents"),
            self.timeout,
            async || {
                let state = cluster_state(&url).await;
                state.is_ok_and(|state| state.agents.iter().filter(|a| a.active).count() == count)
            },
        )
        .await?;
        Ok(())
    }
}

/// Where an agent process runs when not plainly on the host.
struct Placement {
    /// Words before the binary (`ip netns exec NAME`).
    prefix: Vec<String>,
    /// The master's URL as the agent reaches it from there.
    master_url: String,
}

/// Spawns `binary args…`, reads its stdout until the `listening on URL` line (and, for
/// agents, the `registered as ID` line), then drains the rest in the background.
pub async fn spawn_and_read_url(
    binary: &Path,
    name: &str,
    args: &[&str],
    timeout: Duration,
    wait_for_registration: bool,
) -> Result<ChildProcess, Error> {
    let mut child = Command::new(binary)
        .args(args)
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|err| Error::io(format!("starting {} {name}", binary.display()), err))?;
    let stdout = child.stdout.take().ok_or_else(|| Error::Process {
        name: name.to_string(),
        message: "no stdout pipe".into(),
    })?;
    let mut lines = BufReader::new(stdout).lines();
    let startup = read_startup(&mut lines, name, wait_for_registration);
    let timeout = scaled(timeout);
    let (url, agent_id) = match tokio::time::timeout(timeout, startup).await {
        Ok(result) => result?,
        Err(_elapsed) => {
            return Err(Error::Timeout {
                what: format!("{name} to start"),
                after: timeout,
            });
        }
    };
    tokio::spawn(drain(lines, name.to_string()));
    Ok(ChildProcess {
        name: name.to_string(),
        url,
        agent_id,
        child,
    })
}

async fn read_startup(
    lines: &mut Lines<BufReader<ChildStdout>>,
    name: &str,
    wait_for_registration: bool,
) -> Result<(String, Option<String>), Error> {
    let mut url = None;
    loop {
        let line = lines
            .next_line()
            .await
            .map_err(|err| Error::io(format!("reading the output of {name}"), err))?
            .ok_or_else(|| Error::Process {
                name: name.to_string(),
                message: "exited before it was ready".into(),
            })?;
        tracing::debug!(process = name, %line);
        if url.is_none() {
            url = word_after(&line, "listening on ");
        }
        let agent_id = word_after(&line, "registered as ");
        match (&url, agent_id) {
            (Some(url), Some(id)) => return Ok((url.clone(), Some(id))),
            (Some(url), None) if !wait_for_registration => return Ok((url.clone(), None)),
            _ => {}
        }
    }
}

/// The whitespace-delimited word following `marker` in `line`.
fn word_after(line: &str, marker: &str) -> Option<String> {
    let rest = &line[line.find(marker)? + marker.len()..];
    rest.split_whitespace().next().map(str::to_string)
}

async fn drain(mut lines: Lines<BufReader<ChildStdout>>, name: String) {
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::debug!(process = %name, %line);
    }
}

#[cfg(test)]
mod tests {
    use super::word_after;

    #[test]
    fn finds_the_url_and_the_agent_id_in_startup_lines() {
        let line = "wasmesos master listening on http://127.0.0.1:41234 (state in /tmp/x)";
        assert_eq!(
            word_after(line, "listening on ").as_deref(),
            Some("http://127.0.0.1:41234")
        );
        let line = "wasmesos agent registered as 5b1c-9";
        assert_eq!(
            word_after(line, "registered as ").as_deref(),
            Some("5b1c-9")
        );
        assert_eq!(word_after("nothing here", "listening on "), None);
    }
}
