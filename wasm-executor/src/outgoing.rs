//! Outgoing `wasi:http` requests: denied unless the task's [`NetworkPolicy`] grants the
//! address, and then sent as plain HTTP/1.1.
//!
//! The grant is the same one that opens sockets (`AllowedAddr`), so a request needs a literal
//! IP address in its authority (`http://127.0.0.1:8080/`): a host name would need a lookup the
//! policy has not judged. `https` is refused: no TLS stack is linked.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::Uri;
use hyper::http::uri::Scheme;
use hyper_util::rt::TokioIo;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use crate::spec::NetworkPolicy;

/// How long a connection or a response's head may take when the guest sets no timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The `wasi:http` hooks of one task's store: its network policy, for outgoing requests.
#[derive(Clone, Default)]
pub(crate) struct OutgoingHttp {
    /// `None` denies every request, which is the default policy.
    policy: Option<Arc<NetworkPolicy>>,
}

impl OutgoingHttp {
    pub(crate) fn new(policy: &NetworkPolicy) -> Self {
        OutgoingHttp {
            policy: (!policy.denies_all()).then(|| Arc::new(policy.clone())),
        }
    }

    /// The address `uri` names, if the policy grants it.
    fn permitted(&self, uri: &Uri) -> Option<SocketAddr> {
        let policy = self.policy.as_ref()?;
        let authority = uri.authority()?;
        let host = authority.host();
        let host = host
            .strip_prefix('[')
            .and_then(|host| host.strip_suffix(']'))
            .unwrap_or(host);
        let ip: IpAddr = host.parse().ok()?;
        let addr = SocketAddr::new(ip, authority.port_u16().unwrap_or(80));
        policy.permits(addr, false).then_some(addr)
    }
}

type Response = hyper::Response<WasiBody>;
type Io = Box<dyn Future<Output = Result<(), HttpError>> + Send>;

impl WasiHttpHooks for OutgoingHttp {
    fn is_supported_scheme(&mut self, scheme: &Scheme) -> bool {
        *scheme == Scheme::HTTP
    }

    fn default_scheme(&mut self) -> Option<Scheme> {
        Some(Scheme::HTTP)
    }

    fn send_request(
        &mut self,
        request: hyper::Request<WasiBody>,
        options: Option<RequestOptions>,
        _response_errors: Io,
    ) -> Box<dyn Future<Output = Result<(Response, Io), HttpError>> + Send> {
        let Some(addr) = self.permitted(request.uri()) else {
            tracing::debug!(uri = %request.uri(), "outgoing request denied by the task's network policy");
            return Box::new(std::future::ready(Err(HttpError::HttpRequestDenied)));
        };
        Box::new(send(addr, request, options.unwrap_or_default()))
    }
}

async fn send(
    addr: SocketAddr,
    mut request: hyper::Request<WasiBody>,
    options: RequestOptions,
) -> Result<(Response, Io), HttpError> {
    let connect_timeout = options.connect_timeout.unwrap_or(DEFAULT_TIMEOUT);
    let first_byte_timeout = options.first_byte_timeout.unwrap_or(DEFAULT_TIMEOUT);
    let stream = tokio::time::timeout(connect_timeout, tokio::net::TcpStream::connect(addr))
        .await
        .map_err(|_| HttpError::ConnectionTimeout)?
        .map_err(HttpError::Connect)?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(HttpError::Hyper)?;
    // Aborted when the guest drops the response: the connection lives no longer than it.
    let connection = wasmtime_wasi::runtime::spawn(connection);
    // The request line carries only the path: the authority is where it was sent.
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |path| path.as_str());
    *request.uri_mut() = Uri::try_from(path).map_err(|_| HttpError::HttpRequestUriInvalid)?;
    let response = tokio::time::timeout(first_byte_timeout, sender.send_request(request))
        .await
        .map_err(|_| HttpError::ConnectionReadTimeout)?
        .map_err(HttpError::Hyper)?;
    let response = response.map(|body| body.map_err(HttpError::Hyper).boxed_unsync());
    let io: Io = Box::new(async move { connection.await.map_err(HttpError::Hyper) });
    Ok((response, io))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::AllowedAddr;

    fn uri(text: &str) -> Uri {
        text.parse().expect("a URI")
    }

    #[test]
    fn only_granted_literal_addresses_are_permitted() {
        let granted: SocketAddr = "127.0.0.1:8080".parse().expect("addr");
        let hooks = OutgoingHttp::new(&NetworkPolicy::allowing([AllowedAddr::Socket(granted)]));
        assert_eq!(
            hooks.permitted(&uri("http://127.0.0.1:8080/x")),
            Some(granted)
        );
        assert_eq!(hooks.permitted(&uri("http://127.0.0.1:9090/x")), None);
        assert_eq!(hooks.permitted(&uri("http://localhost:8080/x")), None);
        let v6 = OutgoingHttp::new(&NetworkPolicy::allowing([AllowedAddr::Ip(
            "::1".parse().expect("ip"),
        )]));
        assert!(v6.permitted(&uri("http://[::1]/")).is_some());
        let none = OutgoingHttp::new(&NetworkPolicy::default());
        assert_eq!(none.permitted(&uri("http://127.0.0.1:8080/x")), None);
    }
}
