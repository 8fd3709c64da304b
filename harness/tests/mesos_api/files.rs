//! Mesos's `/files/browse?path=` and `/files/read?path=` on the master, by the `directory`
//! that `/master/state` gives a task, with files.cpp's answers for bad queries; the
//! wasmesos form (`?task_id=`) keeps working beside it.

use hyper::StatusCode;
use serde_json::{Value, json};
use wasmesos_guest_artifacts::HELLO;

use crate::client::{Framework, get, get_json, subscribe_call};
use crate::common::{cluster, upload};

/// `text` with the characters a query value cannot hold as-is percent-encoded.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mesos_tools_browse_and_read_a_sandbox_by_its_directory() {
    let (cluster, authority) = cluster().await;
    let digest = upload(&cluster, HELLO).await;
    let mut framework = Framework::subscribe(&authority, &subscribe_call("files", json!({}))).await;
    let offers = framework.events.offers().await;
    framework
        .launch(
            &offers[0],
            "cat-me",
            json!({"shell": false, "value": format!("wasmesos://sha256:{digest}"),
                   "arguments": ["hello", "--stderr", "to stderr"]}),
        )
        .await;
    framework.wait_for_state("cat-me", "TASK_FINISHED").await;

    let task: Value = wasmesos_harness::eventually_some(
        "the finished task in /master/state",
        crate::client::PATIENCE,
        async || {
            let state = get_json(&authority, "/master/state").await;
            state["frameworks"][0]["completed_tasks"]
                .as_array()
                .and_then(|tasks| tasks.iter().find(|t| t["id"] == "cat-me").cloned())
        },
    )
    .await
    .expect("the task listed");
    let directory = task["directory"].as_str().expect("a directory").to_string();
    assert_eq!(
        directory,
        format!(
            "/slaves/{}/frameworks/{}/executors/cat-me/runs/latest",
            offers[0]["agent_id"]["value"].as_str().unwrap_or_default(),
            framework.framework_id
        )
    );

    let listing = get_json(
        &authority,
        &format!("/files/browse?path={}", encode(&directory)),
    )
    .await;
    let entries = listing.as_array().expect("an array");
    let paths: Vec<&str> = entries.iter().filter_map(|e| e["path"].as_str()).collect();
    assert_eq!(
        paths,
        [format!("{directory}/stderr"), format!("{directory}/stdout")]
    );
    for entry in entries {
        for key in ["gid", "mode", "mtime", "nlink", "size", "uid"] {
            assert!(entry.get(key).is_some(), "{key} in {entry}");
        }
    }
    let stdout_size = entries[1]["size"].as_u64().expect("a size");
    assert!(stdout_size > 0, "{listing}");

    let stdout = encode(&format!("{directory}/stdout"));
    // offset=-1 (and no offset): the size, no data.
    for query in [format!("path={stdout}&offset=-1"), format!("path={stdout}")] {
        let sized = get_json(&authority, &format!("/files/read?{query}")).await;
        assert_eq!(sized, json!({"data": "", "offset": stdout_size}), "{query}");
    }
    let read = get_json(&authority, &format!("/files/read?path={stdout}&offset=0")).await;
    assert_eq!(read["offset"], 0);
    let data = read["data"].as_str().expect("data");
    assert!(data.starts_with("hello from wasmesos\n"), "{data}");
    assert_eq!(data.len() as u64, stdout_size);
    let part = get_json(
        &authority,
        &format!("/files/read?path={stdout}&offset=6&length=4"),
    )
    .await;
    assert_eq!(part, json!({"data": "from", "offset": 6}));
    let past = get_json(
        &authority,
        &format!("/files/read?path={stdout}&offset=1000000"),
    )
    .await;
    assert_eq!(past, json!({"data": "", "offset": 1_000_000}));
    let stderr = get_json(
        &authority,
        &format!(
            "/files/read?path={}&offset=0",
            encode(&format!("{directory}/stderr"))
        ),
    )
    .await;
    assert_eq!(stderr["data"], "to stderr\n");

    // The wasmesos form still answers.
    let native = get_json(&authority, "/files/read?task_id=cat-me&file=stdout").await;
    assert!(
        native["data"]
            .as_str()
            .is_some_and(|d| d.starts_with("hello from wasmesos"))
    );

    // files.cpp's refusals.
    let refused = async |path: &str, status: StatusCode, body: &str| {
        let answer = get(&authority, path).await;
        assert_eq!(answer.status, status, "{path}: {}", answer.text());
        assert_eq!(answer.text(), body, "{path}");
    };
    refused(
        "/files/browse",
        StatusCode::BAD_REQUEST,
        "Expecting 'path=value' in query.\n",
    )
    .await;
    refused(
        "/files/read?path=",
        StatusCode::BAD_REQUEST,
        "Expecting 'path=value' in query.\n",
    )
    .await;
    refused(
        &format!("/files/read?path={stdout}&offset=-2"),
        StatusCode::BAD_REQUEST,
        "Negative offset provided: -2.\n",
    )
    .await;
    refused(
        &format!("/files/read?path={stdout}&length=-5"),
        StatusCode::BAD_REQUEST,
        "Negative length provided: -5.\n",
    )
    .await;
    let answer = get(&authority, &format!("/files/read?path={stdout}&offset=ten")).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(
        answer.text().starts_with("Failed to parse offset: "),
        "{}",
        answer.text()
    );
    refused(
        &format!("/files/read?path={}", encode(&directory)),
        StatusCode::BAD_REQUEST,
        "Cannot read a directory.\n",
    )
    .await;
    refused("/files/browse?path=/master/log", StatusCode::NOT_FOUND, "").await;
    refused(
        &format!(
            "/files/read?path={}",
            encode(&format!("{directory}/hello.wasm"))
        ),
        StatusCode::NOT_FOUND,
        "",
    )
    .await;
    let elsewhere = directory.replace("cat-me", "no-such-task");
    refused(
        &format!("/files/browse?path={}", encode(&elsewhere)),
        StatusCode::NOT_FOUND,
        "",
    )
    .await;
    cluster.shutdown().await.expect("shutdown");
}
