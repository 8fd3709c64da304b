//! Who may call the master, and what they may do: authentication of every request on the
//! master's one port (gRPC and HTTP alike), and the operator's ACLs ([`acls`]).
//!
//! **Authentication** happens once, in [`authenticate`], a middleware in front of every
//! route. A request's `authorization: Basic …` header (HTTP Basic; the same header is gRPC
//! metadata) is checked against the credentials file in constant time. What it proves
//! travels with the request as a [`Caller`] extension; handlers never read the header.
//! * A wrong or malformed credential is refused everywhere (401, or gRPC UNAUTHENTICATED).
//! * A missing one is refused where the endpoint's class requires authentication:
//!   frameworks (`Scheduler`, `Artifacts`, `/api/v1/scheduler`), agents (`AgentChannel`),
//!   read-write operator calls (`Operator` calls that change state, `POST /api/v1`), and
//!   read-only ones (every other GET and `Operator` read). `/health`, `/master/health`
//!   and the web UI's static files are always open.
//!
//! **Authorization** happens in the handlers, through [`Security::allows`], since only they
//! know the objects (roles, the framework whose task or sandbox is asked for).

pub mod acls;
pub mod limits;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use wasmesos_detector::Credentials;
use wasmesos_proto::v1::FrameworkInfo;

use crate::core::StateSnapshot;

pub use acls::{Acls, Action};
pub use limits::RateLimits;

/// Which callers must authenticate (Mesos's `--authenticate_*` flags). With credentials
/// loaded, [`Authentication::required`] turns every class on.
#[derive(Clone, Debug, Default)]
pub struct Authentication {
    /// The principals and secrets the master accepts (`--credentials`). `None`: nobody can
    /// authenticate, so no class may require it.
    pub credentials: Option<Credentials>,
    /// Scheduler, artifact and Mesos scheduler API calls.
    pub frameworks: bool,
    /// Agent registration and every agent call.
    pub agents: bool,
    /// Operator reads: state, metrics, logs, GET endpoints.
    pub http_readonly: bool,
    /// Operator writes: weights, quota, reservations, kills, teardown, `POST /api/v1`.
    pub http_readwrite: bool,
}

impl Authentication {
    /// Every class authenticated against `credentials`.
    pub fn required(credentials: Credentials) -> Self {
        Self {
            credentials: Some(credentials),
            frameworks: true,
            agents: true,
            http_readonly: true,
            http_readwrite: true,
        }
    }

    /// Whether any class is authenticated.
    pub fn enabled(&self) -> bool {
        self.frameworks || self.agents || self.http_readonly || self.http_readwrite
    }

    /// A class that requires authentication needs credentials to check against.
    pub(crate) fn validate(&self) -> Result<(), crate::Error> {
        if self.enabled() && self.credentials.is_none() {
            return Err(crate::Error::InvalidConfig(
                "authentication: requiring authentication needs a credentials file (--credentials)"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// The principal a request proved, set by [`authenticate`] on every request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Caller {
    pub principal: Option<Arc<str>>,
}

impl Caller {
    /// The caller of a gRPC request (no extension means no principal).
    pub(crate) fn of<T>(request: &tonic::Request<T>) -> Self {
        request
            .extensions()
            .get::<Caller>()
            .cloned()
            .unwrap_or_default()
    }

    pub(crate) fn principal(&self) -> Option<&str> {
        self.principal.as_deref()
    }
}

/// The master's authentication, ACLs and per-principal limits, shared by every handler.
#[derive(Clone, Debug)]
pub struct Security {
    pub authentication: Authentication,
    pub acls: Acls,
    /// Where the credentials were read from, if from a file (for `--print-config`).
    pub credentials_file: Option<std::path::PathBuf>,
    /// Where the ACLs were read from, if from a file.
    pub acls_file: Option<std::path::PathBuf>,
    /// What the master presents to agents that require authentication when it reads a
    /// task's sandbox for an operator (`--agent-credential`).
    pub agent_credential: Option<wasmesos_detector::Credential>,
    /// Where that credential was read from.
    pub agent_credential_file: Option<std::path::PathBuf>,
    /// Calls per second per principal (`--rate-limits`); default: none.
    pub rate_limits: RateLimits,
    /// Where the rate limits were read from.
    pub rate_limits_file: Option<std::path::PathBuf>,
    /// Frameworks one principal may have registered at once (anonymous frameworks count as
    /// one principal); default [`DEFAULT_MAX_FRAMEWORKS_PER_PRINCIPAL`].
    pub max_frameworks_per_principal: usize,
    /// Bytes of new components one principal may upload (deduplicated uploads cost
    /// nothing; counted since the master started); `None`: no quota.
    pub max_upload_bytes_per_principal: Option<u64>,
}

/// Frameworks one principal may have registered at once unless configured.
pub const DEFAULT_MAX_FRAMEWORKS_PER_PRINCIPAL: usize = 1000;

impl Security {
    /// Whether `caller` may do `action` on `objects` (see [`Acls::allows`]).
    pub(crate) fn allows(
        &self,
        caller: &Caller,
        action: Action,
        objects: acls::Objects<'_>,
    ) -> bool {
        self.acls.allows(caller.principal(), action, objects)
    }

    /// `Ok` when allowed, else [`crate::Error::Forbidden`] naming the principal and action.
    pub(crate) fn check(
        &self,
        caller: &Caller,
        action: Action,
        objects: acls::Objects<'_>,
    ) -> Result<(), crate::Error> {
        if self.allows(caller, action, objects) {
            return Ok(());
        }
        let what: Vec<String> = objects.iter().map(|(k, v)| format!("{k} {v:?}")).collect();
        Err(crate::Error::Forbidden(format!(
            "{} may not {} ({})",
            caller.principal().map_or_else(
                || "an unauthenticated caller".to_string(),
                |p| format!("principal {p:?}")
            ),
            action.key().replace('_', " "),
            what.join(", ")
        )))
    }

    /// A maintenance action on `machines`, as Mesos approves it machine by machine (a
    /// rule's `machines` is ANY or NONE; a list of values is matched against each machine's
    /// hostname, else its IP). With no machine named (an empty schedule), the caller
    /// still needs the action for some machine: Mesos would let anyone post an empty
    /// schedule.
    pub(crate) fn check_machines(
        &self,
        caller: &Caller,
        action: Action,
        machines: &[wasmesos_proto::v1::MachineId],
    ) -> Result<(), crate::Error> {
        if machines.is_empty() {
            // As if for a machine no rule's values name: an ANY or NONE rule decides.
            return self.check(caller, action, &[("machines", "*")]);
        }
        for machine in machines {
            self.check(caller, action, &[("machines", machine_object(machine))])?;
        }
        Ok(())
    }

    /// Whether `caller` may see `machine` under `action` (GET_MAINTENANCE_SCHEDULE and
    /// GET_MAINTENANCE_STATUS leave out the machines it may not see, as Mesos).
    pub(crate) fn sees_machine(
        &self,
        caller: &Caller,
        action: Action,
        machine: &wasmesos_proto::v1::MachineId,
    ) -> bool {
        self.allows(caller, action, &[("machines", machine_object(machine))])
    }

    /// SUBSCRIBE: binds the framework to the caller's principal and checks
    /// `register_frameworks` for each of its roles. An authenticated caller's principal is
    /// the framework's (a different `FrameworkInfo.principal` is refused, as Mesos refuses
    /// it); without authentication the framework's claimed principal stands.
    pub(crate) fn admit_framework(
        &self,
        caller: &Caller,
        info: &mut wasmesos_proto::v1::FrameworkInfo,
    ) -> Result<(), crate::Error> {
        if let Some(principal) = caller.principal() {
            if info.principal.is_empty() {
                info.principal = principal.to_string();
            } else if info.principal != principal {
                return Err(crate::Error::Forbidden(format!(
                    "Framework principal '{}' does not match authenticated principal '{principal}'",
                    info.principal
                )));
            }
        }
        let roles = if info.roles.is_empty() {
            vec!["*".to_string()]
        } else {
            info.roles.clone()
        };
        for role in &roles {
            self.check(caller, Action::RegisterFrameworks, &[("roles", role)])?;
        }
        Ok(())
    }

    /// ACCEPT: `run_tasks` for launches (object: the framework's user), `reserve_resources`
    /// for each role reserved, `unreserve_resources` for unreservations.
    pub(crate) fn admit_operations(
        &self,
        caller: &Caller,
        user: &str,
        operations: &[wasmesos_proto::v1::Operation],
    ) -> Result<(), crate::Error> {
        use wasmesos_proto::v1::operation::Operation as Op;
        for operation in operations {
            match &operation.operation {
                Some(Op::Launch(_)) => self.check(caller, Action::RunTasks, &[("users", user)])?,
                Some(Op::Reserve(reserve)) => {
                    for resource in reserve.resources.iter().flat_map(|r| &r.resources) {
                        self.check(
                            caller,
                            Action::ReserveResources,
                            &[("roles", &resource.role)],
                        )?;
                    }
                }
                Some(Op::Unreserve(_)) => self.check(caller, Action::UnreserveResources, &[])?,
                None => {}
            }
        }
        Ok(())
    }

    /// Whether ACLs can hide anything from anyone in state views.
    pub(crate) fn filters_views(&self) -> bool {
        self.acls.restricts(Action::ViewFrameworks)
            || self.acls.restricts(Action::ViewTasks)
            || self.acls.restricts(Action::GetMaintenanceStatuses)
    }

    /// The part of `snapshot` that `caller` may see: frameworks by `view_frameworks`, tasks
    /// (with their env and args) by `view_tasks`, each judged by the framework's principal
    /// and user; machines in maintenance (and an agent's window) by
    /// `get_maintenance_statuses`. The same snapshot when the ACLs hide nothing.
    pub(crate) fn view(&self, caller: &Caller, snapshot: Arc<StateSnapshot>) -> Arc<StateSnapshot> {
        if !self.filters_views() {
            return snapshot;
        }
        let mut frameworks = std::collections::HashSet::new();
        let mut tasks = std::collections::HashSet::new();
        for framework in snapshot
            .frameworks
            .iter()
            .chain(&snapshot.completed_frameworks)
        {
            let objects = framework_objects(&framework.info);
            if self.allows(caller, Action::ViewFrameworks, &objects) {
                frameworks.insert(framework.id.as_str());
            }
            if self.allows(caller, Action::ViewTasks, &objects) {
                tasks.insert(framework.id.as_str());
            }
        }
        let mut visible = (*snapshot).clone();
        visible
            .frameworks
            .retain(|f| frameworks.contains(f.id.as_str()));
        visible
            .completed_frameworks
            .retain(|f| frameworks.contains(f.id.as_str()));
        visible
            .tasks
            .retain(|t| tasks.contains(t.framework_id.as_str()));
        let sees = |hostname: &str, ip: &str| {
            let machine = wasmesos_proto::v1::MachineId {
                hostname: hostname.to_string(),
                ip: ip.to_string(),
            };
            self.sees_machine(caller, Action::GetMaintenanceStatuses, &machine)
        };
        visible.maintenance.retain(|m| sees(&m.hostname, &m.ip));
        for agent in &mut visible.agents {
            if agent.unavailability.is_some() && !sees(&agent.hostname, "") {
                agent.unavailability = None;
            }
        }
        Arc::new(visible)
    }

    /// `access_sandboxes` for a task of `framework_id`, judged on `snapshot`: refused also
    /// when the framework is unknown and the ACLs restrict sandboxes.
    pub(crate) fn check_sandbox(
        &self,
        caller: &Caller,
        snapshot: &StateSnapshot,
        framework_id: &str,
    ) -> Result<(), crate::Error> {
        if !self.acls.restricts(Action::AccessSandboxes) {
            return Ok(());
        }
        let framework = snapshot
            .frameworks
            .iter()
            .chain(&snapshot.completed_frameworks)
            .find(|f| f.id == framework_id);
        let objects = framework.map_or([("framework_principals", ""), ("users", "")], |f| {
            framework_objects(&f.info)
        });
        self.check(caller, Action::AccessSandboxes, &objects)
    }
}

impl Default for Security {
    fn default() -> Self {
        Self {
            authentication: Authentication::default(),
            acls: Acls::default(),
            credentials_file: None,
            acls_file: None,
            agent_credential: None,
            agent_credential_file: None,
            rate_limits: RateLimits::default(),
            rate_limits_file: None,
            max_frameworks_per_principal: DEFAULT_MAX_FRAMEWORKS_PER_PRINCIPAL,
            max_upload_bytes_per_principal: None,
        }
    }
}

/// A machine as an ACL object: its hostname, else its IP.
fn machine_object(machine: &wasmesos_proto::v1::MachineId) -> &str {
    if machine.hostname.is_empty() {
        &machine.ip
    } else {
        &machine.hostname
    }
}

/// The ACL objects of a framework: its principal and its user.
pub(crate) fn framework_objects(info: &FrameworkInfo) -> [(&'static str, &str); 2] {
    [
        ("framework_principals", info.principal.as_str()),
        ("users", info.user.as_str()),
    ]
}

/// What an endpoint is, for who must authenticate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Open,
    Framework,
    Agent,
    ReadOnly,
    ReadWrite,
}

fn class(method: &axum::http::Method, path: &str) -> Class {
    if let Some(rest) = path.strip_prefix("/wasmesos.v1.") {
        let (service, call) = rest.split_once('/').unwrap_or((rest, ""));
        return match service {
            "Scheduler" | "Artifacts" => Class::Framework,
            "AgentChannel" => Class::Agent,
            "Operator"
                if ["Get", "Read", "Watch", "List"]
                    .iter()
                    .any(|p| call.starts_with(p)) =>
            {
                Class::ReadOnly
            }
            _ => Class::ReadWrite,
        };
    }
    match path {
        "/health" | "/master/health" | "/" | "/favicon.ico" => Class::Open,
        "/api/v1/scheduler" => Class::Framework,
        _ if path.starts_with("/ui/") => Class::Open,
        _ if *method == axum::http::Method::GET || *method == axum::http::Method::HEAD => {
            Class::ReadOnly
        }
        _ => Class::ReadWrite,
    }
}

/// The middleware: checks the request's credential and records its [`Caller`].
pub(crate) async fn authenticate(
    State(gate): State<Arc<Gate>>,
    request: Request,
    next: Next,
) -> Response {
    let auth = &gate.security.authentication;
    let class = class(request.method(), request.uri().path());
    let grpc = is_grpc(&request);
    let Some(credentials) = &auth.credentials else {
        return admit(&gate, class, grpc, Caller::default(), request, next).await;
    };
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    let caller = match credentials.authenticate(header) {
        Ok(Some(principal)) => Caller {
            principal: Some(Arc::from(principal)),
        },
        Ok(None) => {
            let required = match class {
                Class::Open => false,
                Class::Framework => auth.frameworks,
                Class::Agent => auth.agents,
                Class::ReadOnly => auth.http_readonly,
                Class::ReadWrite => auth.http_readwrite,
            };
            if required {
                return unauthenticated(grpc, "this endpoint requires authentication");
            }
            Caller::default()
        }
        Err(why) => return unauthenticated(grpc, why),
    };
    admit(&gate, class, grpc, caller, request, next).await
}

/// Applies the caller's rate limit (agents and open endpoints have none), then serves the
/// request with its [`Caller`].
async fn admit(
    gate: &Gate,
    class: Class,
    grpc: bool,
    caller: Caller,
    mut request: Request,
    next: Next,
) -> Response {
    if !matches!(class, Class::Agent | Class::Open)
        && let Err(why) = gate
            .limiter
            .admit(caller.principal(), std::time::Instant::now())
    {
        return rate_limited(grpc, &why);
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// What the middleware holds: the configuration and the rate limiter's buckets.
pub(crate) struct Gate {
    pub(crate) security: Arc<Security>,
    limiter: limits::RateLimiter,
}

impl Gate {
    pub(crate) fn new(security: Arc<Security>) -> Self {
        let limiter = limits::RateLimiter::new(security.rate_limits.clone());
        Self { security, limiter }
    }
}

/// A 429 (or gRPC RESOURCE_EXHAUSTED) for a caller over its rate limit.
fn rate_limited(grpc: bool, why: &str) -> Response {
    if grpc {
        return tonic::Status::resource_exhausted(why).into_http::<axum::body::Body>();
    }
    (StatusCode::TOO_MANY_REQUESTS, why.to_string()).into_response()
}

fn is_grpc(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}

/// A 401 as Mesos answers it (with a Basic challenge), or gRPC's UNAUTHENTICATED.
fn unauthenticated(grpc: bool, why: &str) -> Response {
    if grpc {
        return tonic::Status::unauthenticated(why).into_http::<axum::body::Body>();
    }
    let mut response = (StatusCode::UNAUTHORIZED, why.to_string()).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"wasmesos\""),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Method;

    #[test]
    fn endpoints_fall_into_the_right_class() {
        let (get, post) = (Method::GET, Method::POST);
        let cases = [
            (&post, "/wasmesos.v1.Scheduler/Accept", Class::Framework),
            (&post, "/wasmesos.v1.Artifacts/Upload", Class::Framework),
            (&post, "/wasmesos.v1.AgentChannel/Register", Class::Agent),
            (&post, "/wasmesos.v1.Operator/GetState", Class::ReadOnly),
            (&post, "/wasmesos.v1.Operator/ReadTaskFile", Class::ReadOnly),
            (&post, "/wasmesos.v1.Operator/SetQuota", Class::ReadWrite),
            (&post, "/wasmesos.v1.Operator/KillTask", Class::ReadWrite),
            (&post, "/wasmesos.v1.Unknown/X", Class::ReadWrite),
            (&post, "/api/v1/scheduler", Class::Framework),
            (&post, "/api/v1", Class::ReadWrite),
            (&get, "/state", Class::ReadOnly),
            (&get, "/files/read", Class::ReadOnly),
            (&get, "/health", Class::Open),
            (&get, "/ui/app.js", Class::Open),
        ];
        for (method, path, expected) in cases {
            assert_eq!(class(method, path), expected, "{method} {path}");
        }
    }
}
