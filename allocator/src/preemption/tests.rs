use super::*;

fn res(cpus: f64, mem_gib: f64) -> Amounts {
    let mut out = Amounts::new();
    out.insert("cpus".into(), cpus);
    out.insert("mem".into(), mem_gib * f64::from(1u32 << 30));
    out
}

fn task(agent: &str, role: &str, priority: i32, cpus: f64, mem_gib: f64) -> Candidate {
    Candidate {
        agent_id: agent.into(),
        role: role.into(),
        priority,
        resources: res(cpus, mem_gib),
        suspendable: true,
    }
}

fn context(free: &[(&str, Amounts)]) -> Context {
    Context {
        free: free
            .iter()
            .map(|(agent, amounts)| (AgentId::from(*agent), amounts.clone()))
            .collect(),
        ..Context::default()
    }
}

fn need(cpus: f64, mem_gib: f64, priority: Option<i32>, per_agent: bool) -> Need {
    Need {
        resources: res(cpus, mem_gib),
        priority,
        per_agent,
    }
}

#[test]
fn free_resources_that_cover_the_need_take_no_victim() {
    let candidates = [task("a", "batch", 0, 1.0, 1.0)];
    let ctx = context(&[("a", res(2.0, 2.0))]);
    let plan = plan(&need(1.0, 1.0, Some(10), true), &candidates, &ctx).expect("plan");
    assert!(plan.victims.is_empty());
    assert!(plan.missing.is_empty());
}

#[test]
fn only_lower_priorities_give_way_lowest_first() {
    let candidates = [
        task("a", "batch", 5, 1.0, 1.0),
        task("a", "batch", 1, 1.0, 1.0),
        task("a", "batch", 10, 4.0, 4.0),
    ];
    let ctx = context(&[("a", res(0.0, 0.0))]);
    let plan = plan(&need(1.0, 1.0, Some(10), true), &candidates, &ctx).expect("plan");
    assert_eq!(plan.victims, vec![(1, Action::Kill)]);
    // Nothing below priority 1: no victim can be found.
    assert_eq!(plan_for(&candidates, &ctx, Some(1)), None);
}

fn plan_for(candidates: &[Candidate], ctx: &Context, priority: Option<i32>) -> Option<Plan> {
    plan(&need(1.0, 1.0, priority, true), candidates, ctx)
}

#[test]
fn cpu_alone_missing_suspends_anything_else_kills() {
    let candidates = [task("a", "batch", 0, 2.0, 1.0)];
    // Memory is free, CPU is not: a suspension suffices.
    let ctx = context(&[("a", res(0.0, 4.0))]);
    let plan = plan(&need(1.0, 1.0, Some(1), true), &candidates, &ctx).expect("plan");
    assert_eq!(plan.victims, vec![(0, Action::Suspend)]);
    // Memory is missing too: the victim must go.
    let ctx = context(&[("a", res(0.0, 0.0))]);
    let plan = plan_for(&candidates, &ctx, Some(1)).expect("plan");
    assert_eq!(plan.victims, vec![(0, Action::Kill)]);
    // A victim that may not be suspended is killed even for CPU alone.
    let mut unsuspendable = candidates[0].clone();
    unsuspendable.suspendable = false;
    let ctx = context(&[("a", res(0.0, 4.0))]);
    let plan = plan_for(&[unsuspendable], &ctx, Some(1)).expect("plan");
    assert_eq!(plan.victims, vec![(0, Action::Kill)]);
}

#[test]
fn the_agent_needing_the_fewest_victims_is_chosen() {
    let candidates = [
        task("a", "batch", 0, 0.5, 0.5),
        task("a", "batch", 0, 0.5, 0.5),
        task("b", "batch", 0, 1.0, 1.0),
    ];
    let ctx = context(&[("a", res(0.0, 0.0)), ("b", res(0.0, 0.0))]);
    let plan = plan_for(&candidates, &ctx, Some(1)).expect("plan");
    assert_eq!(plan.victims, vec![(2, Action::Kill)]);
}

#[test]
fn no_role_is_taken_below_its_guarantee() {
    let candidates = [
        task("a", "guaranteed", 0, 1.0, 1.0),
        task("a", "batch", 0, 1.0, 1.0),
    ];
    let mut ctx = context(&[("a", res(0.0, 0.0))]);
    ctx.room.insert("guaranteed".into(), res(0.5, 0.5));
    let plan = plan(&need(2.0, 2.0, None, false), &candidates, &ctx).expect("plan");
    assert_eq!(plan.victims, vec![(1, Action::Kill)]);
    assert_eq!(plan.missing, res(1.0, 1.0), "the rest cannot be freed");
}

#[test]
fn among_equal_priorities_the_role_furthest_above_its_share_gives_way_first() {
    let candidates = [
        task("a", "modest", 0, 1.0, 1.0),
        task("a", "greedy", 0, 1.0, 1.0),
    ];
    let mut ctx = context(&[("a", res(0.0, 0.0))]);
    ctx.excess.insert("greedy".into(), 0.4);
    ctx.excess.insert("modest".into(), 0.1);
    let plan = plan(&need(1.0, 1.0, None, false), &candidates, &ctx).expect("plan");
    assert_eq!(plan.victims, vec![(1, Action::Kill)]);
}

#[test]
fn a_cluster_wide_need_counts_free_resources_on_every_agent() {
    let candidates = [
        task("a", "batch", 0, 1.0, 1.0),
        task("b", "batch", 0, 1.0, 1.0),
    ];
    let ctx = context(&[("a", res(1.0, 1.0)), ("b", res(0.5, 0.5))]);
    let plan = plan(&need(2.0, 2.0, None, false), &candidates, &ctx).expect("plan");
    assert_eq!(plan.victims.len(), 1, "{plan:?}");
    assert!(plan.missing.is_empty());
}
