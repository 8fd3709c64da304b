//! The wasmesos allocator: which framework is offered which agent's resources, by weighted
//! hierarchical Dominant Resource Fairness, with quota, reservations, refusal filters,
//! suppression and crumb control. It is a pure state machine: it owns no threads, does no
//! I/O, reads no clock (time is an argument) and never panics on caller input. The master
//! (`wasmesos-master`) drives it; [`sim`] drives the same code at cluster scale in virtual
//! time. Start at [`Allocator`]; the model is in `resources` ([`Resources`]) and `roles`.
//!
//! # How the master calls it
//!
//! ```
//! use std::time::Duration;
//! use wasmesos_allocator::{Allocator, AllocatorConfig, FrameworkSpec, Resources};
//!
//! # fn main() -> Result<(), wasmesos_allocator::Error> {
//! let mut allocator = Allocator::new(AllocatorConfig::default())?;
//! let total: Resources = "cpus:4;mem:8GiB;disk:20GiB;cpus(ads):2".parse()?;
//! allocator.add_agent("agent-1".into(), &total)?;
//! allocator.add_framework("fw-1".into(), FrameworkSpec::with_roles(["ads"]))?;
//!
//! let now = Duration::ZERO;
//! for offer in allocator.allocate(now) {
//!     // The master sends `offer.resources` to `offer.framework_id` as one offer.
//!     // ACCEPT launching tasks: move what the tasks use to "used"...
//!     let task: Resources = "cpus:1;mem:1GiB".parse()?;
//!     allocator.launch(&offer.framework_id, &offer.agent_id, &offer.role, &task)?;
//!     // ...and hand back the rest, with the accept's refuse_seconds filter.
//!     let rest = offer.resources.checked_sub(&task).unwrap_or_default();
//!     allocator.recover_offered(&offer.framework_id, &offer.agent_id, &offer.role, &rest,
//!                               Some(Duration::from_secs(5)), now)?;
//!     // When the task ends:
//!     allocator.recover_used(&offer.framework_id, &offer.agent_id, &offer.role, &task)?;
//! }
//! allocator.check_invariants()?;
//! # Ok(()) }
//! ```
//!
//! * **Rounds are cheap and event driven.** Every call that frees resources or changes
//!   eligibility marks agents dirty; [`Allocator::allocate`] looks only at those (or at all
//!   agents with free resources after a framework, revive, quota or limit change). Run it
//!   a few milliseconds after any event when [`Allocator::has_work`] is true, and again at
//!   [`Allocator::next_filter_expiry`].
//! * **Offered and used are tracked apart.** An [`Allocation`] is *offered*;
//!   [`Allocator::launch`] moves part of it to *used*; [`Allocator::recover_offered`]
//!   (decline, rescind, offer timeout, unused part of an accept) and
//!   [`Allocator::recover_used`] (task ended) return resources to *free*. Both offered and
//!   used count toward shares and quota, as in Mesos. Per agent, `free + offered + used =
//!   total` exactly ([`Allocator::agent_snapshot`]), because amounts are fixed point.
//! * **One offer per agent per framework role per round**: an agent's free resources that a
//!   role may use go to one framework whole, unless a quota limit, a guarantee or a
//!   reservation splits them; the remainder can go to others in the same round.
//! * **Roles** are paths (`eng/backend`). Weighted DRF runs at every level of the tree, then
//!   DRF among the frameworks of a role. Frameworks subscribed to an inner role (`eng`)
//!   compete with its child roles as one virtual child of weight 1.
//! * **Reservations** for role `r` are offered to frameworks of `r` and of its descendants
//!   (as Mesos's hierarchical roles do), never to others. Dynamic ones come from
//!   [`Allocator::reserve`] / [`Allocator::unreserve`] (operator, free resources) and
//!   [`Allocator::reserve_offered`] / [`Allocator::unreserve_offered`] (offer operations).
//! * **Quota** ([`Quota`]): a *guarantee* is served first each round (deepest roles first,
//!   so `eng/a`'s is met inside `eng`'s) and protected in the fair stage by holding back
//!   enough free unreserved resources (Mesos's headroom) for the top-most guaranteed roles,
//!   even while they have no framework; a parent's guarantee is expected to cover its
//!   children's. A *limit* caps offered + used + unallocated reservations of the subtree,
//!   and offers are cut to fit it. Quota counts quantities whatever their reservation.
//! * **Filters**: a decline with `refuse` keeps those resources (or less) on that agent
//!   from that framework's role until it expires; [`Allocator::revive`] clears them and
//!   suppression. Resources named in `fair_share_excluded` (e.g. `gpus`) are offered but do
//!   not count toward dominant shares.
//! * **Revocable resources** ([`Allocator::set_revocable`]): an agent's oversubscribed CPU
//!   (`cpus{REV}:1.5`), kept apart from its regular resources, offered only to frameworks
//!   marked with [`Allocator::set_revocable_capable`], and counted in no share and no quota.
//! * **Maintenance**: [`InverseOffers`], driven next to the allocator, says which frameworks
//!   to ask for their resources on agents whose machine is scheduled for maintenance (the
//!   active holders, once until they answer, after their refusal filter), as Mesos's
//!   allocator makes inverse offers; [`Allocator::active_holders`] is what it reads.
//!
//! Errors are [`Error`]; ids are [`AgentId`] and [`FrameworkId`].

// No `expect` outside tests: a panic on what a peer or a user sends is a bug (tests may).
#![cfg_attr(not(test), warn(clippy::expect_used))]
#![forbid(unsafe_code)]

mod allocator;
mod config;
mod error;
mod ids;
mod pool;
pub mod preemption;
mod resources;
mod rng;
mod roles;
mod share;
pub mod sim;
mod slab;
mod state;

pub use allocator::{
    AgentSnapshot, Allocation, Allocator, FrameworkRoleSnapshot, FrameworkSnapshot,
    InverseOfferAnswer, InverseOfferStatus, InverseOffers, RoleSnapshot, Snapshot, Time,
};
pub use config::{AllocatorConfig, FrameworkSpec, Quota, SorterKind, default_min_allocatable};
pub use error::Error;
pub use ids::{AgentId, FrameworkId};
pub use resources::{
    Kind, MAX_ITEM_LEN, MAX_VALUES, Ranges, Resource, Resources, SetItems, parse_size,
};
pub use rng::SplitMix64;
pub use roles::validate_role;
