//! RESERVE and UNRESERVE offer operations: parsed from an ACCEPT, checked against the
//! accepted offers in order (so a later LAUNCH of the same ACCEPT can use what an earlier
//! RESERVE made), then applied to the allocator all together or not at all.
//!
//! A RESERVE turns unreserved offered resources into resources reserved for the offer's
//! role; an UNRESERVE turns resources reserved for the offer's role back. Either way they
//! stay offered to the framework; what no task uses returns to the pool, reserved or not,
//! under the ACCEPT's filter.

use std::fmt;

use wasmesos_allocator::{AgentId, FrameworkId, Resources};
use wasmesos_proto::v1::{AcceptRequest, TaskInfo, operation};

use super::Core;
use super::accept::Pool;
use super::convert::{Amounts, resources_from_proto};
use crate::Error;
use crate::error::invalid;

/// One operation of an ACCEPT, in the order given.
pub(super) enum Step {
    Launch(Vec<TaskInfo>),
    Convert(Conversion),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Reserve,
    Unreserve,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Reserve => "RESERVE",
            Kind::Unreserve => "UNRESERVE",
        })
    }
}

/// A RESERVE or UNRESERVE as asked: the resources in their reserved form.
pub(super) struct Conversion {
    index: usize,
    kind: Kind,
    agent_id: String,
    reserved: Resources,
}

/// A conversion that fits the offers: the agent and role of the pool it changes.
pub(super) struct Planned {
    agent_id: AgentId,
    role: String,
    kind: Kind,
    reserved: Resources,
}

/// The operations of an ACCEPT; a malformed one fails the call (INVALID_ARGUMENT) and
/// leaves the offers outstanding.
pub(super) fn parse_operations(req: &AcceptRequest) -> Result<Vec<Step>, Error> {
    let mut steps = Vec::with_capacity(req.operations.len());
    for (index, op) in req.operations.iter().enumerate() {
        let step = match &op.operation {
            Some(operation::Operation::Launch(launch)) => Step::Launch(launch.tasks.clone()),
            Some(operation::Operation::Reserve(reserve)) => Step::Convert(Conversion::parse(
                index,
                Kind::Reserve,
                &reserve.agent_id,
                reserve.resources.as_ref(),
            )?),
            Some(operation::Operation::Unreserve(unreserve)) => Step::Convert(Conversion::parse(
                index,
                Kind::Unreserve,
                &unreserve.agent_id,
                unreserve.resources.as_ref(),
            )?),
            None => return Err(invalid(&format!("operations[{index}]"), "is empty")),
        };
        steps.push(step);
    }
    Ok(steps)
}

/// Every task the LAUNCH steps name, in order.
pub(super) fn tasks_of(steps: &[Step]) -> impl Iterator<Item = &TaskInfo> {
    steps.iter().flat_map(|step| match step {
        Step::Launch(tasks) => tasks.as_slice(),
        Step::Convert(_) => &[],
    })
}

impl Conversion {
    fn parse(
        index: usize,
        kind: Kind,
        agent_id: &str,
        resources: Option<&wasmesos_proto::v1::Resources>,
    ) -> Result<Self, Error> {
        let field = format!("operations[{index}].{}.resources", kind_field(kind));
        let reserved = resources_from_proto(resources, Amounts::Positive)
            .map_err(|why| invalid(&field, why))?;
        if reserved.is_empty() {
            return Err(invalid(&field, "name at least one resource"));
        }
        if !reserved.unreserved().is_empty() {
            return Err(invalid(
                &field,
                "every entry must name the role it is reserved for (the offer's role)",
            ));
        }
        Ok(Self {
            index,
            kind,
            agent_id: agent_id.to_string(),
            reserved,
        })
    }

    /// Applies this conversion to the pools it fits, or says why it fits none.
    pub(super) fn plan(&self, pools: &mut [Pool]) -> Result<Planned, String> {
        let label = format!("operations[{}] {} {}", self.index, self.kind, self.reserved);
        let role = single_role(&self.reserved).ok_or_else(|| {
            format!("{label}: all entries of one operation must name the same role")
        })?;
        let agent = self.agent(pools).map_err(|why| format!("{label}: {why}"))?;
        let unreserved = self.reserved.quantities();
        let (from, to) = match self.kind {
            Kind::Reserve => (&unreserved, &self.reserved),
            Kind::Unreserve => (&self.reserved, &unreserved),
        };
        let fits = pools
            .iter_mut()
            .find(|pool| pool.agent_id == agent && pool.role == role && pool.left.contains(from));
        let Some(pool) = fits else {
            return Err(format!(
                "{label}: no accepted offer on agent {agent} under role {role} has {from} left \
                 (a framework reserves and unreserves only for the role of the offer)"
            ));
        };
        pool.left = swap(&pool.left, from, to);
        pool.offered = swap(&pool.offered, from, to);
        Ok(Planned {
            agent_id: agent,
            role,
            kind: self.kind,
            reserved: self.reserved.clone(),
        })
    }

    fn agent(&self, pools: &[Pool]) -> Result<AgentId, String> {
        if !self.agent_id.is_empty() {
            return Ok(AgentId::from(self.agent_id.as_str()));
        }
        let first = pools.first().map(|pool| pool.agent_id.clone());
        match first {
            Some(first) if pools.iter().all(|pool| pool.agent_id == first) => Ok(first),
            _ => Err("agent_id is required when the offers are on several agents".into()),
        }
    }
}

impl Core {
    /// Applies planned conversions to the allocator in order; if one is refused (e.g. a
    /// reservation would cross the role's quota limit), undoes those already applied.
    pub(super) fn apply_conversions(
        &mut self,
        framework_id: &FrameworkId,
        planned: &[Planned],
    ) -> Result<(), String> {
        for (done, step) in planned.iter().enumerate() {
            if let Err(err) = self.convert(framework_id, step.kind, step) {
                for undo in planned.iter().take(done).rev() {
                    let back = match undo.kind {
                        Kind::Reserve => Kind::Unreserve,
                        Kind::Unreserve => Kind::Reserve,
                    };
                    if let Err(err) = self.convert(framework_id, back, undo) {
                        tracing::error!(framework_id = %framework_id, %err,
                            "allocator refused to undo an offer operation");
                    }
                }
                return Err(format!("{} {}: {err}", step.kind, step.reserved));
            }
        }
        Ok(())
    }

    fn convert(
        &mut self,
        framework_id: &FrameworkId,
        kind: Kind,
        step: &Planned,
    ) -> Result<(), wasmesos_allocator::Error> {
        let (agent, role) = (&step.agent_id, step.role.as_str());
        match kind {
            Kind::Reserve => {
                self.allocator
                    .reserve_offered(framework_id, agent, role, &step.reserved)
            }
            Kind::Unreserve => {
                self.allocator
                    .unreserve_offered(framework_id, agent, role, &step.reserved)
            }
        }
    }
}

fn kind_field(kind: Kind) -> &'static str {
    match kind {
        Kind::Reserve => "reserve",
        Kind::Unreserve => "unreserve",
    }
}

/// The one role every entry is reserved for, if there is exactly one.
fn single_role(resources: &Resources) -> Option<String> {
    let mut roles = resources.iter().filter_map(|item| item.reservation());
    let first = roles.next()?;
    roles.all(|role| role == first).then(|| first.to_string())
}

/// `bag - from + to`; `from` is known to fit.
fn swap(bag: &Resources, from: &Resources, to: &Resources) -> Resources {
    let mut out = bag.checked_sub(from).unwrap_or_else(|| bag.clone());
    out.add(to);
    out
}
