//! Marathon draws a task's ports at random from its offer, as the original does, so a port
//! that something outside the cluster holds costs one failed launch, not every launch.

use std::net::TcpListener;

use crate::common::{Env, settled};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_held_outside_the_cluster_is_routed_around() {
    // Three ports offered; the lowest stays held by this test for its whole run, so a
    // scheduler that always took the lowest free port would fail every launch.
    let mut listeners: Vec<TcpListener> = (0..3)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    listeners.sort_by_key(|l| l.local_addr().expect("bound").port());
    let ports: Vec<u16> = listeners
        .iter()
        .map(|l| l.local_addr().expect("bound").port())
        .collect();
    let held = listeners.remove(0);
    drop(listeners);
    let offered: Vec<String> = ports.iter().map(|p| format!("{p}-{p}")).collect();
    let env = Env::start_offering(None, &format!("ports:[{}]", offered.join(","))).await;

    let (status, created) = env
        .call("POST", "/v2/apps", Some(&env.hello_app("/held/port", 1)))
        .await;
    assert_eq!(status, 201, "{created}");
    let app = env
        .app_when(
            "a healthy task on a port nobody holds",
            "/held/port",
            |app| settled(app, 1),
        )
        .await;
    let port = app["tasks"][0]["ports"][0].as_u64().expect("a port");
    assert_ne!(port, u64::from(ports[0]), "the held port cannot serve");
    assert!(ports[1..].iter().any(|p| u64::from(*p) == port), "{port}");
    drop(held);
}
