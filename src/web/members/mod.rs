//! The Users screen, one file per concern: the list (`list`), the member page and its
//! JSON twin (`page`), its one "Edit member" form, the per-field routes and grant
//! revocation (`edit`), its address buttons
//! (`emails`) and archive, restore, remove and ownership transfer (`lifecycle`). Every POST
//! checks the permission, parses, calls one service (which applies the rule for acting on
//! a member inside its transaction) and answers by the refusal rule (`page::answer`): 303
//! back to the member page with a flash, or that page again with 422 and the refusal.

pub mod edit;
pub mod emails;
pub mod lifecycle;
pub mod list;
pub mod page;

use crate::db::DbConn;
use crate::error::{AppError, AppResult, Refusal, ServiceResult};
use crate::models::audit::Actor;
use crate::services::access::Access;
use crate::web::{attempt, WorkspaceCtx};

/// An id of a `/w/{ws}/users/{id}…` path (a member, an address); anything but a number
/// is a 404.
fn path_id(segment: &str) -> AppResult<i64> {
    segment.parse().map_err(|_| AppError::NotFound)
}

/// Runs a member service as the signed-in actor on the blocking pool: a failure propagates
/// with `?`, a refusal comes back for `page::answer` (see `web::attempt`).
async fn act<T, F>(ctx: &WorkspaceCtx, work: F) -> AppResult<Result<T, Vec<Refusal>>>
where
    F: FnOnce(&mut DbConn, &Access, &Actor) -> ServiceResult<T> + Send + 'static,
    T: Send + 'static,
{
    let (access, actor) = (ctx.access.clone(), ctx.actor.clone());
    attempt(ctx.db_pool(), move |conn| work(conn, &access, &actor)).await
}
