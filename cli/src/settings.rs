//! Layered settings for the long-running commands (`wasmesos master`, `wasmesos agent`):
//! built-in defaults, then an optional TOML file (`--config FILE`), then
//! `WASMESOS_<COMMAND>_<KEY>` environment variables, then flags; a later layer wins.
//!
//! Every value, from whichever layer, goes through the same parser as its flag, so the file
//! and the environment accept exactly what the flag accepts (`offer_timeout = "30s"`,
//! `WASMESOS_MASTER_OFFER_TIMEOUT=30s`, `--offer-timeout 30s`). An error names the setting
//! and where its value came from. A key the file does not know is an error (a typo must not
//! be silently ignored); an unknown `WASMESOS_<COMMAND>_*` variable is reported on stderr.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// Where a setting's value came from; errors name it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    File { path: PathBuf, key: String },
    Env(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::File { path, key } => write!(f, "{}: setting `{key}`", path.display()),
            Source::Env(name) => write!(f, "environment variable {name}"),
        }
    }
}

/// The file and environment layers of one command, consulted setting by setting.
#[derive(Debug)]
pub struct Layers {
    env_prefix: String,
    file: Option<(PathBuf, toml::Table)>,
    env: BTreeMap<String, String>,
    /// Keys the command asked for, to report the file's unknown ones.
    known: BTreeSet<String>,
    /// Environment variables named for a key other than the default `PREFIX_KEY`.
    env_names: BTreeMap<String, String>,
}

impl Layers {
    /// Reads `file` (if given) and the process environment for `command` (`master`, `agent`).
    pub fn load(command: &str, file: Option<&Path>) -> anyhow::Result<Self> {
        let env = std::env::vars()
            .filter(|(name, _)| name.starts_with("WASMESOS_"))
            .collect();
        let file = match file {
            Some(path) => Some((path.to_path_buf(), read_table(path)?)),
            None => None,
        };
        Ok(Self::new(command, file, env))
    }

    /// Layers from explicit parts, for tests.
    pub fn new(
        command: &str,
        file: Option<(PathBuf, toml::Table)>,
        env: BTreeMap<String, String>,
    ) -> Self {
        Self {
            env_prefix: format!("WASMESOS_{}_", command.to_ascii_uppercase()),
            file,
            env,
            known: BTreeSet::new(),
            env_names: BTreeMap::new(),
        }
    }

    /// Reads `key` from the variable `name` instead of `WASMESOS_<COMMAND>_<KEY>` (for
    /// `WASMESOS_MASTER`, the master URL every command shares).
    pub fn env_name(mut self, key: &str, name: &str) -> Self {
        self.env_names.insert(key.to_string(), name.to_string());
        self
    }

    /// The value of a single-valued setting: the flag's if given, else the environment's,
    /// else the file's, parsed by `parse`; `None` when no layer sets it.
    pub fn one<T>(
        &mut self,
        key: &str,
        flag: Option<T>,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> anyhow::Result<Option<T>> {
        self.known.insert(key.to_string());
        if flag.is_some() {
            return Ok(flag);
        }
        let Some((source, values)) = self.lookup(key, false)? else {
            return Ok(None);
        };
        let [value] = values.as_slice() else {
            bail!("{source}: expected one value, not a list");
        };
        parse(value)
            .map(Some)
            .map_err(|why| anyhow::anyhow!("{source}: `{value}`: {why}"))
    }

    /// The values of a repeatable setting: the flags' if any were given, else the
    /// environment's (comma-separated), else the file's (an array, or a table whose entries
    /// become `key=value` items).
    pub fn many<T>(
        &mut self,
        key: &str,
        flags: Vec<T>,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> anyhow::Result<Vec<T>> {
        self.known.insert(key.to_string());
        if !flags.is_empty() {
            return Ok(flags);
        }
        let Some((source, values)) = self.lookup(key, true)? else {
            return Ok(Vec::new());
        };
        values
            .iter()
            .map(|value| parse(value).map_err(|why| anyhow::anyhow!("{source}: `{value}`: {why}")))
            .collect()
    }

    /// Fails on file keys no setting asked for, and warns about unknown variables.
    pub fn finish(self) -> anyhow::Result<()> {
        if let Some((path, table)) = &self.file {
            let unknown: Vec<&str> = table
                .keys()
                .filter(|key| !self.known.contains(*key))
                .map(String::as_str)
                .collect();
            if !unknown.is_empty() {
                let known: Vec<&str> = self.known.iter().map(String::as_str).collect();
                bail!(
                    "{}: unknown setting(s) {}; known settings: {}",
                    path.display(),
                    unknown.join(", "),
                    known.join(", ")
                );
            }
        }
        for name in self.env.keys() {
            let Some(key) = name.strip_prefix(&self.env_prefix) else {
                continue;
            };
            if !self.known.contains(&key.to_ascii_lowercase()) && key != "CONFIG" {
                eprintln!("warning: {name} is not a setting of this command; ignored");
            }
        }
        Ok(())
    }

    fn env_var(&self, key: &str) -> String {
        self.env_names
            .get(key)
            .cloned()
            .unwrap_or_else(|| format!("{}{}", self.env_prefix, key.to_ascii_uppercase()))
    }

    /// The raw text values for `key` from the highest layer below the flags that sets it;
    /// a variable holds a comma-separated list when `list` is set, else one value (a `zk://`
    /// URL has commas of its own).
    fn lookup(&self, key: &str, list: bool) -> anyhow::Result<Option<(Source, Vec<String>)>> {
        let name = self.env_var(key);
        if let Some(value) = self.env.get(&name) {
            let values = if list {
                value.split(',').map(|v| v.trim().to_string()).collect()
            } else {
                vec![value.clone()]
            };
            return Ok(Some((Source::Env(name), values)));
        }
        let Some((path, table)) = &self.file else {
            return Ok(None);
        };
        let Some(value) = table.get(key) else {
            return Ok(None);
        };
        let source = Source::File {
            path: path.clone(),
            key: key.to_string(),
        };
        let values = texts(value).with_context(|| source.to_string())?;
        Ok(Some((source, values)))
    }
}

/// A TOML value as the text(s) a flag would have been given.
fn texts(value: &toml::Value) -> anyhow::Result<Vec<String>> {
    match value {
        toml::Value::Array(items) => items.iter().map(scalar_text).collect(),
        toml::Value::Table(table) => table
            .iter()
            .map(|(name, value)| Ok(format!("{name}={}", scalar_text(value)?)))
            .collect(),
        scalar => Ok(vec![scalar_text(scalar)?]),
    }
}

fn scalar_text(value: &toml::Value) -> anyhow::Result<String> {
    Ok(match value {
        toml::Value::String(text) => text.clone(),
        toml::Value::Integer(n) => n.to_string(),
        toml::Value::Float(x) => x.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        other => bail!("expected a string or a number, found {}", other.type_str()),
    })
}

/// The largest config file read; settings files are a few hundred bytes.
const MAX_FILE_BYTES: u64 = 1 << 20;

fn read_table(path: &Path) -> anyhow::Result<toml::Table> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot read the config file {}", path.display()))?
        .len();
    if size > MAX_FILE_BYTES {
        bail!(
            "the config file {} is {size} bytes; the limit is {MAX_FILE_BYTES}",
            path.display()
        );
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the config file {}", path.display()))?;
    text.parse::<toml::Table>()
        .with_context(|| format!("the config file {} is not valid TOML", path.display()))
}

/// Builds the `--print-config` output: a TOML file that `--config` reads back.
#[derive(Debug, Default)]
pub struct Printed {
    table: toml::Table,
    unset: Vec<String>,
}

impl Printed {
    pub fn text(mut self, key: &str, value: impl ToString) -> Self {
        self.table
            .insert(key.to_string(), toml::Value::String(value.to_string()));
        self
    }

    /// A setting that may be unset; `why` says what leaving it unset means.
    pub fn optional(self, key: &str, value: Option<impl ToString>, why: &str) -> Self {
        match value {
            Some(value) => self.text(key, value),
            None => {
                let mut this = self;
                this.unset.push(format!("# {key}: not set ({why})"));
                this
            }
        }
    }

    pub fn list(mut self, key: &str, values: impl IntoIterator<Item = impl ToString>) -> Self {
        let values = values
            .into_iter()
            .map(|v| toml::Value::String(v.to_string()))
            .collect();
        self.table
            .insert(key.to_string(), toml::Value::Array(values));
        self
    }

    pub fn map(mut self, key: &str, entries: impl IntoIterator<Item = (String, f64)>) -> Self {
        let table = entries
            .into_iter()
            .map(|(name, value)| (name, toml::Value::Float(value)))
            .collect();
        self.table
            .insert(key.to_string(), toml::Value::Table(table));
        self
    }

    pub fn render(self, header: &str) -> anyhow::Result<String> {
        let body = toml::to_string(&self.table).context("rendering the settings as TOML")?;
        let mut out = format!("# {header}\n");
        for line in &self.unset {
            out.push_str(line);
            out.push('\n');
        }
        out.push_str(&body);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layers(file: &str, env: &[(&str, &str)]) -> Layers {
        let table = file.parse::<toml::Table>().expect("test TOML");
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Layers::new("master", Some((PathBuf::from("m.toml"), table)), env)
    }

    fn number(text: &str) -> Result<u32, String> {
        text.parse().map_err(|_| "not a number".to_string())
    }

    #[test]
    fn flags_beat_env_beat_file() {
        let mut l = layers("a = 1\nb = 2\nc = 3", &[("WASMESOS_MASTER_B", "20")]);
        assert_eq!(l.one("a", None, number).ok().flatten(), Some(1));
        assert_eq!(l.one("b", None, number).ok().flatten(), Some(20));
        assert_eq!(l.one("c", Some(300), number).ok().flatten(), Some(300));
        assert_eq!(l.one("d", None, number).ok().flatten(), None);
        assert!(l.finish().is_ok());
    }

    #[test]
    fn lists_come_from_arrays_tables_and_commas() {
        let mut l = layers(
            "xs = [1, 2]\n[weights]\nprod = 2\n\"eng/backend\" = 0.5",
            &[("WASMESOS_MASTER_YS", "3, 4")],
        );
        assert_eq!(l.many("xs", vec![], number).ok(), Some(vec![1, 2]));
        assert_eq!(l.many("ys", vec![], number).ok(), Some(vec![3, 4]));
        assert_eq!(l.many("xs", vec![9], number).ok(), Some(vec![9]));
        let weights = l.many("weights", vec![], |s| Ok::<_, String>(s.to_string()));
        assert_eq!(
            weights.ok(),
            Some(vec!["eng/backend=0.5".to_string(), "prod=2".to_string()])
        );
    }

    #[test]
    fn errors_name_the_setting_and_its_source() {
        let mut l = layers("a = \"x\"", &[("WASMESOS_MASTER_B", "y")]);
        let file_err = l.one("a", None, number).err().map(|e| format!("{e:#}"));
        assert_eq!(
            file_err.as_deref(),
            Some("m.toml: setting `a`: `x`: not a number")
        );
        let env_err = l.one("b", None, number).err().map(|e| format!("{e:#}"));
        assert_eq!(
            env_err.as_deref(),
            Some("environment variable WASMESOS_MASTER_B: `y`: not a number")
        );
        let nested = layers("a = { b = { c = 1 } }", &[])
            .one("a", None, number)
            .err();
        assert!(nested.is_some_and(|e| format!("{e:#}").contains("setting `a`")));
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        let mut l = layers("listen = \"x\"\nlisen = \"y\"", &[]);
        let _ = l.one("listen", None, |s| Ok::<_, String>(s.to_string()));
        let err = l.finish().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("lisen") && err.contains("listen"), "{err}");
    }

    #[test]
    fn a_renamed_variable_is_read_under_its_name() {
        let env = [("WASMESOS_MASTER".to_string(), "http://m:5050".to_string())];
        let mut l = Layers::new("agent", None, env.into_iter().collect())
            .env_name("master", "WASMESOS_MASTER");
        let master = l.one("master", None, |s| Ok::<_, String>(s.to_string()));
        assert_eq!(master.ok().flatten().as_deref(), Some("http://m:5050"));
    }

    #[test]
    fn printed_settings_read_back() {
        let text = Printed::default()
            .text("listen", "0.0.0.0:5050")
            .optional("zk", None::<String>, "a lone master")
            .list("xs", ["1", "2"])
            .map("weights", [("eng/backend".to_string(), 0.5)])
            .render("test")
            .expect("render");
        assert!(text.contains("# zk: not set (a lone master)"), "{text}");
        let table: toml::Table = text.parse().expect("valid TOML");
        let mut l = Layers::new(
            "master",
            Some((PathBuf::from("p.toml"), table)),
            BTreeMap::new(),
        );
        let listen = l.one("listen", None, |s| Ok::<_, String>(s.to_string()));
        assert_eq!(listen.ok().flatten().as_deref(), Some("0.0.0.0:5050"));
        assert_eq!(l.many("xs", vec![], number).ok(), Some(vec![1, 2]));
        let weights = l.many("weights", vec![], |s| Ok::<_, String>(s.to_string()));
        assert_eq!(weights.ok(), Some(vec!["eng/backend=0.5".to_string()]));
    }
}
