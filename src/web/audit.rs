//! The audit log screen, `/w/{ws}/audit` (audit.view): the workspace's events newest first
//! with filters and keyset pages (`before=`/`after=` an event id, never OFFSET), and the
//! same events as a streamed CSV download (`?format=csv`). Read only: nothing here (or
//! anywhere in the app) edits or deletes an entry.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::{NaiveDate, TimeDelta};
use serde::Deserialize;

use crate::error::{AppError, AppResult};
use crate::models::audit::{Cursor, LogFilter};
use crate::permissions::Permission;
use crate::services::audit::{self, Entry};
use crate::services::membership_history::{self, Diff as MembershipDiff, DiffRow};
use crate::web::forms::FieldErrors;
use crate::web::{db, encode_query_value, render_status, Chrome, WorkspaceCtx, REFUSED};

/// The longest actor or target text the filters take.
const MAX_FILTER_TEXT: usize = 200;

/// The query string of the screen; every part optional.
#[derive(Deserialize, Default, Clone)]
pub struct LogQuery {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    before: Option<String>,
    after: Option<String>,
    format: Option<String>,
}

fn text(value: &str, field: &str, errors: &mut FieldErrors) -> Option<String> {
    let value = value.trim();
    if value.chars().count() > MAX_FILTER_TEXT {
        errors.add(field, format!("Use at most {MAX_FILTER_TEXT} characters."));
        return None;
    }
    if value.chars().any(char::is_control) {
        errors.add(field, "Remove the control characters.");
        return None;
    }
    (!value.is_empty()).then(|| value.to_string())
}

fn date(value: &str, field: &str, errors: &mut FieldErrors) -> Option<NaiveDate> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    match NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        Ok(day) => Some(day),
        Err(_) => {
            errors.add(field, "Enter a date like 2026-12-31.");
            None
        }
    }
}

fn cursor_id(value: &Option<String>) -> AppResult<Option<i64>> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .map(Some)
            .ok_or_else(|| AppError::BadRequest("The page link is not one of ours.".into())),
    }
}

impl LogQuery {
    /// The filter (each field's problem noted in `errors`, that part left out).
    fn filter(&self, errors: &mut FieldErrors) -> LogFilter {
        let from = date(&self.from, "from", errors);
        let to = date(&self.to, "to", errors);
        if let (Some(from), Some(to)) = (from, to) {
            if to < from {
                errors.add("to", "Choose a day on or after the first day.");
            }
        }
        LogFilter {
            actor: text(&self.actor, "actor", errors),
            target: text(&self.target, "target", errors),
            action: text(&self.action, "action", errors),
            from: from.and_then(|d| d.and_hms_opt(0, 0, 0)),
            until: to
                .and_then(|d| d.checked_add_signed(TimeDelta::days(1)))
                .and_then(|d| d.and_hms_opt(0, 0, 0)),
        }
    }

    fn cursor(&self) -> AppResult<Cursor> {
        Ok(match (cursor_id(&self.before)?, cursor_id(&self.after)?) {
            (Some(_), Some(_)) => {
                return Err(AppError::BadRequest(
                    "A page is either before or after an entry.".into(),
                ))
            }
            (Some(id), None) => Cursor::Before(id),
            (None, Some(id)) => Cursor::After(id),
            (None, None) => Cursor::Newest,
        })
    }

    /// The filters as a query string (for the page links and the download), `&`-led.
    fn filter_query(&self) -> String {
        let mut out = String::new();
        for (key, value) in [
            ("actor", &self.actor),
            ("target", &self.target),
            ("action", &self.action),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            let value = value.trim();
            if !value.is_empty() {
                out.push('&');
                out.push_str(key);
                out.push('=');
                out.push_str(&encode_query_value(value));
            }
        }
        out
    }
}

#[derive(Template)]
#[template(path = "audit/log.html")]
struct LogPage {
    chrome: Chrome,
    base: String,
    query: LogQuery,
    errors: FieldErrors,
    actions: Vec<String>,
    entries: Vec<Entry>,
    older_href: Option<String>,
    newer_href: Option<String>,
    newest_href: Option<String>,
    csv_href: String,
    filtered: bool,
}

impl LogPage {
    fn is_action_selected(&self, action: &str) -> bool {
        self.query.action.trim() == action
    }
}

/// GET /w/{ws}/audit — the log (audit.view); `?format=csv` downloads it.
pub async fn log(ctx: WorkspaceCtx, query: web::Query<LogQuery>) -> AppResult<HttpResponse> {
    ctx.require(Permission::AuditView)?;
    let query = query.into_inner();
    let mut errors = FieldErrors::default();
    let filter = query.filter(&mut errors);
    let cursor = query.cursor()?;
    match query.format.as_deref() {
        None | Some("") | Some("html") => {}
        Some("csv") => {
            if !errors.is_empty() {
                return Err(AppError::BadRequest(
                    "Correct the filters before downloading.".into(),
                ));
            }
            return Ok(csv(&ctx, filter));
        }
        Some(_) => return Err(AppError::BadRequest("The format is csv or none.".into())),
    }
    let workspace_id = ctx.access.workspace.id;
    let screen = {
        let filter = filter.clone();
        db(ctx.db_pool(), move |conn| {
            audit::screen(conn, workspace_id, &filter, cursor)
        })
        .await?
    };
    let base = ctx.path("/audit");
    let filters = query.filter_query();
    let link = |extra: String| {
        let q = format!("{extra}{filters}");
        match q.strip_prefix('&') {
            Some(rest) => format!("{base}?{rest}"),
            None if q.is_empty() => base.clone(),
            None => format!("{base}?{q}"),
        }
    };
    let page = LogPage {
        chrome: ctx.chrome("Audit log", "audit")?,
        older_href: screen.older.map(|id| link(format!("before={id}"))),
        newer_href: screen.newer.map(|id| link(format!("after={id}"))),
        newest_href: (cursor != Cursor::Newest && screen.newer.is_some())
            .then(|| link(String::new())),
        csv_href: link("format=csv".into()),
        base,
        filtered: filter != LogFilter::default(),
        query,
        actions: screen.actions,
        entries: screen.entries,
        errors: errors.clone(),
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        REFUSED
    };
    render_status(&page, status)
}

/// The filtered log as CSV, streamed: a blocking task reads it in keyset batches and sends
/// each batch's bytes down a small bounded channel, so the response never holds more than
/// a few batches however long the log is (and stops reading when the client goes away).
fn csv(ctx: &WorkspaceCtx, filter: LogFilter) -> HttpResponse {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<web::Bytes, std::io::Error>>(2);
    let pool = ctx.state.pool.clone();
    let workspace_id = ctx.access.workspace.id;
    tokio::task::spawn_blocking(move || {
        let outcome = pool.get().map_err(AppError::internal).and_then(|mut conn| {
            audit::export(&mut conn, workspace_id, &filter, |chunk| {
                tx.blocking_send(Ok(web::Bytes::from(chunk))).is_ok()
            })
        });
        if let Err(err) = outcome {
            tracing::error!("audit export failed: {err}");
            // The client sees a cut-off download rather than a complete-looking file.
            let _ = tx.blocking_send(Err(std::io::Error::other("audit export failed")));
        }
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let filename = format!("audit-{}.csv", ctx.access.workspace.slug);
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(body)
}

/// The query of the membership diff: two days, both needed.
#[derive(Deserialize, Default)]
pub struct DiffQuery {
    from: Option<String>,
    to: Option<String>,
}

#[derive(Template)]
#[template(path = "audit/diff.html")]
struct DiffPage {
    chrome: Chrome,
    base: String,
    log_href: String,
    from: String,
    to: String,
    today: String,
    /// ("2 December 2026", "3 December 2026") once both days are taken.
    days: Option<(String, String)>,
    diff: MembershipDiff,
    errors: FieldErrors,
}

impl DiffPage {
    /// The three lists with their headings and ids, in the page's order.
    fn sections(&self) -> [(&'static str, &'static str, &[DiffRow]); 3] {
        [
            ("Joined", "joined", &self.diff.joined),
            ("Left", "left", &self.diff.left),
            ("Roles changed", "changed", &self.diff.changed),
        ]
    }
}

/// GET /w/{ws}/audit/diff?from=YYYY-MM-DD&to=YYYY-MM-DD (audit.view): who joined, who left
/// and whose roles changed between the end of one day and the end of another, from the log.
pub async fn diff(ctx: WorkspaceCtx, query: web::Query<DiffQuery>) -> AppResult<HttpResponse> {
    ctx.require(Permission::AuditView)?;
    let query = query.into_inner();
    let today = membership_history::today();
    let mut errors = FieldErrors::default();
    let asked = query.from.is_some() || query.to.is_some();
    let mut day = |value: &Option<String>, field: &str| match membership_history::parse_day(
        value.as_deref().unwrap_or(""),
        today,
    ) {
        Ok(day) => Some(day),
        Err(message) => {
            if asked {
                errors.add(field, message);
            }
            None
        }
    };
    let (from, to) = (day(&query.from, "from"), day(&query.to, "to"));
    let days = match (from, to) {
        (Some(from), Some(to)) if from > to => {
            errors.add("to", "Choose a day on or after the first day.");
            None
        }
        (Some(from), Some(to)) => Some((from, to)),
        _ => None,
    };
    let diff = match days {
        Some((from, to)) => {
            let workspace_id = ctx.access.workspace.id;
            db(ctx.db_pool(), move |conn| {
                membership_history::diff(conn, workspace_id, from, to)
            })
            .await?
        }
        None => MembershipDiff::default(),
    };
    let typed = |value: &Option<String>| -> String {
        value
            .as_deref()
            .unwrap_or("")
            .trim()
            .chars()
            .take(40)
            .collect()
    };
    let words = |d: NaiveDate| d.format("%-d %B %Y").to_string();
    let page = DiffPage {
        chrome: ctx.chrome("Membership changes", "audit")?,
        base: ctx.path("/audit/diff"),
        log_href: ctx.path("/audit"),
        from: typed(&query.from),
        to: typed(&query.to),
        today: today.format("%Y-%m-%d").to_string(),
        days: days.map(|(from, to)| (words(from), words(to))),
        diff,
        errors: errors.clone(),
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        REFUSED
    };
    render_status(&page, status)
}
