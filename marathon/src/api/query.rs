//! Query strings as Marathon clients send them: flags as `true`/`True`/`1`, repeated
//! `embed` and `event_type` parameters.

use super::error::ApiError;

/// The parameters of one request, percent-decoded, in order.
#[derive(Debug, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Query {
        let pairs = raw
            .unwrap_or_default()
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (decode(key), decode(value))
            })
            .collect();
        Query(pairs)
    }

    /// Every value of `key`.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.all(key).into_iter().next()
    }

    /// A boolean flag (absent: false); anything but true/false/1/0 in any case is a 400.
    pub fn flag(&self, key: &str) -> Result<bool, ApiError> {
        match self.get(key).map(str::to_ascii_lowercase).as_deref() {
            None | Some("false" | "0") => Ok(false),
            Some("" | "true" | "1") => Ok(true),
            Some(other) => Err(ApiError::bad_request(format!(
                "Query parameter '{key}' must be true or false, not '{other}'"
            ))),
        }
    }

    /// Whether `embed` names `what` (e.g. `app.tasks`, also as `apps.tasks`).
    pub fn embeds(&self, what: &str) -> bool {
        let plural = what.replacen("app.", "apps.", 1);
        self.all("embed").iter().any(|e| *e == what || *e == plural)
    }
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::Query;

    #[test]
    fn flags_take_pythons_spelling_and_embeds_repeat() {
        let query = Query::parse(Some(
            "force=True&scale=false&embed=app.tasks&embed=apps.counts&x=%2Fa",
        ));
        assert!(query.flag("force").expect("flag"));
        assert!(!query.flag("scale").expect("flag"));
        assert!(!query.flag("wipe").expect("flag"));
        assert!(query.embeds("app.tasks") && query.embeds("app.counts"));
        assert_eq!(query.get("x"), Some("/a"));
        assert!(Query::parse(Some("force=maybe")).flag("force").is_err());
        assert_eq!(Query::parse(Some("a=%zz%2")).get("a"), Some("%zz%2"));
    }
}
