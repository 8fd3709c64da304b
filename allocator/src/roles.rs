//! The role tree: paths like `eng/backend`, weights, quota, and per-node sorted shares.
//!
//! Every node keeps its present children (and a virtual `Own` entry for the frameworks that
//! subscribed to the node's own role) in a `BTreeSet` ordered by weighted dominant share, so
//! the lowest share is always first and an allocation re-sorts only the nodes on one path.

use std::cell::Cell;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use crate::Error;
use crate::pool::{NameId, Qty, RoleIdx};
use crate::share::{ShareCtx, share_key};

pub(crate) type FwIdx = u32;

/// The root of the tree; it has no name, no frameworks and cannot reserve.
pub(crate) const ROOT: RoleIdx = 0;

/// Checks a role path: `*`, or `/`-separated segments of letters, digits, `_`, `-`, `.`,
/// none empty, none `.` or `..`, none starting with `-`.
pub fn validate_role(role: &str) -> Result<&str, Error> {
    let fail = |reason| Error::InvalidRole {
        role: role.to_owned(),
        reason,
    };
    if role == "*" {
        return Ok(role);
    }
    if role.is_empty() {
        return Err(fail("empty"));
    }
    for segment in role.split('/') {
        if segment.is_empty() {
            return Err(fail("empty path segment"));
        }
        if segment == "." || segment == ".." {
            return Err(fail("'.' and '..' are not role names"));
        }
        if segment.starts_with('-') {
            return Err(fail("a segment may not start with '-'"));
        }
        let ok = segment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !ok {
            return Err(fail(
                "use letters, digits, '_', '-', '.' and '/' between levels",
            ));
        }
    }
    Ok(role)
}

/// An entry in a node's sorted set: the node's own frameworks, or a child role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Entry {
    Own,
    Child(RoleIdx),
}

/// A role's quota in interned form.
#[derive(Clone, Debug, Default)]
pub(crate) struct NodeQuota {
    pub(crate) guarantee: Vec<(NameId, i64)>,
    pub(crate) limit: Option<Vec<(NameId, i64)>>,
    pub(crate) spec: crate::Quota,
}

#[derive(Debug)]
pub(crate) struct RoleNode {
    pub(crate) path: Arc<str>,
    pub(crate) parent: Option<RoleIdx>,
    pub(crate) depth: u32,
    pub(crate) weight: f64,
    pub(crate) quota: Option<NodeQuota>,
    /// Offered + used by frameworks subscribed to this role or a descendant.
    pub(crate) subtree_alloc: Qty,
    /// Offered + used by frameworks subscribed to exactly this role.
    pub(crate) own_alloc: Qty,
    /// Free resources reserved for this role or a descendant.
    pub(crate) subtree_reserved_free: Qty,
    pub(crate) entries: BTreeSet<(u64, Entry)>,
    pub(crate) own_fws: BTreeSet<(u64, FwIdx)>,
    /// This node's key in its parent's `entries`, while present there.
    pub(crate) key_in_parent: Option<u64>,
    /// The `Own` entry's key in `entries`, while present.
    pub(crate) own_key: Option<u64>,
    /// Set when a round skipped this role because of its limit; a later drop in its
    /// consumption then makes every free agent worth another look.
    pub(crate) limit_blocked: Cell<bool>,
    pub(crate) children: Vec<RoleIdx>,
}

impl RoleNode {
    fn new(path: Arc<str>, parent: Option<RoleIdx>, depth: u32) -> Self {
        Self {
            path,
            parent,
            depth,
            weight: 1.0,
            quota: None,
            subtree_alloc: Qty::default(),
            own_alloc: Qty::default(),
            subtree_reserved_free: Qty::default(),
            entries: BTreeSet::new(),
            own_fws: BTreeSet::new(),
            key_in_parent: None,
            own_key: None,
            limit_blocked: Cell::new(false),
            children: Vec::new(),
        }
    }

    /// What quota counts: offered + used + unallocated reservations of the subtree.
    pub(crate) fn consumption(&self, name: NameId) -> i64 {
        self.subtree_alloc.get(name) + self.subtree_reserved_free.get(name)
    }

    pub(crate) fn is_present(&self) -> bool {
        !self.entries.is_empty()
    }
}

#[derive(Debug)]
pub(crate) struct RoleTree {
    pub(crate) nodes: Vec<RoleNode>,
    by_path: HashMap<Arc<str>, RoleIdx>,
}

impl RoleTree {
    pub(crate) fn new() -> Self {
        Self {
            nodes: vec![RoleNode::new(Arc::from(""), None, 0)],
            by_path: HashMap::new(),
        }
    }

    pub(crate) fn get(&self, path: &str) -> Option<RoleIdx> {
        self.by_path.get(path).copied()
    }

    pub(crate) fn node(&self, idx: RoleIdx) -> &RoleNode {
        &self.nodes[idx as usize]
    }

    pub(crate) fn node_mut(&mut self, idx: RoleIdx) -> &mut RoleNode {
        &mut self.nodes[idx as usize]
    }

    /// The node for `path`, creating it and its ancestors.
    pub(crate) fn ensure(&mut self, path: &str) -> Result<RoleIdx, Error> {
        if let Some(idx) = self.get(path) {
            return Ok(idx);
        }
        validate_role(path)?;
        let parent = match path.rsplit_once('/') {
            Some((parent, _)) => self.ensure(parent)?,
            None => ROOT,
        };
        let idx = RoleIdx::try_from(self.nodes.len()).map_err(|_| Error::InvalidRole {
            role: path.to_owned(),
            reason: "too many roles",
        })?;
        let depth = self.node(parent).depth + 1;
        let path: Arc<str> = Arc::from(path);
        self.nodes
            .push(RoleNode::new(path.clone(), Some(parent), depth));
        self.node_mut(parent).children.push(idx);
        self.by_path.insert(path, idx);
        Ok(idx)
    }

    /// `role` and its ancestors, nearest first, without the root.
    pub(crate) fn chain(&self, role: RoleIdx) -> impl Iterator<Item = RoleIdx> + '_ {
        std::iter::successors(Some(role), |at| self.node(*at).parent).take_while(|at| *at != ROOT)
    }

    /// True when `ancestor` is `role` or one of its ancestors.
    pub(crate) fn is_ancestor_or_self(&self, ancestor: RoleIdx, role: RoleIdx) -> bool {
        let target_depth = self.node(ancestor).depth;
        let mut at = role;
        while self.node(at).depth > target_depth {
            match self.node(at).parent {
                Some(parent) => at = parent,
                None => return false,
            }
        }
        at == ancestor
    }

    /// The product of weights from the top level down to `role`: its effective share of
    /// the cluster relative to a weight-1 top-level role.
    pub(crate) fn effective_weight(&self, role: RoleIdx) -> f64 {
        self.chain(role).map(|at| self.node(at).weight).product()
    }

    /// The key `entry` of `node` should have now.
    pub(crate) fn entry_key(&self, node: RoleIdx, entry: Entry, ctx: &ShareCtx<'_>) -> u64 {
        match entry {
            Entry::Own => share_key(ctx.share(&self.node(node).own_alloc), 1.0),
            Entry::Child(child) => {
                let child = self.node(child);
                share_key(ctx.share(&child.subtree_alloc), child.weight)
            }
        }
    }

    fn stored_key(&mut self, node: RoleIdx, entry: Entry) -> &mut Option<u64> {
        match entry {
            Entry::Own => &mut self.node_mut(node).own_key,
            Entry::Child(child) => &mut self.node_mut(child).key_in_parent,
        }
    }

    fn add_entry(&mut self, node: RoleIdx, entry: Entry, ctx: &ShareCtx<'_>) {
        let key = self.entry_key(node, entry, ctx);
        *self.stored_key(node, entry) = Some(key);
        let was_present = self.node(node).is_present();
        self.node_mut(node).entries.insert((key, entry));
        if !was_present && let Some(parent) = self.node(node).parent {
            self.add_entry(parent, Entry::Child(node), ctx);
        }
    }

    fn remove_entry(&mut self, node: RoleIdx, entry: Entry) {
        let Some(key) = self.stored_key(node, entry).take() else {
            return;
        };
        self.node_mut(node).entries.remove(&(key, entry));
        if !self.node(node).is_present()
            && let Some(parent) = self.node(node).parent
        {
            self.remove_entry(parent, Entry::Child(node));
        }
    }

    fn reposition(&mut self, node: RoleIdx, entry: Entry, ctx: &ShareCtx<'_>) {
        let Some(old) = *self.stored_key(node, entry) else {
            return;
        };
        let new = self.entry_key(node, entry, ctx);
        if new == old {
            return;
        }
        let entries = &mut self.node_mut(node).entries;
        entries.remove(&(old, entry));
        entries.insert((new, entry));
        *self.stored_key(node, entry) = Some(new);
    }

    /// Adds or removes a framework from `role`'s own sorted set, keeping presence up the tree.
    pub(crate) fn set_member(
        &mut self,
        role: RoleIdx,
        fw: FwIdx,
        key: u64,
        present: bool,
        ctx: &ShareCtx<'_>,
    ) {
        let node = self.node_mut(role);
        if present {
            let first = node.own_fws.is_empty();
            node.own_fws.insert((key, fw));
            if first {
                self.add_entry(role, Entry::Own, ctx);
            }
        } else {
            node.own_fws.remove(&(key, fw));
            if node.own_fws.is_empty() {
                self.remove_entry(role, Entry::Own);
            }
        }
    }

    /// Moves a present framework to its new key.
    pub(crate) fn move_member(&mut self, role: RoleIdx, fw: FwIdx, old: u64, new: u64) {
        if old == new {
            return;
        }
        let set = &mut self.node_mut(role).own_fws;
        if set.remove(&(old, fw)) {
            set.insert((new, fw));
        }
    }

    /// Re-sorts the entries on the path from `role` to the root after its allocation changed.
    pub(crate) fn refresh_path(&mut self, role: RoleIdx, ctx: &ShareCtx<'_>) {
        self.reposition(role, Entry::Own, ctx);
        let mut at = role;
        while let Some(parent) = self.node(at).parent {
            self.reposition(parent, Entry::Child(at), ctx);
            at = parent;
        }
    }

    /// Recomputes every role key, after the cluster totals changed.
    pub(crate) fn refresh_all(&mut self, ctx: &ShareCtx<'_>) {
        for idx in 0..self.nodes.len() {
            let node = idx as RoleIdx;
            let entries: Vec<Entry> = self.node(node).entries.iter().map(|(_, e)| *e).collect();
            let mut rebuilt = BTreeSet::new();
            for entry in entries {
                let key = self.entry_key(node, entry, ctx);
                *self.stored_key(node, entry) = Some(key);
                rebuilt.insert((key, entry));
            }
            self.node_mut(node).entries = rebuilt;
        }
    }

    /// Adds `units` of `name` to the allocation of `role` (and of its subtree ancestors).
    pub(crate) fn add_alloc(&mut self, role: RoleIdx, name: NameId, units: i64) {
        self.node_mut(role).own_alloc.add(name, units);
        let mut at = Some(role);
        while let Some(idx) = at {
            let node = self.node_mut(idx);
            node.subtree_alloc.add(name, units);
            at = node.parent;
        }
    }

    /// Adds `units` of free resources reserved for `role` to it and its ancestors.
    pub(crate) fn add_reserved_free(&mut self, role: RoleIdx, name: NameId, units: i64) {
        let mut at = Some(role);
        while let Some(idx) = at {
            let node = self.node_mut(idx);
            node.subtree_reserved_free.add(name, units);
            at = node.parent;
        }
    }
}
