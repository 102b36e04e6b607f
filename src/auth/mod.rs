//! Authentication and authorization: passwords, server-side sessions, and CSRF. The gate that
//! turns a request into a signed-in member lives in `web::gate`.

pub mod csrf;
pub mod password;
pub mod reauth;
pub mod session_store;
