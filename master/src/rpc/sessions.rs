//! Sessions on the gRPC API: the stream id each framework's subscription and each agent's
//! registration gets, which every later call of that framework or agent must carry
//! (`mesos-stream-id` metadata, as Mesos's `Mesos-Stream-Id` header), and the principal
//! that opened it.
//!
//! A framework or agent id is public: it shows in state, in task ids and in logs. The stream
//! id is not: it goes only to the client that opened the session, in the response headers.
//! So a stranger who knows an id cannot act for it, and a scheduler or agent that was
//! replaced by a newer session (a failover) cannot act any more either. One entry per open
//! stream: an entry leaves when its stream closes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tonic::metadata::MetadataMap;
use uuid::Uuid;
use wasmesos_detector::STREAM_ID_HEADER;

use crate::Error;
use crate::auth::Caller;

struct Session {
    stream: Uuid,
    principal: Option<Arc<str>>,
    /// The framework's user (ACLs' `users` object); empty for agents.
    user: Arc<str>,
}

/// The open sessions of one kind (frameworks, or agents), by id.
#[derive(Default)]
pub(crate) struct Sessions {
    kind: &'static str,
    open: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    pub(crate) fn new(kind: &'static str) -> Self {
        Self {
            kind,
            open: Mutex::default(),
        }
    }

    fn open(&self) -> MutexGuard<'_, HashMap<String, Session>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Refuses a new session for `id` when another principal holds the open one: only the
    /// same principal may take a session over.
    pub(crate) fn may_take_over(&self, id: &str, caller: &Caller) -> Result<(), Error> {
        match self.open().get(id) {
            Some(session) if session.principal != caller.principal => {
                Err(Error::Forbidden(format!(
                    "{} {id} is connected as another principal; only its own principal may take it over",
                    self.kind
                )))
            }
            _ => Ok(()),
        }
    }

    /// Opens a session for `id`, replacing any older one; returns its stream id.
    pub(crate) fn start(&self, id: &str, caller: &Caller, user: &str) -> Uuid {
        let stream = Uuid::new_v4();
        self.open().insert(
            id.to_string(),
            Session {
                stream,
                principal: caller.principal.clone(),
                user: Arc::from(user),
            },
        );
        stream
    }

    /// Ends `id`'s session if `stream` is still its current one.
    pub(crate) fn end(&self, id: &str, stream: Uuid) {
        let mut open = self.open();
        if open.get(id).is_some_and(|s| s.stream == stream) {
            open.remove(id);
        }
    }

    /// Checks that a call for `id` carries its current session's stream id, and comes from
    /// the principal that opened it. Returns the session's user.
    pub(crate) fn check(
        &self,
        id: &str,
        metadata: &MetadataMap,
        caller: &Caller,
    ) -> Result<Arc<str>, Error> {
        if id.is_empty() {
            return Err(crate::error::invalid(
                &format!("{}_id", self.kind),
                "is required",
            ));
        }
        let open = self.open();
        let Some(session) = open.get(id) else {
            return Err(Error::StaleSession(format!(
                "{} {id} has no open session on this master: subscribe or register first",
                self.kind
            )));
        };
        let given = metadata.get(STREAM_ID_HEADER).map(|v| v.as_bytes());
        let mut text = [0; uuid::fmt::Hyphenated::LENGTH];
        let current = session
            .stream
            .hyphenated()
            .encode_lower(&mut text)
            .as_bytes();
        match given {
            None => Err(Error::StaleSession(format!(
                "calls of {} {id} must carry the '{STREAM_ID_HEADER}' of its session",
                self.kind
            ))),
            Some(given) if given != current => Err(Error::StaleSession(format!(
                "the '{STREAM_ID_HEADER}' of this call is not the current session of {} {id} \
                 (a newer session replaced it)",
                self.kind
            ))),
            Some(_) if session.principal != caller.principal => Err(Error::Forbidden(format!(
                "{} {id} belongs to another principal",
                self.kind
            ))),
            Some(_) => Ok(Arc::clone(&session.user)),
        }
    }
}

/// Puts `stream` into a session's response headers.
pub(crate) fn send_stream_id<T>(response: &mut tonic::Response<T>, stream: Uuid) {
    let mut text = [0; uuid::fmt::Hyphenated::LENGTH];
    let id = stream.hyphenated().encode_lower(&mut text);
    if let Ok(value) = tonic::metadata::AsciiMetadataValue::try_from(&*id) {
        response.metadata_mut().insert(STREAM_ID_HEADER, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(p: Option<&str>) -> Caller {
        Caller {
            principal: p.map(Arc::from),
        }
    }

    fn with_stream(id: Option<Uuid>) -> MetadataMap {
        let mut metadata = MetadataMap::new();
        if let Some(id) = id {
            let value = id.hyphenated().to_string().parse().expect("ascii");
            metadata.insert(STREAM_ID_HEADER, value);
        }
        metadata
    }

    #[test]
    fn only_the_current_stream_of_the_same_principal_may_call() {
        let sessions = Sessions::new("framework");
        let web = caller(Some("web"));
        let first = sessions.start("F1", &web, "");
        assert!(
            sessions
                .check("F1", &with_stream(Some(first)), &web)
                .is_ok()
        );
        assert!(matches!(
            sessions.check("F1", &with_stream(None), &web),
            Err(Error::StaleSession(_))
        ));
        assert!(matches!(
            sessions.check("F1", &with_stream(Some(first)), &caller(Some("other"))),
            Err(Error::Forbidden(_))
        ));
        assert!(matches!(
            sessions.may_take_over("F1", &caller(Some("other"))),
            Err(Error::Forbidden(_))
        ));
        assert!(sessions.may_take_over("F1", &web).is_ok());

        let second = sessions.start("F1", &web, "");
        assert!(matches!(
            sessions.check("F1", &with_stream(Some(first)), &web),
            Err(Error::StaleSession(_))
        ));
        sessions.end("F1", first);
        assert!(
            sessions
                .check("F1", &with_stream(Some(second)), &web)
                .is_ok()
        );
        sessions.end("F1", second);
        assert!(matches!(
            sessions.check("F1", &with_stream(Some(second)), &web),
            Err(Error::StaleSession(_))
        ));
        assert!(sessions.may_take_over("F1", &caller(Some("other"))).is_ok());
    }
}
