//! The domain rules. Each function takes a connection, owns its transaction, keeps the
//! invariants inside it and records the audit event there. No actix types here.

pub mod access;
pub mod account;
pub mod directory;
pub mod invites;
pub mod membership;
pub mod signin;
pub mod workspaces;
