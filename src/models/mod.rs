//! One module per table: the row struct, its `New…` insert form, and its queries.
//! No HTTP and no mail here; rules that must hold together live in `services`.

pub mod account;
pub mod account_token;
pub mod audit;
pub mod domain;
pub mod email_address;
pub mod invite;
pub mod join_link;
pub mod member;
pub mod module;
pub mod outbox;
pub mod permission_request;
pub mod role;
pub mod session;
pub mod setting;
pub mod workspace;

use chrono::{NaiveDateTime, SubsecRound, Utc};

/// The current UTC time at microsecond precision (what both backends store).
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}
