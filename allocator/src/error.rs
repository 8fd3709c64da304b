//! The allocator's one error type.

use crate::{AgentId, FrameworkId};

/// Everything the allocator refuses. Each variant names what was wrong so the master can
/// pass it on to the operator or framework unchanged.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// A resource string or amount that does not parse or is out of range.
    #[error("invalid resources: {0}")]
    InvalidResources(String),
    /// A role name that is not a valid path such as `eng/backend`.
    #[error("invalid role {role:?}: {reason}")]
    InvalidRole {
        /// The role as given.
        role: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A weight that is not a positive finite number.
    #[error("invalid weight {weight} for role {role:?}: weights must be positive and finite")]
    InvalidWeight {
        /// The role.
        role: String,
        /// The weight as given.
        weight: f64,
    },
    /// A quota whose limit is below its guarantee.
    #[error("invalid quota for role {role:?}: {reason}")]
    InvalidQuota {
        /// The role.
        role: String,
        /// Why it was refused.
        reason: String,
    },
    /// No agent with this id.
    #[error("unknown agent {0}")]
    UnknownAgent(AgentId),
    /// An agent with this id is already added.
    #[error("agent {0} is already added")]
    DuplicateAgent(AgentId),
    /// No framework with this id.
    #[error("unknown framework {0}")]
    UnknownFramework(FrameworkId),
    /// A framework with this id is already added.
    #[error("framework {0} is already added")]
    DuplicateFramework(FrameworkId),
    /// A framework must subscribe with at least one role.
    #[error("framework {0} subscribed with no role")]
    NoRoles(FrameworkId),
    /// The framework is not subscribed to this role.
    #[error("framework {framework} is not subscribed to role {role:?}")]
    NotSubscribed {
        /// The framework.
        framework: FrameworkId,
        /// The role.
        role: String,
    },
    /// The resources named are not there (not offered, not in use, not free, not reserved).
    #[error("agent {agent}: {wanted} is not within the {state} resources {available}")]
    NotAvailable {
        /// The agent.
        agent: AgentId,
        /// What was asked for.
        wanted: String,
        /// Which pool was searched: "offered", "used", "free unreserved", ...
        state: &'static str,
        /// What that pool holds.
        available: String,
    },
    /// A reservation for a role that cannot reserve (`*`) or an unreserve of unreserved resources.
    #[error("invalid reservation: {0}")]
    InvalidReservation(String),
    /// An internal consistency check failed; only [`crate::Allocator::check_invariants`] returns it.
    #[error("allocator invariant broken: {0}")]
    Invariant(String),
}
