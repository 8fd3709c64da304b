//! The server side: one accept loop for TLS ports. Each accepted connection gets its own
//! task, which waits (boundedly) for the ClientHello, shakes hands and then serves the
//! router with hyper, HTTP/2 or HTTP/1.1 as ALPN chose; nothing a client does in one
//! connection holds up the loop or another connection.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::{Error, Identity, pem};

/// How long a new connection has to send its ClientHello and finish the handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a plain-HTTP client on a TLS port is kept to read the refusal.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(5);

/// The first byte of a TLS record that carries a handshake message (the ClientHello).
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// What a plain-HTTP client on a TLS port is told.
const PLAIN_ON_TLS: &str = "this port serves TLS only: connect with an https:// URL";

/// A server's TLS: its certificate, optionally the CA its clients' certificates must chain
/// to, and the request paths that need one. Cheap to clone.
#[derive(Clone)]
pub struct ServerTls {
    acceptor: TlsAcceptor,
    verifies_clients: bool,
    cert_required: Arc<[String]>,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field("verifies_clients", &self.verifies_clients)
            .field("cert_required", &self.cert_required)
            .finish_non_exhaustive()
    }
}

impl ServerTls {
    /// Loads `identity` and, when given, the CA that verifies client certificates. Client
    /// certificates stay optional in the handshake (a client without one still connects)
    /// but one that is presented must chain to `client_ca`; the paths named with
    /// [`ServerTls::require_client_cert_for`] are refused to clients without one.
    pub fn load(identity: &Identity, client_ca: Option<&Path>) -> Result<Self, Error> {
        // ring, as the rest of the tree (reqwest, tonic's client); rustls deprecates its
        // default set only for lacking post-quantum key exchange, which ring does not offer.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certs = pem::certificates("certificate", &identity.cert)?;
        let key = pem::private_key(&identity.key)?;
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|err| config_error("the TLS versions", &err))?;
        let builder = match client_ca {
            Some(ca) => {
                let roots = pem::roots("client CA certificate", ca)?;
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .allow_unauthenticated()
                        .build()
                        .map_err(|err| {
                            config_error(&format!("client CA {}", ca.display()), &err)
                        })?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let mut config = builder.with_single_cert(certs, key).map_err(|err| {
            let what = format!(
                "certificate {} with key {}",
                identity.cert.display(),
                identity.key.display()
            );
            config_error(&what, &err)
        })?;
        // gRPC needs h2; browsers and curl may pick either.
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Self {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            verifies_clients: client_ca.is_some(),
            cert_required: Arc::from([]),
        })
    }

    /// Refuses requests whose path starts with `prefix` on connections that presented no
    /// verified client certificate (gRPC UNAUTHENTICATED, HTTP 403). Only with a client CA.
    pub fn require_client_cert_for(mut self, prefix: impl Into<String>) -> Self {
        let mut required = self.cert_required.to_vec();
        required.push(prefix.into());
        self.cert_required = required.into();
        self
    }

    /// True when client certificates are verified (a client CA was given).
    pub fn verifies_clients(&self) -> bool {
        self.verifies_clients
    }

    /// The answer to a request that needs a client certificate its connection lacks.
    fn refusal(&self, request: &Request<Incoming>, client_cert: bool) -> Option<Response<Body>> {
        if client_cert || !self.verifies_clients {
            return None;
        }
        let path = request.uri().path();
        let prefix = self
            .cert_required
            .iter()
            .find(|p| path.starts_with(p.as_str()))?;
        let why = format!(
            "{prefix} requires a client certificate signed by the server's client CA \
             (agents: give --tls-cert and --tls-key)"
        );
        Some(refuse(
            request,
            tonic::Status::unauthenticated(why),
            StatusCode::FORBIDDEN,
        ))
    }
}

fn config_error(what: &str, err: &dyn std::error::Error) -> Error {
    Error::Config {
        what: what.to_string(),
        why: err.to_string(),
    }
}

/// Serves `router` over TLS on `listener` until `shutdown` completes, then lets open
/// connections finish (as `axum::serve`'s graceful shutdown does). Only the listener
/// failing ends it early; one connection failing ends only that connection.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: ServerTls,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    accept_failed(err).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let connection = Connection {
            peer,
            router: router.clone(),
            tls: tls.clone(),
        };
        tokio::spawn(connection.run(tcp, graceful.watcher()));
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// An accept that failed: the connection's own trouble (reset before accept) is passed
/// over; running out of file descriptors is waited out briefly rather than spun on.
async fn accept_failed(err: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        err.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        tracing::debug!(%err, "a connection failed before it was accepted");
    } else {
        tracing::warn!(%err, "accepting connections failed; retrying");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

struct Connection {
    peer: SocketAddr,
    router: Router,
    tls: ServerTls,
}

impl Connection {
    async fn run(self, tcp: TcpStream, watcher: Watcher) {
        let peer = self.peer;
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(%peer, %err, "cannot set TCP_NODELAY");
        }
        let mut first = [0u8; 1];
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, tcp.peek(&mut first)).await {
            Ok(Ok(1..)) if first == [TLS_HANDSHAKE_RECORD] => {}
            Ok(Ok(1..)) => {
                tracing::debug!(%peer, "plain HTTP on the TLS port: refused");
                let refused = serve_http(tcp, watcher, plain_refusal);
                let _ = tokio::time::timeout(REFUSAL_TIMEOUT, refused).await;
                return;
            }
            Ok(Ok(_)) | Ok(Err(_)) => return,
            Err(_) => {
                tracing::debug!(%peer, "no TLS handshake in time: connection dropped");
                return;
            }
        }
        let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, self.tls.acceptor.accept(tcp))
            .await
        {
            Ok(Ok(stream)) => stream,
            Ok(Err(err)) => {
                tracing::warn!(%peer, %err, "TLS handshake failed: connection dropped");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake not finished in time: connection dropped");
                return;
            }
        };
        // A certificate is only there once the verifier accepted it.
        let client_cert = stream
            .get_ref()
            .1
            .peer_certificates()
            .is_some_and(|certs| !certs.is_empty());
        let Connection { router, tls, .. } = self;
        let answer = move |request: Request<Incoming>| {
            let refused = tls.refusal(&request, client_cert);
            let router = router.clone();
            async move {
                match refused {
                    Some(refusal) => refusal,
                    None => match router.oneshot(request).await {
                        Ok(response) => response,
                        Err(never) => match never {},
                    },
                }
            }
        };
        serve_http(stream, watcher, answer).await;
    }
}

/// Serves one connection with `answer`, HTTP/1.1 or HTTP/2 (by ALPN, or by the preface on
/// a plain connection), until it closes or the server shuts down.
async fn serve_http<I, F, R>(io: I, watcher: Watcher, answer: F)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    F: Fn(Request<Incoming>) -> R + Clone + Send + Sync + 'static,
    R: Future<Output = Response<Body>> + Send + 'static,
{
    let service = hyper::service::service_fn(move |request| {
        let answered = answer(request);
        async move { Ok::<_, Infallible>(answered.await) }
    });
    let builder = auto::Builder::new(TokioExecutor::new());
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    if let Err(err) = watcher.watch(connection.into_owned()).await {
        tracing::debug!(%err, "connection ended with an error");
    }
}

/// Every request of a plain-HTTP client on a TLS port gets this.
async fn plain_refusal(request: Request<Incoming>) -> Response<Body> {
    let status = tonic::Status::unavailable(PLAIN_ON_TLS);
    refuse(&request, status, StatusCode::BAD_REQUEST)
}

/// `status` for a gRPC request, else `http` with the same message as text.
fn refuse(request: &Request<Incoming>, status: tonic::Status, http: StatusCode) -> Response<Body> {
    let grpc = request
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|kind| kind.as_bytes().starts_with(b"application/grpc"));
    if grpc {
        return status.into_http();
    }
    let mut response = Response::new(Body::from(format!("{}\n", status.message())));
    *response.status_mut() = http;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(
        header::CONNECTION,
        header::HeaderValue::from_static("close"),
    );
    response
}
