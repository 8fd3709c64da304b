//! The operator's say over the network grants of tasks.
//!
//! A framework asks for addresses in its executor's `network_allow`. The agent grants them
//! only within its `--network-allow` (when set), and refuses a task that asks for more, naming
//! the grant. Whatever is granted, a guest never reaches the protected addresses: the agent's
//! own port (on any address: the agent may listen on all of them), the master's address, and
//! the link-local networks where clouds serve instance metadata. An operator who wants a
//! task to reach one of them names that one address in `--network-allow`
//! (`127.0.0.1:5051`, `169.254.169.254`); a wider network (`0.0.0.0/0`) does not count.

use wasmesos_wasm_executor::{AddrRule, NetworkPolicy};

use crate::Error;

/// What the operator allows tasks, and what no task may reach.
#[derive(Debug, Clone, Default)]
pub(crate) struct OperatorNetwork {
    /// `None`: any grant but the protected addresses.
    allow: Option<Vec<AddrRule>>,
    protected: Vec<AddrRule>,
    /// The single addresses of `allow`: protected ones named there stay reachable.
    named: Vec<AddrRule>,
}

impl OperatorNetwork {
    /// The operator's `allow` list (if any), protecting `protected`.
    pub(crate) fn new(allow: Option<Vec<AddrRule>>, protected: Vec<AddrRule>) -> Self {
        let named = allow
            .iter()
            .flatten()
            .filter(|rule| rule.is_single_address())
            .copied()
            .collect();
        OperatorNetwork {
            allow,
            protected,
            named,
        }
    }

    /// The addresses an agent listening on `agent_port` protects: the link-local networks,
    /// its own port on every address, and `master` (the master's addresses).
    pub(crate) fn protected(agent_port: u16, master: Vec<AddrRule>) -> Vec<AddrRule> {
        let mut protected = AddrRule::link_local().to_vec();
        protected.extend(AddrRule::port_anywhere(agent_port));
        protected.extend(master);
        protected
    }

    /// Checks a task's grants against the operator's list and adds the protected addresses
    /// to its policy. Fails with [`Error::InvalidTask`] naming the first grant outside the
    /// list.
    pub(crate) fn apply(&self, policy: &mut NetworkPolicy) -> Result<(), Error> {
        if let Some(allow) = &self.allow {
            let outside = policy
                .allow
                .iter()
                .find(|grant| !allow.iter().any(|rule| rule.covers(grant)));
            if let Some(grant) = outside {
                let list: Vec<String> = allow.iter().map(ToString::to_string).collect();
                return Err(Error::InvalidTask(format!(
                    "network grant `{grant}` is outside what this agent allows tasks \
                     (--network-allow {})",
                    match list.is_empty() {
                        true => "is empty".to_owned(),
                        false => list.join(","),
                    }
                )));
            }
        }
        policy.deny.extend(self.protected.iter().copied());
        policy.deny_exceptions.extend(self.named.iter().copied());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;
    use wasmesos_wasm_executor::AllowedAddr;

    fn rules(list: &[&str]) -> Vec<AddrRule> {
        list.iter()
            .map(|text| text.parse().expect("a rule"))
            .collect()
    }

    fn addr(text: &str) -> SocketAddr {
        text.parse().expect("an address")
    }

    fn policy_permits(policy: &NetworkPolicy, text: &str) -> bool {
        policy.permits(addr(text), false)
    }

    fn grants(list: &[&str]) -> NetworkPolicy {
        NetworkPolicy::allowing(
            list.iter()
                .map(|text| text.parse::<AllowedAddr>().expect("a grant")),
        )
    }

    #[test]
    fn a_grant_outside_the_operators_list_refuses_the_task_naming_it() {
        let operator = OperatorNetwork::new(Some(rules(&["10.0.0.0/8", "0.0.0.0/0:443"])), vec![]);
        let mut inside = grants(&["10.1.2.3", "93.184.216.34:443"]);
        operator.apply(&mut inside).expect("inside the list");
        let mut outside = grants(&["10.1.2.3:80", "93.184.216.34"]);
        let err = operator.apply(&mut outside).expect_err("outside the list");
        let text = err.to_string();
        assert!(text.contains("`93.184.216.34`"), "{text}");
        assert!(
            text.contains("--network-allow 10.0.0.0/8,0.0.0.0/0:443"),
            "{text}"
        );
    }

    #[test]
    fn protected_addresses_stay_out_of_reach_unless_named_one_by_one() {
        let master = vec![AddrRule::socket(addr("10.0.0.1:5050"))];
        let protected = OperatorNetwork::protected(5051, master);
        let mut policy = grants(&["127.0.0.1", "10.0.0.1", "169.254.169.254"]);
        OperatorNetwork::new(None, protected.clone())
            .apply(&mut policy)
            .expect("no list: any grant");
        for reachable in ["127.0.0.1:8080", "10.0.0.1:80"] {
            assert!(policy_permits(&policy, reachable), "{reachable}");
        }
        for protected in [
            "127.0.0.1:5051",
            "10.0.0.1:5050",
            "10.0.0.1:5051",
            "169.254.169.254:80",
        ] {
            assert!(!policy_permits(&policy, protected), "{protected}");
        }
        // A wide network allows the grant but not the protected addresses in it; a single
        // address named on purpose does.
        let operator = OperatorNetwork::new(
            Some(rules(&["0.0.0.0/0", "127.0.0.1:5051", "169.254.169.254"])),
            protected,
        );
        let mut policy = grants(&["127.0.0.1", "10.0.0.1", "169.254.169.254"]);
        operator.apply(&mut policy).expect("inside the list");
        assert!(policy_permits(&policy, "127.0.0.1:5051"));
        assert!(policy_permits(&policy, "169.254.169.254:80"));
        assert!(!policy_permits(&policy, "10.0.0.1:5050"));
    }
}
