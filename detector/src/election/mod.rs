//! Leader election on ZooKeeper, for masters and for frameworks that run several copies of
//! themselves (Marathon, Chronos): each process contends ([`Contender`]) with an ephemeral
//! sequential `json.info_` znode holding its [`MasterInfo`](crate::MasterInfo) JSON, the
//! lowest sequence leads (so a [`Detector`](crate::Detector) on the same path follows the
//! leader), and a leader watches its own session ([`lost`]) so that it stops at once when it
//! may no longer lead.

mod contender;
mod session;

pub use contender::Contender;
pub use session::lost;
