//! Principals and secrets: how a client proves who it is to the master, and the files both
//! sides read them from, in Mesos's formats.
//!
//! * A client's own [`Credential`] (`--credential FILE` on the agent, the CLI and the SDK):
//!   JSON `{"principal": "p", "secret": "s"}`, or one line `p s`.
//! * The master's [`Credentials`] (`--credentials FILE`): JSON
//!   `{"credentials": [{"principal": "p", "secret": "s"}, …]}`, or one `p s` per line.
//!
//! A path may be given as `file:///path`, as Mesos accepts. On the wire a credential is an
//! `authorization: Basic base64(principal:secret)` header: HTTP Basic on the HTTP API and the
//! same header as gRPC metadata. [`CallHeaders`] adds it, and the session's stream id, to
//! every call a client makes. Secrets never appear in `Debug` output or in errors.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// The metadata (and HTTP header) that carries a session's stream id, as Mesos's.
pub const STREAM_ID_HEADER: &str = "mesos-stream-id";

/// The largest credentials file read, so a wrong path (a device, a huge log) fails clearly.
const MAX_FILE: u64 = 1024 * 1024;

/// A principal and its secret.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct Credential {
    pub principal: String,
    pub secret: String,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("principal", &self.principal)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Why a credentials file cannot be used; names the file, never a secret.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("cannot read credentials file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("credentials file {path}: {why}")]
    Invalid { path: PathBuf, why: String },
}

impl Credential {
    /// A credential, checked for what the `principal:secret` encoding cannot carry.
    pub fn new(principal: impl Into<String>, secret: impl Into<String>) -> Result<Self, String> {
        let credential = Self {
            principal: principal.into(),
            secret: secret.into(),
        };
        credential.check()?;
        Ok(credential)
    }

    fn check(&self) -> Result<(), String> {
        if self.principal.is_empty() {
            return Err("a principal must not be empty".into());
        }
        if self.principal.contains(':') {
            return Err(format!(
                "principal {:?} must not contain ':' (HTTP Basic cannot carry it)",
                self.principal
            ));
        }
        if self.principal.chars().any(char::is_control) || self.secret.chars().any(char::is_control)
        {
            return Err(format!(
                "the credential of principal {:?} contains control characters",
                self.principal
            ));
        }
        Ok(())
    }

    /// Reads a client's credential file: JSON `{"principal","secret"}` or one `p s` line.
    pub fn from_file(path: &Path) -> Result<Self, CredentialError> {
        let (path, text) = read(path)?;
        let invalid = |why: String| CredentialError::Invalid {
            path: path.clone(),
            why,
        };
        let credential = if text.trim_start().starts_with('{') {
            serde_json::from_str::<Credential>(&text).map_err(|err| {
                invalid(format!(
                    "not a {{\"principal\", \"secret\"}} object: {}",
                    json_where(&err)
                ))
            })?
        } else {
            let mut lines = text.lines().filter(|l| !l.trim().is_empty());
            let line = lines.next().ok_or_else(|| invalid("is empty".into()))?;
            if lines.next().is_some() {
                return Err(invalid("holds more than one credential line".into()));
            }
            text_line(line).map_err(invalid)?
        };
        credential.check().map_err(invalid)?;
        Ok(credential)
    }

    /// The `authorization` header value: `Basic base64(principal:secret)`.
    pub fn basic(&self) -> String {
        let pair = format!("{}:{}", self.principal, self.secret);
        format!("Basic {}", STANDARD.encode(pair))
    }

    /// Decodes an `authorization: Basic …` header into the principal and secret it claims.
    pub fn from_basic(header: &[u8]) -> Option<Self> {
        let encoded = header
            .strip_prefix(b"Basic ")
            .or_else(|| header.strip_prefix(b"basic "))?;
        let decoded = STANDARD.decode(encoded.trim_ascii()).ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (principal, secret) = decoded.split_once(':')?;
        Some(Self {
            principal: principal.to_string(),
            secret: secret.to_string(),
        })
    }
}

/// The principals a master accepts, with their secrets.
#[derive(Clone, Default)]
pub struct Credentials {
    entries: Vec<Credential>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|c| &c.principal))
            .finish()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialsFile {
    credentials: Vec<Credential>,
}

impl Credentials {
    /// Credentials from a list; a principal listed twice is refused.
    pub fn new(entries: Vec<Credential>) -> Result<Self, String> {
        let mut seen = std::collections::HashSet::new();
        for entry in &entries {
            entry.check()?;
            if !seen.insert(entry.principal.as_str()) {
                return Err(format!("principal {:?} is listed twice", entry.principal));
            }
        }
        Ok(Self { entries })
    }

    /// Reads the master's credentials file (Mesos's JSON, or `p s` lines).
    pub fn from_file(path: &Path) -> Result<Self, CredentialError> {
        let (path, text) = read(path)?;
        let invalid = |why: String| CredentialError::Invalid {
            path: path.clone(),
            why,
        };
        let entries = if text.trim_start().starts_with('{') {
            serde_json::from_str::<CredentialsFile>(&text)
                .map_err(|err| {
                    invalid(format!(
                        "not a {{\"credentials\": [{{\"principal\", \"secret\"}}]}} object: {}",
                        json_where(&err)
                    ))
                })?
                .credentials
        } else {
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(text_line)
                .collect::<Result<Vec<_>, _>>()
                .map_err(invalid)?
        };
        if entries.is_empty() {
            return Err(invalid("lists no credential".into()));
        }
        Self::new(entries).map_err(invalid)
    }

    /// The principals, in file order.
    pub fn principals(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|c| c.principal.as_str())
    }

    /// Whether `claimed` names a known principal with its secret. Compares every secret in
    /// constant time, so neither which principal exists nor how much of a secret matched
    /// shows in the time taken.
    pub fn verify(&self, claimed: &Credential) -> bool {
        let mut found = false;
        for known in &self.entries {
            let principal =
                constant_time_eq(known.principal.as_bytes(), claimed.principal.as_bytes());
            let secret = constant_time_eq(known.secret.as_bytes(), claimed.secret.as_bytes());
            found |= principal & secret;
        }
        found
    }
}

impl Credentials {
    /// Checks a request's `authorization` header: `Ok(Some(principal))` for a valid
    /// credential, `Ok(None)` for none at all, `Err` (with why, never the secret) for one that
    /// is malformed or wrong.
    pub fn authenticate(&self, header: Option<&[u8]>) -> Result<Option<String>, &'static str> {
        let Some(header) = header else {
            return Ok(None);
        };
        let claimed =
            Credential::from_basic(header).ok_or("the authorization header is not HTTP Basic")?;
        if self.verify(&claimed) {
            Ok(Some(claimed.principal))
        } else {
            tracing::warn!(principal = %claimed.principal, "refused a wrong credential");
            Err("the credential is not valid")
        }
    }
}

/// Compares two byte strings in time that depends only on their lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    let len = a.len().max(b.len());
    for i in 0..len {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

fn read(path: &Path) -> Result<(PathBuf, String), CredentialError> {
    let path = match path.to_str().and_then(|p| p.strip_prefix("file://")) {
        Some(stripped) => PathBuf::from(stripped),
        None => path.to_path_buf(),
    };
    let read_err = |source| CredentialError::Read {
        path: path.clone(),
        source,
    };
    let len = std::fs::metadata(&path).map_err(read_err)?.len();
    if len > MAX_FILE {
        return Err(CredentialError::Invalid {
            path,
            why: format!("is {len} bytes; at most {MAX_FILE} are read"),
        });
    }
    let text = std::fs::read_to_string(&path).map_err(read_err)?;
    Ok((path, text))
}

fn text_line(line: &str) -> Result<Credential, String> {
    let mut words = line.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some(principal), Some(secret), None) => Ok(Credential {
            principal: principal.to_string(),
            secret: secret.to_string(),
        }),
        _ => Err("a text credential line is `principal secret`".into()),
    }
}

/// Where a JSON error is, without quoting the text (which holds secrets).
fn json_where(err: &serde_json::Error) -> String {
    format!("line {} column {}", err.line(), err.column())
}

/// The headers every call of one client carries: its credential, if it has one, and the
/// stream id of its current session (set once SUBSCRIBED or registration returns it).
/// Clones share the stream id.
#[derive(Clone, Default)]
pub struct CallHeaders {
    authorization: Option<AsciiMetadataValue>,
    stream_id: Arc<RwLock<Option<AsciiMetadataValue>>>,
}

impl fmt::Debug for CallHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallHeaders")
            .field("authenticated", &self.authorization.is_some())
            .finish()
    }
}

impl CallHeaders {
    /// Headers carrying `credential`.
    pub fn new(credential: Option<&Credential>) -> Self {
        let authorization = credential.and_then(|c| {
            let mut value = MetadataValue::try_from(c.basic()).ok()?;
            value.set_sensitive(true);
            Some(value)
        });
        Self {
            authorization,
            stream_id: Arc::default(),
        }
    }

    /// The same credential with a stream id of its own (one per session).
    pub fn for_session(&self) -> Self {
        Self {
            authorization: self.authorization.clone(),
            stream_id: Arc::default(),
        }
    }

    /// Every later call carries `stream_id` (what the master returned with the session).
    pub fn set_stream_id(&self, stream_id: Option<&str>) {
        let value = stream_id.and_then(|id| AsciiMetadataValue::try_from(id).ok());
        *self
            .stream_id
            .write()
            .unwrap_or_else(PoisonError::into_inner) = value;
    }

    /// Reads the stream id the master sent in a session's response headers.
    pub fn take_stream_id<T>(&self, response: &tonic::Response<T>) {
        let id = response
            .metadata()
            .get(STREAM_ID_HEADER)
            .and_then(|v| v.to_str().ok());
        self.set_stream_id(id);
    }
}

impl Interceptor for CallHeaders {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(auth) = &self.authorization {
            request.metadata_mut().insert("authorization", auth.clone());
        }
        let stream_id = self
            .stream_id
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(id) = stream_id {
            request.metadata_mut().insert(STREAM_ID_HEADER, id);
        }
        Ok(request)
    }
}

/// A channel to the master whose every call carries a client's [`CallHeaders`]: what every
/// generated client of the master is built on.
pub type MasterService = InterceptedService<Channel, CallHeaders>;

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        std::io::Write::write_all(&mut f, text.as_bytes()).expect("write");
        f
    }

    #[test]
    fn mesos_json_and_text_credentials_are_read() {
        let json = file(
            r#"{"credentials": [{"principal": "a", "secret": "x"}, {"principal": "b", "secret": "y"}]}"#,
        );
        let creds = Credentials::from_file(json.path()).expect("json");
        assert_eq!(creds.principals().collect::<Vec<_>>(), ["a", "b"]);
        assert!(creds.verify(&Credential::new("b", "y").expect("credential")));
        assert!(!creds.verify(&Credential::new("b", "x").expect("credential")));
        assert!(!creds.verify(&Credential::new("c", "y").expect("credential")));
        assert!(!creds.verify(&Credential::new("a", "xx").expect("credential")));

        let text = file("a x\n\nb y\n");
        let url = format!("file://{}", text.path().display());
        let creds = Credentials::from_file(Path::new(&url)).expect("text");
        assert!(creds.verify(&Credential::new("a", "x").expect("credential")));

        let one = file(r#"{"principal": "agent", "secret": "s3"}"#);
        assert_eq!(
            Credential::from_file(one.path()).expect("one"),
            Credential::new("agent", "s3").expect("credential")
        );
        let one = file("agent s3\n");
        assert_eq!(
            Credential::from_file(one.path()).expect("one").principal,
            "agent"
        );
    }

    #[test]
    fn bad_files_name_the_file_and_never_the_secret() {
        let twice = file("a topsecret\na other\n");
        let err = Credentials::from_file(twice.path())
            .expect_err("duplicate")
            .to_string();
        assert!(err.contains("listed twice") && err.contains(&twice.path().display().to_string()));
        assert!(!err.contains("topsecret"));

        let broken = file(r#"{"credentials": [{"principal": "a", "secret": "topsecret""#);
        let err = Credentials::from_file(broken.path())
            .expect_err("broken")
            .to_string();
        assert!(err.contains("line 1"), "{err}");
        assert!(!err.contains("topsecret"));

        let colon = file("a:b topsecret\n");
        assert!(Credentials::from_file(colon.path()).is_err());
        let empty = file("\n");
        assert!(Credentials::from_file(empty.path()).is_err());
        let missing = Credentials::from_file(Path::new("/nonexistent/creds")).expect_err("missing");
        assert!(missing.to_string().contains("/nonexistent/creds"));

        let debug = format!(
            "{:?}",
            Credential::new("p", "topsecret").expect("credential")
        );
        assert!(!debug.contains("topsecret"));
    }

    #[test]
    fn basic_headers_round_trip() {
        let credential = Credential::new("fw", "s:e cret").expect("credential");
        let header = credential.basic();
        assert_eq!(Credential::from_basic(header.as_bytes()), Some(credential));
        assert_eq!(Credential::from_basic(b"Bearer abc"), None);
        assert_eq!(Credential::from_basic(b"Basic !!!"), None);
        assert_eq!(Credential::from_basic(b"Basic bm9jb2xvbg=="), None);
    }

    #[test]
    fn constant_time_eq_compares_whole_strings() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
        assert!(constant_time_eq(b"", b""));
    }
}
