//! Call deadlines on the actor: a call that gives up before the actor reaches it is never
//! applied, and the actor goes on serving.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmesos_proto::v1::MasterInfo;

use super::Actor;
use crate::core::Core;
use crate::registry::MemoryRegistry;
use crate::{Error, MasterConfig};

fn actor(call_timeout: Duration) -> Actor {
    let config = MasterConfig {
        call_timeout,
        ..MasterConfig::default()
    };
    let master = MasterInfo {
        id: "m".into(),
        address: "http://127.0.0.1:5050".into(),
        ..MasterInfo::default()
    };
    let core = Core::new(config, master, 1_000_000.0).expect("valid config");
    let (actor, _task) = Actor::spawn(
        core,
        Arc::new(MemoryRegistry::new()),
        std::future::pending(),
    );
    actor
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_times_out_before_the_actor_reaches_it_is_never_applied() {
    let actor = actor(Duration::from_millis(100));
    // The actor is busy with one long job (a stuck step, as a slow disk read would be).
    let (release, held) = std::sync::mpsc::channel::<()>();
    let (busy, started) = tokio::sync::oneshot::channel();
    actor
        .cast(move |_| {
            let _ = busy.send(());
            let _ = held.recv_timeout(Duration::from_secs(30));
        })
        .expect("actor running");
    started.await.expect("the long job started");

    let ran = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&ran);
    let refused = actor
        .call(move |_| flag.store(true, Ordering::SeqCst))
        .await
        .expect_err("the actor is busy past the deadline");
    assert!(
        matches!(refused, Error::CallTimeout { applied: false, .. }),
        "{refused:?}"
    );
    assert_eq!(
        tonic::Status::from(refused).code(),
        tonic::Code::DeadlineExceeded
    );

    // Once the actor is free it serves the next call, and skipped the abandoned one.
    release.send(()).expect("the long job waits");
    let answer = actor.call(|_| 42).await.expect("the actor serves again");
    assert_eq!(answer, 42);
    assert!(!ran.load(Ordering::SeqCst), "an abandoned call ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_dropped_by_its_client_before_the_actor_reaches_it_is_never_applied() {
    let actor = actor(Duration::from_secs(30));
    let (release, held) = std::sync::mpsc::channel::<()>();
    let (busy, started) = tokio::sync::oneshot::channel();
    actor
        .cast(move |_| {
            let _ = busy.send(());
            let _ = held.recv_timeout(Duration::from_secs(30));
        })
        .expect("actor running");
    started.await.expect("the long job started");

    let ran = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&ran);
    let caller = actor.clone();
    let call = tokio::spawn(async move {
        caller
            .call(move |_| flag.store(true, Ordering::SeqCst))
            .await
    });
    // The call is queued behind the long job; its client goes away (tonic drops the
    // handler's future when the connection closes).
    while actor.in_flight.load(Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    call.abort();
    assert!(call.await.is_err_and(|err| err.is_cancelled()));

    release.send(()).expect("the long job waits");
    assert_eq!(actor.call(|_| 7).await.expect("served"), 7);
    assert!(!ran.load(Ordering::SeqCst), "a dropped call ran");
}
