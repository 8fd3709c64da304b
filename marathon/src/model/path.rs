//! Marathon's path ids (`/group/app`) and the Mesos task ids that encode them.

use std::fmt;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// One segment of a path, as Marathon's `PathId` allows it.
pub const ID_PATTERN: &str = r"^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])|(\.|\.\.)$";

/// Longest id accepted, in bytes.
pub const MAX_ID_LEN: usize = 512;

/// An absolute path id, normalized: `/group/app`, or `/` for the root group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PathId(String);

impl PathId {
    pub fn root() -> Self {
        PathId("/".into())
    }

    /// Parses `text` (absolute or relative to the root; empty segments, as in a doubled
    /// leading slash, are skipped; `.` and `..` resolved), or says why it is not an id.
    pub fn parse(text: &str) -> Result<PathId, String> {
        if text.len() > MAX_ID_LEN {
            return Err(format!(
                "is {} bytes long, at most {MAX_ID_LEN}",
                text.len()
            ));
        }
        let mut segments: Vec<&str> = Vec::new();
        for segment in text.split('/').filter(|s| !s.is_empty()) {
            if !segment_pattern().is_some_and(|pattern| pattern.is_match(segment)) {
                return Err(format!(
                    "must fully match regular expression '{ID_PATTERN}'"
                ));
            }
            match segment {
                "." => {}
                ".." => {
                    segments.pop();
                }
                other => segments.push(other),
            }
        }
        Ok(PathId(format!("/{}", segments.join("/"))))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0 == "/"
    }

    /// The group holding this id (`/` for a top-level app).
    pub fn parent(&self) -> PathId {
        match self.0.rfind('/') {
            Some(0) | None => PathId::root(),
            Some(at) => PathId(self.0[..at].to_owned()),
        }
    }

    /// Whether `self` is `group` or lies below it.
    pub fn is_under(&self, group: &PathId) -> bool {
        group.is_root() || self == group || self.0.starts_with(&format!("{}/", group.0))
    }

    /// The Mesos task id of a new task of this app: `group_app.<uuid>`, as Marathon.
    pub fn new_task_id(&self) -> String {
        let safe = self.0.trim_start_matches('/').replace('/', "_");
        format!("{safe}.{}", uuid::Uuid::new_v4())
    }

    /// The app a task id of [`PathId::new_task_id`]'s form belongs to.
    pub fn of_task_id(task_id: &str) -> Option<PathId> {
        let (safe, instance) = task_id.rsplit_once('.')?;
        if safe.is_empty() || instance.is_empty() {
            return None;
        }
        PathId::parse(&safe.replace('_', "/")).ok()
    }
}

impl fmt::Display for PathId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The compiled [`ID_PATTERN`] (a constant that compiles: the tests would fail otherwise).
fn segment_pattern() -> Option<&'static Regex> {
    static PATTERN: std::sync::OnceLock<Option<Regex>> = std::sync::OnceLock::new();
    // Marathon requires the whole segment to match (its pattern alone is unanchored at `|`).
    PATTERN
        .get_or_init(|| Regex::new(&format!("^(?:{ID_PATTERN})$")).ok())
        .as_ref()
}

#[cfg(test)]
mod tests {
    use super::PathId;

    #[test]
    fn ids_are_normalized_and_checked() {
        assert_eq!(PathId::parse("//web").expect("id").as_str(), "/web");
        assert_eq!(PathId::parse("shop/web").expect("id").as_str(), "/shop/web");
        assert_eq!(PathId::parse("/a/../b/./c").expect("id").as_str(), "/b/c");
        assert_eq!(PathId::parse("/").expect("id"), PathId::root());
        assert!(PathId::parse("/Web").is_err());
        assert!(PathId::parse("/we_b").is_err());
        assert!(PathId::parse("/-web").is_err());
        assert!(PathId::parse(&"a".repeat(600)).is_err());
        let app = PathId::parse("/shop/web").expect("id");
        assert_eq!(app.parent().as_str(), "/shop");
        assert!(app.is_under(&PathId::parse("/shop").expect("id")));
        assert!(
            !PathId::parse("/shopping")
                .expect("id")
                .is_under(&app.parent())
        );
    }

    #[test]
    fn task_ids_encode_their_app() {
        let app = PathId::parse("/shop/web.v2").expect("id");
        let task = app.new_task_id();
        assert!(task.starts_with("shop_web.v2."), "{task}");
        assert_eq!(PathId::of_task_id(&task), Some(app));
        assert_eq!(PathId::of_task_id("nodot"), None);
    }
}
