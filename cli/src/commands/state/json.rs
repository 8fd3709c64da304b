//! The cluster state as JSON (the proto types carry no serde, so the shape is written here:
//! field names follow the `.proto` files, resources become `{name: value}` maps).

use serde_json::{Map, Value, json};
use wasmesos_proto::{
    AgentInfo, AgentSummary, ClusterState, FrameworkInfo, FrameworkSummary, MasterInfo, Resources,
    RoleSummary, TaskSummary,
};

use super::{View, reason_text, state_name};

pub fn view(state: &ClusterState, view: View) -> Value {
    let agents = || Value::Array(state.agents.iter().map(agent).collect());
    let frameworks = || Value::Array(state.frameworks.iter().map(framework).collect());
    let tasks = || Value::Array(state.tasks.iter().map(task).collect());
    match view {
        View::Agents => agents(),
        View::Frameworks => frameworks(),
        View::Tasks => tasks(),
        View::All => json!({
            "master": state.master.as_ref().map(master),
            "leader": state.leader,
            "roles": state.roles.iter().map(role).collect::<Vec<_>>(),
            "agents": agents(),
            "frameworks": frameworks(),
            "tasks": tasks(),
        }),
    }
}

fn master(info: &MasterInfo) -> Value {
    json!({
        "id": info.id,
        "hostname": info.hostname,
        "port": info.port,
        "version": info.version,
        "address": info.address,
    })
}

fn resources(resources: Option<&Resources>) -> Value {
    let mut map = Map::new();
    for resource in resources
        .map(|r| r.resources.as_slice())
        .unwrap_or_default()
    {
        let total = map
            .get(&resource.name)
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        map.insert(resource.name.clone(), json!(total + resource.value));
    }
    Value::Object(map)
}

fn agent_info(info: &AgentInfo) -> Value {
    json!({
        "id": info.id,
        "hostname": info.hostname,
        "address": info.address,
        "attributes": info.attributes,
    })
}

fn agent(summary: &AgentSummary) -> Value {
    let mut value = summary
        .agent
        .as_ref()
        .map(agent_info)
        .unwrap_or_else(|| json!({}));
    if let Value::Object(map) = &mut value {
        map.insert("active".into(), json!(summary.active));
        map.insert("registered_time".into(), json!(summary.registered_time));
        map.insert("total".into(), resources(summary.total.as_ref()));
        map.insert("used".into(), resources(summary.used.as_ref()));
        map.insert("offered".into(), resources(summary.offered.as_ref()));
    }
    value
}

fn framework_info(info: &FrameworkInfo) -> Value {
    json!({
        "id": info.id,
        "name": info.name,
        "roles": info.roles,
        "principal": info.principal,
        "failover_timeout_seconds": info.failover_timeout_seconds,
        "hostname": info.hostname,
    })
}

fn framework(summary: &FrameworkSummary) -> Value {
    let mut value = summary
        .framework
        .as_ref()
        .map(framework_info)
        .unwrap_or_else(|| json!({}));
    if let Value::Object(map) = &mut value {
        map.insert("connected".into(), json!(summary.connected));
        map.insert("dominant_share".into(), json!(summary.dominant_share));
        map.insert("active_tasks".into(), json!(summary.active_tasks));
        map.insert("used".into(), resources(summary.used.as_ref()));
        map.insert("offered".into(), resources(summary.offered.as_ref()));
    }
    value
}

fn task(task: &TaskSummary) -> Value {
    json!({
        "task_id": task.task_id,
        "name": task.name,
        "framework_id": task.framework_id,
        "agent_id": task.agent_id,
        "state": state_name(task.state()),
        "reason": reason_text(task.reason()),
        "message": task.message,
        "exit_code": task.exit_code,
        "resources": resources(task.resources.as_ref()),
        "executor_digest": task.executor_digest,
        "started_time": task.started_time,
        "updated_time": task.updated_time,
    })
}

fn role(role: &RoleSummary) -> Value {
    json!({
        "name": role.name,
        "weight": role.weight,
        "dominant_share": role.dominant_share,
        "allocated": resources(role.allocated.as_ref()),
    })
}

#[cfg(test)]
mod tests {
    use wasmesos_proto::{Resource, TaskState};

    use super::*;

    #[test]
    fn resources_become_a_map_summed_over_roles() {
        let mut given = Resources::from_scalars([("cpus", 1.0), ("mem", 2048.0)]);
        given.resources.push(Resource {
            name: "cpus".into(),
            value: 0.5,
            role: "ads".into(),
        });
        assert_eq!(resources(Some(&given)), json!({"cpus": 1.5, "mem": 2048.0}));
    }

    #[test]
    fn tasks_use_readable_states() {
        let state = ClusterState {
            tasks: vec![TaskSummary {
                task_id: "t".into(),
                state: TaskState::TaskFinished as i32,
                exit_code: Some(0),
                ..TaskSummary::default()
            }],
            ..ClusterState::default()
        };
        let value = view(&state, View::Tasks);
        assert_eq!(value[0]["state"], "FINISHED");
        assert_eq!(value[0]["exit_code"], 0);
        assert!(
            view(&state, View::All)["agents"]
                .as_array()
                .is_some_and(Vec::is_empty)
        );
    }
}
