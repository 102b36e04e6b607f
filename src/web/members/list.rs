//! The Users screen: the member list (search, filters, sort, pages) and member detail.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::db::DbConn;
use crate::error::AppResult;
use crate::models;
use crate::models::member::{MemberStatus, SeatType};
use crate::models::role::Role;
use crate::permissions::{BuiltinRole, Permission};
use crate::services::access::Access;
use crate::services::members::directory::{self, MemberFilter, MemberPage, MemberRow, Sort};
use crate::services::members::Act;
use crate::services::roles;
use crate::services::seats::Seats;
use crate::state::AppState;
use crate::text;
use crate::web::forms::FieldErrors;
use crate::web::WorkspaceCtx;
use crate::web::{db, render_status, see_other, Chrome};

/// GET /w/{ws} — the workspace's front page is its Users screen.
pub async fn workspace_home(ctx: WorkspaceCtx) -> HttpResponse {
    see_other(&ctx.path("/users"))
}

#[derive(Deserialize, Default)]
pub struct UsersQuery {
    q: Option<String>,
    status: Option<String>,
    role: Option<String>,
    seat: Option<String>,
    department: Option<String>,
    sort: Option<String>,
    page: Option<String>,
}

fn non_empty(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

impl UsersQuery {
    /// Text the canonical check refuses, shown beside the search box (the list then
    /// ignores it); unknown values of the choices fall back to the defaults.
    fn refusals(&self) -> FieldErrors {
        let mut errors = FieldErrors::default();
        for (field, value) in [("q", &self.q), ("department", &self.department)] {
            if let Some(Err(e)) = value.as_deref().map(text::single_line) {
                errors.add(field, e.to_string());
            }
        }
        errors
    }

    fn filter(&self, errors: &FieldErrors) -> MemberFilter {
        let text = |field: &str, value: &Option<String>| {
            non_empty(value).filter(|_| errors.get(field).is_none())
        };
        let status = match self.status.as_deref() {
            None | Some("") => Some(MemberStatus::Active),
            Some("all") => None,
            Some(key) => Some(MemberStatus::from_key(key).unwrap_or(MemberStatus::Active)),
        };
        MemberFilter {
            q: text("q", &self.q).map(|q| q.chars().take(100).collect()),
            status,
            role: self.role.as_deref().and_then(|r| r.parse().ok()),
            seat: self.seat.as_deref().and_then(SeatType::from_key),
            department: text("department", &self.department),
            sort: self
                .sort
                .as_deref()
                .and_then(Sort::from_key)
                .unwrap_or_default(),
            page: self
                .page
                .as_deref()
                .and_then(|p| p.parse().ok())
                .unwrap_or(1),
        }
    }
}

pub struct PageLink {
    pub number: i64,
    pub href: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "users/list.html")]
struct UsersPage {
    chrome: Chrome,
    base: String,
    filter: MemberFilter,
    status_key: String,
    result: MemberPage,
    roles: Vec<Role>,
    departments: std::sync::Arc<Vec<String>>,
    seats_label: String,
    page_links: Vec<PageLink>,
    prev_href: Option<String>,
    next_href: Option<String>,
    statuses: [MemberStatus; 3],
    seat_types: [SeatType; 2],
    actions: RowActions,
    errors: FieldErrors,
    status: StatusCode,
}

/// What the viewer may do from a row of the list (the server checks again on every POST).
struct RowActions {
    edit: bool,
    remove: bool,
    /// Role ids the viewer may hand out; `None` for the Owner (everything).
    grantable: Option<Vec<i64>>,
    viewer: i64,
    viewer_is_owner: bool,
}

impl RowActions {
    /// The viewer's rights, before `grantable` is loaded.
    fn of(access: &Access) -> Self {
        RowActions {
            edit: access.perms.allows(Permission::MembersEdit),
            remove: access.perms.allows(Permission::MembersRemove),
            grantable: None,
            viewer: access.member.id,
            viewer_is_owner: access.perms.is_owner(),
        }
    }

    /// Row actions appear for members whose every role the viewer could hand out (so they
    /// hold nothing more); the Owner holds everything, which needs no query.
    fn needs_grantable(&self) -> bool {
        (self.edit || self.remove) && !self.viewer_is_owner
    }
}

/// What the list page reads from the database, in one blocking call.
struct Listing {
    result: MemberPage,
    departments: std::sync::Arc<Vec<String>>,
    grantable: Option<Vec<i64>>,
    seats: Seats,
}

impl Listing {
    fn load(
        conn: &mut DbConn,
        state: &AppState,
        access: &Access,
        filter: &MemberFilter,
        needs_grantable: bool,
    ) -> AppResult<Self> {
        let result = directory::list(conn, access, filter)?;
        let departments = state.departments.get(conn, access.workspace.id)?;
        let grantable = if needs_grantable {
            Some(
                roles::grantable_among(conn, access, &result.roles)?
                    .into_iter()
                    .map(|r| r.id)
                    .collect(),
            )
        } else {
            None
        };
        let seats = Seats::load(conn, &access.workspace, models::now())?;
        Ok(Listing {
            result,
            departments,
            grantable,
            seats,
        })
    }
}

impl UsersPage {
    fn is_role_selected(&self, id: &i64) -> bool {
        self.filter.role == Some(*id)
    }

    fn has_actions(&self) -> bool {
        self.actions.edit || self.actions.remove
    }

    /// Whether the viewer may `act` on this row's member, by the rule the services apply
    /// (`members::authorize`): oneself only as `Act::on_oneself` allows; otherwise not the
    /// Owner, and every role the member holds is one the viewer could hand out (so they
    /// hold nothing more; the list computes no one's effective permissions).
    fn may(&self, row: &MemberRow, act: Act) -> bool {
        if row.id == self.actions.viewer {
            return act.on_oneself(self.actions.viewer_is_owner).is_ok();
        }
        !row.roles
            .iter()
            .any(|r| r.builtin_key.as_deref() == Some(BuiltinRole::Owner.key()))
            && match &self.actions.grantable {
                None => true,
                Some(ids) => row.roles.iter().all(|r| ids.contains(&r.role_id)),
            }
    }

    fn can_edit(&self, row: &MemberRow) -> bool {
        self.actions.edit && row.status != MemberStatus::Removed && self.may(row, Act::Membership)
    }

    fn can_end(&self, row: &MemberRow) -> bool {
        self.actions.remove && self.may(row, Act::Lifecycle)
    }
}

/// The query string for the same filters on another page.
fn page_href(base: &str, filter: &MemberFilter, status_key: &str, page: i64) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    if let Some(q) = &filter.q {
        query.append_pair("q", q);
    }
    if status_key != "active" {
        query.append_pair("status", status_key);
    }
    if let Some(role) = filter.role {
        query.append_pair("role", &role.to_string());
    }
    if let Some(seat) = filter.seat {
        query.append_pair("seat", seat.key());
    }
    if let Some(department) = &filter.department {
        query.append_pair("department", department);
    }
    if filter.sort != Sort::Name {
        query.append_pair("sort", filter.sort.key());
    }
    query.append_pair("page", &page.to_string());
    format!("{base}?{}", query.finish())
}

/// GET /w/{ws}/users — requires members.view (scoped: a Manager sees their team).
pub async fn list(ctx: WorkspaceCtx, query: web::Query<UsersQuery>) -> AppResult<HttpResponse> {
    ctx.require(Permission::MembersView)?;
    let errors = query.refusals();
    let filter = query.filter(&errors);
    let actions = RowActions::of(&ctx.access);
    let needs_grantable = actions.needs_grantable();
    let listing = {
        let (access, state, filter) = (ctx.access.clone(), ctx.state.clone(), filter.clone());
        db(ctx.db_pool(), move |conn| {
            Listing::load(conn, &state, &access, &filter, needs_grantable)
        })
        .await?
    };
    let page = UsersPage::new(&ctx, filter, listing, actions, errors)?;
    render_status(&page, page.status)
}

impl UsersPage {
    fn new(
        ctx: &WorkspaceCtx,
        filter: MemberFilter,
        listing: Listing,
        mut actions: RowActions,
        errors: FieldErrors,
    ) -> AppResult<Self> {
        let Listing {
            mut result,
            departments,
            grantable,
            seats,
        } = listing;
        actions.grantable = grantable;
        let roles = std::mem::take(&mut result.roles);
        let base = ctx.path("/users");
        let status_key = filter.status.map(|s| s.key()).unwrap_or("all").to_string();
        let href = |n: i64| page_href(&base, &filter, &status_key, n);
        let first = (result.page - 3).max(1);
        let last = (first + 6).min(result.pages);
        let page_links = (first..=last)
            .map(|n| PageLink {
                number: n,
                href: href(n),
                current: n == result.page,
            })
            .collect();
        let prev_href = (result.page > 1).then(|| href(result.page - 1));
        let next_href = (result.page < result.pages).then(|| href(result.page + 1));
        Ok(UsersPage {
            chrome: ctx.chrome("Users", "users")?,
            seats_label: seats.label(),
            base,
            filter,
            status_key,
            result,
            roles,
            departments,
            page_links,
            prev_href,
            next_href,
            statuses: MemberStatus::ALL,
            seat_types: SeatType::ALL,
            actions,
            status: if errors.is_empty() {
                StatusCode::OK
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            },
            errors,
        })
    }
}
