//! The published state snapshot (and the actor's role summaries) as the operator API's
//! Responses: agents, frameworks and tasks in Mesos's messages, resources in Mesos's units
//! and in the post-refinement form (`reservations`) Mesos's v1 operator API uses.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

use wasmesos_proto::mesos::v1 as mesos;
use wasmesos_proto::mesos::v1::master::response;
use wasmesos_proto::mesos::v1::quota;
use wasmesos_proto::v1::{self as native, Reason, RoleSummary};

use crate::MasterConfig;
use crate::core::{AgentView, DrainView, FrameworkView, StateSnapshot, TaskView};
use crate::mesos::MESOS_VERSION;
use crate::mesos::legacy::authority;
use crate::mesos::resources::{self, ReservationFormat};
use crate::mesos::tasks::{reason_to_mesos, time_info};

/// Wire resources in Mesos's form.
fn wire_to_mesos(resources: Option<&native::Resources>) -> Vec<mesos::Resource> {
    resources
        .map(|r| {
            r.resources
                .iter()
                .map(|res| resources::to_mesos(res, None, ReservationFormat::Refined))
                .collect()
        })
        .unwrap_or_default()
}

/// The allocator's resources in Mesos's form.
fn model_to_mesos(model: &wasmesos_allocator::Resources) -> Vec<mesos::Resource> {
    wire_to_mesos(Some(&wasmesos_proto::resources::resources_to_proto(model)))
}

/// Scalar quantities by name, in Mesos's units, as quota configs write them.
fn quantities(resources: Option<&native::Resources>) -> HashMap<String, mesos::value::Scalar> {
    let mut out: HashMap<String, mesos::value::Scalar> = HashMap::new();
    for resource in wire_to_mesos(resources) {
        if let Some(scalar) = resource.scalar {
            out.entry(resource.name).or_default().value += scalar.value;
        }
    }
    out
}

pub(super) fn version_info(snapshot: &StateSnapshot) -> mesos::VersionInfo {
    mesos::VersionInfo {
        version: MESOS_VERSION.to_string(),
        build_user: Some("wasmesos".to_string()),
        git_tag: Some(format!("wasmesos-{}", snapshot.master.version)),
        ..Default::default()
    }
}

/// A duration as Mesos's flags print one (`15secs`, `2mins`, `100ms`).
fn duration_flag(duration: Duration) -> String {
    let millis = duration.as_millis();
    if !millis.is_multiple_of(1000) {
        format!("{millis}ms")
    } else if millis >= 60_000 && millis.is_multiple_of(60_000) {
        format!("{}mins", millis / 60_000)
    } else {
        format!("{}secs", millis / 1000)
    }
}

/// The master's settings under Mesos's flag names, where Mesos has the flag.
pub(crate) fn master_flags(config: &MasterConfig, work_dir: &Path) -> Vec<(String, String)> {
    let mut flags = BTreeMap::new();
    let mut put = |name: &str, value: String| {
        flags.insert(name.to_string(), value);
    };
    put("ip", config.listen.ip().to_string());
    put("port", config.listen.port().to_string());
    put("work_dir", work_dir.display().to_string());
    put(
        "registry",
        match config.registry {
            crate::registry::RegistryBackend::Memory => "in_memory",
            _ => "replicated_log",
        }
        .to_string(),
    );
    if let Some(ha) = &config.ha {
        put("zk", ha.zk.clone());
        put("quorum", "1".to_string());
    }
    put(
        "weights",
        config
            .role_weights
            .iter()
            .map(|(role, weight)| format!("{role}={weight}"))
            .collect::<Vec<_>>()
            .join(","),
    );
    put(
        "agent_ping_timeout",
        duration_flag(config.agent_ping_timeout),
    );
    put(
        "agent_reregister_timeout",
        duration_flag(config.agent_reregister_timeout),
    );
    put(
        "agent_unreachable_timeout",
        duration_flag(config.agent_unreachable_timeout),
    );
    put(
        "allocation_interval",
        duration_flag(config.allocation_batch_interval),
    );
    if let Some(timeout) = config.offer_timeout {
        put("offer_timeout", duration_flag(timeout));
    }
    put(
        "max_completed_frameworks",
        config.max_completed_frameworks.to_string(),
    );
    put(
        "max_completed_tasks_per_framework",
        config.max_completed_tasks_per_framework.to_string(),
    );
    put(
        "fair_sharing_excluded_resource_names",
        config
            .fair_share_excluded
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .join(","),
    );
    flags.into_iter().collect()
}

pub(super) fn flags(flags: &[(String, String)]) -> response::GetFlags {
    response::GetFlags {
        flags: flags
            .iter()
            .map(|(name, value)| mesos::Flag {
                name: name.clone(),
                value: Some(value.clone()),
            })
            .collect(),
    }
}

pub(super) fn metrics(metrics: &BTreeMap<String, f64>) -> response::GetMetrics {
    response::GetMetrics {
        metrics: metrics
            .iter()
            .map(|(name, value)| mesos::Metric {
                name: name.clone(),
                value: Some(*value),
            })
            .collect(),
    }
}

pub(super) fn get_master(snapshot: &StateSnapshot) -> response::GetMaster {
    response::GetMaster {
        master_info: Some(crate::mesos::events::master_info(
            &crate::mesos::legacy::native_master(snapshot),
        )),
        start_time: Some(snapshot.master.start_time),
        elected_time: Some(snapshot.master.start_time),
    }
}

fn agent_info(agent: &AgentView) -> mesos::AgentInfo {
    let address = authority(&agent.address);
    let port = address
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse::<i32>().ok());
    let mut attributes: Vec<mesos::Attribute> = agent
        .info
        .attributes
        .iter()
        .map(|(name, value)| mesos::Attribute {
            name: name.clone(),
            r#type: mesos::value::Type::Text as i32,
            text: Some(mesos::value::Text {
                value: value.clone(),
            }),
            ..Default::default()
        })
        .collect();
    attributes.sort_by(|a, b| a.name.cmp(&b.name));
    mesos::AgentInfo {
        hostname: agent.hostname.clone(),
        port,
        resources: model_to_mesos(&agent.total),
        attributes,
        id: Some(mesos::AgentId {
            value: agent.id.clone(),
        }),
        ..Default::default()
    }
}

/// One agent as GET_AGENTS and AGENT_ADDED carry it.
pub(super) fn agent(agent: &AgentView) -> response::get_agents::Agent {
    use mesos::agent_info::capability::Type as Capability;
    let capabilities = [
        Capability::MultiRole,
        Capability::HierarchicalRole,
        Capability::ReservationRefinement,
    ]
    .into_iter()
    .map(|c| mesos::agent_info::Capability {
        r#type: Some(c as i32),
    })
    .collect();
    response::get_agents::Agent {
        agent_info: agent_info(agent),
        active: agent.active && !agent.deactivated,
        deactivated: Some(agent.deactivated),
        drain_info: agent.drain.as_ref().map(drain_info),
        version: MESOS_VERSION.to_string(),
        pid: Some(format!("slave(1)@{}", authority(&agent.address))),
        registered_time: Some(time_info(agent.registered_time)),
        total_resources: model_to_mesos(&agent.total),
        allocated_resources: model_to_mesos(&agent.used),
        offered_resources: model_to_mesos(&agent.offered),
        capabilities,
        ..Default::default()
    }
}

/// A drain as Mesos's `DrainInfo`.
fn drain_info(drain: &DrainView) -> mesos::DrainInfo {
    let state = if drain.state == "DRAINED" {
        mesos::DrainState::Drained
    } else {
        mesos::DrainState::Draining
    };
    mesos::DrainInfo {
        state: state as i32,
        config: mesos::DrainConfig {
            max_grace_period: drain
                .max_grace_period_seconds
                .map(|seconds| mesos::DurationInfo {
                    nanoseconds: Duration::try_from_secs_f64(seconds)
                        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)),
                }),
            mark_gone: Some(drain.mark_gone),
        },
    }
}

pub(super) fn get_agents(snapshot: &StateSnapshot) -> response::GetAgents {
    response::GetAgents {
        agents: snapshot.agents.iter().map(agent).collect(),
        recovered_agents: Vec::new(),
    }
}

/// A framework's info as Mesos writes it.
pub(super) fn framework_info(framework: &FrameworkView) -> mesos::FrameworkInfo {
    use mesos::framework_info::capability::Type as Capability;
    let info = &framework.info;
    let mut capabilities = vec![mesos::framework_info::Capability {
        r#type: Some(Capability::MultiRole as i32),
    }];
    for (native, mesos) in [
        (
            native::FrameworkCapability::TaskKillingState,
            Capability::TaskKillingState,
        ),
        (
            native::FrameworkCapability::PartitionAware,
            Capability::PartitionAware,
        ),
        (
            native::FrameworkCapability::RevocableResources,
            Capability::RevocableResources,
        ),
    ] {
        if info.capabilities.contains(&(native as i32)) {
            capabilities.push(mesos::framework_info::Capability {
                r#type: Some(mesos as i32),
            });
        }
    }
    mesos::FrameworkInfo {
        user: String::new(),
        name: framework.name.clone(),
        id: Some(mesos::FrameworkId {
            value: framework.id.clone(),
        }),
        failover_timeout: Some(info.failover_timeout_seconds),
        checkpoint: Some(true),
        roles: framework.roles.clone(),
        hostname: (!info.hostname.is_empty()).then(|| info.hostname.clone()),
        principal: (!info.principal.is_empty()).then(|| info.principal.clone()),
        capabilities,
        ..Default::default()
    }
}

/// One framework as GET_FRAMEWORKS and FRAMEWORK_ADDED/UPDATED carry it.
pub(super) fn framework(framework: &FrameworkView) -> response::get_frameworks::Framework {
    let role = framework.roles.first().map(String::as_str);
    let allocated = |model: &wasmesos_allocator::Resources| -> Vec<mesos::Resource> {
        wasmesos_proto::resources::resources_to_proto(model)
            .resources
            .iter()
            .map(|res| resources::to_mesos(res, role, ReservationFormat::Refined))
            .collect()
    };
    response::get_frameworks::Framework {
        framework_info: framework_info(framework),
        active: framework.connected,
        connected: framework.connected,
        recovered: false,
        unregistered_time: framework.unregistered_time.map(time_info),
        allocated_resources: allocated(&framework.used),
        offered_resources: allocated(&framework.offered),
        ..Default::default()
    }
}

pub(super) fn get_frameworks(snapshot: &StateSnapshot) -> response::GetFrameworks {
    response::GetFrameworks {
        frameworks: snapshot.frameworks.iter().map(framework).collect(),
        completed_frameworks: snapshot
            .completed_frameworks
            .iter()
            .map(framework)
            .collect(),
        ..Default::default()
    }
}

/// The executors of the tasks that have not ended: a wasmesos executor runs one task, and
/// its id is the task's, as `/master/state` lists them.
pub(super) fn get_executors(snapshot: &StateSnapshot) -> response::GetExecutors {
    let executors = snapshot
        .tasks
        .iter()
        .filter(|task| !task.terminal)
        .map(|task| response::get_executors::Executor {
            executor_info: mesos::ExecutorInfo {
                executor_id: mesos::ExecutorId {
                    value: task.task_id.clone(),
                },
                framework_id: Some(mesos::FrameworkId {
                    value: task.framework_id.clone(),
                }),
                name: Some(task.name.clone()),
                resources: model_to_mesos(&task.resources),
                ..Default::default()
            },
            agent_id: mesos::AgentId {
                value: task.agent_id.clone(),
            },
        })
        .collect();
    response::GetExecutors {
        executors,
        ..Default::default()
    }
}

/// A task's state as Mesos names it (`TASK_RUNNING`).
pub(super) fn task_state(task: &TaskView) -> mesos::TaskState {
    mesos::TaskState::from_str_name(&format!("TASK_{}", task.state))
        .unwrap_or(mesos::TaskState::TaskUnknown)
}

/// A task's latest status.
pub(super) fn task_status(task: &TaskView) -> mesos::TaskStatus {
    let reason = Reason::from_code(&task.reason)
        .and_then(reason_to_mesos)
        .map(|r| r as i32);
    mesos::TaskStatus {
        task_id: mesos::TaskId {
            value: task.task_id.clone(),
        },
        state: task_state(task) as i32,
        message: (!task.message.is_empty()).then(|| task.message.clone()),
        reason,
        agent_id: Some(mesos::AgentId {
            value: task.agent_id.clone(),
        }),
        timestamp: Some(task.updated_time),
        healthy: task.healthy,
        ..Default::default()
    }
}

/// One task; `state` overrides its current state (TASK_ADDED carries TASK_STAGING).
pub(super) fn task(task: &TaskView, state: Option<mesos::TaskState>) -> mesos::Task {
    let state = state.unwrap_or_else(|| task_state(task));
    let statuses = if state == mesos::TaskState::TaskStaging {
        Vec::new()
    } else {
        vec![task_status(task)]
    };
    mesos::Task {
        name: task.name.clone(),
        task_id: mesos::TaskId {
            value: task.task_id.clone(),
        },
        framework_id: mesos::FrameworkId {
            value: task.framework_id.clone(),
        },
        agent_id: mesos::AgentId {
            value: task.agent_id.clone(),
        },
        state: state as i32,
        resources: model_to_mesos(&task.resources),
        status_update_state: (!statuses.is_empty()).then_some(state as i32),
        statuses,
        ..Default::default()
    }
}

pub(super) fn get_tasks(snapshot: &StateSnapshot) -> response::GetTasks {
    let mut out = response::GetTasks::default();
    for view in &snapshot.tasks {
        let converted = task(view, None);
        if view.state == "UNREACHABLE" {
            out.unreachable_tasks.push(converted);
        } else if view.terminal {
            out.completed_tasks.push(converted);
        } else {
            out.tasks.push(converted);
        }
    }
    out
}

pub(super) fn get_state(snapshot: &StateSnapshot) -> response::GetState {
    response::GetState {
        get_tasks: Some(get_tasks(snapshot)),
        get_executors: Some(get_executors(snapshot)),
        get_frameworks: Some(get_frameworks(snapshot)),
        get_agents: Some(get_agents(snapshot)),
    }
}

pub(super) fn get_roles(roles: &[RoleSummary]) -> response::GetRoles {
    response::GetRoles {
        roles: roles
            .iter()
            .map(|role| mesos::Role {
                name: role.name.clone(),
                weight: role.weight,
                frameworks: role
                    .framework_ids
                    .iter()
                    .map(|id| mesos::FrameworkId { value: id.clone() })
                    .collect(),
                resources: wire_to_mesos(role.allocated.as_ref()),
            })
            .collect(),
    }
}

/// Weights set on purpose: every role whose weight is not the default 1.
pub(super) fn get_weights(roles: &[RoleSummary]) -> response::GetWeights {
    response::GetWeights {
        weight_infos: roles
            .iter()
            .filter(|role| (role.weight - 1.0).abs() > f64::EPSILON)
            .map(|role| mesos::WeightInfo {
                weight: role.weight,
                role: Some(role.name.clone()),
            })
            .collect(),
    }
}

#[allow(
    deprecated,
    reason = "Mesos 1.11 still fills `infos` next to `configs`"
)]
pub(super) fn get_quota(roles: &[RoleSummary]) -> response::GetQuota {
    let mut status = quota::QuotaStatus::default();
    for role in roles {
        let Some(q) = &role.quota else { continue };
        status.infos.push(quota::QuotaInfo {
            role: Some(role.name.clone()),
            principal: None,
            guarantee: wire_to_mesos(q.guarantee.as_ref()),
        });
        status.configs.push(quota::QuotaConfig {
            role: role.name.clone(),
            guarantees: quantities(q.guarantee.as_ref()),
            limits: quantities(q.limit.as_ref()),
        });
    }
    response::GetQuota { status }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmesos_allocator::Resources as Model;

    #[test]
    fn durations_print_as_mesos_flags_do() {
        assert_eq!(duration_flag(Duration::from_secs(15)), "15secs");
        assert_eq!(duration_flag(Duration::from_secs(120)), "2mins");
        assert_eq!(duration_flag(Duration::from_millis(100)), "100ms");
    }

    #[test]
    fn tasks_carry_mesos_states_units_and_their_latest_status() {
        let resources = Model::scalar("mem", 64.0 * 1024.0 * 1024.0).expect("mem");
        let view = TaskView {
            task_id: "t".into(),
            framework_id: "f".into(),
            agent_id: "a".into(),
            state: "FAILED".into(),
            reason: "memory_limit".into(),
            message: "out of memory".into(),
            resources,
            terminal: true,
            ..Default::default()
        };
        let task = task(&view, None);
        assert_eq!(task.state, mesos::TaskState::TaskFailed as i32);
        assert_eq!(
            task.resources
                .first()
                .and_then(|r| r.scalar.as_ref())
                .map(|s| s.value),
            Some(64.0)
        );
        let status = task.statuses.first().expect("the latest status");
        assert_eq!(
            status.reason,
            Some(mesos::task_status::Reason::ContainerLimitationMemory as i32)
        );
        assert_eq!(status.message.as_deref(), Some("out of memory"));
        let added = super::task(&view, Some(mesos::TaskState::TaskStaging));
        assert!(added.statuses.is_empty());
    }

    #[test]
    fn executors_are_the_tasks_that_have_not_ended() {
        let running = TaskView {
            task_id: "live".into(),
            framework_id: "f".into(),
            agent_id: "a".into(),
            state: "RUNNING".into(),
            ..Default::default()
        };
        let ended = TaskView {
            task_id: "done".into(),
            state: "FINISHED".into(),
            terminal: true,
            ..Default::default()
        };
        let snapshot = StateSnapshot {
            tasks: vec![std::sync::Arc::new(running), std::sync::Arc::new(ended)],
            ..Default::default()
        };
        let listed = get_executors(&snapshot).executors;
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].executor_info.executor_id.value, "live");
        assert_eq!(listed[0].agent_id.value, "a");
        assert_eq!(
            listed[0]
                .executor_info
                .framework_id
                .as_ref()
                .map(|f| f.value.as_str()),
            Some("f")
        );
    }
}
