//! portqry: what really answers on a TCP or UDP port, and how we know.
//!
//! A re-creation of Microsoft PortQry 2.0. The pipeline, one module each:
//! [`cli`] (PortQry's `-x` / `/x` syntax and long options) → [`target`]
//! (names, addresses, ports, services file) → [`probe`] (TCP and UDP probes
//! and the state decision table; every OS call in [`platform`]) →
//! [`query`] (one file per protocol conversation, one registry: DNS, NetBIOS,
//! LDAP, SNMP, RPC…) over [`wire`] (pure bytes) → [`report`] (PortQry's text,
//! the log, JSON). [`cancel`] is the one stop flag every wait checks.
//! [`interactive`] is PortQry's `-i` prompt, running each query through
//! [`run::run_with`].

pub mod cancel;
pub mod cli;
pub mod error;
pub mod interactive;
pub mod local;
pub mod platform;
pub mod probe;
pub mod query;
pub mod report;
pub mod run;
pub mod target;
pub mod wire;

pub use error::Error;
