//! The Users screen: the member list (search, filters, sort, pages) and member detail.

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::auth::WorkspaceCtx;
use crate::error::{AppError, AppResult};
use crate::models::member::{MemberStatus, SeatType};
use crate::models::role::Role;
use crate::permissions::{Effective, Permission};
use crate::services::directory::{self, MemberDetail, MemberFilter, MemberPage, Sort};
use crate::web::{db, render, see_other, Chrome};

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
    /// Unknown values fall back to the defaults rather than failing the page.
    fn filter(&self) -> MemberFilter {
        let status = match self.status.as_deref() {
            None | Some("") => Some(MemberStatus::Active),
            Some("all") => None,
            Some(key) => Some(MemberStatus::from_key(key).unwrap_or(MemberStatus::Active)),
        };
        MemberFilter {
            q: non_empty(&self.q).map(|q| q.chars().take(100).collect()),
            status,
            role: self.role.as_deref().and_then(|r| r.parse().ok()),
            seat: self.seat.as_deref().and_then(SeatType::from_key),
            department: non_empty(&self.department),
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
}

impl UsersPage {
    fn is_role_selected(&self, id: &i64) -> bool {
        self.filter.role == Some(*id)
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
    let filter = query.filter();
    let access = ctx.access.clone();
    let (mut result, departments) = {
        let filter = filter.clone();
        let state = ctx.state.clone();
        db(ctx.db_pool(), move |conn| {
            let page = directory::list(conn, &access, &filter)?;
            let departments = state.departments.get(conn, access.workspace.id)?;
            Ok((page, departments))
        })
        .await?
    };
    let roles = std::mem::take(&mut result.roles);
    let base = ctx.path("/users");
    let status_key = filter.status.map(|s| s.key()).unwrap_or("all").to_string();
    let first = (result.page - 3).max(1);
    let last = (first + 6).min(result.pages);
    let page_links = (first..=last)
        .map(|n| PageLink {
            number: n,
            href: page_href(&base, &filter, &status_key, n),
            current: n == result.page,
        })
        .collect();
    let prev_href =
        (result.page > 1).then(|| page_href(&base, &filter, &status_key, result.page - 1));
    let next_href = (result.page < result.pages)
        .then(|| page_href(&base, &filter, &status_key, result.page + 1));
    let page = UsersPage {
        chrome: ctx.chrome("Users", "users")?,
        seats_label: ctx.access.workspace.seats_label(),
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
    };
    render(&page)
}

pub struct PermissionLine {
    pub key: &'static str,
    pub description: &'static str,
    pub scope: String,
    pub sources: String,
}

#[derive(Template)]
#[template(path = "users/detail.html")]
struct DetailPage {
    chrome: Chrome,
    base: String,
    detail: MemberDetail,
    permissions: Vec<PermissionLine>,
    is_self: bool,
}

/// GET /w/{ws}/users/{id} — requires members.view over that member.
pub async fn detail(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::MembersView)?;
    let member_id: i64 = path
        .into_inner()
        .1
        .parse()
        .map_err(|_| AppError::NotFound)?;
    let access = ctx.access.clone();
    let detail = db(ctx.db_pool(), move |conn| {
        directory::detail(conn, &access, member_id)
    })
    .await?
    .ok_or(AppError::NotFound)?;
    let permissions = detail
        .perms
        .iter()
        .map(|(p, Effective { scope, sources })| PermissionLine {
            key: p.key(),
            description: p.description(),
            scope: scope
                .map(|s| s.key().to_string())
                .unwrap_or_else(|| "—".into()),
            sources: sources.join(", "),
        })
        .collect();
    let page = DetailPage {
        chrome: ctx.chrome(detail.name.clone(), "users")?,
        base: ctx.path("/users"),
        is_self: detail.member.id == ctx.access.member.id,
        detail,
        permissions,
    };
    render(&page)
}
