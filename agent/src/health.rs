//! Health checks the agent runs against its running tasks, as Mesos 1.x does on the agent
//! side (`src/checks/health_checker.cpp`): HTTP and TCP probes of one of the task's ports on
//! the agent's own address, and the probe-less ALIVE check (healthy while the instance runs,
//! Marathon's default).
//!
//! [`HealthPolicy`] is the validated check; [`Tracker`] is the pure bookkeeping (grace period,
//! consecutive failures, when to report and when to kill), tested without sockets; [`watch`]
//! drives both over time and hands each [`Verdict`] to the runner, which turns it into a
//! status update or a kill. It is public so that a framework checking from outside (as
//! Marathon did for its HTTP checks) judges health by the same rules.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::debug;
use wasmesos_proto::HealthCheck;
use wasmesos_proto::health_check::Type;

use crate::Error;

/// Mesos's defaults for a check that leaves a field out.
const DEFAULT_DELAY: Duration = Duration::from_secs(15);
const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);
const DEFAULT_CONSECUTIVE_FAILURES: u32 = 3;
const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(10);

/// The longest any duration of a check may be; beyond it a value is a mistake, not a wish.
const MAX_SECONDS: f64 = 7.0 * 24.0 * 3600.0;
/// The shortest interval: a check every millisecond would be a load test, not a health check.
const MIN_INTERVAL: Duration = Duration::from_millis(10);
/// Paths longer than this are refused rather than sent.
const MAX_PATH_BYTES: usize = 2048;
/// More healthy statuses than this are refused: there are only 500 codes to list.
const MAX_STATUSES: usize = 500;

/// What one check probes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    /// `GET path` on the task's port: healthy on a status in `statuses`, or 200-399.
    Http {
        /// One of the task's ports.
        port: u16,
        /// The request target, starting with `/`.
        path: String,
        /// The healthy statuses; empty means 200-399.
        statuses: Vec<u16>,
    },
    /// A TCP connection to the task's port opens.
    Tcp {
        /// One of the task's ports.
        port: u16,
    },
    /// No probe: healthy while the instance runs.
    Alive,
}

/// A task's health check, validated against the ports the task was given.
#[derive(Clone, Debug, PartialEq)]
pub struct HealthPolicy {
    /// What each check does.
    pub probe: Probe,
    /// From the start to the first check.
    pub delay: Duration,
    /// From the end of one check to the start of the next.
    pub interval: Duration,
    /// How long one check may take before it counts as failed.
    pub timeout: Duration,
    /// Failures in a row that kill the task; never 0.
    pub consecutive_failures: u32,
    /// From the start, failures do not count until the task has been healthy once.
    pub grace_period: Duration,
}

impl HealthPolicy {
    /// The policy for `check`, refusing ports the task does not hold (`ports`), unknown types
    /// and durations that are negative, NaN or longer than a week.
    pub fn from_proto(check: &HealthCheck, ports: &[u16]) -> Result<Self, Error> {
        let probe = match check.r#type() {
            Type::Http => {
                let http = check.http.clone().unwrap_or_default();
                let port = task_port("HTTP", http.port, ports)?;
                let path = if http.path.is_empty() {
                    "/".to_owned()
                } else {
                    http.path
                };
                if !path.starts_with('/') || path.len() > MAX_PATH_BYTES {
                    return Err(invalid(format!(
                        "the HTTP health check path must start with `/` and be at most \
                         {MAX_PATH_BYTES} bytes, not `{}`",
                        path.escape_debug()
                    )));
                }
                if path.parse::<hyper::Uri>().is_err() {
                    return Err(invalid(format!(
                        "the HTTP health check path `{}` is not a valid request target",
                        path.escape_debug()
                    )));
                }
                if http.statuses.len() > MAX_STATUSES {
                    return Err(invalid(format!(
                        "an HTTP health check lists {} statuses; at most {MAX_STATUSES}",
                        http.statuses.len()
                    )));
                }
                let statuses = http
                    .statuses
                    .iter()
                    .map(|&status| match u16::try_from(status) {
                        Ok(code @ 100..=599) => Ok(code),
                        _ => Err(invalid(format!(
                            "{status} is not an HTTP status code (100-599)"
                        ))),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Probe::Http {
                    port,
                    path,
                    statuses,
                }
            }
            Type::Tcp => {
                let tcp = check.tcp.unwrap_or_default();
                Probe::Tcp {
                    port: task_port("TCP", tcp.port, ports)?,
                }
            }
            Type::Alive => Probe::Alive,
            Type::Unspecified => {
                return Err(invalid(
                    "a health check needs a type: HTTP, TCP or ALIVE".to_owned(),
                ));
            }
        };
        let interval = seconds("interval", check.interval_seconds, DEFAULT_INTERVAL)?;
        let consecutive_failures = match check.consecutive_failures {
            None | Some(0) => DEFAULT_CONSECUTIVE_FAILURES,
            Some(count) => count,
        };
        Ok(HealthPolicy {
            probe,
            delay: seconds("delay", check.delay_seconds, DEFAULT_DELAY)?,
            interval: interval.max(MIN_INTERVAL),
            timeout: seconds("timeout", check.timeout_seconds, DEFAULT_TIMEOUT)?,
            consecutive_failures,
            grace_period: seconds(
                "grace period",
                check.grace_period_seconds,
                DEFAULT_GRACE_PERIOD,
            )?,
        })
    }
}

fn invalid(message: String) -> Error {
    Error::InvalidTask(message)
}

fn task_port(kind: &str, port: u32, ports: &[u16]) -> Result<u16, Error> {
    match u16::try_from(port) {
        Ok(port) if port != 0 && ports.contains(&port) => Ok(port),
        _ => Err(invalid(format!(
            "the {kind} health check names port {port}, which is not one of the task's ports \
             ({})",
            if ports.is_empty() {
                "it has none".to_owned()
            } else {
                ports
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ))),
    }
}

/// `value` seconds, or `default` when absent; a zero delay or grace period means none, a zero
/// interval or timeout means the default (as Mesos, whose fields default when unset).
fn seconds(name: &str, value: Option<f64>, default: Duration) -> Result<Duration, Error> {
    let Some(value) = value else {
        return Ok(default);
    };
    if !value.is_finite() || !(0.0..=MAX_SECONDS).contains(&value) {
        return Err(invalid(format!(
            "the health check's {name} must be between 0 and {MAX_SECONDS} seconds, not {value}"
        )));
    }
    let zero_means_default = matches!(name, "interval" | "timeout");
    if value == 0.0 && zero_means_default {
        return Ok(default);
    }
    Ok(Duration::try_from_secs_f64(value).unwrap_or(default))
}

/// What a check's result means for the task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Report the task's health (a TASK_RUNNING update with `healthy`).
    Report {
        /// Whether the task is healthy now.
        healthy: bool,
        /// What the check found, for the update's message.
        message: String,
    },
    /// The task failed `consecutive_failures` checks in a row: kill it.
    Kill {
        /// Why, with the last failure.
        message: String,
    },
}

/// The bookkeeping of one task's checks, as Mesos's health checker keeps it: failures within
/// the grace period do not count until the task has been healthy once; every counted failure
/// is reported, a success only when the health changes; the failure that reaches
/// `consecutive_failures` kills.
#[derive(Debug)]
pub struct Tracker {
    consecutive_failures: u32,
    limit: u32,
    grace_period: Duration,
    healthy_once: bool,
    last: Option<bool>,
}

impl Tracker {
    /// Nothing checked yet.
    pub fn new(policy: &HealthPolicy) -> Self {
        Tracker {
            consecutive_failures: 0,
            limit: policy.consecutive_failures.max(1),
            grace_period: policy.grace_period,
            healthy_once: false,
            last: None,
        }
    }

    /// Records one check, `since_start` after the task started; `None` when nothing is to be
    /// said (a success that changes nothing, a failure forgiven by the grace period).
    pub fn record(&mut self, result: Result<(), String>, since_start: Duration) -> Option<Verdict> {
        match result {
            Ok(()) => {
                let changed = self.last != Some(true);
                self.consecutive_failures = 0;
                self.healthy_once = true;
                self.last = Some(true);
                changed.then(|| Verdict::Report {
                    healthy: true,
                    message: "health check passed".to_owned(),
                })
            }
            Err(why) => {
                if !self.healthy_once && since_start < self.grace_period {
                    debug!(%why, "health check failed within the grace period; not counted");
                    return None;
                }
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                self.last = Some(false);
                let message = format!(
                    "health check failed {} time(s) in a row (of {}): {why}",
                    self.consecutive_failures, self.limit
                );
                if self.consecutive_failures >= self.limit {
                    Some(Verdict::Kill { message })
                } else {
                    Some(Verdict::Report {
                        healthy: false,
                        message,
                    })
                }
            }
        }
    }
}

/// Runs `policy` against the task on `host` from `started`, sending every verdict to
/// `verdicts`, until a [`Verdict::Kill`] (sent last) or until nobody listens any more.
pub async fn watch(
    policy: HealthPolicy,
    host: IpAddr,
    started: Instant,
    verdicts: mpsc::Sender<Verdict>,
) {
    let mut tracker = Tracker::new(&policy);
    let mut next = started.checked_add(policy.delay).unwrap_or(started);
    loop {
        tokio::time::sleep_until(next).await;
        let result = match tokio::time::timeout(policy.timeout, probe(&policy.probe, host)).await {
            Ok(result) => result,
            Err(_) => Err(format!("no answer within {:?}", policy.timeout)),
        };
        let now = Instant::now();
        if let Some(verdict) = tracker.record(result, now.saturating_duration_since(started)) {
            let last = matches!(verdict, Verdict::Kill { .. });
            if verdicts.send(verdict).await.is_err() || last {
                return;
            }
        }
        next = now.checked_add(policy.interval).unwrap_or(now);
    }
}

/// One probe; `Err` says why the task is not healthy.
async fn probe(probe: &Probe, host: IpAddr) -> Result<(), String> {
    match probe {
        Probe::Alive => Ok(()),
        Probe::Tcp { port } => TcpStream::connect(SocketAddr::new(host, *port))
            .await
            .map(drop)
            .map_err(|err| format!("cannot connect to port {port}: {err}")),
        Probe::Http {
            port,
            path,
            statuses,
        } => {
            let status = http_get(SocketAddr::new(host, *port), path).await?;
            let healthy = if statuses.is_empty() {
                (200..400).contains(&status)
            } else {
                statuses.contains(&status)
            };
            if healthy {
                Ok(())
            } else {
                Err(format!("GET {path} on port {port} answered {status}"))
            }
        }
    }
}

/// The status code of `GET path` on `addr`, over one HTTP/1.1 connection closed afterwards.
async fn http_get(addr: SocketAddr, path: &str) -> Result<u16, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|err| format!("cannot connect to port {}: {err}", addr.port()))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|err| format!("HTTP handshake with port {}: {err}", addr.port()))?;
    let connection = tokio::spawn(connection);
    let request = hyper::Request::get(path)
        .header(hyper::header::HOST, addr.to_string())
        .header(hyper::header::USER_AGENT, "wasmesos-health-check")
        .header(hyper::header::CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .map_err(|err| format!("cannot build the request for {path}: {err}"))?;
    let answer = sender.send_request(request).await;
    connection.abort();
    answer
        .map(|response| response.status().as_u16())
        .map_err(|err| format!("GET {path} on port {}: {err}", addr.port()))
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use wasmesos_proto::health_check::{HttpCheck, TcpCheck};

    use super::*;

    const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    fn policy(probe: Probe, consecutive_failures: u32, grace: Duration) -> HealthPolicy {
        HealthPolicy {
            probe,
            delay: Duration::ZERO,
            interval: Duration::from_millis(10),
            timeout: Duration::from_secs(5),
            consecutive_failures,
            grace_period: grace,
        }
    }

    fn fail() -> Result<(), String> {
        Err("down".to_owned())
    }

    #[test]
    fn failures_in_the_grace_period_are_forgiven_until_the_first_success() {
        let mut tracker = Tracker::new(&policy(Probe::Alive, 2, Duration::from_secs(10)));
        let early = Duration::from_secs(1);
        assert_eq!(tracker.record(fail(), early), None);
        assert_eq!(tracker.record(fail(), early), None);
        assert!(matches!(
            tracker.record(Ok(()), early),
            Some(Verdict::Report { healthy: true, .. })
        ));
        // Healthy once: the grace period no longer forgives.
        assert!(matches!(
            tracker.record(fail(), early),
            Some(Verdict::Report { healthy: false, .. })
        ));
        assert!(matches!(
            tracker.record(fail(), early),
            Some(Verdict::Kill { .. })
        ));
    }

    #[test]
    fn every_counted_failure_is_reported_and_successes_only_on_a_change() {
        let mut tracker = Tracker::new(&policy(Probe::Alive, 3, Duration::ZERO));
        let later = Duration::from_secs(60);
        assert!(tracker.record(Ok(()), later).is_some());
        assert_eq!(tracker.record(Ok(()), later), None);
        let first = tracker.record(fail(), later);
        let second = tracker.record(fail(), later);
        assert!(
            matches!(&first, Some(Verdict::Report { healthy: false, message }) if message.contains("1 time(s)")),
            "{first:?}"
        );
        assert!(
            matches!(&second, Some(Verdict::Report { healthy: false, message }) if message.contains("2 time(s)")),
            "{second:?}"
        );
        // A success resets the count and is reported as a change back to healthy.
        assert!(matches!(
            tracker.record(Ok(()), later),
            Some(Verdict::Report { healthy: true, .. })
        ));
        assert!(tracker.record(fail(), later).is_some());
        assert!(tracker.record(fail(), later).is_some());
        assert!(matches!(
            tracker.record(fail(), later),
            Some(Verdict::Kill { .. })
        ));
    }

    #[test]
    fn the_policy_refuses_ports_the_task_lacks_and_bad_durations() {
        let check = HealthCheck {
            r#type: Type::Http as i32,
            http: Some(HttpCheck {
                port: 31001,
                ..HttpCheck::default()
            }),
            ..HealthCheck::default()
        };
        let err = HealthPolicy::from_proto(&check, &[31000]).expect_err("port not held");
        assert!(
            err.to_string()
                .contains("port 31001, which is not one of the task's ports (31000)"),
            "{err}"
        );
        let held = HealthPolicy::from_proto(&check, &[31000, 31001]).expect("held port");
        assert_eq!(
            held.probe,
            Probe::Http {
                port: 31001,
                path: "/".into(),
                statuses: vec![]
            }
        );
        assert_eq!(
            (held.delay, held.interval, held.consecutive_failures),
            (DEFAULT_DELAY, DEFAULT_INTERVAL, 3)
        );
        for bad in [-1.0, f64::NAN, f64::INFINITY, 1e12] {
            let check = HealthCheck {
                r#type: Type::Alive as i32,
                interval_seconds: Some(bad),
                ..HealthCheck::default()
            };
            assert!(HealthPolicy::from_proto(&check, &[]).is_err(), "{bad}");
        }
        let untyped = HealthCheck::default();
        assert!(HealthPolicy::from_proto(&untyped, &[]).is_err());
        let tcp = HealthCheck {
            r#type: Type::Tcp as i32,
            tcp: Some(TcpCheck { port: 70000 }),
            ..HealthCheck::default()
        };
        assert!(HealthPolicy::from_proto(&tcp, &[4464]).is_err());
        let bad_path = HealthCheck {
            r#type: Type::Http as i32,
            http: Some(HttpCheck {
                port: 31000,
                path: "/a b\n".into(),
                statuses: vec![],
            }),
            ..HealthCheck::default()
        };
        assert!(HealthPolicy::from_proto(&bad_path, &[31000]).is_err());
        let flooded = HealthCheck {
            r#type: Type::Http as i32,
            http: Some(HttpCheck {
                port: 31000,
                path: "/".into(),
                statuses: vec![200; 100_000],
            }),
            ..HealthCheck::default()
        };
        assert!(HealthPolicy::from_proto(&flooded, &[31000]).is_err());
    }

    /// Answers every connection's first request with `status`, forever.
    async fn http_server(status: u16) -> u16 {
        let listener = TcpListener::bind((LOCALHOST, 0)).await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    let _ = stream.read(&mut buf).await;
                    let answer = format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    );
                    let _ = stream.write_all(answer.as_bytes()).await;
                });
            }
        });
        port
    }

    #[tokio::test]
    async fn http_probes_judge_by_status_and_tcp_probes_by_connecting() {
        let ok = http_server(204).await;
        let redirect = http_server(302).await;
        let broken = http_server(503).await;
        let http = |port, statuses: Vec<u16>| Probe::Http {
            port,
            path: "/health".into(),
            statuses,
        };
        assert_eq!(probe(&http(ok, vec![]), LOCALHOST).await, Ok(()));
        assert_eq!(probe(&http(redirect, vec![]), LOCALHOST).await, Ok(()));
        let err = probe(&http(broken, vec![]), LOCALHOST)
            .await
            .expect_err("503");
        assert!(err.contains("answered 503"), "{err}");
        assert_eq!(probe(&http(broken, vec![503]), LOCALHOST).await, Ok(()));
        assert!(probe(&http(ok, vec![200]), LOCALHOST).await.is_err());
        assert_eq!(probe(&Probe::Tcp { port: ok }, LOCALHOST).await, Ok(()));
        // A port nobody listens on: bind one, learn it, free it.
        let closed = {
            let listener = TcpListener::bind((LOCALHOST, 0)).await.expect("bind");
            listener.local_addr().expect("addr").port()
        };
        assert!(
            probe(&Probe::Tcp { port: closed }, LOCALHOST)
                .await
                .is_err()
        );
        assert!(probe(&http(closed, vec![]), LOCALHOST).await.is_err());
    }

    #[tokio::test]
    async fn watch_kills_after_the_consecutive_failures_and_reports_each_one() {
        let broken = http_server(500).await;
        let probe = Probe::Http {
            port: broken,
            path: "/".into(),
            statuses: vec![],
        };
        let (sender, mut verdicts) = mpsc::channel(4);
        watch(
            policy(probe, 3, Duration::ZERO),
            LOCALHOST,
            Instant::now(),
            sender,
        )
        .await;
        let mut reports = Vec::new();
        while let Some(verdict) = verdicts.recv().await {
            reports.push(verdict);
        }
        let Some(Verdict::Kill { message }) = reports.pop() else {
            panic!("the last verdict kills: {reports:?}");
        };
        assert!(message.contains("3 time(s) in a row (of 3)"), "{message}");
        assert!(message.contains("answered 500"), "{message}");
        assert_eq!(reports.len(), 2, "{reports:?}");
        assert!(
            reports
                .iter()
                .all(|verdict| matches!(verdict, Verdict::Report { healthy: false, .. }))
        );
    }

    #[tokio::test]
    async fn a_probe_that_hangs_fails_by_its_timeout() {
        // Accepts and never answers.
        let listener = TcpListener::bind((LOCALHOST, 0)).await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let _held = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                held.push(stream);
            }
        });
        let mut policy = policy(
            Probe::Http {
                port,
                path: "/".into(),
                statuses: vec![],
            },
            1,
            Duration::ZERO,
        );
        policy.timeout = Duration::from_millis(50);
        let (sender, mut verdicts) = mpsc::channel(4);
        watch(policy, LOCALHOST, Instant::now(), sender).await;
        let verdict = verdicts.recv().await;
        assert!(
            matches!(&verdict, Some(Verdict::Kill { message }) if message.contains("no answer within")),
            "{verdict:?}"
        );
    }
}
