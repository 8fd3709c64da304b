//! The sandbox paths Mesos tools read files by: a task's sandbox is the virtual directory
//! `/slaves/<agent>/frameworks/<framework>/executors/<executor>/runs/latest` (a wasmesos
//! executor runs one task whose id is the executor's), as `/master/state` reports it in a
//! task's `directory`, and its files are `stdout` and `stderr` in it.

/// The sandbox directory of `task_id` of `framework_id` on `agent_id`.
pub(crate) fn directory(agent_id: &str, framework_id: &str, task_id: &str) -> String {
    format!("/slaves/{agent_id}/frameworks/{framework_id}/executors/{task_id}/runs/latest")
}

/// A path under a task's sandbox: the directory itself (`file` is `None`) or a file in it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SandboxPath<'a> {
    pub(crate) agent_id: &'a str,
    pub(crate) framework_id: &'a str,
    pub(crate) task_id: &'a str,
    pub(crate) file: Option<&'a str>,
}

/// Reads `path` as a sandbox path; `None` for anything else (Mesos then answers 404).
/// Empty segments (`//`, a trailing `/`) are ignored, as a filesystem would; `.` and `..`
/// are never a sandbox path.
pub(crate) fn parse(path: &str) -> Option<SandboxPath<'_>> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if parts.iter().any(|p| *p == "." || *p == "..") {
        return None;
    }
    match parts.as_slice() {
        [
            "slaves",
            agent_id,
            "frameworks",
            framework_id,
            "executors",
            task_id,
            "runs",
            "latest",
            rest @ ..,
        ] => {
            let file = match rest {
                [] => None,
                [file] => Some(*file),
                _ => return None,
            };
            Some(SandboxPath {
                agent_id,
                framework_id,
                task_id,
                file,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tasks_directory_parses_back_to_it() {
        let dir = directory("A1", "F2", "web.1");
        assert_eq!(
            parse(&dir),
            Some(SandboxPath {
                agent_id: "A1",
                framework_id: "F2",
                task_id: "web.1",
                file: None
            })
        );
        assert_eq!(parse(&format!("{dir}/")).and_then(|p| p.file), None);
        assert_eq!(
            parse(&format!("{dir}//stdout")).and_then(|p| p.file),
            Some("stdout")
        );
        assert!(parse(&format!("{dir}/a/b")).is_none());
        assert!(parse(&format!("{dir}/..")).is_none());
        assert!(parse("/slaves/A1/frameworks/F2/executors/t/runs/c0ffee").is_none());
        assert!(parse("/master/log").is_none());
        assert!(parse("").is_none());
    }
}
