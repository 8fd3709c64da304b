//! gRPC message sizes: the one set of limits every wasmesos client and server sets, each
//! for a stated reason, instead of tonic's implicit ones (4 MiB to decode, no limit to
//! encode).
//!
//! They follow from one another. A peer's call is at most [`MAX_CALL_BYTES`]. What the
//! master and the agents push back carries, per item, at most what one or two calls
//! brought (a status as its agent sent it; a LAUNCH holds an ACCEPT's tasks and the
//! framework's info from its SUBSCRIBE), and the master cuts merged UPDATE and OFFERS
//! events at [`EVENT_SPLIT_BYTES`]. So [`MAX_PUSH_BYTES`] holds any event, command or
//! answer, and a client that decodes up to it never fails on a message the master was
//! right to send (a decode failure drops the stream and, for a scheduler, resubscribes into
//! the same failure). Whole-state answers grow with the cluster and have their own limit.

const MIB: usize = 1024 * 1024;

/// The largest request a wasmesos server decodes: an ACCEPT with its tasks' data, a batch
/// of status updates with their results, a SUBSCRIBE. tonic's own default, stated so that
/// the limits below can be derived from it. (Artifact uploads stream in chunks and have
/// their own limit, the master's `max_artifact_size`.)
pub const MAX_CALL_BYTES: usize = 4 * MIB;

/// Where the master cuts an UPDATE or OFFERS event it merged from several: a status or an
/// offer joins the event before it only while that stays within this many encoded bytes,
/// and one larger than this travels alone (one item is never split). 1 MiB is the agent's
/// default `max_result_bytes`, so a batch of full-size results goes out about one per event.
pub const EVENT_SPLIT_BYTES: usize = MIB;

/// The largest event, command or answer a client decodes from the master or an agent (and
/// the most those servers encode): one item of at most two calls' worth
/// (`2 × MAX_CALL_BYTES`, a LAUNCH), or a merged event of at most
/// `max(EVENT_SPLIT_BYTES, one item)`, plus 1 MiB for framing and what the master adds.
pub const MAX_PUSH_BYTES: usize = 2 * MAX_CALL_BYTES + MIB;

/// The largest whole-state answer (`Operator.GetState`, `Agent.GetAgentState`): it grows
/// with the tasks a cluster holds and retains (roughly 1 KiB each), so it gets room for
/// hundreds of thousands of them; only operators and their tools ask for it.
pub const MAX_STATE_BYTES: usize = 256 * MIB;

// The chain above, checked when the crate compiles.
const _: () = assert!(MAX_PUSH_BYTES > 2 * MAX_CALL_BYTES);
const _: () = assert!(MAX_PUSH_BYTES > EVENT_SPLIT_BYTES + MAX_CALL_BYTES);
const _: () = assert!(MAX_STATE_BYTES >= MAX_PUSH_BYTES);
