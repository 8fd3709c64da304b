//! Marathon's placement constraints: `[field, operator, value?]` over an agent's hostname or
//! attributes, judged against where the app's tasks already run.

use std::collections::BTreeMap;

use regex::Regex;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One constraint, as the JSON array Marathon writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    pub field: String,
    pub operator: Operator,
    pub value: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Unique,
    Cluster,
    GroupBy,
    Like,
    Unlike,
    MaxPer,
}

impl Operator {
    fn name(self) -> &'static str {
        match self {
            Operator::Unique => "UNIQUE",
            Operator::Cluster => "CLUSTER",
            Operator::GroupBy => "GROUP_BY",
            Operator::Like => "LIKE",
            Operator::Unlike => "UNLIKE",
            Operator::MaxPer => "MAX_PER",
        }
    }

    fn parse(name: &str) -> Option<Operator> {
        Some(match name {
            "UNIQUE" => Operator::Unique,
            "CLUSTER" => Operator::Cluster,
            "GROUP_BY" => Operator::GroupBy,
            "LIKE" => Operator::Like,
            "UNLIKE" => Operator::Unlike,
            "MAX_PER" => Operator::MaxPer,
            _ => return None,
        })
    }
}

/// Where a task runs or could run, as constraints see it.
#[derive(Debug, Clone, Default)]
pub struct Placement {
    pub hostname: String,
    pub attributes: BTreeMap<String, String>,
}

impl Placement {
    fn field(&self, field: &str) -> Option<&str> {
        match field {
            "hostname" | "@hostname" => Some(&self.hostname),
            other => self.attributes.get(other).map(String::as_str),
        }
    }
}

impl Constraint {
    /// Parses the JSON items (strings, or a number as value), or says what is wrong.
    pub fn from_items(items: &[serde_json::Value]) -> Result<Constraint, String> {
        let text = |item: &serde_json::Value| match item {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let strings: Option<Vec<String>> = items.iter().map(text).collect();
        let Some(strings) = strings else {
            return Err("Each constraint item must be a string".into());
        };
        let (field, operator, value) = match strings.as_slice() {
            [field, operator] => (field, operator, None),
            [field, operator, value] => (field, operator, Some(value.clone())),
            _ => return Err("Each constraint must have either 2 or 3 fields".into()),
        };
        let operator = Operator::parse(operator).ok_or_else(|| {
            format!(
                "Constraint operator must be one of the following: [UNIQUE, CLUSTER, GROUP_BY, \
                 LIKE, UNLIKE, MAX_PER], not {operator}"
            )
        })?;
        let constraint = Constraint {
            field: field.clone(),
            operator,
            value: value.filter(|v| !(v.is_empty() && operator == Operator::Unique)),
        };
        constraint.check()?;
        Ok(constraint)
    }

    fn check(&self) -> Result<(), String> {
        let value = self.value.as_deref();
        match (self.operator, value) {
            (Operator::Unique, Some(_)) => Err("Value specified but not used".into()),
            (Operator::Like | Operator::Unlike, None) => {
                Err("A regular expression value must be provided".into())
            }
            (Operator::Like | Operator::Unlike, Some(pattern)) => anchored(pattern)
                .map(|_| ())
                .map_err(|err| format!("'{pattern}' is not a valid regular expression ({err})")),
            (Operator::MaxPer, value) => match value.and_then(|v| v.parse::<u32>().ok()) {
                Some(_) => Ok(()),
                None => Err("Value was not a valid integer".into()),
            },
            (Operator::GroupBy, Some(value)) if value.parse::<u32>().is_err() => {
                Err("Value was not a valid integer".into())
            }
            _ => Ok(()),
        }
    }

    /// Whether a new task at `candidate` keeps this constraint, given where the app's
    /// tasks are (`placed`).
    pub fn allows(&self, candidate: &Placement, placed: &[Placement]) -> bool {
        let mine = candidate.field(&self.field);
        let same = |other: &&Placement| mine.is_some() && other.field(&self.field) == mine;
        match self.operator {
            Operator::Unique => mine.is_some() && !placed.iter().any(|p| same(&p)),
            Operator::Cluster => match (&self.value, mine) {
                (Some(value), Some(mine)) => !value.is_empty() && mine == value,
                (None, Some(mine)) => placed
                    .iter()
                    .filter_map(|p| p.field(&self.field))
                    .all(|theirs| theirs == mine),
                (_, None) => false,
            },
            Operator::Like | Operator::Unlike => {
                let matched = mine.is_some_and(|mine| {
                    let pattern = self.value.as_deref().unwrap_or_default();
                    anchored(pattern).is_ok_and(|re| re.is_match(mine))
                });
                matched == (self.operator == Operator::Like)
            }
            Operator::MaxPer => {
                let limit = self.value.as_deref().and_then(|v| v.parse::<usize>().ok());
                mine.is_some() && placed.iter().filter(same).count() < limit.unwrap_or(0)
            }
            Operator::GroupBy => self.group_by_allows(mine, placed),
        }
    }

    /// GROUP_BY: spread evenly over the field's values (at least `value` groups, when given).
    fn group_by_allows(&self, mine: Option<&str>, placed: &[Placement]) -> bool {
        let Some(mine) = mine else { return false };
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for value in placed.iter().filter_map(|p| p.field(&self.field)) {
            *counts.entry(value).or_default() += 1;
        }
        let expected = self.value.as_deref().and_then(|v| v.parse::<usize>().ok());
        let mine_count = counts.get(mine).copied().unwrap_or(0);
        // Groups not used yet hold no task: the fewest is then zero.
        let unseen = expected.is_some_and(|groups| counts.len() < groups);
        if mine_count == 0 && unseen {
            return true;
        }
        let fewest = if unseen {
            0
        } else {
            counts.values().copied().min().unwrap_or(0)
        };
        mine_count <= fewest
    }
}

fn anchored(pattern: &str) -> Result<Regex, regex::Error> {
    Regex::new(&format!("^(?:{pattern})$"))
}

impl Serialize for Constraint {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut items = vec![self.field.as_str(), self.operator.name()];
        if let Some(value) = &self.value {
            items.push(value);
        }
        items.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Constraint {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let items = Vec::<serde_json::Value>::deserialize(deserializer)?;
        Constraint::from_items(&items).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn on(host: &str, rack: &str) -> Placement {
        Placement {
            hostname: host.into(),
            attributes: [("rack".to_string(), rack.to_string())].into(),
        }
    }

    fn constraint(items: serde_json::Value) -> Constraint {
        serde_json::from_value(items).expect("a constraint")
    }

    #[test]
    fn operators_judge_hostnames_and_attributes() {
        let placed = [on("a", "r1"), on("b", "r1")];
        let unique = constraint(json!(["hostname", "UNIQUE"]));
        assert!(!unique.allows(&on("a", "r2"), &placed));
        assert!(unique.allows(&on("c", "r2"), &placed));
        let cluster = constraint(json!(["rack", "CLUSTER", "r1"]));
        assert!(cluster.allows(&on("c", "r1"), &placed));
        assert!(!cluster.allows(&on("c", "r2"), &placed));
        let like = constraint(json!(["hostname", "LIKE", "[ab]"]));
        assert!(like.allows(&on("a", "x"), &[]));
        assert!(
            !like.allows(&on("ab", "x"), &[]),
            "the pattern must match whole"
        );
        let unlike = constraint(json!(["hostname", "UNLIKE", "a"]));
        assert!(!unlike.allows(&on("a", "x"), &[]));
        assert!(unlike.allows(&on("b", "x"), &[]));
        let max_per = constraint(json!(["rack", "MAX_PER", 2]));
        assert!(!max_per.allows(&on("c", "r1"), &placed));
        assert!(max_per.allows(&on("c", "r2"), &placed));
        let group_by = constraint(json!(["rack", "GROUP_BY", "2"]));
        assert!(!group_by.allows(&on("c", "r1"), &placed));
        assert!(group_by.allows(&on("c", "r2"), &placed));
        let missing = constraint(json!(["zone", "CLUSTER", "z1"]));
        assert!(!missing.allows(&on("a", "r1"), &[]));
        assert_eq!(
            serde_json::to_value(&max_per).expect("json"),
            json!(["rack", "MAX_PER", "2"])
        );
    }

    #[test]
    fn bad_constraints_say_why() {
        for (items, why) in [
            (json!(["hostname", "NEAR"]), "operator must be one of"),
            (json!(["hostname", "LIKE"]), "regular expression value"),
            (
                json!(["hostname", "LIKE", "("]),
                "not a valid regular expression",
            ),
            (json!(["hostname", "MAX_PER", "x"]), "valid integer"),
            (json!(["hostname"]), "2 or 3 fields"),
        ] {
            let err = serde_json::from_value::<Constraint>(items).expect_err("refused");
            assert!(err.to_string().contains(why), "{err}");
        }
    }
}
