//! MQTT 3.1.1 (OASIS standard, 29 October 2014), sans-IO, with the wire
//! behaviour of nats-server 2.15.1 (spec `mqtt.md` §2–§4):
//!
//! - [`codec`]: the push decoder for the packets a client sends, each check
//!   of spec §2 with exactly one reaction ([`codec::Reaction`]: close, or a
//!   CONNACK code then close), and the encoders of the packets the server
//!   sends;
//! - [`topic`]: MQTT topic names and filters to NATS subjects and back
//!   (spec §3.1–§3.4, nats-server `mqttToNATSSubjectConversion` and
//!   `natsSubjectToMQTTTopic`);
//! - [`session`]: the outbound QoS 1/2 bookkeeping of one session: packet
//!   identifiers, the in-flight window and `ack_wait` redelivery (spec §4.4);
//! - [`retained`]: the retained-message index (spec §4.6).

pub mod codec;
pub mod retained;
pub mod session;
pub mod topic;
