//! wasmesos scheduler events as Mesos's: the payload nests under the lower-cased type
//! (`{"type":"OFFERS","offers":{"offers":[…]}}`), and one UPDATE carries one status.

use std::net::IpAddr;

use wasmesos_proto::mesos::v1 as mesos;
use wasmesos_proto::mesos::v1::scheduler::{Event, event};
use wasmesos_proto::v1::{self as native, event::Event as Native};

use super::resources::{self, ReservationFormat};
use super::tasks::status_to_mesos;

/// A HEARTBEAT event.
pub(crate) fn heartbeat() -> Event {
    Event {
        r#type: Some(event::Type::Heartbeat as i32),
        ..Default::default()
    }
}

/// An ERROR event carrying `message`.
pub(crate) fn error(message: String) -> Event {
    Event {
        r#type: Some(event::Type::Error as i32),
        error: Some(event::Error { message }),
        ..Default::default()
    }
}

/// The Mesos events for one wasmesos event (none for an empty one).
pub(crate) fn to_mesos(event: native::Event, format: ReservationFormat) -> Vec<Event> {
    let Some(event) = event.event else {
        return Vec::new();
    };
    match event {
        Native::Subscribed(s) => vec![Event {
            r#type: Some(event::Type::Subscribed as i32),
            subscribed: Some(event::Subscribed {
                framework_id: mesos::FrameworkId {
                    value: s.framework_id,
                },
                heartbeat_interval_seconds: Some(s.heartbeat_interval_seconds),
                master_info: s.master.as_ref().map(master_info),
            }),
            ..Default::default()
        }],
        Native::Offers(o) => vec![Event {
            r#type: Some(event::Type::Offers as i32),
            offers: Some(event::Offers {
                offers: o
                    .offers
                    .iter()
                    .map(|offer| offer_to_mesos(offer, format))
                    .collect(),
            }),
            ..Default::default()
        }],
        Native::Rescind(r) => vec![Event {
            r#type: Some(event::Type::Rescind as i32),
            rescind: Some(event::Rescind {
                offer_id: mesos::OfferId { value: r.offer_id },
            }),
            ..Default::default()
        }],
        Native::Update(u) => u
            .statuses
            .iter()
            .map(|status| Event {
                r#type: Some(event::Type::Update as i32),
                update: Some(event::Update {
                    status: status_to_mesos(status),
                }),
                ..Default::default()
            })
            .collect(),
        Native::Message(m) => vec![Event {
            r#type: Some(event::Type::Message as i32),
            message: Some(event::Message {
                agent_id: mesos::AgentId { value: m.agent_id },
                // A wasmesos executor runs one task; Mesos names it by executor id.
                executor_id: mesos::ExecutorId { value: m.task_id },
                data: m.data,
            }),
            ..Default::default()
        }],
        Native::Failure(f) => vec![Event {
            r#type: Some(event::Type::Failure as i32),
            failure: Some(event::Failure {
                agent_id: Some(mesos::AgentId { value: f.agent_id }),
                ..Default::default()
            }),
            ..Default::default()
        }],
        Native::Error(e) => vec![error(e.message)],
        Native::Heartbeat(_) => vec![heartbeat()],
        Native::InverseOffers(o) => vec![Event {
            r#type: Some(event::Type::InverseOffers as i32),
            inverse_offers: Some(event::InverseOffers {
                inverse_offers: o
                    .inverse_offers
                    .iter()
                    .map(inverse_offer_to_mesos)
                    .collect(),
            }),
            ..Default::default()
        }],
        Native::RescindInverseOffer(r) => vec![Event {
            r#type: Some(event::Type::RescindInverseOffer as i32),
            rescind_inverse_offer: Some(event::RescindInverseOffer {
                inverse_offer_id: mesos::OfferId {
                    value: r.inverse_offer_id,
                },
            }),
            ..Default::default()
        }],
    }
}

/// An inverse offer for a whole agent: no resources, as Mesos's maintenance sends them.
fn inverse_offer_to_mesos(offer: &native::InverseOffer) -> mesos::InverseOffer {
    mesos::InverseOffer {
        id: mesos::OfferId {
            value: offer.id.clone(),
        },
        framework_id: mesos::FrameworkId {
            value: offer.framework_id.clone(),
        },
        agent_id: Some(mesos::AgentId {
            value: offer.agent_id.clone(),
        }),
        unavailability: super::maintenance::unavailability_to_mesos(
            &offer.unavailability.unwrap_or_default(),
        ),
        ..Default::default()
    }
}

fn offer_to_mesos(offer: &native::Offer, format: ReservationFormat) -> mesos::Offer {
    let role = (!offer.role.is_empty()).then_some(offer.role.as_str());
    mesos::Offer {
        id: mesos::OfferId {
            value: offer.id.clone(),
        },
        framework_id: mesos::FrameworkId {
            value: offer.framework_id.clone(),
        },
        agent_id: mesos::AgentId {
            value: offer.agent_id.clone(),
        },
        hostname: offer.hostname.clone(),
        resources: offer
            .resources
            .as_ref()
            .map(|r| {
                r.resources
                    .iter()
                    .map(|res| resources::to_mesos(res, role, format))
                    .collect()
            })
            .unwrap_or_default(),
        allocation_info: role.map(|role| mesos::resource::AllocationInfo {
            role: Some(role.to_string()),
        }),
        unavailability: offer
            .unavailability
            .as_ref()
            .map(super::maintenance::unavailability_to_mesos),
        ..Default::default()
    }
}

/// Mesos's MasterInfo for a wasmesos master: `ip` is the IPv4 address as a uint32 in network
/// byte order (read as a host integer, as Mesos stores it), `pid` is `master@ip:port`.
pub(crate) fn master_info(info: &native::MasterInfo) -> mesos::MasterInfo {
    let ip = info
        .hostname
        .parse::<IpAddr>()
        .ok()
        .and_then(|ip| match ip {
            IpAddr::V4(v4) => Some(v4),
            IpAddr::V6(v6) => v6.to_ipv4_mapped(),
        })
        .unwrap_or(std::net::Ipv4Addr::LOCALHOST);
    let ip_text = ip.to_string();
    let port = info.port;
    mesos::MasterInfo {
        id: info.id.clone(),
        ip: u32::from_le_bytes(ip.octets()),
        port,
        pid: Some(format!("master@{ip_text}:{port}")),
        hostname: Some(info.hostname.clone()),
        version: Some(super::MESOS_VERSION.to_string()),
        address: Some(mesos::Address {
            hostname: Some(info.hostname.clone()),
            ip: Some(ip_text),
            port: i32::try_from(port).unwrap_or(0),
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_info_has_a_network_order_ip_and_a_pid() {
        let info = master_info(&native::MasterInfo {
            id: "m".into(),
            hostname: "127.0.0.1".into(),
            port: 5050,
            ..Default::default()
        });
        assert_eq!(info.ip, 16_777_343, "127.0.0.1 as Mesos stores it");
        assert_eq!(info.pid.as_deref(), Some("master@127.0.0.1:5050"));
    }

    #[test]
    fn one_update_event_per_status_and_offers_nested() {
        let update = native::Event {
            event: Some(Native::Update(native::event::Update {
                statuses: vec![native::TaskStatus::default(), native::TaskStatus::default()],
            })),
        };
        assert_eq!(to_mesos(update, ReservationFormat::Refined).len(), 2);
        let offers = native::Event {
            event: Some(Native::Offers(native::event::Offers {
                offers: vec![native::Offer {
                    id: "o1".into(),
                    role: "*".into(),
                    ..Default::default()
                }],
            })),
        };
        let events = to_mesos(offers, ReservationFormat::Legacy);
        let json = crate::mesos::json::to_json(&events[0]).expect("json");
        assert_eq!(json["type"], "OFFERS");
        assert_eq!(json["offers"]["offers"][0]["id"]["value"], "o1");
    }
}
