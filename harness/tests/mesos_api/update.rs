//! UPDATE_FRAMEWORK: a subscribed framework changes its FrameworkInfo in place, as in
//! Mesos 1.11: roles (offers of a dropped role rescinded, new offers in the new role),
//! name, labels, webui_url, failover_timeout; a principal, user or checkpoint change and a
//! mismatched id are refused with Mesos's 400s.

use hyper::StatusCode;
use serde_json::{Value, json};

use crate::client::{Framework, get_json, subscribe_call};
use crate::common::cluster;

fn multi_role(roles: &[&str]) -> Value {
    json!({
        "roles": roles,
        "principal": "ops",
        "capabilities": [{"type": "MULTI_ROLE"}],
        "failover_timeout": 60,
    })
}

/// An UPDATE_FRAMEWORK call carrying `info` for `framework`.
fn update_call(framework: &Framework, mut info: Value) -> Value {
    info["id"] = json!({"value": framework.framework_id});
    json!({"type": "UPDATE_FRAMEWORK", "update_framework": {"framework_info": info}})
}

fn offered_role(offer: &Value) -> String {
    offer["allocation_info"]["role"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_change_rescinds_old_offers_and_offers_in_the_new_role() {
    let (cluster, authority) = cluster().await;
    let mut framework =
        Framework::subscribe(&authority, &subscribe_call("before", multi_role(&["blue"]))).await;
    let offers = framework.events.offers().await;
    assert_eq!(offered_role(&offers[0]), "blue", "{}", offers[0]);

    let mut info = json!({"user": "test", "name": "after"});
    if let (Some(info), Some(extra)) = (info.as_object_mut(), multi_role(&["green"]).as_object()) {
        info.extend(extra.clone());
    }
    info["failover_timeout"] = json!(120);
    info["webui_url"] = json!("http://after.example:8080");
    info["labels"] = json!({"labels": [{"key": "team", "value": "infra"}]});
    let answer = framework.call(update_call(&framework, info)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());

    // The blue offer is rescinded, and the agent is offered again to green.
    let rescinded = framework
        .events
        .wait_for("RESCIND", |e| Some(e["rescind"]["offer_id"].clone()))
        .await;
    assert_eq!(rescinded, offers[0]["id"]);
    let again = framework.events.offers().await;
    assert_eq!(offered_role(&again[0]), "green", "{}", again[0]);

    // The state is a snapshot published shortly after a change.
    let listed = wasmesos_harness::eventually_some(
        "the update in /master/state",
        crate::client::PATIENCE,
        async || {
            let state = get_json(&authority, "/master/state").await;
            let listed = state["frameworks"][0].clone();
            (listed["name"] == "after").then_some(listed)
        },
    )
    .await
    .expect("the updated framework");
    assert_eq!(listed["id"], json!(framework.framework_id));
    assert_eq!(listed["name"], "after");
    assert_eq!(listed["roles"], json!(["green"]));
    assert_eq!(listed["failover_timeout"], 120.0);
    assert_eq!(listed["webui_url"], "http://after.example:8080");
    assert_eq!(listed["labels"], json!([{"key": "team", "value": "infra"}]));
    assert_eq!(listed["principal"], "ops");

    // A role the framework left cannot be revived; the new one can.
    let stale = framework
        .call(json!({"type": "REVIVE", "revive": {"roles": ["blue"]}}))
        .await;
    assert_eq!(stale.status, StatusCode::BAD_REQUEST, "{}", stale.text());
    framework
        .accepted(json!({"type": "REVIVE", "revive": {"roles": ["green"]}}))
        .await;
    cluster.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_updates_are_refused_with_mesos_messages() {
    let (cluster, authority) = cluster().await;
    let framework =
        Framework::subscribe(&authority, &subscribe_call("strict", multi_role(&["blue"]))).await;
    let base = || {
        let mut info = json!({"user": "test", "name": "strict"});
        if let (Some(info), Some(extra)) = (info.as_object_mut(), multi_role(&["blue"]).as_object())
        {
            info.extend(extra.clone());
        }
        info
    };
    let refused = async |info: Value, expected: &str| {
        let answer = framework.call(update_call(&framework, info)).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text());
        assert_eq!(answer.text(), expected);
    };
    let mut principal = base();
    principal["principal"] = json!("someone-else");
    refused(
        principal,
        "FrameworkInfo update is not valid: Changing framework's principal is not allowed.",
    )
    .await;
    let mut user = base();
    user["user"] = json!("root2");
    refused(
        user,
        "FrameworkInfo update is not valid: Updating 'FrameworkInfo.user' is unsupported; \
         attempted to update from 'test' to 'root2'",
    )
    .await;
    let mut checkpoint = base();
    checkpoint["checkpoint"] = json!(true);
    refused(
        checkpoint,
        "FrameworkInfo update is not valid: Updating 'FrameworkInfo.checkpoint' is \
         unsupported; attempted to update from 'false' to 'true'",
    )
    .await;
    let mut bad_role = base();
    bad_role["roles"] = json!(["../up"]);
    let answer = framework.call(update_call(&framework, bad_role)).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text());
    assert!(
        answer.text().starts_with(
            "Supplied FrameworkInfo is not valid: 'FrameworkInfo.roles' contains invalid role"
        ),
        "{}",
        answer.text()
    );
    // The call's framework id must be the FrameworkInfo's.
    let mut other = update_call(&framework, base());
    other["update_framework"]["framework_info"]["id"] = json!({"value": "someone-else"});
    let answer = framework.call(other).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer.text(),
        "Failed to validate scheduler::Call: 'framework_id' differs from \
         'update_framework.framework_info.id'"
    );
    let mut suppressed = update_call(&framework, base());
    suppressed["update_framework"]["suppressed_roles"] = json!(["red"]);
    let answer = framework.call(suppressed).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer.text(),
        "'UpdateFramework' call is not valid: Suppressed roles { red } are not contained in \
         the set of roles"
    );
    // Nothing changed.
    let listed = wasmesos_harness::eventually_some(
        "the framework in /master/state",
        crate::client::PATIENCE,
        async || {
            let state = get_json(&authority, "/master/state").await;
            let listed = state["frameworks"][0].clone();
            listed.is_object().then_some(listed)
        },
    )
    .await
    .expect("the framework");
    assert_eq!(listed["roles"], json!(["blue"]));
    assert_eq!(listed["user"], "test");
    assert_eq!(listed["principal"], "ops");
    cluster.shutdown().await.expect("shutdown");
}
