//! A cluster and an uploaded component for each test.

use wasmesos_harness::{Cluster, ClusterConfig, TestFramework};

use crate::client::authority;

pub fn tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// A one-agent cluster and its master's `host:port`.
pub async fn cluster() -> (Cluster, String) {
    tracing();
    let cluster = Cluster::start(ClusterConfig::new(1))
        .await
        .expect("cluster");
    let authority = authority(&cluster.master_url());
    (cluster, authority)
}

/// Uploads the component at `path` (as `wasmesos upload` does) and returns its digest. The
/// uploading framework tears down at once, so its offers go back to the pool.
pub async fn upload(cluster: &Cluster, path: &str) -> String {
    let uploader = TestFramework::start(&cluster.master_url(), "uploader", None)
        .await
        .expect("an uploader");
    let digest = uploader
        .driver
        .upload_executor(std::path::Path::new(path), None)
        .await
        .expect("upload")
        .digest;
    uploader.teardown().await.expect("teardown");
    digest
}
