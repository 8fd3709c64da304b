//! Records kept one per znode, as the master's registry and a framework's durable store keep
//! them: a key becomes one znode name, what ZooKeeper refuses by size is refused here first
//! with an error that says so, and many znodes are read in multi-read batches.

use zookeeper_client as zk;

/// The largest record a znode holds: ZooKeeper's default `jute.maxbuffer` (1 MiB) less room
/// for the path and the request around it.
pub const MAX_RECORD: usize = 1_000_000;

/// Records read per multi-read request.
const READ_BATCH: usize = 256;

/// A znode name for a key: letters, digits, `-` and `_` stay; every other byte is `%XX`.
pub fn encode_key(key: &str) -> String {
    let mut name = String::with_capacity(key.len());
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
            name.push(char::from(byte));
        } else {
            name.push_str(&format!("%{byte:02X}"));
        }
    }
    name
}

/// The key an [`encode_key`] name stands for; `None` for a name it never writes.
pub fn decode_key(name: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(name.len());
    let mut rest = name.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' {
            let hex = tail.get(..2)?;
            let text = std::str::from_utf8(hex).ok()?;
            bytes.push(u8::from_str_radix(text, 16).ok()?);
            rest = tail.get(2..)?;
        } else {
            bytes.push(byte);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

/// The data of each of `paths`, in order, read in multi-read batches.
pub async fn read_all(client: &zk::Client, paths: &[String]) -> Result<Vec<Vec<u8>>, zk::Error> {
    let mut found = Vec::with_capacity(paths.len());
    for batch in paths.chunks(READ_BATCH) {
        let mut reader = client.new_multi_reader();
        for path in batch {
            reader.add_get_data(path)?;
        }
        for result in reader.commit().await? {
            match result {
                zk::MultiReadResult::Data { data, .. } => found.push(data),
                zk::MultiReadResult::Error { err } => return Err(err),
                _ => {
                    return Err(zk::Error::UnexpectedError(
                        "a data read answered with something else".into(),
                    ));
                }
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_become_single_znode_names_and_back() {
        assert_eq!(encode_key("F-1/task.7"), "F-1%2Ftask%2E7");
        assert_eq!(encode_key(".."), "%2E%2E");
        assert!(!encode_key("a/b/c").contains('/'));
        for key in [
            "/shop/web 2026-01-01T00:00:00.000Z",
            "ct_1_0_job",
            "é ü",
            "",
        ] {
            assert_eq!(decode_key(&encode_key(key)).as_deref(), Some(key));
        }
        assert_eq!(decode_key("%2"), None);
        assert_eq!(decode_key("%ZZ"), None);
    }
}
