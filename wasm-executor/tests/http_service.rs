//! wasi:http services over real TCP on loopback: answers, state kept in the sandbox, the
//! queue past the concurrency limit, graceful and hard stops, and each limit's effect on the
//! service (per request for fuel and time, for the whole service for memory, CPU and disk).

mod common;

use std::time::{Duration, Instant};

use common::http::{get, send, serve};
use common::{Sandbox, executor, load};
use hyper::{Method, StatusCode};
use wasmesos_guest_artifacts as guests;
use wasmesos_test_support::{eventually, scaled};
use wasmesos_wasm_executor::{
    AllowedAddr, Error, FailureReason, NetworkPolicy, Outcome, ProgramKind, RunningService,
    ServiceConfig,
};

const MIB: u64 = 1 << 20;

fn config(max_concurrency: u32, queue_capacity: u32) -> ServiceConfig {
    ServiceConfig {
        max_concurrency,
        queue_capacity,
        ..ServiceConfig::default()
    }
}

async fn kill(service: RunningService) -> Outcome {
    service.kill_handle().kill();
    service.wait().await.outcome
}

async fn until(what: &str, condition: impl Fn() -> bool) {
    eventually(what, Duration::from_secs(10), async || condition())
        .await
        .unwrap_or_else(|err| panic!("{err}"));
}

fn ok(status: StatusCode, body: &str) -> Result<(StatusCode, String), String> {
    Ok((status, body.to_owned()))
}

#[tokio::test]
async fn hello_answers_over_tcp_and_prints_to_its_stdout() {
    let hello = load(guests::HTTP_HELLO).await;
    assert_eq!(hello.kind(), ProgramKind::HttpService);
    let sandbox = Sandbox::new();
    let service = serve(&hello, sandbox.spec("http-hello"), ServiceConfig::default()).await;
    let addr = service.local_addr();
    assert_eq!(
        get(addr, "/").await,
        ok(StatusCode::OK, "hello from wasmesos\n")
    );
    assert_eq!(
        get(addr, "/nope").await,
        ok(StatusCode::NOT_FOUND, "not found\n")
    );
    assert_eq!(
        get(addr, "/print?text=logged").await,
        ok(StatusCode::OK, "printed\n")
    );
    assert_eq!(service.stats().requests, 3);
    assert_eq!(kill(service).await, Outcome::Killed);
    assert_eq!(sandbox.read("stdout"), "logged\n");
}

#[tokio::test]
async fn kv_keeps_state_in_its_sandbox_across_requests() {
    let kv = load(guests::HTTP_KV).await;
    let sandbox = Sandbox::new();
    let service = serve(&kv, sandbox.spec("http-kv"), ServiceConfig::default()).await;
    let addr = service.local_addr();
    let put = send(addr, Method::PUT, "/kv/colour", b"blue").await;
    assert_eq!(put, ok(StatusCode::CREATED, "stored\n"));
    assert_eq!(get(addr, "/kv/colour").await, ok(StatusCode::OK, "blue"));
    assert_eq!(sandbox.read("kv/colour"), "blue");
    let deleted = send(addr, Method::DELETE, "/kv/colour", b"").await;
    assert_eq!(deleted, ok(StatusCode::NO_CONTENT, ""));
    assert_eq!(
        get(addr, "/kv/colour").await,
        ok(StatusCode::NOT_FOUND, "no such key\n")
    );
    assert_eq!(
        get(addr, "/kv/..").await,
        ok(StatusCode::BAD_REQUEST, "bad key\n")
    );
    assert_eq!(kill(service).await, Outcome::Killed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_past_the_concurrency_limit_queue_rather_than_fail() {
    let hello = load(guests::HTTP_HELLO).await;
    let sandbox = Sandbox::new();
    let service = serve(&hello, sandbox.spec("http-queue"), config(1, 8)).await;
    let addr = service.local_addr();
    let started = Instant::now();
    let requests: Vec<_> = (0..4)
        .map(|_| tokio::spawn(get(addr, "/sleep?ms=200")))
        .collect();
    for request in requests {
        let answer = request.await.expect("joins");
        assert_eq!(answer, ok(StatusCode::OK, "slept 200 ms\n"));
    }
    // One at a time: four sleeps back to back.
    assert!(
        started.elapsed() >= Duration::from_millis(800),
        "{:?}",
        started.elapsed()
    );
    let stats = service.stats();
    assert_eq!((stats.requests, stats.rejected, stats.failed), (4, 0, 0));
    assert_eq!(kill(service).await, Outcome::Killed);
}

#[tokio::test]
async fn past_the_queue_requests_get_503_at_once() {
    let hello = load(guests::HTTP_HELLO).await;
    let sandbox = Sandbox::new();
    let service = serve(&hello, sandbox.spec("http-full"), config(1, 0)).await;
    let addr = service.local_addr();
    let slow = tokio::spawn(get(addr, "/sleep?ms=500"));
    until("the slow request runs", || service.stats().running == 1).await;
    let (status, _) = get(addr, "/").await.expect("an answer");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        slow.await.expect("joins"),
        ok(StatusCode::OK, "slept 500 ms\n")
    );
    assert_eq!(service.stats().rejected, 1);
    assert_eq!(
        get(addr, "/").await,
        ok(StatusCode::OK, "hello from wasmesos\n")
    );
    assert_eq!(kill(service).await, Outcome::Killed);
}

#[tokio::test]
async fn a_connection_waiting_for_headers_is_closed_but_a_long_request_is_not_cut() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let hello = load(guests::HTTP_HELLO).await;
    let sandbox = Sandbox::new();
    let timeout = Duration::from_millis(300);
    let config = ServiceConfig {
        header_read_timeout: timeout,
        ..ServiceConfig::default()
    };
    let service = serve(&hello, sandbox.spec("http-idle"), config).await;
    let addr = service.local_addr();
    // In flight for longer than the timeout: answered in full.
    assert_eq!(
        get(addr, "/sleep?ms=800").await,
        ok(StatusCode::OK, "slept 800 ms\n")
    );
    // Half a request head, then nothing: the service closes the connection.
    let mut stalled = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    let opened = Instant::now();
    stalled
        .write_all(b"GET / HTTP/1.1\r\nhost: wasmesos\r\n")
        .await
        .expect("writes");
    let mut rest = Vec::new();
    let read = tokio::time::timeout(
        scaled(Duration::from_secs(10)),
        stalled.read_to_end(&mut rest),
    )
    .await
    .expect("the connection is closed");
    assert!(
        read.is_ok_and(|bytes| bytes == 0),
        "nothing is answered: {rest:?}"
    );
    assert!(
        opened.elapsed() >= timeout,
        "closed after {:?}",
        opened.elapsed()
    );
    assert_eq!(kill(service).await, Outcome::Killed);
}

#[tokio::test]
async fn a_graceful_stop_finishes_the_request_in_flight_and_refuses_new_connections() {
    let hello = load(guests::HTTP_HELLO).await;
    let sandbox = Sandbox::new();
    let service = serve(&hello, sandbox.spec("http-grace"), ServiceConfig::default()).await;
    let addr = service.local_addr();
    let slow = tokio::spawn(get(addr, "/sleep?ms=400"));
    until("the slow request runs", || service.stats().running == 1).await;
    service.shutdown(Duration::from_secs(30));
    let refused = async || tokio::net::TcpStream::connect(addr).await.is_err();
    eventually(
        "new connections are refused",
        Duration::from_secs(10),
        refused,
    )
    .await
    .expect("the listener closes");
    assert_eq!(
        slow.await.expect("joins"),
        ok(StatusCode::OK, "slept 400 ms\n")
    );
    let report = service.wait().await;
    assert_eq!(report.outcome, Outcome::Killed);
    assert!(
        report.duration < scaled(Duration::from_secs(10)),
        "{:?}",
        report.duration
    );
}

#[tokio::test]
async fn when_the_grace_ends_the_requests_in_flight_are_dropped() {
    let hello = load(guests::HTTP_HELLO).await;
    let sandbox = Sandbox::new();
    let service = serve(
        &hello,
        sandbox.spec("http-grace-ends"),
        ServiceConfig::default(),
    )
    .await;
    let addr = service.local_addr();
    let endless = tokio::spawn(get(addr, "/sleep?ms=600000"));
    until("the endless request runs", || service.stats().running == 1).await;
    service.shutdown(Duration::from_millis(100));
    let report = service.wait().await;
    assert_eq!(report.outcome, Outcome::Killed);
    assert!(
        report.duration < scaled(Duration::from_secs(10)),
        "{:?}",
        report.duration
    );
    let answer = endless.await.expect("joins");
    assert!(!matches!(answer, Ok((StatusCode::OK, _))), "{answer:?}");
}

#[tokio::test]
async fn a_service_over_its_memory_limit_fails_with_the_memory_reason() {
    let hello = load(guests::HTTP_HELLO).await;
    let sandbox = Sandbox::new();
    let mut spec = sandbox.spec("http-memory");
    spec.limits.mem_bytes = 32 * MIB;
    let service = serve(&hello, spec, ServiceConfig::default()).await;
    let addr = service.local_addr();
    assert_eq!(
        get(addr, "/alloc?mb=4").await,
        ok(StatusCode::OK, "allocated 4 MiB\n")
    );
    let answer = get(addr, "/alloc?mb=64").await;
    assert!(!matches!(answer, Ok((StatusCode::OK, _))), "{answer:?}");
    let report = service.wait().await;
    assert_eq!(report.outcome, Outcome::Failed(FailureReason::MemoryLimit));
    assert!(
        report.peak_memory_bytes <= 32 * MIB,
        "{}",
        report.peak_memory_bytes
    );
    assert!(
        report.peak_memory_bytes > 4 * MIB,
        "{}",
        report.peak_memory_bytes
    );
}

#[tokio::test]
async fn a_request_over_its_time_gets_504_and_the_service_lives_on() {
    let hello = load(guests::HTTP_HELLO).await;
    let sandbox = Sandbox::new();
    let mut spec = sandbox.spec("http-timeout");
    spec.limits.timeout = Some(Duration::from_millis(200));
    let service = serve(&hello, spec, ServiceConfig::default()).await;
    let addr = service.local_addr();
    // Blocked in a host call, then computing without end: both are cut at the deadline.
    for path in ["/sleep?ms=600000", "/spin"] {
        let (status, body) = get(addr, path).await.expect("an answer");
        assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{path}: {body}");
    }
    assert_eq!(
        get(addr, "/sleep?ms=10").await,
        ok(StatusCode::OK, "slept 10 ms\n")
    );
    assert_eq!(service.stats().failed, 2);
    assert_eq!(kill(service).await, Outcome::Killed);
}

#[tokio::test]
async fn a_request_out_of_fuel_gets_500_and_the_service_lives_on() {
    let hello = load(guests::HTTP_HELLO).await;
    let sandbox = Sandbox::new();
    let mut spec = sandbox.spec("http-fuel");
    spec.limits.fuel = Some(50_000_000);
    let service = serve(&hello, spec, ServiceConfig::default()).await;
    let addr = service.local_addr();
    let (status, body) = get(addr, "/spin").await.expect("an answer");
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.contains("fuel exhausted"), "{body}");
    assert_eq!(
        get(addr, "/").await,
        ok(StatusCode::OK, "hello from wasmesos\n")
    );
    let report = service.kill_handle();
    report.kill();
    let report = service.wait().await;
    assert_eq!(report.outcome, Outcome::Killed);
    assert!(
        report.fuel_consumed.is_some_and(|fuel| fuel > 50_000_000),
        "{:?}",
        report.fuel_consumed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cpu_share_holds_across_concurrent_instances() {
    let hello = load(guests::HTTP_HELLO).await;
    let sandbox = Sandbox::new();
    let mut spec = sandbox.spec("http-cpu");
    spec.limits.cpus = Some(0.25);
    let service = serve(&hello, spec, config(2, 8)).await;
    let addr = service.local_addr();
    let started = Instant::now();
    let spinners: Vec<_> = (0..2)
        .map(|_| tokio::spawn(get(addr, "/spin?ms=600")))
        .collect();
    for spinner in spinners {
        assert_eq!(
            spinner.await.expect("joins"),
            ok(StatusCode::OK, "spun 600 ms\n")
        );
    }
    let elapsed = started.elapsed();
    let used = service.cpu_time();
    // Unthrottled, two spinners on two cores would use about 1.2 s.
    let allowed = elapsed.mul_f64(0.25) + Duration::from_millis(150);
    assert!(
        used <= allowed,
        "used {used:?} in {elapsed:?}, allowed {allowed:?}"
    );
    assert_eq!(kill(service).await, Outcome::Killed);
}

#[tokio::test]
async fn a_service_over_its_disk_quota_fails_with_the_disk_reason() {
    let kv = load(guests::HTTP_KV).await;
    let sandbox = Sandbox::new();
    let mut spec = sandbox.spec("http-disk");
    spec.limits.disk_bytes = Some(256 * 1024);
    let service = serve(&kv, spec, ServiceConfig::default()).await;
    let addr = service.local_addr();
    let value = vec![b'x'; 1 << 20];
    let _ = send(addr, Method::PUT, "/kv/big", &value).await;
    let report = service.wait().await;
    assert_eq!(report.outcome, Outcome::Failed(FailureReason::DiskLimit));
}

#[tokio::test]
async fn outgoing_requests_go_only_to_granted_addresses() {
    let hello = load(guests::HTTP_HELLO).await;
    let sandbox = Sandbox::new();
    let target = serve(
        &hello,
        sandbox.spec("http-target"),
        ServiceConfig::default(),
    )
    .await;
    let target_addr = target.local_addr();
    let fetch = format!("/fetch?to={target_addr}");

    let closed = serve(
        &hello,
        sandbox.spec("http-closed"),
        ServiceConfig::default(),
    )
    .await;
    let (status, body) = get(closed.local_addr(), &fetch).await.expect("an answer");
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(body.contains("HttpRequestDenied"), "{body}");

    let mut granted = sandbox.spec("http-granted");
    granted.network = NetworkPolicy::allowing([AllowedAddr::Socket(target_addr)]);
    let open = serve(&hello, granted, ServiceConfig::default()).await;
    let answer = get(open.local_addr(), &fetch).await;
    assert_eq!(answer, ok(StatusCode::OK, "fetched: hello from wasmesos\n"));
    let elsewhere = get(
        open.local_addr(),
        &format!("/fetch?to={}", closed.local_addr()),
    )
    .await;
    assert!(
        matches!(&elsewhere, Ok((StatusCode::BAD_GATEWAY, _))),
        "{elsewhere:?}"
    );

    for service in [target, closed, open] {
        assert_eq!(kill(service).await, Outcome::Killed);
    }
}

#[tokio::test]
async fn a_component_exporting_no_world_is_refused_naming_all_three() {
    let component = wat::parse_str("(component)").expect("valid WAT");
    let err = executor().load(&component).await.expect_err("refused");
    assert!(matches!(err, Error::MissingWorld), "{err}");
    let message = err.to_string();
    for world in [
        "wasi:cli/run",
        "wasmesos:executor",
        "wasi:http/incoming-handler",
    ] {
        assert!(message.contains(world), "{message}");
    }
}

#[tokio::test]
async fn services_and_tasks_are_each_started_their_own_way() {
    let hello = load(guests::HTTP_HELLO).await;
    let command = load(guests::HELLO).await;
    let sandbox = Sandbox::new();
    let Err(err) = executor().launch(&hello, sandbox.spec("launched-service")) else {
        panic!("a service is not launched");
    };
    assert!(
        matches!(
            err,
            Error::WrongKind {
                kind: ProgramKind::HttpService,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("Executor::serve"), "{err}");
    let listener = common::http::listener().await;
    let err = executor()
        .serve(
            &command,
            sandbox.spec("served-command"),
            listener,
            ServiceConfig::default(),
        )
        .expect_err("a command is not served");
    assert!(
        matches!(
            err,
            Error::WrongKind {
                kind: ProgramKind::Command,
                ..
            }
        ),
        "{err}"
    );
    let listener = common::http::listener().await;
    let err = executor()
        .serve(&hello, sandbox.spec("no-slots"), listener, config(0, 0))
        .expect_err("no instance at all is refused");
    assert!(matches!(err, Error::InvalidSpec(_)), "{err}");
}
