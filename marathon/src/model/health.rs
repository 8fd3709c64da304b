//! Marathon's app health checks (`healthChecks` items): fields, defaults, and the agent's
//! health check each one becomes.

use serde::{Deserialize, Serialize};
use wasmesos_proto::{HealthCheck, health_check};

/// A health check as Marathon answers it, defaults filled in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheckDef {
    pub protocol: Protocol,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_index: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u32>,
    pub grace_period_seconds: f64,
    pub interval_seconds: f64,
    pub timeout_seconds: f64,
    pub max_consecutive_failures: u32,
    pub delay_seconds: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_http1xx: Option<bool>,
}

/// The protocols Marathon knows. wasmesos's agents probe HTTP and TCP (Marathon's and the
/// `MESOS_` ones alike); the others are refused at validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Protocol {
    Http,
    Https,
    Tcp,
    Command,
    MesosHttp,
    MesosHttps,
    MesosTcp,
}

impl Protocol {
    fn is_http(self) -> bool {
        matches!(self, Protocol::Http | Protocol::MesosHttp)
    }

    /// Whether the agent can run it.
    pub fn supported(self) -> bool {
        matches!(
            self,
            Protocol::Http | Protocol::MesosHttp | Protocol::Tcp | Protocol::MesosTcp
        )
    }
}

/// A `healthChecks` item as sent: every field optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheckInput {
    pub protocol: Option<Protocol>,
    pub path: Option<String>,
    pub port_index: Option<u32>,
    pub port: Option<u32>,
    pub grace_period_seconds: Option<f64>,
    pub interval_seconds: Option<f64>,
    pub timeout_seconds: Option<f64>,
    pub max_consecutive_failures: Option<u32>,
    pub delay_seconds: Option<f64>,
    pub ignore_http1xx: Option<bool>,
    pub command: Option<serde_json::Value>,
}

impl HealthCheckInput {
    /// With Marathon's defaults: HTTP on `/` of port index 0, grace 300 s, every 60 s,
    /// timeout 20 s, 3 failures, delay 15 s.
    pub fn normalize(self) -> HealthCheckDef {
        let protocol = self.protocol.unwrap_or(Protocol::Http);
        let port_index = match (self.port_index, self.port) {
            (None, None) if protocol != Protocol::Command => Some(0),
            (index, _) => index,
        };
        HealthCheckDef {
            protocol,
            path: if protocol.is_http() {
                Some(self.path.unwrap_or_else(|| "/".into()))
            } else {
                None
            },
            port_index,
            port: self.port,
            grace_period_seconds: self.grace_period_seconds.unwrap_or(300.0),
            interval_seconds: self.interval_seconds.unwrap_or(60.0),
            timeout_seconds: self.timeout_seconds.unwrap_or(20.0),
            max_consecutive_failures: self.max_consecutive_failures.unwrap_or(3),
            delay_seconds: self.delay_seconds.unwrap_or(15.0),
            ignore_http1xx: protocol
                .is_http()
                .then(|| self.ignore_http1xx.unwrap_or(false)),
        }
    }
}

impl HealthCheckDef {
    /// The agent's check for a task holding `ports`; `None` when the port it names is not
    /// one of them.
    pub fn to_agent(&self, ports: &[u64]) -> Option<HealthCheck> {
        let port = match (self.port, self.port_index) {
            (Some(port), _) if port != 0 => u64::from(port),
            (_, Some(index)) => *ports.get(usize::try_from(index).ok()?)?,
            _ => return None,
        };
        let port = u32::try_from(port).ok()?;
        let mut check = HealthCheck {
            delay_seconds: Some(self.delay_seconds),
            interval_seconds: Some(self.interval_seconds),
            timeout_seconds: Some(self.timeout_seconds),
            // Marathon's 0 means "never kill"; the agent counts to a limit.
            consecutive_failures: Some(match self.max_consecutive_failures {
                0 => u32::MAX,
                failures => failures,
            }),
            grace_period_seconds: Some(self.grace_period_seconds),
            ..HealthCheck::default()
        };
        if self.protocol.is_http() {
            check.r#type = health_check::Type::Http as i32;
            check.http = Some(health_check::HttpCheck {
                port,
                path: self.path.clone().unwrap_or_else(|| "/".into()),
                statuses: Vec::new(),
            });
        } else {
            check.r#type = health_check::Type::Tcp as i32;
            check.tcp = Some(health_check::TcpCheck { port });
        }
        Some(check)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_marathons_and_the_port_index_picks_the_task_port() {
        let check = HealthCheckInput::default().normalize();
        assert_eq!(check.protocol, Protocol::Http);
        assert_eq!(check.path.as_deref(), Some("/"));
        assert_eq!(check.grace_period_seconds, 300.0);
        assert_eq!(check.interval_seconds, 60.0);
        assert_eq!(check.max_consecutive_failures, 3);
        let agent = check.to_agent(&[31005, 31006]).expect("a check");
        assert_eq!(agent.http.expect("http").port, 31005);
        let tcp = HealthCheckInput {
            protocol: Some(Protocol::Tcp),
            port_index: Some(1),
            max_consecutive_failures: Some(0),
            ..HealthCheckInput::default()
        }
        .normalize();
        let agent = tcp.to_agent(&[31005, 31006]).expect("a check");
        assert_eq!(agent.tcp.expect("tcp").port, 31006);
        assert_eq!(agent.consecutive_failures, Some(u32::MAX));
        assert!(tcp.to_agent(&[31005]).is_none());
    }
}
