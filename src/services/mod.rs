//! The domain rules. Each function takes a connection, owns its transaction, keeps the
//! invariants inside it and records the audit event there. No actix types here.

pub mod access;
pub mod account;
pub mod audit;
pub mod domain_join;
pub mod domains;
pub mod invites;
pub mod join_link;
pub mod joining;
pub mod locks;
pub mod members;
pub mod membership_history;
pub mod requests;
pub mod roles;
pub mod seats;
pub mod settings;
pub mod signin;
pub mod workspaces;
