//! Network namespaces for partition tests (Linux, root): each agent gets a namespace of its
//! own joined to the host by a veth pair, with a /30 in 10.213.0.0/16 on that link only.
//! Setting the host end down cuts the agent off; setting it up heals the link. The namespace
//! and the pair are deleted when the [`NetNs`] is dropped, whatever the test did.

use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::Error;

/// Links made by this process so far, so that names and subnets differ within a process.
static NEXT: AtomicU32 = AtomicU32::new(0);

/// One namespace and its veth pair.
#[derive(Debug)]
pub struct NetNs {
    /// The namespace's name (`ip netns`).
    pub name: String,
    /// The host end of the veth pair (the end the test sets down and up).
    pub host_link: String,
    /// The host end's address: what the agent in the namespace reaches the master on.
    pub host_addr: Ipv4Addr,
    /// The namespace end's address: where the agent listens.
    pub ns_addr: Ipv4Addr,
}

impl NetNs {
    /// Creates a namespace with a veth pair to the host, both ends up.
    /// [`Error::NetNsUnavailable`] says the machine does not allow it (not Linux, not root,
    /// no `ip`): the caller skips its test with that line.
    pub fn create() -> Result<NetNs, Error> {
        if !cfg!(target_os = "linux") {
            return Err(Error::NetNsUnavailable(
                "network namespaces exist only on Linux".into(),
            ));
        }
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        // Unique across the processes of parallel test runs: the pid, then a counter.
        let pid = std::process::id();
        let tag = format!("{:x}{n}", pid % 0x10_0000);
        // A /30 per slot: 10.213.(slot / 64).(4 * (slot % 64) + 1 and + 2).
        let slot = pid.wrapping_mul(8).wrapping_add(n) % 16_384;
        let third = u8::try_from(slot / 64).unwrap_or_default();
        let base = u8::try_from((slot % 64) * 4).unwrap_or_default();
        let netns = NetNs {
            name: format!("wasmesos-{tag}"),
            host_link: format!("wmh{tag}"),
            host_addr: Ipv4Addr::new(10, 213, third, base + 1),
            ns_addr: Ipv4Addr::new(10, 213, third, base + 2),
        };
        ip(&["netns", "add", &netns.name]).map_err(|why| {
            let denied = ["not permitted", "Permission denied", "cannot run"];
            if denied.iter().any(|word| why.contains(word)) {
                Error::NetNsUnavailable(why)
            } else {
                failed(why)
            }
        })?;
        // From here on, Drop deletes whatever was made.
        let ns_link = format!("wmn{tag}");
        let host = format!("{}/30", netns.host_addr);
        let inside = format!("{}/30", netns.ns_addr);
        let steps: [&[&str]; 6] = [
            &[
                "link",
                "add",
                &netns.host_link,
                "type",
                "veth",
                "peer",
                "name",
                &ns_link,
            ],
            &["link", "set", &ns_link, "netns", &netns.name],
            &["addr", "add", &host, "dev", &netns.host_link],
            &["link", "set", &netns.host_link, "up"],
            &["-n", &netns.name, "addr", "add", &inside, "dev", &ns_link],
            &["-n", &netns.name, "link", "set", &ns_link, "up"],
        ];
        for step in steps {
            ip(step).map_err(failed)?;
        }
        ip(&["-n", &netns.name, "link", "set", "lo", "up"]).map_err(failed)?;
        Ok(netns)
    }

    /// Cuts the link: the host end goes down, so nothing crosses in either direction.
    pub fn link_down(&self) -> Result<(), Error> {
        self.set_link("down")
    }

    /// Heals the link.
    pub fn link_up(&self) -> Result<(), Error> {
        self.set_link("up")
    }

    fn set_link(&self, state: &str) -> Result<(), Error> {
        ip(&["link", "set", &self.host_link, state]).map_err(failed)
    }

    /// The words that run a program inside the namespace: `ip netns exec NAME`, which execs
    /// the program (same pid, so killing it kills the program).
    pub fn exec_prefix(&self) -> Vec<String> {
        vec![
            "ip".into(),
            "netns".into(),
            "exec".into(),
            self.name.clone(),
        ]
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        // Deleting one end deletes the pair; deleting the namespace ends its end too.
        for args in [
            &["link", "del", self.host_link.as_str()][..],
            &["netns", "del", self.name.as_str()][..],
        ] {
            if let Err(err) = ip(args) {
                tracing::debug!(netns = %self.name, %err, "cleanup step failed");
            }
        }
    }
}

/// Runs `ip ARGS`, or says what went wrong with its stderr.
fn ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|err| format!("cannot run `ip`: {err}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

fn failed(message: String) -> Error {
    Error::Process {
        name: "ip".into(),
        message,
    }
}
