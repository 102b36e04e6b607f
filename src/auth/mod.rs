//! Authentication and authorization: passwords, server-side sessions, CSRF, and the
//! gate that turns a request into a signed-in member with effective permissions.

pub mod csrf;
pub mod gate;
pub mod password;
pub mod reauth;
pub mod session_store;

pub use gate::{SignedIn, WorkspaceCtx};
