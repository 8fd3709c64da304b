//! For frameworks that serve an API of their own (Marathon, Chronos): the address clients
//! reach it on, and that address as the framework's `webui_url`, which Mesos's UI and the
//! master's link.

use std::net::SocketAddr;

use crate::DriverConfig;

/// `host:port` clients reach a listener on: loopback for one bound to every address.
pub fn reachable_address(local: SocketAddr) -> String {
    if local.ip().is_unspecified() {
        format!("127.0.0.1:{}", local.port())
    } else {
        local.to_string()
    }
}

/// Names the framework's API (reached on `address`, a [`reachable_address`]) as its
/// `webui_url`, unless the config names another.
pub fn advertise_api(config: &mut DriverConfig, address: &str) {
    if config.framework.webui_url.is_empty() {
        config.framework.webui_url = format!("http://{address}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unspecified_address_is_reached_on_loopback_and_a_given_url_stands() {
        let any: SocketAddr = "0.0.0.0:8080".parse().expect("addr");
        assert_eq!(reachable_address(any), "127.0.0.1:8080");
        let one: SocketAddr = "10.0.0.5:4400".parse().expect("addr");
        let mut config = DriverConfig::new("http://127.0.0.1:5050", "fw");
        advertise_api(&mut config, &reachable_address(one));
        assert_eq!(config.framework.webui_url, "http://10.0.0.5:4400");
        advertise_api(&mut config, &reachable_address(any));
        assert_eq!(config.framework.webui_url, "http://10.0.0.5:4400");
    }
}
