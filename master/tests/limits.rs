//! Per-principal limits on a real master: call rates and the bytes a caller may upload.

mod common;
mod http_support;

use common::{read_guest, start};
use tonic::Code;
use wasmesos_master::auth::RateLimits;
use wasmesos_proto::v1::GetStateRequest;

#[tokio::test]
async fn callers_over_the_shared_rate_are_refused_until_their_bucket_refills() {
    // Two calls banked, one more every 20 s: the third call in a row is over.
    let limits = r#"{"aggregate_default_qps": 0.05, "aggregate_default_capacity": 2}"#;
    let master = start(|config| {
        config.security.rate_limits = RateLimits::parse(limits).expect("valid limits");
    })
    .await;
    let mut operator = master.operator();
    operator.get_state(GetStateRequest {}).await.expect("first");
    operator
        .get_state(GetStateRequest {})
        .await
        .expect("second");
    let over = operator
        .get_state(GetStateRequest {})
        .await
        .expect_err("the third is over the rate");
    assert_eq!(over.code(), Code::ResourceExhausted);
    assert!(over.message().contains("0.05"), "{over:?}");
    // HTTP callers share the same bucket and get 429; /health is never limited.
    let addr = master.handle.addr;
    let answer = http_support::get(addr, "/state").await;
    assert_eq!(answer.status, 429, "{}", answer.text());
    assert_eq!(http_support::get(addr, "/health").await.status, 200);
}

#[tokio::test]
async fn an_upload_beyond_the_callers_quota_is_refused_and_a_stored_one_costs_nothing() {
    let hello = read_guest(wasmesos_guest_artifacts::HELLO);
    let quota = hello.len() as u64 + 10;
    let master = start(|config| {
        config.security.max_upload_bytes_per_principal = Some(quota);
    })
    .await;
    let stored = master
        .upload(&hello, 0, "")
        .await
        .expect("within the quota");
    assert!(stored.created);
    // The same bytes again are deduplicated: no new bytes, no charge.
    let again = master.upload(&hello, 0, "").await.expect("already stored");
    assert!(!again.created);
    let other = read_guest(wasmesos_guest_artifacts::SLEEPY);
    let refused = master
        .upload(&other, 0, "")
        .await
        .expect_err("over the quota");
    assert_eq!(refused.code(), Code::ResourceExhausted);
    assert!(refused.message().contains("quota"), "{refused:?}");
}
