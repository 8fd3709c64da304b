//! A leader that loses its ZooKeeper session stops leading at once: paused (SIGSTOP) past the
//! session timeout, it is replaced, and once resumed it exits with a non-zero code.

#[cfg(unix)]
#[tokio::test]
async fn a_leader_that_loses_its_session_exits() {
    use wasmesos_harness::HaCluster;

    use crate::common::{PATIENCE, SESSION_TIMEOUT, binary, tracing};

    tracing();
    let mut cluster = HaCluster::start(&binary(), 2, 0, "cpus:1;mem:256MiB", SESSION_TIMEOUT)
        .await
        .expect("start the HA cluster");
    let leader = cluster.wait_for_leader().await.expect("a leader");
    let index = cluster
        .master_index(&leader.url())
        .expect("the leader's process");
    let pid = cluster
        .master(index)
        .and_then(|master| master.pid())
        .expect("the leader's pid");
    let signal = |name: &str| {
        std::process::Command::new("kill")
            .args([name, &pid.to_string()])
            .status()
            .is_ok_and(|status| status.success())
    };
    assert!(signal("-STOP"), "SIGSTOP the leader");
    let successor = cluster
        .wait_for_new_leader(&leader.url())
        .await
        .expect("another master leads once the paused leader's session expires");
    assert_ne!(successor.url(), leader.url());
    assert!(signal("-CONT"), "SIGCONT the old leader");
    let status = cluster
        .master(index)
        .expect("the old leader's process")
        .wait_exit(PATIENCE)
        .await
        .expect("the old leader exits by itself");
    assert!(!status.success(), "exit status {status:?}");
}
