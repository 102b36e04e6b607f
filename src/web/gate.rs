//! The signed-in gate (web, because it builds page chrome): extractors that turn a request
//! into who is signed in and, for `/w/{ws}/…` routes, their active membership with
//! effective permissions — recomputed from the database on every request (the session
//! holds only the account id, read through `web::session`).

use std::future::Future;
use std::pin::Pin;

use actix_session::SessionExt;
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};

use crate::auth::session_store;
use crate::db::DbPool;
use crate::error::{AppError, AppResult};
use crate::models::audit::Actor;
use crate::permissions::{Permission, Scope};
use crate::services::access::{self, Access};
use crate::state::AppState;
use crate::web::session::AppSession;
use crate::web::{client_ip, db, Chrome};

fn path_and_query(req: &HttpRequest) -> String {
    match req.uri().path_and_query() {
        Some(pq) => pq.as_str().to_string(),
        None => req.path().to_string(),
    }
}

fn state(req: &HttpRequest) -> AppResult<web::Data<AppState>> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::internal("application state missing"))
}

/// Someone signed in (any page outside a workspace).
pub struct SignedIn {
    pub account_id: i64,
    pub session: AppSession,
    pub state: web::Data<AppState>,
    pub actor: Actor,
    req: HttpRequest,
}

impl SignedIn {
    pub fn db_pool(&self) -> &DbPool {
        &self.state.pool
    }

    /// The stored id (hash) of the session the request carries, when its cookie opens
    /// (`session_store::current_id_hash`): which row of the sessions list is this one.
    pub fn session_hash(&self) -> Option<String> {
        session_store::current_id_hash(&self.req, &self.state.session_cookie_key)
    }
}

impl FromRequest for SignedIn {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready((|| {
            let session = AppSession::from(&req.get_session());
            let account_id = session
                .account_id()
                .ok_or_else(|| AppError::SignInRequired {
                    next: path_and_query(req),
                })?;
            Ok(SignedIn {
                account_id,
                session,
                state: state(req)?,
                actor: Actor::account(account_id, client_ip(req)),
                req: req.clone(),
            })
        })())
    }
}

/// The signed-in member of the workspace named in the URL. Anyone who is not an active
/// member of it gets 404, exactly as if the workspace did not exist.
pub struct WorkspaceCtx {
    pub access: Access,
    pub session: AppSession,
    pub state: web::Data<AppState>,
    pub actor: Actor,
}

impl FromRequest for WorkspaceCtx {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let signed_in = SignedIn::from_request(req, payload).into_inner();
        let slug = req.match_info().get("ws").map(str::to_string);
        let next = path_and_query(req);
        Box::pin(async move {
            let signed_in = signed_in?;
            let slug = slug.ok_or(AppError::NotFound)?;
            let account_id = signed_in.account_id;
            let loaded = db(&signed_in.state.pool, move |conn| {
                access::load(conn, account_id, &slug)
            })
            .await?;
            let access = match loaded {
                access::Loaded::Member(access) => *access,
                access::Loaded::NotAMember => return Err(AppError::NotFound),
                access::Loaded::NoAccount => {
                    signed_in.session.sign_out();
                    return Err(AppError::SignInRequired { next });
                }
            };
            Ok(WorkspaceCtx {
                access,
                session: signed_in.session,
                state: signed_in.state,
                actor: signed_in.actor,
            })
        })
    }
}

impl WorkspaceCtx {
    /// Refuses (403) unless the member holds the permission.
    pub fn require(&self, permission: Permission) -> AppResult<()> {
        if self.access.perms.allows(permission) {
            Ok(())
        } else {
            Err(AppError::forbidden_in(
                &self.access.workspace.slug,
                permission,
            ))
        }
    }

    /// The scope held for a scoped permission, or 403.
    pub fn require_scope(&self, permission: Permission) -> AppResult<Scope> {
        self.access
            .perms
            .scope(permission)
            .ok_or_else(|| AppError::forbidden_in(&self.access.workspace.slug, permission))
    }

    /// A path inside this workspace: `ctx.path("/users")` → `/w/acme/users`.
    pub fn path(&self, suffix: &str) -> String {
        format!("/w/{}{}", self.access.workspace.slug, suffix)
    }

    /// The page chrome (navigation, CSRF token, flash) for a page of this workspace.
    pub fn chrome(&self, title: impl Into<String>, section: &'static str) -> AppResult<Chrome> {
        Ok(Chrome::for_workspace(
            title.into(),
            section,
            &self.access,
            self.session.csrf_token()?,
            self.session.take_flash(),
        ))
    }

    pub fn db_pool(&self) -> &DbPool {
        &self.state.pool
    }
}
