//! Native unit tests for executors: play the agent's part of the `host` interface.
//!
//! Only on non-wasm targets. Every function acts on the calling thread's stand-in host, which
//! [`host`](crate::host) uses there instead of the agent.
//!
//! ```
//! use std::time::Duration;
//! use wasmesos_sdk_guest::{host, testing};
//!
//! testing::reset();
//! testing::queue_message(b"ping".to_vec());
//! let msg = host::receive_message(Duration::from_secs(1));
//! assert_eq!(msg.as_deref(), Some(&b"ping"[..]));
//! host::send_message(b"pong");
//! assert_eq!(testing::take_sent_messages(), vec![b"pong".to_vec()]);
//! ```

use crate::host::Level;
use crate::host::native::{NativeHost, with_host};

/// Forgets every status, message and log line recorded on this thread.
pub fn reset() {
    with_host(|host| *host = NativeHost::default());
}

/// Queues a message for a later [`host::receive_message`](crate::host::receive_message).
///
/// With an empty queue `receive_message` returns `None` at once instead of waiting.
pub fn queue_message(data: Vec<u8>) {
    with_host(|host| host.inbox.push_back(data));
}

/// The last status set with [`host::set_status`](crate::host::set_status).
pub fn status() -> Option<String> {
    with_host(|host| host.status.clone())
}

/// Takes the messages sent with [`host::send_message`](crate::host::send_message), oldest first.
pub fn take_sent_messages() -> Vec<Vec<u8>> {
    with_host(|host| std::mem::take(&mut host.sent))
}

/// Takes the lines written with [`host::log`](crate::host::log), oldest first.
pub fn take_logs() -> Vec<(Level, String)> {
    with_host(|host| std::mem::take(&mut host.logs))
}
