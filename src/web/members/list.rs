//! The Users screen: the member list (search, filters, sort, pages) and member detail.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;
use std::collections::HashMap;

use crate::db::DbConn;
use crate::error::AppResult;
use crate::models;
use crate::models::member::{MemberStatus, SeatType};
use crate::models::role::Role;
use crate::permissions::Permission;
use crate::services::access::{self, Access};
use crate::services::members::directory::{
    self, InviteeListing, InviteeRow, MemberFilter, MemberPage, MemberRow, Sort, PAGE_SIZE,
};
use crate::services::members::{Act, Actor};
use crate::services::membership_history::{self, MemberThen};
use crate::services::seats::{self, Seats};
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
    /// `YYYY-MM-DD`: the list as it was at the end of that day, from the audit log.
    as_of: Option<String>,
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
        let (status, invitees) = match self.status.as_deref() {
            None | Some("") => (Some(MemberStatus::Active), InviteeListing::Excluded),
            Some("all") => (None, InviteeListing::Included),
            Some("invited") => (None, InviteeListing::Only),
            Some(key) => (
                Some(MemberStatus::from_key(key).unwrap_or(MemberStatus::Active)),
                InviteeListing::Excluded,
            ),
        };
        MemberFilter {
            invitees,
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
    /// The plan section of Settings, for whoever may change the plan.
    plan_href: Option<String>,
    /// The invite form, for `members.invite` holders.
    invite_href: Option<String>,
    /// Where an invitation's Resend and Revoke post (`/w/{ws}/invites`).
    invites_base: String,
    /// The list as of a past day, for `audit.view` holders (the history is the log's).
    history_href: Option<String>,
    page_links: Vec<PageLink>,
    prev_href: Option<String>,
    next_href: Option<String>,
    /// The `status` choices, in SPEC's order: (key, label).
    statuses: [(&'static str, &'static str); 5],
    seat_types: [SeatType; 2],
    actions: RowActions,
    errors: FieldErrors,
    status: StatusCode,
}

/// What the viewer may do from each row of the list: decided for each listed member by
/// the rule every POST applies ([`Actor::check`], the same function the services call),
/// with the page's members' effective permissions read at once (no query per row).
#[derive(Default)]
struct RowActions {
    /// The viewer holds `members.edit` or `members.remove` (over someone).
    member_acts: bool,
    /// Listed member id → (Edit, Archive/Restore/Remove).
    members: HashMap<i64, (bool, bool)>,
    /// Resend and Revoke on invitations (`members.invite`).
    invites: bool,
}

impl RowActions {
    fn load(conn: &mut DbConn, access: &Access, rows: &[MemberRow]) -> AppResult<Self> {
        let edit = access.perms.allows(Permission::MembersEdit);
        let remove = access.perms.allows(Permission::MembersRemove);
        let invites = access.perms.allows(Permission::MembersInvite);
        let mut members = HashMap::new();
        if (edit || remove) && !rows.is_empty() {
            let acts = [Act::Membership, Act::Lifecycle];
            let actor = Actor::load(conn, access, &acts)?;
            let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
            let held: Vec<(i64, i64)> = rows
                .iter()
                .flat_map(|r| r.roles.iter().map(move |h| (r.id, h.role_id)))
                .collect();
            let perms = access::effective_permissions_with_roles(conn, &ids, &held)?;
            for row in rows {
                let Some(held) = perms.get(&row.id) else {
                    continue;
                };
                let may = |act| actor.may(row.id, row.status, held, act);
                members.insert(row.id, (may(Act::Membership), may(Act::Lifecycle)));
            }
        }
        Ok(RowActions {
            member_acts: edit || remove,
            members,
            invites,
        })
    }
}

/// What the list page reads from the database, in one blocking call.
struct Listing {
    result: MemberPage,
    departments: std::sync::Arc<Vec<String>>,
    actions: RowActions,
    seats: Seats,
}

impl Listing {
    fn load(
        conn: &mut DbConn,
        state: &AppState,
        access: &Access,
        filter: &MemberFilter,
    ) -> AppResult<Self> {
        let result = directory::list(conn, access, filter)?;
        let departments = state.departments.get(conn, access.workspace.id)?;
        let actions = RowActions::load(conn, access, &result.rows)?;
        let seats = Seats::load(conn, &access.workspace, models::now())?;
        Ok(Listing {
            result,
            departments,
            actions,
            seats,
        })
    }
}

impl UsersPage {
    fn is_role_selected(&self, id: &i64) -> bool {
        self.filter.role == Some(*id)
    }

    fn has_actions(&self) -> bool {
        // A column only for the rows whose actions the viewer holds a permission for.
        (self.actions.member_acts && !self.result.rows.is_empty())
            || (self.actions.invites && !self.result.invitees.is_empty())
    }

    /// Edit (the member page with its forms), by [`Actor::check`] for `Act::Membership`.
    fn can_edit(&self, row: &MemberRow) -> bool {
        self.actions.members.get(&row.id).is_some_and(|v| v.0)
    }

    /// Archive, restore or remove, by [`Actor::check`] for `Act::Lifecycle`.
    fn can_end(&self, row: &MemberRow) -> bool {
        self.actions.members.get(&row.id).is_some_and(|v| v.1)
    }

    fn fmt_date(&self, at: &chrono::NaiveDateTime) -> String {
        at.format("%-d %b %Y").to_string()
    }

    /// "3 members", "2 pending invitations" or "3 members, 2 pending invitations".
    fn count_label(&self) -> String {
        let of = |n: i64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let members = of(self.result.members_total, "member", "members");
        let invitees = of(
            self.result.invitees_total,
            "pending invitation",
            "pending invitations",
        );
        match self.filter.invitees {
            InviteeListing::Only => invitees,
            _ if self.result.invitees_total > 0 => format!("{members}, {invitees}"),
            _ => members,
        }
    }

    fn is_empty(&self) -> bool {
        self.result.rows.is_empty() && self.result.invitees.is_empty()
    }

    /// An invitation's buttons, as the Invites screen has them.
    fn invite_actions(&self, row: &InviteeRow) -> crate::services::invites::RowActions {
        crate::services::invites::RowActions::of_pending(row.id, &row.email, row.expired)
    }

    /// An invitation's name cell: the invited name, else its address.
    fn invitee_name<'r>(&self, row: &'r InviteeRow) -> &'r str {
        row.name.as_deref().unwrap_or(&row.email)
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

/// GET /w/{ws}/users — requires members.view (scoped: a Manager sees their team);
/// `?as_of=YYYY-MM-DD` shows the list at the end of that day (also audit.view).
pub async fn list(ctx: WorkspaceCtx, query: web::Query<UsersQuery>) -> AppResult<HttpResponse> {
    ctx.require(Permission::MembersView)?;
    if let Some(as_of) = &query.as_of {
        let page = query.page.as_deref().and_then(|p| p.parse().ok());
        return members_as_of(ctx, as_of, page.unwrap_or(1)).await;
    }
    let errors = query.refusals();
    let filter = query.filter(&errors);
    let listing = {
        let (access, state, filter) = (ctx.access.clone(), ctx.state.clone(), filter.clone());
        db(ctx.db_pool(), move |conn| {
            Listing::load(conn, &state, &access, &filter)
        })
        .await?
    };
    let page = UsersPage::new(&ctx, filter, listing, errors)?;
    render_status(&page, page.status)
}

impl UsersPage {
    fn new(
        ctx: &WorkspaceCtx,
        filter: MemberFilter,
        listing: Listing,
        errors: FieldErrors,
    ) -> AppResult<Self> {
        let Listing {
            mut result,
            departments,
            actions,
            seats,
        } = listing;
        let roles = std::mem::take(&mut result.roles);
        let base = ctx.path("/users");
        let status_key = match (filter.invitees, filter.status) {
            (InviteeListing::Only, _) => "invited",
            (_, Some(status)) => status.key(),
            (_, None) => "all",
        }
        .to_string();
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
            plan_href: seats::plan_link(&ctx.access),
            invite_href: ctx
                .access
                .perms
                .allows(Permission::MembersInvite)
                .then(|| ctx.path("/invites#invite-h")),
            invites_base: ctx.path("/invites"),
            history_href: ctx.access.perms.allows(Permission::AuditView).then(|| {
                let yesterday = membership_history::today().pred_opt().unwrap_or_default();
                ctx.path(&format!("/users?as_of={}", yesterday.format("%Y-%m-%d")))
            }),
            base,
            filter,
            status_key,
            result,
            roles,
            departments,
            page_links,
            prev_href,
            next_href,
            statuses: [
                ("active", "Active"),
                ("invited", "Invited"),
                ("archived", "Archived"),
                ("removed", "Removed"),
                ("all", "All"),
            ],
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

/// The Users screen as it was at the end of a day: read only, rebuilt from the audit log.
#[derive(Template)]
#[template(path = "users/as_of.html")]
struct AsOfPage {
    chrome: Chrome,
    /// The live list.
    base: String,
    /// The date as typed (kept in the field when refused).
    typed: String,
    /// "2 December 2026" when the date was taken.
    day_words: Option<String>,
    /// The largest date the field takes (today, UTC).
    today: String,
    /// This page's members (`PAGE_SIZE` a page, by name).
    rows: Vec<MemberThen>,
    /// How many were members then, on every page.
    total: usize,
    /// "Showing 51–100 of 230" when there is more than one page.
    showing: Option<String>,
    prev_href: Option<String>,
    next_href: Option<String>,
    /// The audit diff from this day to today.
    diff_href: Option<String>,
    errors: FieldErrors,
}

/// GET /w/{ws}/users?as_of=YYYY-MM-DD — members.view and audit.view (the history is the
/// audit log's); a date that is not one, or is in the future, is refused beside the field.
async fn members_as_of(ctx: WorkspaceCtx, as_of: &str, page: i64) -> AppResult<HttpResponse> {
    ctx.require(Permission::AuditView)?;
    let today = membership_history::today();
    let mut errors = FieldErrors::default();
    let day = match membership_history::parse_day(as_of, today) {
        Ok(day) => Some(day),
        Err(message) => {
            errors.add("as_of", message);
            None
        }
    };
    let rows = match day {
        Some(day) => {
            let workspace_id = ctx.access.workspace.id;
            db(ctx.db_pool(), move |conn| {
                membership_history::members_as_of(conn, workspace_id, day)
            })
            .await?
        }
        None => Vec::new(),
    };
    let today_text = today.format("%Y-%m-%d").to_string();
    let total = rows.len();
    let size = PAGE_SIZE as usize;
    let pages = total.div_ceil(size).max(1);
    let page = usize::try_from(page).unwrap_or(1).clamp(1, pages);
    let rows: Vec<MemberThen> = rows
        .into_iter()
        .skip((page - 1) * size)
        .take(size)
        .collect();
    let href = |n: usize| {
        day.map(|d| ctx.path(&format!("/users?as_of={}&page={n}", d.format("%Y-%m-%d"))))
    };
    let showing = (pages > 1).then(|| {
        format!(
            "Showing {}–{} of {total}",
            (page - 1) * size + 1,
            (page - 1) * size + rows.len()
        )
    });
    let (prev_href, next_href) = (
        (page > 1).then(|| href(page - 1)).flatten(),
        (page < pages).then(|| href(page + 1)).flatten(),
    );
    let page = AsOfPage {
        chrome: ctx.chrome("Users", "users")?,
        base: ctx.path("/users"),
        typed: as_of.trim().chars().take(40).collect(),
        day_words: day.map(|d| d.format("%-d %B %Y").to_string()),
        diff_href: day.map(|d| {
            ctx.path(&format!(
                "/audit/diff?from={}&to={today_text}",
                d.format("%Y-%m-%d")
            ))
        }),
        today: today_text,
        rows,
        total,
        showing,
        prev_href,
        next_href,
        errors,
    };
    let status = if page.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render_status(&page, status)
}
