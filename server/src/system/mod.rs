//! The system account and `$SYS` (operations spec §2): the account named by
//! `system_account` (default: the internal `$SYS`), the events the server
//! publishes into it ([`events`]), the request services it answers and the
//! automatic imports of every other account ([`requests`]), and their
//! state ([`state`], held by `Shared`).
//!
//! Users of other accounts see nothing of it: each account is its own
//! subject space, and nothing crosses into another account except the
//! answers of the automatic imports.

mod body;
pub(crate) mod events;
pub(crate) mod requests;
pub(crate) mod state;
